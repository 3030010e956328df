"""Exponential time decay with a half-life, and a lazily decayed counter map.

Decaying every entry on every event would cost O(entries); instead values are stored scaled by
2**((t - origin) / half_life) and divided by the current scale when read (one multiply per access).
"""
from __future__ import annotations

import heapq
import math
from itertools import repeat
from typing import Iterable, Iterator, Sequence

import numpy as np


def decay_factor(age_seconds: float, half_life_seconds: float) -> float:
    """Weight multiplier after ``age_seconds`` with the given half-life (1.0 for age ≤ 0)."""
    if age_seconds <= 0:
        return 1.0
    return 0.5 ** (age_seconds / half_life_seconds)


class DecayedCounts:
    """A map key → exponentially decayed sum, cheap to update and read at a monotone clock."""

    _REBASE_AT = 600.0  # log2 of the scale at which stored values are rebased (float64 tops out near 2**1023)

    def __init__(self, half_life_seconds: float) -> None:
        if half_life_seconds <= 0:
            raise ValueError("half_life_seconds must be positive")
        self.half_life = half_life_seconds
        self._origin: float | None = None
        self._clock = 0.0
        self._values: dict[str, float] = {}
        # Exact top-k cache. top() and max() run once per recommendation; sorting every value each time
        # would be O(N log N) per event on a large catalogue. Values only grow between reads (decay is
        # one shared scale), so the cached leaders plus a floor that every other value sits below
        # answer exactly; anything that could break that (a delete, a rebase, a tie at the floor) drops it.
        self._seq: dict[str, int] = {}  # insertion order: ties rank in it, like a stable full sort
        self._next_seq = 0
        self._leaders: dict[str, None] | None = None
        self._leaders_sorted: list[str] | None = None
        self._floor = -math.inf

    def add(self, key: str, amount: float, ts: float) -> None:
        """Add ``amount`` to ``key`` at time ``ts``.

        A ts earlier than the clock contributes what is left of it now, so the result does not depend on
        the order values arrive in (two workers, or a replay after a crash, fold the same set the same).
        """
        self._advance(ts)
        old = self._values.get(key)
        if old is None:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        raw = (old or 0.0) + amount * self._scale_at(ts)
        self._values[key] = raw
        if self._leaders is not None:
            if key in self._leaders or raw > self._floor:
                self._leaders[key] = None
                self._leaders_sorted = None
            elif raw == self._floor:  # may outrank an equal outsider that came earlier: recompute
                self._leaders = None

    def put(self, key: str, value: float, ts: float) -> None:
        """Set ``key`` to ``value`` as it stood at time ``ts`` (it decays from there like every value).

        A replica's view of a value another process owns: the new version replaces the old one.
        """
        self._advance(ts)
        raw = value * self._scale_at(ts)
        old = self._values.get(key)
        if old is None:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        self._values[key] = raw
        if self._leaders is not None:
            if old is not None and raw < old and key in self._leaders:
                self._leaders = None  # a leader fell: the cached order no longer holds
            elif key in self._leaders or raw > self._floor:
                self._leaders[key] = None
                self._leaders_sorted = None
            elif raw == self._floor:
                self._leaders = None

    def get(self, key: str) -> float:
        """The decayed value of ``key`` at the current clock."""
        raw = self._values.get(key)
        return 0.0 if raw is None else raw / self._scale()

    def get_many(self, keys: Sequence[str]) -> np.ndarray:
        """:meth:`get` of many keys at once (one scale computation), as float64."""
        # map() over dict.get runs in C: ranking reads thousands of candidates per event
        out = np.fromiter(map(self._values.get, keys, repeat(0.0)), dtype=np.float64, count=len(keys))
        return out / self._scale()

    def items(self) -> Iterator[tuple[str, float]]:
        """(key, decayed value) pairs."""
        scale = self._scale()
        return ((k, v / scale) for k, v in self._values.items())

    def top(self, n: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``n`` largest keys, ignoring those in ``exclude`` (ties: first inserted first)."""
        skip = set(exclude)
        ranked = self._ranked(n + len(skip))
        scale = self._scale()
        values = self._values
        return [(k, values[k] / scale) for k in ranked if k not in skip][:n]

    def top_keys(self, n: int) -> list[str]:
        """The ``n`` largest keys, best first (:meth:`top` without the values)."""
        return self._ranked(n)[:n]

    def max(self) -> float:
        """The largest decayed value (0.0 when empty)."""
        ranked = self._ranked(1)
        return self._values[ranked[0]] / self._scale() if ranked else 0.0

    def discard(self, key: str) -> None:
        """Forget a key (a deleted item)."""
        if self._values.pop(key, None) is not None:
            self._seq.pop(key, None)
            if self._leaders is not None and key in self._leaders:
                self._leaders = None

    def __len__(self) -> int:
        return len(self._values)

    _MIN_LEADERS = 256

    def _ranked(self, need: int) -> list[str]:
        """The highest keys, best first: at least ``need`` of them unless there are fewer keys."""
        values, seq = self._values, self._seq

        def order(k: str) -> tuple[float, int]:
            return (-values[k], seq[k])

        size = max(self._MIN_LEADERS, 2 * need)
        if self._leaders is None or (need > len(self._leaders) and len(self._leaders) < len(values)):
            kept = heapq.nsmallest(size, values, key=order)
        elif self._leaders_sorted is None:
            # (-value, seq) order as two stable C-keyed sorts (seq, then value descending keeps seq order
            # among ties): this re-sort runs after most events, a Python key function made it ~10x dearer
            kept = sorted(sorted(self._leaders, key=seq.__getitem__), key=values.__getitem__, reverse=True)
            kept = kept[: 2 * size]  # trimmed ones rank below every kept one
        else:
            return self._leaders_sorted
        self._leaders = dict.fromkeys(kept)
        self._leaders_sorted = kept
        self._floor = values[kept[-1]] if len(kept) < len(values) else -math.inf
        return kept

    @property
    def clock(self) -> float:
        """The latest timestamp seen."""
        return self._clock

    def to_state(self) -> dict:
        """A JSON-friendly snapshot."""
        return {"half_life": self.half_life, "clock": self._clock, "values": dict(self.items())}

    @classmethod
    def from_state(cls, state: dict) -> "DecayedCounts":
        """Rebuild from :meth:`to_state`."""
        counts = cls(state["half_life"])
        if state["values"]:
            counts._origin = counts._clock = float(state["clock"])
            counts._values = {k: float(v) for k, v in state["values"].items()}
            counts._seq = {k: n for n, k in enumerate(counts._values)}
            counts._next_seq = len(counts._seq)
        return counts

    def _advance(self, ts: float) -> None:
        if self._origin is None:
            self._origin = self._clock = ts
        if ts > self._clock:
            self._clock = ts
        exponent = self._exponent()
        if exponent > self._REBASE_AT:
            shrink = 2.0 ** -exponent  # may underflow to 0.0: such old values are gone anyway
            self._values = {k: v * shrink for k, v in self._values.items()}
            self._origin = self._clock
            self._leaders = None  # underflow may create ties the floor cannot order

    def _exponent(self) -> float:
        return 0.0 if self._origin is None else (self._clock - self._origin) / self.half_life

    def _scale(self) -> float:
        return math.pow(2.0, self._exponent())

    def _scale_at(self, ts: float) -> float:
        return math.pow(2.0, (ts - self._origin) / self.half_life)
