"""The list's order: greedy MMR over the best candidates, then slots reserved for brand-new items."""
from __future__ import annotations


import numpy as np


def best(scores: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` highest scores, best first (ties: the lower index first, as a stable sort)."""
    n = len(scores)
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    if m >= n:
        return np.lexsort((np.arange(n), -scores))
    part = np.argpartition(-scores, m - 1)[:m]
    threshold = scores[part].min()
    # every index tied with the m-th score competes, so ties break by index exactly as a stable sort would
    tied = np.flatnonzero(scores >= threshold)
    return tied[np.lexsort((tied, -scores[tied]))][:m]


def mmr_batch(relevance: np.ndarray, vectors: np.ndarray, ks: np.ndarray, lam: float) -> np.ndarray:
    """Greedy maximal marginal relevance for a whole micro-batch at once.

    ``relevance`` [B, m]: each list's best candidates' scores, best first (-inf pads a shorter one);
    ``vectors`` [B, m, dim]; ``ks``: how many to choose per list. Returns [B, max(ks)] positions into the m
    candidates (-1 past a list's k). Each round picks, in every list at once, the candidate with the best
    λ·score − (1−λ)·(its largest similarity to those already chosen); the first of equal values wins.
    """
    b, m = relevance.shape
    k = int(ks.max()) if b else 0
    chosen = np.full((b, k), -1, dtype=np.int64)
    if not b or not k:
        return chosen
    sims = np.matmul(vectors, vectors.transpose(0, 2, 1)).astype(np.float64)
    rel = lam * relevance
    taken = ~np.isfinite(relevance)
    rows = np.arange(b)
    max_sim = np.zeros((b, m))
    for step in range(k):
        current = rel - (1 - lam) * max_sim if step else rel.copy()
        current[taken] = -np.inf
        pick = np.argmax(current, axis=1)
        active = step < ks
        chosen[active, step] = pick[active]
        taken[rows, pick] = True
        row = sims[rows, pick]
        max_sim = row if step == 0 else np.maximum(max_sim, row)
    return chosen


def with_new_items(order: list[int], scores: np.ndarray, is_new: np.ndarray, slots: int) -> list[int]:
    """Give the last ``slots`` places to untouched items (``is_new``) when the list has fewer of them.

    A blend fitted on interactions never lets a brand-new item in by score alone.
    """
    slots = min(slots, len(order))
    if slots <= 0:
        return order
    shown_new = int(is_new[order].sum()) if order else 0
    if shown_new >= slots:
        return order
    open_ = is_new & np.isfinite(scores)
    open_[order] = False
    candidates = np.flatnonzero(open_)
    if not len(candidates):
        return order
    fresh = candidates[np.lexsort((candidates, -scores[candidates]))[: slots - shown_new]].tolist()
    # keep the relevance order of the rest; the new items take the tail (they carry their own score)
    keep = [i for i in order if is_new[i]]
    warm = [i for i in order if not is_new[i]][: len(order) - len(keep) - len(fresh)]
    return warm + keep + fresh
