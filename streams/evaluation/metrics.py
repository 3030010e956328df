"""Ranking metrics, vectorised over lists (each list scored by its target's rank), and list-set metrics.

The replay keeps one rank per scored list (1-based within the cutoff, 0 when the target is absent);
every HR/NDCG/MRR figure in its report comes from these functions.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np


def rank_of(ranked: Sequence[str], target: str, k: int | None = None) -> int | None:
    """1-based position of ``target`` within the first ``k`` items (None when absent)."""
    top = ranked if k is None else ranked[:k]
    for pos, item in enumerate(top, start=1):
        if item == target:
            return pos
    return None


def _ranks(ranks: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(ranks, dtype=np.int64)


def hits(ranks: Sequence[int] | np.ndarray) -> np.ndarray:
    """HR per list from the target's 1-based rank within the cutoff (0 = absent): 1.0 or 0.0."""
    return (_ranks(ranks) > 0).astype(np.float64)


def ndcg(ranks: Sequence[int] | np.ndarray) -> np.ndarray:
    """NDCG per list with one relevant item: 1/log2(rank+1) when present (the ideal DCG is 1), else 0."""
    r = _ranks(ranks)
    return np.where(r > 0, 1.0 / np.log2(np.maximum(r, 1) + 1), 0.0)


def reciprocal_rank(ranks: Sequence[int] | np.ndarray) -> np.ndarray:
    """1/rank per list, 0.0 when absent (its mean is MRR@k)."""
    r = _ranks(ranks)
    return np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0)


def coverage(lists: Iterable[Sequence[str]], catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    if catalogue_size <= 0:
        return 0.0
    shown: set[str] = set()
    for items in lists:
        shown.update(items)
    return len(shown) / catalogue_size


def share(flags: Iterable[bool]) -> float | None:
    """Share of True among the flags (None when there are none)."""
    values = list(flags)
    return sum(1 for f in values if f) / len(values) if values else None


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (0.0 for no values, so an empty slice reads as 'no hits')."""
    return math.fsum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100, linear interpolation), None for no values."""
    if not values:
        return None
    return float(np.percentile(values, q))


def history_cited(cited: Iterable[str], history: Iterable[str]) -> bool:
    """True when a list's explanations name at least one item from the user's own history."""
    touched = set(history)
    return any(item in touched for item in cited)
