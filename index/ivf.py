"""Approximate search on inverted lists (IndexIVFFlat, inner product), trained once enough items arrive.

An IVF index must learn its list centroids (k-means) before it can hold a single vector, and
centroids learnt from a handful of items are poor for the catalogue that follows. So until
``39 · nlist`` items have arrived they live in an exact flat buffer, which also answers searches
(exactly: at that size a full scan is as fast as IVF anyway). The first upsert that fills the
buffer trains the index on everything buffered and moves it over. Centroids are then fixed: a
catalogue that later grows far past the size ``nlist`` was chosen for gets long lists and slower
searches, and wants a rebuild with a larger ``nlist``.
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import SnapshotError
from .flat import IdMappedIndex
from .ids import IdMap
from .options import MIN_POINTS_PER_LIST, IndexOptions

BUFFER_FILE = "buffer.faiss"


class IVFIndex(IdMappedIndex):
    """Inverted-file approximate inner-product search; exact flat buffer until trained."""

    kind = "ivf"

    def __init__(self, dim: int, options: IndexOptions, faiss_index: faiss.Index | None = None,
                 ids: IdMap | None = None, *, expected_items: int = 0) -> None:
        super().__init__(dim, options, faiss_index or options.to_faiss_index(dim, "ivf", expected_items), ids)
        # A direct map lets reconstruct (vectors()) and remove_ids address items by int id.
        if self.faiss_index.direct_map.type != faiss.DirectMap.Hashtable:
            self.faiss_index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self._buffer: faiss.Index | None = None
        if not self.faiss_index.is_trained:
            self._buffer = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def trained(self) -> bool:
        """Whether items live in the inverted lists (False: still in the exact buffer)."""
        return self._buffer is None

    @property
    def train_size(self) -> int:
        """Buffered items that trigger training: enough points per centroid for stable k-means."""
        return MIN_POINTS_PER_LIST * self.faiss_index.nlist

    def _active(self) -> faiss.Index:
        return self._buffer if self._buffer is not None else self.faiss_index

    def _upsert(self, item_ids: list[str], x: np.ndarray) -> None:
        target = self._active()
        existing = [self.ids.get(i) for i in item_ids if i in self.ids]
        if existing:
            target.remove_ids(np.asarray(existing, dtype=np.int64))
        ints = np.fromiter((self.ids.ensure(i) for i in item_ids), dtype=np.int64, count=len(item_ids))
        target.add_with_ids(x, ints)
        if self._buffer is not None and self._buffer.ntotal >= self.train_size:
            self._train()

    def _train(self) -> None:
        """Train the centroids on everything buffered and move it into the inverted lists."""
        buffer = self._buffer
        ints = faiss.vector_to_array(buffer.id_map)
        vectors = buffer.index.reconstruct_n(0, buffer.ntotal)
        self.faiss_index.train(vectors)  # faiss subsamples to 256 points per list itself
        self.faiss_index.add_with_ids(vectors, ints)
        self._buffer = None

    def _delete(self, item_ids: list[str]) -> int:
        ints = np.asarray([self.ids.free(i) for i in item_ids], dtype=np.int64)
        return int(self._active().remove_ids(ints))

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._buffer is not None:
            return self._buffer.search(q, k)
        params = faiss.SearchParametersIVF(nprobe=min(self.options.nprobe, self.faiss_index.nlist))
        return self.faiss_index.search(q, k, params=params)

    def _reconstruct(self, ints: np.ndarray) -> np.ndarray:
        return self._active().reconstruct_batch(ints)

    def _stored_count(self) -> int:
        return 0 if self._buffer is not None else len(self.ids)

    def _extra_meta(self) -> dict:
        return {"trained": self.trained, "nlist": int(self.faiss_index.nlist)}

    def save(self, directory: Path) -> None:
        """Write the IVF index (untrained while buffering), the buffer if any, id map and meta."""
        super().save(directory)
        if self._buffer is not None:
            faiss.write_index(self._buffer, str(Path(directory) / BUFFER_FILE))

    def _restore_extra(self, meta: dict, directory: Path) -> None:
        if self._buffer is None:
            return
        try:
            self._buffer = faiss.read_index(str(Path(directory) / BUFFER_FILE))
        except RuntimeError as exc:
            raise SnapshotError(f"cannot read the IVF buffer in {directory}: {exc}") from exc
        if self._buffer.ntotal != len(self.ids):
            raise SnapshotError(f"IVF buffer in {directory} holds {self._buffer.ntotal} vectors for {len(self.ids)} ids")


class IVFPQIndex(IVFIndex):
    """IVF with product-quantised vectors (IndexIVFPQ): pq_m bytes per item instead of dim·4.

    The catalogue-scale kind: at 10^7 items × 384 dims a flat or HNSW index holds 15 GB of float32 per
    worker, IVF-PQ with 48 codes about 0.5 GB (plus the id map). Search scores and ``vectors()`` are the
    quantised approximations (the ranker's content features and reasons then use the same decoded
    vectors, so reasons still add up to scores); docs/results/benchmarks.md gives recall@10 against exact search.
    Training needs enough points for the lists and for the 2^pq_bits codebook entries of every code.
    """

    kind = "ivfpq"

    def __init__(self, dim: int, options: IndexOptions, faiss_index: faiss.Index | None = None,
                 ids: IdMap | None = None, *, expected_items: int = 0) -> None:
        super().__init__(dim, options, faiss_index or options.to_faiss_index(dim, "ivfpq", expected_items), ids,
                         expected_items=expected_items)

    @property
    def train_size(self) -> int:
        """Buffered items that trigger training: enough for the list centroids and the PQ codebooks."""
        return MIN_POINTS_PER_LIST * max(self.faiss_index.nlist, 2 ** self.faiss_index.pq.nbits)

    def _extra_meta(self) -> dict:
        return {**super()._extra_meta(), "pq_m": int(self.faiss_index.pq.M), "pq_bits": int(self.faiss_index.pq.nbits)}


class IVFSQIndex(IVFIndex):
    """IVF with 8-bit scalar-quantised vectors (IndexIVFScalarQuantizer): dim bytes per item instead of dim·4.

    The middle ground between ivf and ivfpq: 4x smaller than float32 with recall close to IVF's
    (docs/results/benchmarks.md), vectors decoded to within 1/255 of each dimension's range.
    """

    kind = "ivfsq"

    def __init__(self, dim: int, options: IndexOptions, faiss_index: faiss.Index | None = None,
                 ids: IdMap | None = None, *, expected_items: int = 0) -> None:
        super().__init__(dim, options, faiss_index or options.to_faiss_index(dim, "ivfsq", expected_items), ids,
                         expected_items=expected_items)
