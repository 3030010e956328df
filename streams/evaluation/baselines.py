"""Reference recommenders replayed beside streamrec: past-only popularity and item-kNN (cosine co-occurrence)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ImproperlyConfigured


class _ItemSpace:
    """Dense item ids 0..n-1 for a fixed catalogue, and each user's distinct past items."""

    def __init__(self, item_ids: Sequence[str]) -> None:
        if not item_ids:
            raise ImproperlyConfigured("a baseline needs a non-empty catalogue")
        self.item_ids = list(item_ids)
        self.position = {item: i for i, item in enumerate(self.item_ids)}
        self.history: dict[str, list[int]] = {}

    def record(self, user_id: str, item_id: str) -> tuple[int | None, list[int]]:
        """Note that the user touched the item; return its position and the user's earlier items."""
        past = self.history.setdefault(user_id, [])
        pos = self.position.get(item_id)
        earlier = list(past)
        if pos is not None and pos not in past:
            past.append(pos)
        return pos, earlier

    def top(self, scores: np.ndarray, user_id: str, k: int) -> list[str]:
        """The k best-scored items the user has not touched (ties: catalogue order)."""
        scores = scores.astype(np.float64, copy=True)
        seen = self.history.get(user_id)
        if seen:
            scores[seen] = -np.inf
        k = min(k, len(scores) - (len(seen) if seen else 0))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.lexsort((best, -scores[best]))]
        return [self.item_ids[i] for i in best if np.isfinite(scores[i])]


class PopularityBaseline:
    """Most interacted-with items so far (past events only), excluding the user's own items."""

    name = "popularity"

    def __init__(self, item_ids: Sequence[str], k: int = 10) -> None:
        self.space = _ItemSpace(item_ids)
        self.k = k
        self.counts = np.zeros(len(self.space.item_ids), dtype=np.float64)

    def step(self, user_id: str, item_id: str) -> list[str]:
        """Count one interaction, then return the user's list right after it."""
        pos, _ = self.space.record(user_id, item_id)
        if pos is not None:
            self.counts[pos] += 1.0
        return self.space.top(self.counts, user_id, self.k)


class ItemKNNBaseline:
    """Item-kNN: score(c) = Σ over the user's whole history h of cos(h, c) on user co-occurrence counts."""

    name = "item-knn"
    window: int | None = None  # co-occurrence with this many previous items (None: the whole history)
    last: int | None = None  # the user's most recent items that vote (None: all of them)

    def __init__(self, item_ids: Sequence[str], k: int = 10) -> None:
        self.space = _ItemSpace(item_ids)
        self.k = k
        n = len(self.space.item_ids)
        # dense is fine at catalogue scale (1.7k items → 22 MB) and keeps every update a vector op
        self.co = np.zeros((n, n), dtype=np.float64)
        self.counts = np.zeros(n, dtype=np.float64)

    def step(self, user_id: str, item_id: str) -> list[str]:
        """Count one interaction against the user's earlier items, then return their list."""
        pos, earlier = self.space.record(user_id, item_id)
        if pos is not None and pos not in earlier:
            self.counts[pos] += 1.0
            recent = earlier if self.window is None else earlier[-self.window:]
            if recent:
                self.co[pos, recent] += 1.0
                self.co[recent, pos] += 1.0
        history = self.space.history.get(user_id, [])
        if not history:
            return []
        return self.space.top(self.scores(history if self.last is None else history[-self.last:]), user_id, self.k)

    def scores(self, history: Sequence[int]) -> np.ndarray:
        """Σ_h cos(h, ·) for the given history positions (0 for never co-occurring items)."""
        norms = np.sqrt(self.counts)
        safe = np.where(norms > 0, norms, 1.0)
        rows = self.co[list(history)] / safe[list(history), None]
        return rows.sum(axis=0) / safe
