"""The signals a ranker reads: decayed item popularity and the co-occurrence rows, over dense item ids.

Three ways in, one store:
- ``apply_row`` installs an item's row as its aggregator published it (every ranking worker follows the
  shop-wide signals topic, so each ranks with what the whole shop does);
- ``apply_own`` adds a worker's own deltas at once (read your own writes): they count until the
  aggregator's row that folded them arrives, which replaces them — each delta counted exactly once, by
  its source (events partition, offset) against the row's watermarks;
- ``observe`` learns one interaction right here (in-process replays and tests: one process owns every row,
  so folding in place is the same arithmetic as aggregator → row → apply).

Storage is columnar: popularity and first-seen times are arrays indexed by dense id (items.py), and each
item's co-occurrence row is a pair of arrays (neighbour dense ids, values); all values are scaled on one
decay clock (counts.py), so cosine = co(a, b) / sqrt(pop(a) · pop(b)) with no scale at all.
"""
from __future__ import annotations

import math
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from ..items import ItemIds, grown
from .counts import DecayClock, DenseCounts
from .deltas import SignalDelta, pairs_of
from .options import SignalOptions
from .rows import PublishedRow

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_RAW = np.zeros(0)


class Row(NamedTuple):
    """An item's co-occurrence row: neighbour dense ids and their values (scaled on the view's clock)."""

    ids: np.ndarray  # int64
    raw: np.ndarray  # float64: the values are scaled by up to 2**600, past float32's range


class _Pending(NamedTuple):
    """One of this worker's own deltas, counted in the view until the aggregator's row includes it."""

    source: tuple[int, int] | None
    popularity: float  # scaled
    pairs: dict[int, float]  # neighbour dense id → scaled increment


class ItemSignals:
    """Popularity (trending) and co-occurrence (shoppers who touched X also touched Y)."""

    def __init__(self, options: SignalOptions = SignalOptions(), ids: ItemIds | None = None) -> None:
        self.options = options
        self.ids = ids if ids is not None else ItemIds()
        self.decay = DecayClock(options.half_life_seconds)
        self.popularity = DenseCounts(self.ids, self.decay)
        self.first_seen_at = np.zeros(0)  # dense id → first interaction or catalogue entry (NaN: unknown)
        self._base: dict[int, Row] = {}  # installed rows
        self._extra: dict[int, dict[int, float]] = {}  # learned in place, or own deltas not yet in a row
        self._pending: dict[int, list[_Pending]] = {}
        self._cache: dict[int, Row] = {}  # effective rows of items with extras
        self._base_pop: dict[int, float] = {}  # the installed popularity (scaled) of items with pending deltas

    # ---- learning -----------------------------------------------------------------------------
    def observe(self, item_id: str, previous: Sequence[str], ts: float, weight: float = 1.0, *,
                source: tuple[int, int] | None = None, arrived: float | None = None) -> None:
        """Learn one interaction with ``item_id``; ``previous`` are the user's earlier items, most recent first.

        (A signal sink, like deltas.DeltaCollector. ``source`` and ``arrived`` tag deltas that cross
        processes; learning in place needs neither.)
        """
        self._advance(ts)
        scale = self.decay.scale_at(ts)
        dense = self.ids.ensure(item_id)
        self.popularity.add_dense(dense, weight, scale)
        self._first_seen(dense, ts)
        others, amounts = pairs_of(item_id, previous, self.options)
        for other, amount in zip(others, amounts):
            o = self.ids.ensure(other)
            self._bump(dense, o, amount * scale)
            self._bump(o, dense, amount * scale)

    def apply_own(self, deltas: Iterable[SignalDelta]) -> None:
        """Count this worker's own deltas now; the aggregator's rows that fold them replace them later."""
        for delta in deltas:
            self._advance(delta.ts)
            scale = self.decay.scale_at(delta.ts)
            dense = self.ids.ensure(delta.item_id)
            pairs = {self.ids.ensure(k): v * scale for k, v in delta.pairs.items()}
            if dense not in self._base_pop:
                self.popularity.fit()
                self._base_pop[dense] = float(self.popularity.raw[dense])
            self._pending.setdefault(dense, []).append(_Pending(delta.source, delta.popularity * scale, pairs))
            if delta.popularity:
                self.popularity.add_dense(dense, delta.popularity, scale)
            if delta.popularity > 0 or pairs:
                self._first_seen(dense, delta.ts)
            if pairs:
                extra = self._extra.setdefault(dense, {})
                for other, amount in pairs.items():
                    extra[other] = extra.get(other, 0.0) + amount
                self._cache.pop(dense, None)

    def apply_row(self, row: PublishedRow) -> None:
        """Install an item's row as its aggregator published it (it replaces the previous version and every
        own delta it folded)."""
        self._advance(row.clock)
        factor = self.decay.scale_at(row.clock)
        dense = self.ids.ensure(row.item_id)
        neighbours = self.ids.ensure_many(row.neighbour_ids)
        self._base[dense] = Row(neighbours, np.asarray(row.neighbour_values, dtype=np.float64) * factor)
        pop = row.popularity * factor
        pending = self._pending.pop(dense, None)
        self._extra.pop(dense, None)
        self._cache.pop(dense, None)
        self._base_pop.pop(dense, None)
        if pending:
            marks = row.watermarks
            left = [p for p in pending if p.source is None or p.source[1] > marks.get(p.source[0], -1)]
            if left:
                self._pending[dense] = left
                self._base_pop[dense] = pop
                extra: dict[int, float] = {}
                for p in left:
                    pop += p.popularity
                    for other, amount in p.pairs.items():
                        extra[other] = extra.get(other, 0.0) + amount
                if extra:
                    self._extra[dense] = extra
        self.popularity.put_dense(dense, pop)
        if row.first_seen is not None:
            self._first_seen(dense, row.first_seen)

    def note_item(self, item_id: str, ts: float) -> None:
        """Record when an item entered the catalogue (for the new-arrival signal)."""
        self._first_seen(self.ids.ensure(item_id), ts)

    def forget(self, item_id: str) -> None:
        """Drop a deleted item from every signal."""
        dense = self.ids.get(item_id)
        if dense < 0:
            return
        self.popularity.discard(item_id)
        if dense < len(self.first_seen_at):
            self.first_seen_at[dense] = np.nan
        row = self.row(dense)
        for store in (self._base, self._extra, self._pending, self._cache, self._base_pop):
            store.pop(dense, None)
        for other in row.ids.tolist():
            base = self._base.get(other)
            if base is not None and dense in base.ids:
                keep = base.ids != dense
                self._base[other] = Row(base.ids[keep], base.raw[keep])
            extra = self._extra.get(other)
            if extra is not None:
                extra.pop(dense, None)
            self._cache.pop(other, None)

    # ---- reads --------------------------------------------------------------------------------
    def row(self, dense: int) -> Row:
        """The co-occurrence row of an item as it counts now (installed + extras), raw values."""
        cached = self._cache.get(dense)
        if cached is not None:
            return cached
        extra = self._extra.get(dense)
        base = self._base.get(dense)
        if not extra:
            return base if base is not None else Row(_EMPTY_IDS, _EMPTY_RAW)
        if base is None:  # learned in place: the extras are the row
            merged = extra
        else:
            merged = dict(zip(base.ids.tolist(), base.raw.tolist()))
            for other, amount in extra.items():
                merged[other] = merged.get(other, 0.0) + amount
        row = self._cache[dense] = Row(np.fromiter(merged, dtype=np.int64, count=len(merged)),
                                       np.fromiter(merged.values(), dtype=np.float64, count=len(merged)))
        return row

    def cosines(self, dense: int) -> tuple[np.ndarray, np.ndarray]:
        """(neighbour dense ids, cosine) of an item's row; neighbours nobody touched are left out."""
        row = self.row(dense)
        pop = self.popularity.raw_of(row.ids) if len(row.ids) else _EMPTY_RAW
        self.popularity.fit()
        na = self.popularity.raw[dense] if 0 <= dense < len(self.popularity.raw) else 0.0
        if na <= 0 or not len(row.ids):
            return _EMPTY_IDS, _EMPTY_RAW
        keep = pop > 0
        return row.ids[keep], row.raw[keep] / np.sqrt(na * pop[keep])

    def similarity(self, a: str, b: str) -> float:
        """Cosine co-occurrence similarity of two items (0 when never seen together)."""
        da, db = self.ids.get(a), self.ids.get(b)
        if da < 0 or db < 0:
            return 0.0
        ids, sims = self.cosines(da)
        hit = np.flatnonzero(ids == db)
        return float(sims[hit[0]]) if len(hit) else 0.0

    def neighbours(self, item_id: str) -> dict[str, float]:
        """Every kept neighbour of ``item_id`` with its cosine similarity."""
        ids, sims = self.neighbour_arrays(item_id)
        return dict(zip(ids, sims.tolist()))

    def neighbour_arrays(self, item_id: str) -> tuple[list[str], np.ndarray]:
        """:meth:`neighbours` as (ids, cosines) in the same order."""
        dense = self.ids.get(item_id)
        if dense < 0:
            return [], _EMPTY_RAW
        ids, sims = self.cosines(dense)
        return self.ids.name_of(ids.tolist()), sims

    @property
    def first_seen(self) -> dict[str, float]:
        """item id → first interaction or catalogue entry (a dict view, for tests and HTTP)."""
        known = np.flatnonzero(~np.isnan(self.first_seen_at))
        names = self.ids.names
        return {names[d]: float(self.first_seen_at[d]) for d in known.tolist()}

    def first_seen_for(self, item_id: str) -> float | None:
        """When an item was first touched or entered the catalogue (None: unknown)."""
        dense = self.ids.get(item_id)
        if dense < 0:
            return None
        value = float(self.first_seen_of(np.array([dense]))[0])
        return None if np.isnan(value) else value

    def first_seen_of(self, dense: np.ndarray) -> np.ndarray:
        """First-seen times of dense ids (NaN: unknown)."""
        self._fit_first_seen()
        return self.first_seen_at[dense]

    def trending(self, n: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``n`` most popular items now, with a popularity score in [0, 1]."""
        top = self.popularity.top(n, exclude)
        peak = self.popularity.max() or 1.0
        return [(item, count / peak) for item, count in top]

    def popularity_score(self, item_id: str) -> float:
        """Log-scaled popularity in [0, 1] relative to the most popular item (or the floor)."""
        return float(self.popularity_scores([item_id])[0])

    def popularity_scores(self, item_ids: Sequence[str]) -> np.ndarray:
        """:meth:`popularity_score` of many items."""
        return self.popularity_of(self.ids.lookup(item_ids))

    def popularity_of(self, dense: np.ndarray) -> np.ndarray:
        """Log-scaled popularity of dense ids (unknown ids: 0)."""
        scale = self.decay.scale()
        peak = max(self.popularity.max_raw() / scale, self.options.popularity_floor)
        if peak <= 0 or not len(dense):
            return np.zeros(len(dense))
        counts = np.where(dense >= 0, self.popularity.raw_of(np.maximum(dense, 0)), 0.0) / scale
        return np.log1p(counts) / math.log1p(peak)

    # ---- snapshots ----------------------------------------------------------------------------
    def to_state(self) -> dict:
        """A JSON-friendly snapshot of every signal (rows as they count now)."""
        names = self.ids.names
        scale = self.decay.scale()
        rows = {}
        for dense in set(self._base) | set(self._extra):
            row = self.row(dense)
            rows[names[dense]] = dict(zip(self.ids.name_of(row.ids.tolist()), (row.raw / scale).tolist()))
        return {"options": self.options.__dict__, "popularity": self.popularity.to_state(), "clock": self.decay.clock,
                "co": rows, "first_seen": self.first_seen}

    @classmethod
    def from_state(cls, state: dict, ids: ItemIds | None = None, options: SignalOptions | None = None) -> "ItemSignals":
        """Rebuild from :meth:`to_state` (``options``: today's, in place of the saved ones)."""
        signals = cls(options or SignalOptions(**state["options"]), ids)
        clock = float(state["clock"])
        signals._advance(clock)
        for key, value in state["popularity"]["values"].items():
            signals.popularity.put_dense(signals.ids.ensure(key), float(value))
        for key, row in state["co"].items():
            if row:
                signals._base[signals.ids.ensure(key)] = Row(signals.ids.ensure_many(list(row)),
                                                             np.fromiter(row.values(), np.float64, len(row)))
        for key, ts in state["first_seen"].items():
            signals._first_seen(signals.ids.ensure(key), float(ts))
        return signals

    # ---- internals ----------------------------------------------------------------------------
    def _advance(self, ts: float) -> None:
        shrink = self.decay.advance(ts)
        if shrink is None:
            return
        self.popularity.rescale(shrink)
        self._base = {d: Row(r.ids, r.raw * shrink) for d, r in self._base.items()}
        self._extra = {d: {o: v * shrink for o, v in row.items()} for d, row in self._extra.items()}
        self._pending = {d: [_Pending(p.source, p.popularity * shrink, {o: v * shrink for o, v in p.pairs.items()})
                             for p in ps] for d, ps in self._pending.items()}
        self._base_pop = {d: v * shrink for d, v in self._base_pop.items()}
        self._cache.clear()

    def _fit_first_seen(self) -> None:
        if len(self.first_seen_at) < len(self.ids):
            self.first_seen_at = grown(self.first_seen_at, len(self.ids), np.nan)

    def _first_seen(self, dense: int, ts: float) -> None:
        self._fit_first_seen()
        known = self.first_seen_at[dense]
        if not known <= ts:  # NaN (unknown) or later
            self.first_seen_at[dense] = ts

    def _bump(self, a: int, b: int, amount: float) -> None:
        row = self._extra.get(a)
        if row is None:
            row = self._extra[a] = {}
        row[b] = row.get(b, 0.0) + amount
        self._cache.pop(a, None)
        if a not in self._base and len(row) > self.options.max_neighbours:
            # prune the weakest fifth at once so pruning is amortised, not per insert
            keep = sorted(row.items(), key=lambda kv: kv[1], reverse=True)[: int(self.options.max_neighbours * 0.8)]
            self._extra[a] = dict(keep)
