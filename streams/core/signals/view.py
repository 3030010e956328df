"""The signals a ranker reads: decayed item popularity and an item-to-item co-occurrence graph.

Two ways in, one store:
- ``apply_row`` installs an item's row as its aggregator published it (the worker: every ranking worker
  follows the shop-wide signals topic, so each ranks with what the whole shop does);
- ``observe`` learns one interaction right here (in-process replays and tests: one process, one owner of
  every row, so folding in place is the same arithmetic as aggregator → row → apply).
"""
from __future__ import annotations

import math
from itertools import compress
from typing import Iterable, Sequence

import numpy as np

from ..decay import DecayedCounts
from .options import SignalOptions
from .rows import PublishedRow


class ItemSignals:
    """Popularity (trending) and co-occurrence (shoppers who touched X also touched Y)."""

    def __init__(self, options: SignalOptions = SignalOptions()) -> None:
        self.options = options
        self.popularity = DecayedCounts(options.half_life_seconds)
        self._co: dict[str, dict[str, float]] = {}  # stored scaled (see decay.py): divide by _scale()
        self._co_origin: float | None = None
        self.first_seen: dict[str, float] = {}

    def observe(self, item_id: str, previous: Sequence[str], ts: float, weight: float = 1.0, **_tags) -> None:
        """Count one interaction with ``item_id``; ``previous`` are the user's earlier items, most recent first.

        (A signal sink, like deltas.DeltaCollector; the source/arrival tags only matter across processes.)
        """
        self.popularity.add(item_id, weight, ts)
        self.first_seen.setdefault(item_id, ts)
        self._advance_co()
        scale = 2.0 ** ((ts - self._co_origin) / self.popularity.half_life)  # counted at its own time, like popularity
        decay = self.options.position_decay
        paired: set[str] = set()
        for pos, other in enumerate(previous[: self.options.window]):
            if other == item_id or other in paired:
                continue
            paired.add(other)
            amount = (decay**pos) * scale
            self._bump(item_id, other, amount)
            self._bump(other, item_id, amount)

    def apply_row(self, row: PublishedRow) -> None:
        """Install an item's row as its aggregator published it (it replaces the previous version)."""
        self.popularity.put(row.item_id, row.popularity, row.clock)
        self._advance_co()
        # the row's values stand at its own clock: bring them onto this view's shared scale
        factor = 2.0 ** ((row.clock - self._co_origin) / self.popularity.half_life)
        self._co[row.item_id] = {b: v * factor for b, v in row.neighbours.items()}
        if row.first_seen is not None:
            known = self.first_seen.get(row.item_id)
            self.first_seen[row.item_id] = row.first_seen if known is None else min(known, row.first_seen)

    def note_item(self, item_id: str, ts: float) -> None:
        """Record when an item entered the catalogue (for the new-arrival signal)."""
        self.first_seen.setdefault(item_id, ts)

    def forget(self, item_id: str) -> None:
        """Drop a deleted item from every signal."""
        self.popularity.discard(item_id)
        self.first_seen.pop(item_id, None)
        for other in self._co.pop(item_id, {}):
            self._co.get(other, {}).pop(item_id, None)

    def similarity(self, a: str, b: str) -> float:
        """Cosine co-occurrence similarity of two items (0 when never seen together)."""
        raw = self._co.get(a, {}).get(b)
        if not raw:
            return 0.0
        return self._cosine(raw / self._scale(), a, b)

    def neighbours(self, item_id: str) -> dict[str, float]:
        """Every kept neighbour of ``item_id`` with its cosine similarity."""
        row = self._co.get(item_id)
        if not row:
            return {}
        scale = self._scale()
        na = self.popularity.get(item_id)
        if na <= 0:
            return {}
        pop = self.popularity
        out = {}
        for other, raw in row.items():
            nb = pop.get(other)
            if nb > 0:
                out[other] = (raw / scale) / math.sqrt(na * nb)
        return out

    def neighbour_arrays(self, item_id: str) -> tuple[list[str], np.ndarray]:
        """:meth:`neighbours` as (ids, cosines) in the same order, with the popularity reads done in C."""
        row = self._co.get(item_id)
        na = self.popularity.get(item_id) if row else 0.0
        if na <= 0:
            return [], np.zeros(0)
        ids = list(row)
        nb = self.popularity.get_many(ids)
        raw = np.fromiter(row.values(), dtype=np.float64, count=len(ids))
        keep = nb > 0
        sims = (raw[keep] / self._scale()) / np.sqrt(na * nb[keep])
        return (ids if keep.all() else list(compress(ids, keep))), sims

    def trending(self, n: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``n`` most popular items now, with a popularity score in [0, 1]."""
        top = self.popularity.top(n, exclude)
        peak = self.popularity.max() or 1.0
        return [(item, count / peak) for item, count in top]

    def popularity_score(self, item_id: str) -> float:
        """Log-scaled popularity in [0, 1] relative to the most popular item (or the floor)."""
        return float(self.popularity_scores([item_id])[0])

    def popularity_scores(self, item_ids: Sequence[str]) -> np.ndarray:
        """:meth:`popularity_score` of many items, reading the peak once."""
        peak = max(self.popularity.max(), self.options.popularity_floor)
        if peak <= 0 or not item_ids:
            return np.zeros(len(item_ids))
        return np.log1p(self.popularity.get_many(item_ids)) / math.log1p(peak)

    def to_state(self) -> dict:
        """A JSON-friendly snapshot of every signal."""
        scale = self._scale()
        return {
            "options": self.options.__dict__,
            "popularity": self.popularity.to_state(),
            "clock": self.popularity.clock,
            "co": {a: {b: v / scale for b, v in row.items()} for a, row in self._co.items()},
            "first_seen": self.first_seen,
        }

    @classmethod
    def from_state(cls, state: dict) -> "ItemSignals":
        """Rebuild from :meth:`to_state`."""
        signals = cls(SignalOptions(**state["options"]))
        signals.popularity = DecayedCounts.from_state(state["popularity"])
        signals._co_origin = float(state["clock"])
        signals._co = {a: dict(row) for a, row in state["co"].items()}
        signals.first_seen = dict(state["first_seen"])
        return signals

    def _advance_co(self) -> None:
        """Start or rebase the co-occurrence scale on the popularity clock (before float64 overflows)."""
        if self._co_origin is None:
            self._co_origin = self.popularity.clock
        exponent = (self.popularity.clock - self._co_origin) / self.popularity.half_life
        if exponent > 600:  # see DecayedCounts
            shrink = 2.0 ** -exponent
            self._co = {a: {b: v * shrink for b, v in row.items()} for a, row in self._co.items()}
            self._co_origin = self.popularity.clock

    def _scale(self) -> float:
        # The graph follows the popularity counter's clock, so co-occurrence and counts decay in
        # lockstep and their cosine ratio does not depend on when it is read.
        if self._co_origin is None:
            return 1.0
        return 2.0 ** ((self.popularity.clock - self._co_origin) / self.popularity.half_life)

    def _bump(self, a: str, b: str, amount: float) -> None:
        row = self._co.setdefault(a, {})
        row[b] = row.get(b, 0.0) + amount
        if len(row) > self.options.max_neighbours:
            # prune the weakest fifth at once so pruning is amortised, not per insert
            keep = sorted(row.items(), key=lambda kv: kv[1], reverse=True)[: int(self.options.max_neighbours * 0.8)]
            self._co[a] = dict(keep)

    def _cosine(self, co: float, a: str, b: str) -> float:
        na, nb = self.popularity.get(a), self.popularity.get(b)
        if na <= 0 or nb <= 0:
            return 0.0
        return co / math.sqrt(na * nb)
