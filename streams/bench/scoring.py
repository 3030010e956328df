"""Scoring lists read back from the broker with `streamrec eval`'s protocol (streams/evaluation/replay.py).

The list published after a user's event is scored against that user's next interaction in the log
(nothing it was built from comes after the interaction it is scored against); a user's last list has no
target and is not scored. The target's 1-based rank within the first ``k`` items is kept (0 = absent),
and HR@k / NDCG@k come from streams/evaluation/metrics.py, the functions every eval figure uses.

One difference from the in-process replay, stated where it is reported: a list that never came back from
the workers is scored as a miss (rank 0) and counted, not left out — leaving it out would rate a worker
that drops lists on the lists it kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..evaluation import metrics

SEGMENTS = ("fit", "test", "full")  # as `streamrec eval`: before / after the boundary / all scored lists


def next_targets(events: Sequence[tuple[str, str]]) -> list[int | None]:
    """For each (user, item) event in log order, the index of the same user's next event (None: their last)."""
    targets: list[int | None] = [None] * len(events)
    last: dict[str, int] = {}
    for t, (user, _) in enumerate(events):
        previous = last.get(user)
        if previous is not None:
            targets[previous] = t
        last[user] = t
    return targets


@dataclass
class Scores:
    """One row per scored list: when it was published, the target's rank, and whether the list was missing."""

    k: int
    event_index: list[int] = field(default_factory=list)
    rank: list[int] = field(default_factory=list)
    missing: list[bool] = field(default_factory=list)

    def mask(self, segment: str, boundary: int) -> np.ndarray:
        """Which scored lists belong to a segment (``boundary``: the first event index of the test part)."""
        idx = np.asarray(self.event_index, dtype=np.int64)
        if segment == "fit":
            return idx < boundary
        if segment == "test":
            return idx >= boundary
        if segment == "full":
            return np.ones(len(idx), dtype=bool)
        raise ValueError(f"unknown segment {segment!r}; expected one of {', '.join(SEGMENTS)}")

    def summary(self, segment: str, boundary: int) -> dict:
        """Lists scored, of them missing, HR@k and NDCG@k of one segment."""
        keep = self.mask(segment, boundary)
        ranks = np.asarray(self.rank, dtype=np.int64)[keep]
        return {
            "lists": int(keep.sum()),
            "missing": int(np.asarray(self.missing, dtype=bool)[keep].sum()),
            f"hr@{self.k}": float(metrics.hits(ranks).mean()) if len(ranks) else 0.0,
            f"ndcg@{self.k}": float(metrics.ndcg(ranks).mean()) if len(ranks) else 0.0,
        }

    def ndcg_series(self, buckets: int = 50) -> dict:
        """Mean NDCG@k per slice of the replay (by the event each list followed): the plot's line."""
        if not self.rank:
            return {"event_index": [], "ndcg": []}
        idx = np.asarray(self.event_index, dtype=np.int64)
        gains = metrics.ndcg(self.rank)
        edges = np.linspace(0, idx.max() + 1, min(buckets, len(idx)) + 1)
        which = np.clip(np.searchsorted(edges, idx, side="right") - 1, 0, len(edges) - 2)
        centre, mean = [], []
        for b in range(len(edges) - 1):
            sel = which == b
            if sel.any():
                centre.append(float((edges[b] + edges[b + 1]) / 2))
                mean.append(float(gains[sel].mean()))
        return {"event_index": centre, "ndcg": mean}


def score_lists(events: Sequence[tuple[str, str]], lists: Mapping[int, Sequence[str]], k: int = 10) -> Scores:
    """Score each event's list (``lists``: event index → item ids, best first; absent = never came back)."""
    scores = Scores(k)
    for t, target in enumerate(next_targets(events)):
        if target is None:
            continue
        shown = lists.get(t)
        scores.event_index.append(t)
        scores.missing.append(shown is None)
        scores.rank.append(0 if shown is None else metrics.rank_of(shown, events[target][1], k) or 0)
    return scores
