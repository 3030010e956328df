"""Windowed item-kNN: the sequence-aware baseline a streaming recommender has to beat.

score(c) = Σ over the user's last ``last`` items h of cos(h, c), counting only c among h's ``neighbours``
most similar items, where cos is the cosine of co-occurrence counts and two items co-occur when the same
user touched them within ``window`` items of each other. Two settings are replayed: the one the issue
measured from outside over Kafka (window 50, 50 neighbours, last 20 items) and the tuned one (window 20,
100 neighbours, last 10 items), which is the bar the learned ranker is held to.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ImproperlyConfigured
from .baselines import ItemKNNBaseline


@dataclass(frozen=True)
class KNNOptions:
    """How a windowed item-kNN counts and scores."""

    window: int = 50  # a new item co-occurs with this many of the user's previous items
    neighbours: int = 50  # neighbours kept per item (the strongest by cosine)
    last: int = 20  # the user's most recent items that vote for candidates

    def __post_init__(self) -> None:
        if min(self.window, self.neighbours, self.last) < 1:
            raise ImproperlyConfigured("a windowed item-kNN needs window, neighbours and last >= 1")


class WindowedItemKNN(ItemKNNBaseline):
    """Item-kNN over co-occurrence counted within a window of each user's sequence (past events only)."""

    def __init__(self, name: str, item_ids: Sequence[str], k: int = 10, options: KNNOptions = KNNOptions()) -> None:
        super().__init__(item_ids, k)
        self.name = name
        self.options = options
        self.window, self.last = options.window, options.last

    def scores(self, recent: Sequence[int]) -> np.ndarray:
        """Σ over ``recent`` of the cosine with each of its kept neighbours (0 elsewhere)."""
        recent = list(recent)
        norms = np.sqrt(self.counts)
        safe = np.where(norms > 0, norms, 1.0)
        cos = self.co[recent] / safe[recent, None] / safe[None, :]  # [len(recent), n]
        cos[np.arange(len(recent)), recent] = 0.0  # an item is not its own neighbour
        keep = min(self.options.neighbours, cos.shape[1])
        if keep < cos.shape[1]:
            # zero all but each row's `keep` strongest: argpartition is linear per row
            weakest = np.argpartition(-cos, keep - 1, axis=1)[:, keep:]
            np.put_along_axis(cos, weakest, 0.0, axis=1)
        return cos.sum(axis=0)


#: the two windowed baselines of the evaluation table (docs/results/evaluation.md)
KNN_WINDOW = "item-knn-w50"
KNN_TUNED = "item-knn-tuned"
KNN_BASELINES = {
    KNN_WINDOW: KNNOptions(window=50, neighbours=50, last=20),
    KNN_TUNED: KNNOptions(window=20, neighbours=100, last=10),
}
