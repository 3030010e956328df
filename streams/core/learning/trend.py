"""Popularity trend: is an item picking up or fading? A short-half-life count beside the 30-day popularity.

It is fed with popularity readings (item, decayed popularity, clock) — from the signal rows every worker
follows, or from the in-process view after each event — so it is shop-wide wherever popularity is. Between
two readings of an item, the interactions added are P(t2) - P(t1)·2^(-(t2-t1)/H); they go into a counter
with a one-day half-life. The feature is log(1 + short) - log(1 + long): > 0 when an item gathers
interest faster than its long-run popularity says.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..decay import DecayedCounts, decay_factor

DAY = 86400.0


class PopularityTrend:
    """Short-term interactions per item, derived from successive long-term popularity readings."""

    def __init__(self, long_half_life: float, short_half_life: float = DAY) -> None:
        self.long_half_life = long_half_life
        self.short = DecayedCounts(short_half_life)
        self._last: dict[str, tuple[float, float]] = {}  # item → (popularity, clock) of its last reading

    def note(self, item_id: str, popularity: float, clock: float) -> None:
        """A new reading of an item's long-term popularity."""
        before = self._last.get(item_id)
        self._last[item_id] = (popularity, clock)
        if before is None:
            added = popularity
        else:
            added = popularity - before[0] * decay_factor(clock - before[1], self.long_half_life)
        if added > 0:
            self.short.add(item_id, added, clock)

    def forget(self, item_id: str) -> None:
        """Drop a deleted item."""
        self._last.pop(item_id, None)
        self.short.discard(item_id)

    def scores(self, item_ids: Sequence[str], popularity: DecayedCounts) -> np.ndarray:
        """log1p(short-term) - log1p(long-term) of each item (0 for an item never read)."""
        if not item_ids:
            return np.zeros(0)
        return np.log1p(self.short.get_many(item_ids)) - np.log1p(popularity.get_many(item_ids))
