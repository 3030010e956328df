"""The hot profiles of a worker, decoded: an event of a shopper seen a moment ago skips the table read and decode.

A bounded LRU beside the Faust table (which stays the one source of truth: every change is written to
it, and so to its changelog). It holds only profiles this worker wrote or read since its last rebalance:
a rebalance clears it, because the partitions this worker owns afterwards may have been written by another.
"""
from __future__ import annotations

from collections import OrderedDict

from ..core.profiles import Profile


class ProfileCache:
    """user id → the Profile as last stored, at most ``size`` of them (least recently used dropped first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._profiles: OrderedDict[str, Profile] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, user_id: str) -> Profile | None:
        """The cached profile, or None (then read the table)."""
        profile = self._profiles.get(user_id)
        if profile is None:
            self.misses += 1
            return None
        self._profiles.move_to_end(user_id)
        self.hits += 1
        return profile

    def put(self, user_id: str, profile: Profile) -> None:
        """Remember a profile as it was stored (callers never change it afterwards: the recommender copies)."""
        if self.size <= 0:
            return
        self._profiles[user_id] = profile
        self._profiles.move_to_end(user_id)
        while len(self._profiles) > self.size:
            self._profiles.popitem(last=False)

    def discard(self, user_id: str) -> None:
        """Forget one profile (the user was forgotten)."""
        self._profiles.pop(user_id, None)

    def clear(self) -> None:
        """Forget every profile (a rebalance: ownership may have moved)."""
        self._profiles.clear()

    def __len__(self) -> int:
        return len(self._profiles)
