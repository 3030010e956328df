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
from .deltas import SignalDelta, pairs_of, split_pair
from .options import SignalOptions
from .rows import PublishedRow

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_RAW = np.zeros(0)


class Row(NamedTuple):
    """An item's co-occurrence row: neighbour dense ids and their values (scaled on the view's clock)."""

    ids: np.ndarray  # int64
    raw: np.ndarray  # float64: the values are scaled by up to 2**600, past float32's range


class _Row:
    """One item's row, growable in place: learning adds to a value or appends a neighbour, ranking reads views.

    A row installed from its aggregator is two compact arrays; the position map (neighbour → slot) is made the
    first time the row learns in place, so a worker's many installed rows cost no dict at all.
    """

    __slots__ = ("ids", "raw", "n", "pos", "installed")

    def __init__(self, ids: np.ndarray, raw: np.ndarray, installed: bool) -> None:
        self.ids, self.raw, self.n, self.pos, self.installed = ids, raw, len(ids), None, installed

    def view(self) -> Row:
        return Row(self.ids[: self.n], self.raw[: self.n])

    def add(self, other: int, amount: float) -> None:
        pos = self.pos
        if pos is None:
            pos = self.pos = dict(zip(self.ids[: self.n].tolist(), range(self.n)))
        slot = pos.get(other)
        if slot is not None:
            self.raw[slot] += amount
            return
        n = self.n
        if n == len(self.ids):
            capacity = max(8, 2 * n)
            self.ids = np.concatenate((self.ids[:n], np.zeros(capacity - n, dtype=np.int64)))
            self.raw = np.concatenate((self.raw[:n], np.zeros(capacity - n)))
        self.ids[n] = other
        self.raw[n] = amount
        pos[other] = n
        self.n = n + 1

    def merge(self, ids: np.ndarray, amounts: np.ndarray) -> None:
        """Add many (neighbour, amount) at once: the same row, order and sums as :meth:`add` one by one (the
        waiting own deltas replayed on a newly installed row: a Python add per pair made that quadratic when
        the aggregator lagged behind a burst)."""
        if not len(ids):
            return
        n = self.n
        all_ids = np.concatenate((self.ids[:n], ids))
        uniq, first, inverse = np.unique(all_ids, return_index=True, return_inverse=True)
        sums = np.bincount(inverse, weights=np.concatenate((self.raw[:n], amounts)), minlength=len(uniq))
        order = np.argsort(first, kind="stable")  # the row's own order, then new neighbours as first added
        self.ids, self.raw, self.n, self.pos = uniq[order], sums[order], len(uniq), None

    def keep_strongest(self, count: int) -> None:
        order = np.argsort(-self.raw[: self.n], kind="stable")[:count]  # ties: the earlier neighbour stays
        self.ids, self.raw, self.n, self.pos = self.ids[order], self.raw[order], len(order), None

    def drop(self, other: int) -> None:
        keep = self.ids[: self.n] != other
        if not keep.all():
            self.ids, self.raw = self.ids[: self.n][keep], self.raw[: self.n][keep]
            self.n, self.pos = len(self.ids), None

    def scale(self, factor: float) -> None:
        self.raw[: self.n] *= factor


class _Pending(NamedTuple):
    """One of this worker's own deltas, counted in the view until the aggregator's row includes it."""

    source: tuple[int, int] | None
    popularity: float  # scaled
    ids: np.ndarray  # neighbour dense ids (int64)
    amounts: np.ndarray  # their scaled increments (float64)


class ItemSignals:
    """Popularity (trending) and co-occurrence (shoppers who touched X also touched Y)."""

    def __init__(self, options: SignalOptions = SignalOptions(), ids: ItemIds | None = None) -> None:
        self.options = options
        self.ids = ids if ids is not None else ItemIds()
        self.decay = DecayClock(options.half_life_seconds)
        self.popularity = DenseCounts(self.ids, self.decay)
        self.first_seen_at = np.zeros(0)  # dense id → first interaction or catalogue entry (NaN: unknown)
        self._rows: dict[int, _Row] = {}  # every row as it counts now (installed + own deltas, or learned in place)
        self._pending: dict[int, list[_Pending]] = {}  # own deltas not yet in an installed row

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
            back, forward = split_pair(amount, self.options)
            if back:
                self._bump(dense, o, back * scale)
            if forward:
                self._bump(o, dense, forward * scale)

    def apply_own(self, deltas: Iterable[SignalDelta]) -> None:
        """Count this worker's own deltas now; the aggregator's rows that fold them replace them later."""
        for delta in deltas:
            self._advance(delta.ts)
            scale = self.decay.scale_at(delta.ts)
            dense = self.ids.ensure(delta.item_id)
            pairs = {self.ids.ensure(k): v * scale for k, v in delta.pairs.items()}
            self._pending.setdefault(dense, []).append(_Pending(
                delta.source, delta.popularity * scale, np.fromiter(pairs, dtype=np.int64, count=len(pairs)),
                np.fromiter(pairs.values(), dtype=np.float64, count=len(pairs))))
            if delta.popularity:
                self.popularity.add_dense(dense, delta.popularity, scale)
            if delta.popularity > 0 or pairs:
                self._first_seen(dense, delta.ts)
            if pairs:
                row = self._row_for(dense)
                for other, amount in pairs.items():
                    row.add(other, amount)

    def apply_row(self, row: PublishedRow) -> None:
        """Install an item's row as its aggregator published it (it replaces the previous version and every
        own delta it folded)."""
        self._advance(row.clock)
        factor = self.decay.scale_at(row.clock)
        dense = self.ids.ensure(row.item_id)
        neighbours = self.ids.ensure_many(row.neighbour_ids)
        installed = self._rows[dense] = _Row(neighbours, np.asarray(row.neighbour_values, dtype=np.float64) * factor,
                                             True)
        pop = row.popularity * factor
        pending = self._pending.pop(dense, None)
        if pending:
            marks = row.watermarks
            left = [p for p in pending if p.source is None or p.source[1] > marks.get(p.source[0], -1)]
            if left:  # own deltas the row does not hold yet: they count on top of it
                self._pending[dense] = left
                pop += sum(p.popularity for p in left)
                installed.merge(np.concatenate([p.ids for p in left]), np.concatenate([p.amounts for p in left]))
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
        self._rows.pop(dense, None)
        self._pending.pop(dense, None)
        for other in row.ids.tolist():
            found = self._rows.get(other)
            if found is not None:
                found.drop(dense)

    # ---- reads --------------------------------------------------------------------------------
    def row(self, dense: int) -> Row:
        """The co-occurrence row of an item as it counts now (installed + own deltas, or learned), raw values."""
        found = self._rows.get(dense)
        return found.view() if found is not None else Row(_EMPTY_IDS, _EMPTY_RAW)

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
        for dense in self._rows:
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
                signals._rows[signals.ids.ensure(key)] = _Row(signals.ids.ensure_many(list(row)),
                                                              np.fromiter(row.values(), np.float64, len(row)), True)
        for key, ts in state["first_seen"].items():
            signals._first_seen(signals.ids.ensure(key), float(ts))
        return signals

    # ---- internals ----------------------------------------------------------------------------
    def _advance(self, ts: float) -> None:
        shrink = self.decay.advance(ts)
        if shrink is None:
            return
        self.popularity.rescale(shrink)
        for row in self._rows.values():
            row.raw = row.raw * shrink  # a copy: an installed row may share its array with a published row
        self._pending = {d: [_Pending(p.source, p.popularity * shrink, p.ids, p.amounts * shrink) for p in ps]
                         for d, ps in self._pending.items()}

    def _fit_first_seen(self) -> None:
        if len(self.first_seen_at) < len(self.ids):
            self.first_seen_at = grown(self.first_seen_at, len(self.ids), np.nan)

    def _first_seen(self, dense: int, ts: float) -> None:
        self._fit_first_seen()
        known = self.first_seen_at[dense]
        if not known <= ts:  # NaN (unknown) or later
            self.first_seen_at[dense] = ts

    def _row_for(self, dense: int) -> _Row:
        row = self._rows.get(dense)
        if row is None:
            row = self._rows[dense] = _Row(np.zeros(8, dtype=np.int64), np.zeros(8), False)
            row.n = 0
        return row

    def _bump(self, a: int, b: int, amount: float) -> None:
        row = self._row_for(a)
        row.add(b, amount)
        if not row.installed and row.n > self.options.max_neighbours:
            # prune the weakest fifth at once so pruning is amortised, not per insert
            row.keep_strongest(int(self.options.max_neighbours * 0.8))
