"""The list's order: greedy MMR over the best candidates, then slots reserved for brand-new items."""
from __future__ import annotations

import numpy as np


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Greedy maximal marginal relevance over the 3k best candidates (``lam`` 1.0 = by score only)."""
    k = min(k, len(scores))
    pool = list(np.argsort(-scores, kind="stable")[: max(3 * k, k)])
    if lam >= 1.0:
        return [int(i) for i in pool[:k]]
    sims = vectors[pool] @ vectors[pool].T
    chosen: list[int] = []
    max_sim = np.full(len(pool), -np.inf)
    for _ in range(k):
        score = lam * scores[pool] - (1 - lam) * np.where(np.isinf(max_sim), 0.0, max_sim)
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        max_sim = np.maximum(max_sim, sims[best])
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
