"""Content candidates: each item's nearest items by text (a row per item), found once and kept.

A profile's content candidates are the rows of the items it touched last and the searches it made last,
so an event costs a few array slices, not a search of the whole catalogue (an exact search of 10^4 items
is ~0.2 ms of one core per event here; docs/design/performance.md). A row is searched the first time it is
needed — all of a micro-batch's missing rows in one batched FAISS search — and a new item joins the cached
rows it belongs in when it is indexed. Deleted and out-of-stock items stay in rows and are filtered where
every candidate is (the catalogue columns).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np

from index.base import VectorIndex

from ..items import ItemIds, ItemVectors

_EMPTY = np.zeros(0, dtype=np.int64)
QUERY_CACHE = 10_000  # search texts whose rows are kept (shoppers repeat searches)


class ContentRows:
    """Item → its ``k`` nearest items by vector (dense ids, best first), cached; query text → the same."""

    def __init__(self, ids: ItemIds, index: VectorIndex, vectors: ItemVectors, k: int) -> None:
        self.ids = ids
        self.index = index
        self.vectors = vectors
        self.k = k
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # dense → (neighbour dense ids, scores)
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self.on_search: Callable[[float], None] | None = None  # called with the seconds of each batched search

    def clear(self) -> None:
        """Forget every row (the searched space changed: a new adapter version)."""
        self._rows.clear()
        self._queries.clear()

    def rows(self, dense: Sequence[int]) -> list[np.ndarray]:
        """The row of each item (searched now for the ones not cached, in one search)."""
        missing = [d for d in dict.fromkeys(dense) if d not in self._rows]
        if missing:
            have = self.vectors.has(np.asarray(missing, dtype=np.int64))
            searchable = [d for d, ok in zip(missing, have.tolist()) if ok]
            for d in missing:
                self._rows[d] = (_EMPTY, np.zeros(0, dtype=np.float32))
            if searchable and len(self.index):
                found = self._search(self.vectors.of(np.asarray(searchable)), self.k + 1)
                for d, (hits, scores) in zip(searchable, found):
                    keep = hits != d
                    self._rows[d] = (hits[keep][: self.k], scores[keep][: self.k])
        rows = self._rows
        return [rows[d][0] for d in dense]

    def query_rows(self, texts: Sequence[str], vectors: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The rows of search texts (their vectors given), cached by text."""
        cache = self._queries
        missing = [(t, v) for t, v in zip(texts, vectors) if t not in cache]
        if missing and len(self.index):
            found = self._search(np.stack([v for _, v in missing]).astype(np.float32), self.k)
            for (text, _), (hits, _) in zip(missing, found):
                cache[text] = hits
                if len(cache) > QUERY_CACHE:
                    cache.popitem(last=False)
        return [cache.get(t, _EMPTY) for t in texts]

    def added(self, dense: np.ndarray) -> None:
        """Items were (re)indexed: their own rows (one batched search) and their places in the cached rows of others.

        A replaced vector is searched again; the rows it held a place in keep it until they are searched again.
        """
        self._queries.clear()
        if not len(dense) or not len(self.index):
            return
        found = self._search(self.vectors.of(dense), self.k + 1)
        for new, (hits, scores) in zip(dense.tolist(), found):
            keep = hits != new
            self._rows[new] = (hits[keep][: self.k], scores[keep][: self.k])
            for other, score in zip(hits.tolist(), scores.tolist()):
                row = self._rows.get(other)
                if row is None or other == new or new in row[0]:
                    continue
                ids, sims = row
                if len(ids) >= self.k and score <= sims[-1]:
                    continue
                at = int(np.searchsorted(-sims, -score, side="right"))
                self._rows[other] = (np.insert(ids, at, new)[: self.k], np.insert(sims, at, score)[: self.k])

    def _search(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        started = time.perf_counter()
        found = self.index.search_rows(queries, [k] * len(queries))
        if self.on_search is not None:
            self.on_search(time.perf_counter() - started)
        return [(self.ids.ensure_many(hits), np.asarray(scores, dtype=np.float32)) for hits, scores in found]
