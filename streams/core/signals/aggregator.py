"""The aggregator: rows keyed by item, folded from deltas, the changed ones published.

One implementation for every place rows are owned: the worker's aggregator agent passes its table (a
mapping of item id → SignalRow that it reads and writes through), the replay a plain dict.
"""
from __future__ import annotations

from typing import Iterable, MutableMapping

from .deltas import SignalDelta
from .options import SignalOptions
from .rows import PublishedRow, SignalRow


class SignalAggregator:
    """Folds deltas into the rows of ``rows``; ``fold`` returns the rows a batch changed, as published."""

    def __init__(self, options: SignalOptions, neighbours: int | None = None,
                 rows: MutableMapping[str, SignalRow] | None = None) -> None:
        self.options = options
        self.neighbours = neighbours  # neighbours published per row (None: every kept one)
        self.rows: MutableMapping[str, SignalRow] = {} if rows is None else rows

    def fold(self, deltas: Iterable[SignalDelta]) -> list[PublishedRow]:
        """Fold deltas in order; the changed rows, each once, stored back and as every worker will see them."""
        touched: dict[str, SignalRow] = {}
        changed: dict[str, None] = {}  # in first-change order: runs are reproducible
        options = self.options
        for delta in deltas:
            row = touched.get(delta.item_id)
            if row is None:
                row = self.rows.get(delta.item_id)
                if row is None:
                    row = SignalRow(delta.item_id)
                touched[delta.item_id] = row
            if row.fold(delta, options):
                changed[delta.item_id] = None
        out = []
        for item_id in changed:  # a redelivered batch changes nothing: nothing to store or publish
            row = touched[item_id]
            self.rows[item_id] = row
            out.append(row.published(options, self.neighbours))
            row.arrived = None
        return out
