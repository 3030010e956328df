"""Approximate search on an HNSW graph (IndexIDMap2 over IndexHNSWFlat), with tombstones for removal.

faiss's HNSW cannot remove a node: every other node's links would have to be repaired. So a
deleted or replaced item's int id becomes a tombstone: the node stays in the graph (it still
helps navigation) but is filtered out of results, and an upsert of a known item adds its new
vector under a fresh int id. Once tombstones exceed ``rebuild_fraction`` of the graph, dead
nodes cost more than they help (memory, and wasted visits during the walk), so the graph is
rebuilt from the live vectors. A rebuild costs a full build (minutes at 10^6 items) and runs
inline, so heavy churn on a large catalogue is better served by batching deletes.
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import SnapshotError
from .flat import IdMappedIndex
from .ids import IdMap
from .options import IndexOptions

TOMBSTONES_FILE = "tombstones.npy"


class HNSWIndex(IdMappedIndex):
    """Graph-based approximate inner-product search; removal by tombstone plus periodic rebuild."""

    kind = "hnsw"

    def __init__(self, dim: int, options: IndexOptions, faiss_index: faiss.Index | None = None,
                 ids: IdMap | None = None) -> None:
        super().__init__(dim, options, faiss_index or options.to_faiss_index(dim, "hnsw"), ids)
        self._dead: set[int] = set()
        self._selector: tuple | None = None  # cached faiss selector (and the objects it points to)
        self.rebuilds = 0

    @property
    def tombstones(self) -> int:
        """Dead nodes still in the graph."""
        return len(self._dead)

    def _upsert(self, item_ids: list[str], x: np.ndarray) -> None:
        old = [self.ids.get(i) for i in item_ids if i in self.ids]
        ints = np.fromiter((self.ids.assign(i) for i in item_ids), dtype=np.int64, count=len(item_ids))
        self.faiss_index.add_with_ids(x, ints)
        if old:
            self._bury(old)

    def _delete(self, item_ids: list[str]) -> int:
        self._bury([self.ids.free(i) for i in item_ids])
        return len(item_ids)

    def _bury(self, ints: list[int]) -> None:
        self._dead.update(ints)
        self._selector = None
        if len(self._dead) > self.options.rebuild_fraction * self.faiss_index.ntotal:
            self.rebuild()

    def rebuild(self) -> None:
        """Rebuild the graph from the live vectors only, keeping every item's int id."""
        n = self.faiss_index.ntotal
        ints = faiss.vector_to_array(self.faiss_index.id_map)  # int id of each graph position
        live = ~np.isin(ints, np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))
        fresh = self.options.to_faiss_index(self.dim, "hnsw")
        if live.any():
            # reconstruct_n reads the flat storage in graph-position order, aligned with id_map
            vectors = self.faiss_index.index.reconstruct_n(0, n)
            fresh.add_with_ids(np.ascontiguousarray(vectors[live]), ints[live])
        self.faiss_index = fresh
        self._dead.clear()
        self._selector = None
        self.rebuilds += 1

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # ef below k would cap the result list; faiss would raise it anyway, say so explicitly.
        params = faiss.SearchParametersHNSW(efSearch=max(self.options.ef_search, k))
        if self._dead:
            # Filter tombstones inside the graph walk (faiss's IDSelector) rather than over-fetching
            # k + t and dropping them afterwards: the walk keeps going until it holds k live hits
            # within its ef beam, so results stay k long however many tombstones sit near the query.
            # IDMap2 translates the selector from our int ids to graph positions.
            if self._selector is None:
                dead = faiss.IDSelectorBatch(np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))
                self._selector = (faiss.IDSelectorNot(dead), dead)
            params.sel = self._selector[0]
        return self.faiss_index.search(q, k, params=params)

    def _stored_count(self) -> int:
        return len(self.ids) + len(self._dead)

    def save(self, directory: Path) -> None:
        """Write graph, id map, meta and the tombstone list."""
        super().save(directory)
        np.save(Path(directory) / TOMBSTONES_FILE, np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))

    def _restore_extra(self, meta: dict, directory: Path) -> None:
        try:
            dead = np.load(Path(directory) / TOMBSTONES_FILE, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"cannot read HNSW tombstones in {directory}: {exc}") from exc
        self._dead = set(dead.astype(np.int64).tolist())
