"""The collaborative window of a profile as arrays: each recent item's co-occurrence neighbours and cosines.

Kept as (ids, cosines) per recent item rather than dicts so candidates and the collab column are built
with C-level map/filter calls: a window of 10 recent items brings up to 10 × max_neighbours (3,000)
neighbours, and a Python-level step per neighbour was a large share of each event's cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Sequence

import numpy as np

from ..profiles import Profile
from ..signals import ItemSignals


@dataclass(frozen=True)
class CollabWindow:
    """The user's distinct recent items (most recent first) and each one's neighbours."""

    recent: list[str]
    neighbour_ids: list[list[str]]
    neighbour_sims: list[np.ndarray]

    def neighbours(self) -> dict[str, dict[str, float]]:
        """Recent item → {neighbour: cosine} (the dict form, for callers that want one)."""
        return {r: dict(zip(ids, sims.tolist())) for r, ids, sims in zip(self.recent, self.neighbour_ids, self.neighbour_sims)}


def recent_items(profile: Profile, window: int) -> list[str]:
    """The user's distinct recent item ids, most recent first (the collaborative window)."""
    out: list[str] = []
    for touch in reversed(profile.history):
        if touch.item_id and touch.item_id not in out:
            out.append(touch.item_id)
            if len(out) == window:
                break
    return out


def collab_window(profile: Profile, signals: ItemSignals, window: int) -> CollabWindow:
    """The window of ``profile``, read from the signals as they stand now."""
    recent = recent_items(profile, window)
    pairs = [signals.neighbour_arrays(item_id) for item_id in recent]
    return CollabWindow(recent, [ids for ids, _ in pairs], [sims for _, sims in pairs])


def collab_columns(window: CollabWindow, item_ids: Sequence[str], recent_ids: Sequence[str]) -> np.ndarray:
    """Cosine of each candidate with each of ``recent_ids`` [n, len(recent_ids)] (0 where not neighbours)."""
    sims = np.zeros((len(item_ids), len(recent_ids)))
    if not item_ids or not recent_ids:
        return sims
    position = dict(zip(item_ids, range(len(item_ids))))
    column = {item_id: j for j, item_id in enumerate(recent_ids)}
    # walk each recent item's neighbours (≤ max_neighbours) rather than every candidate
    for recent_id, ids, values in zip(window.recent, window.neighbour_ids, window.neighbour_sims):
        j = column.get(recent_id)
        if j is None or not ids:
            continue
        rows = np.fromiter(map(position.get, ids, repeat(-1)), dtype=np.int64, count=len(ids))
        found = rows >= 0
        sims[rows[found], j] = values[found]
    return sims
