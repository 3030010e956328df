"""Length-sorted batching with per-batch padding, and one-ahead prefetching."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Split indices into batches of `batch_size` after sorting by length (longest first).

    Texts of similar length share a batch, so per-batch padding wastes almost no compute;
    longest first makes the biggest allocation happen once, at the start.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    # stable sort: equal lengths keep input order, so the plan is deterministic
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def chunk_ranges(n: int, chunk_size: int) -> list[range]:
    """Consecutive ranges covering 0..n in pieces of at most `chunk_size`."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return [range(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]


def prefetched(items: Iterable[T], fn: Callable[[T], R]) -> Iterator[R]:
    """Yield fn(item) for each item, computing the next one in a background thread meanwhile.

    Used on CUDA: the fast tokenizer releases the GIL, so tokenising chunk k+1 overlaps the
    GPU working on chunk k. Results come in input order.
    """
    it = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder-prefetch") as pool:
        try:
            pending = pool.submit(fn, next(it))
        except StopIteration:
            return
        for item in it:
            result = pending.result()
            pending = pool.submit(fn, item)
            yield result
        yield pending.result()
