"""The list's order: greedy MMR over the best candidates, then slots reserved for brand-new items."""
from __future__ import annotations

import math

import numpy as np


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Greedy maximal marginal relevance over the 3k best candidates (``lam`` 1.0 = by score only).

    The greedy loop runs on Python lists: on a 30 × 30 matrix ten rounds of half a dozen numpy calls
    each cost more than the arithmetic (the same float64 operations, so the same choices).
    """
    k = min(k, len(scores))
    pool = np.argsort(-scores, kind="stable")[: max(3 * k, k)]
    if lam >= 1.0:
        return pool[:k].tolist()
    chosen_vectors = vectors[pool]
    sims = (chosen_vectors @ chosen_vectors.T).tolist()
    relevance = (lam * scores[pool]).tolist()
    penalty = 1 - lam
    max_sim: list[float | None] = [None] * len(relevance)  # None: nothing chosen yet, no penalty
    chosen: list[int] = []
    taken = [False] * len(relevance)
    for _ in range(k):
        best, best_score = -1, -math.inf
        for i, rel in enumerate(relevance):
            if taken[i]:
                continue
            m = max_sim[i]
            score = rel - penalty * (0.0 if m is None else m)
            if best < 0 or score > best_score:  # the first of equal scores wins, as np.argmax
                best, best_score = i, score
        chosen.append(best)
        taken[best] = True
        row = sims[best]
        max_sim = [row[i] if m is None or row[i] > m else m for i, m in enumerate(max_sim)]
    return [int(pool[i]) for i in chosen]


def with_new_items(order: list[int], scores: np.ndarray, is_new: np.ndarray, slots: int) -> list[int]:
    """Give the last ``slots`` places to untouched items (``is_new``) when the list has fewer of them.

    A blend fitted on interactions never lets a brand-new item in by score alone.
    """
    slots = min(slots, len(order))
    if slots <= 0:
        return order
    shown_new = sum(1 for i in order if is_new[i])
    if shown_new >= slots:
        return order
    chosen = set(order)
    fresh = [int(i) for i in np.argsort(-scores, kind="stable") if is_new[i] and int(i) not in chosen]
    fresh = fresh[: slots - shown_new]
    if not fresh:
        return order
    # keep the relevance order of the rest; the new items take the tail (they carry their own score)
    keep = [i for i in order if is_new[i]]
    warm = [i for i in order if not is_new[i]][: len(order) - len(keep) - len(fresh)]
    return warm + keep + fresh
