"""Ranking metrics for one list against one target, and list-set metrics — pure functions, no state."""
from __future__ import annotations

import math
from typing import Iterable, Sequence


def rank_of(ranked: Sequence[str], target: str, k: int | None = None) -> int | None:
    """1-based position of ``target`` within the first ``k`` items (None when absent)."""
    top = ranked if k is None else ranked[:k]
    for pos, item in enumerate(top, start=1):
        if item == target:
            return pos
    return None


def hit_rate(ranked: Sequence[str], target: str, k: int) -> float:
    """HR@k of one list: 1.0 when the target is in the top k, else 0.0."""
    return 0.0 if rank_of(ranked, target, k) is None else 1.0


def ndcg(ranked: Sequence[str], target: str, k: int) -> float:
    """NDCG@k with one relevant item: 1/log2(rank+1) when it is in the top k (the ideal DCG is 1)."""
    rank = rank_of(ranked, target, k)
    return 0.0 if rank is None else 1.0 / math.log2(rank + 1)


def reciprocal_rank(ranked: Sequence[str], target: str, k: int) -> float:
    """1/rank of the target within the top k, 0.0 when absent (its mean is MRR@k)."""
    rank = rank_of(ranked, target, k)
    return 0.0 if rank is None else 1.0 / rank


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
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def history_cited(cited: Iterable[str], history: Iterable[str]) -> bool:
    """True when a list's explanations name at least one item from the user's own history."""
    touched = set(history)
    return any(item in touched for item in cited)
