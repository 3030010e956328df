"""Exponential time decay with a half-life, and a lazily decayed counter map.

Decaying every entry on every event would cost O(entries); instead values are stored scaled by
2**((t - origin) / half_life) and divided by the current scale when read (one multiply per access).
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator


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

    def add(self, key: str, amount: float, ts: float) -> None:
        """Add ``amount`` to ``key`` at time ``ts`` (a ts earlier than the clock counts as now)."""
        self._advance(ts)
        self._values[key] = self._values.get(key, 0.0) + amount * self._scale()

    def get(self, key: str) -> float:
        """The decayed value of ``key`` at the current clock."""
        raw = self._values.get(key)
        return 0.0 if raw is None else raw / self._scale()

    def items(self) -> Iterator[tuple[str, float]]:
        """(key, decayed value) pairs."""
        scale = self._scale()
        return ((k, v / scale) for k, v in self._values.items())

    def top(self, n: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The ``n`` largest keys, ignoring those in ``exclude``."""
        skip = set(exclude)
        ranked = sorted(self._values.items(), key=lambda kv: kv[1], reverse=True)
        scale = self._scale()
        return [(k, v / scale) for k, v in ranked if k not in skip][:n]

    def max(self) -> float:
        """The largest decayed value (0.0 when empty)."""
        return max(self._values.values(), default=0.0) / self._scale()

    def discard(self, key: str) -> None:
        """Forget a key (a deleted item)."""
        self._values.pop(key, None)

    def __len__(self) -> int:
        return len(self._values)

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

    def _exponent(self) -> float:
        return 0.0 if self._origin is None else (self._clock - self._origin) / self.half_life

    def _scale(self) -> float:
        return math.pow(2.0, self._exponent())
