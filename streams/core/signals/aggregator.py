"""An aggregator in one process: rows keyed by item, folded from deltas, the changed ones published.

The worker's aggregator agent does the same with a Faust table for the rows; the replay uses this one to
simulate several workers sharing signals.
"""
from __future__ import annotations

from typing import Iterable

from .deltas import SignalDelta
from .options import SignalOptions
from .rows import PublishedRow, SignalRow


class SignalAggregator:
    """Owns every row; ``fold`` returns the rows a batch of deltas changed, as published."""

    def __init__(self, options: SignalOptions, neighbours: int | None = None) -> None:
        self.options = options
        self.neighbours = neighbours  # neighbours published per row (None: every kept one)
        self.rows: dict[str, SignalRow] = {}

    def fold(self, deltas: Iterable[SignalDelta]) -> list[PublishedRow]:
        """Fold deltas in order; the changed rows, each once, as every worker will see them."""
        changed: dict[str, SignalRow] = {}
        for delta in deltas:
            row = self.rows.get(delta.item_id)
            if row is None:
                row = self.rows[delta.item_id] = SignalRow(delta.item_id)
            if row.fold(delta, self.options):
                changed[delta.item_id] = row
        out = [row.published(self.options, self.neighbours) for row in changed.values()]
        for row in changed.values():
            row.arrived = None
        return out
