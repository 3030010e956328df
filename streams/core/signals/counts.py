"""Decayed popularity as a dense array over the worker's item ids, on one decay clock shared with the rows.

Values are stored scaled by 2**((t - origin) / half_life) (the trick of decay.DecayedCounts): adding at time
t is one multiply-add, reading divides by the scale of the current clock, and a co-occurrence value over
the same clock divided by the square root of two popularities is a cosine without any scale at all.
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..items import ItemIds, grown

_REBASE_AT = 600.0  # log2 of the scale at which stored values are rebased (float64 tops out near 2**1023)


class DecayClock:
    """The latest event time seen, and the origin stored values are scaled from."""

    def __init__(self, half_life: float) -> None:
        if half_life <= 0:
            raise ValueError("half_life_seconds must be positive")
        self.half_life = half_life
        self.origin: float | None = None
        self.clock = 0.0

    def advance(self, ts: float) -> float | None:
        """Move the clock to ``ts`` (never back); the factor stored values must be multiplied by, when rebased."""
        if self.origin is None:
            self.origin = self.clock = ts
        elif ts > self.clock:
            self.clock = ts
        exponent = (self.clock - self.origin) / self.half_life
        if exponent > _REBASE_AT:
            self.origin = self.clock
            return 2.0 ** -exponent  # may underflow to 0.0: such old values are gone anyway
        return None

    def scale(self) -> float:
        """The factor stored values carry at the current clock."""
        return 1.0 if self.origin is None else math.pow(2.0, (self.clock - self.origin) / self.half_life)

    def scale_at(self, ts: float) -> float:
        """The factor a value added at ``ts`` is stored with (``advance`` first)."""
        return math.pow(2.0, (ts - self.origin) / self.half_life)


class DenseCounts:
    """Item → decayed sum, as a float64 array over dense ids (the popularity of a ranker's view)."""

    def __init__(self, ids: ItemIds, clock: DecayClock) -> None:
        self.ids = ids
        self.decay = clock
        self.raw = np.zeros(0)  # scaled values by dense id
        self.present = np.zeros(0, dtype=bool)  # has a value (absent ids read 0)
        self._count = 0
        self._max_raw: float | None = 0.0  # None: recompute

    @property
    def half_life(self) -> float:
        return self.decay.half_life

    @property
    def clock(self) -> float:
        """The latest timestamp seen."""
        return self.decay.clock

    def fit(self) -> None:
        """Grow the columns to the registry."""
        size = len(self.ids)
        if len(self.raw) < size:
            self.raw = grown(self.raw, size, 0.0)
            self.present = grown(self.present, size, False)

    def rescale(self, shrink: float) -> None:
        """Multiply every stored value (a rebase of the shared clock)."""
        self.raw *= shrink
        self._max_raw = None

    # ---- writes ---------------------------------------------------------------------------
    def add_dense(self, dense: int, amount: float, scale: float) -> None:
        """Add ``amount`` stored with ``scale`` (the clock's ``scale_at`` of its time)."""
        self.fit()
        if not self.present[dense]:
            self.present[dense] = True
            self._count += 1
        value = self.raw[dense] + amount * scale
        self.raw[dense] = value
        if self._max_raw is not None and value > self._max_raw:
            self._max_raw = value

    def put_dense(self, dense: int, raw: float) -> None:
        """Set a stored (scaled) value: a replica's view of a value another process owns."""
        self.fit()
        if not self.present[dense]:
            self.present[dense] = True
            self._count += 1
        old = self.raw[dense]
        self.raw[dense] = raw
        if self._max_raw is not None:
            if raw > self._max_raw:
                self._max_raw = raw
            elif raw < old and old >= self._max_raw:
                self._max_raw = None

    def add(self, key: str, amount: float, ts: float) -> None:
        """Add ``amount`` to ``key`` at time ``ts`` (a late ts adds what is left of it now)."""
        shrink = self.decay.advance(ts)
        if shrink is not None:
            self.rescale(shrink)
        self.add_dense(self.ids.ensure(key), amount, self.decay.scale_at(ts))

    def put(self, key: str, value: float, ts: float) -> None:
        """Set ``key`` to ``value`` as it stood at time ``ts``."""
        shrink = self.decay.advance(ts)
        if shrink is not None:
            self.rescale(shrink)
        self.put_dense(self.ids.ensure(key), value * self.decay.scale_at(ts))

    def discard(self, key: str) -> None:
        """Forget a key (a deleted item)."""
        dense = self.ids.get(key)
        if 0 <= dense < len(self.raw) and self.present[dense]:
            self.present[dense] = False
            self._count -= 1
            if self.raw[dense] >= (self._max_raw or 0.0):
                self._max_raw = None
            self.raw[dense] = 0.0

    # ---- reads ----------------------------------------------------------------------------
    def raw_of(self, dense: np.ndarray) -> np.ndarray:
        """Stored values of dense ids (0 for ids beyond the columns)."""
        self.fit()
        return self.raw[dense]

    def get(self, key: str) -> float:
        """The decayed value of ``key`` now."""
        dense = self.ids.get(key)
        if dense < 0 or dense >= len(self.raw):
            return 0.0
        return float(self.raw[dense]) / self.decay.scale()

    def get_many(self, keys: Sequence[str]) -> np.ndarray:
        """Decayed values of many keys."""
        dense = self.ids.lookup(keys)
        self.fit()
        out = np.where(dense >= 0, self.raw[np.maximum(dense, 0)] if len(self.raw) else 0.0, 0.0)
        return out / self.decay.scale()

    def max_raw(self) -> float:
        """The largest stored value."""
        if self._max_raw is None:
            self._max_raw = float(self.raw.max()) if len(self.raw) else 0.0
        return self._max_raw

    def max(self) -> float:
        """The largest decayed value (0.0 when empty)."""
        return self.max_raw() / self.decay.scale()

    def top_dense(self, n: int) -> np.ndarray:
        """Dense ids of the ``n`` largest present values, best first (ties: the earlier registered first)."""
        present = np.flatnonzero(self.present[: len(self.raw)])
        if n <= 0 or not len(present):
            return present[:0]
        values = self.raw[present]
        if len(present) > n:
            threshold = np.partition(values, len(values) - n)[len(values) - n]
            keep = values >= threshold
            present, values = present[keep], values[keep]
        order = np.lexsort((present, -values))  # value descending, then dense id ascending
        return present[order[:n]]

    def top_keys(self, n: int) -> list[str]:
        """The ``n`` largest keys, best first."""
        return self.ids.name_of(self.top_dense(n).tolist())

    def top(self, n: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``n`` largest keys with their decayed values, ignoring those in ``exclude``."""
        skip = set(exclude)
        scale = self.decay.scale()
        dense = self.top_dense(n + len(skip)).tolist()
        names = self.ids.names
        return [(names[d], float(self.raw[d]) / scale) for d in dense if names[d] not in skip][:n]

    def items(self) -> Iterator[tuple[str, float]]:
        """(key, decayed value) pairs."""
        scale = self.decay.scale()
        names = self.ids.names
        return ((names[d], float(self.raw[d]) / scale) for d in np.flatnonzero(self.present).tolist())

    def __len__(self) -> int:
        return self._count

    def to_state(self) -> dict:
        """A JSON-friendly snapshot."""
        return {"half_life": self.half_life, "clock": self.clock, "values": dict(self.items())}
