"""Index options: which kind of FAISS index, its tuning knobs, and the faiss object they build."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import faiss

from .errors import IndexConfigError

KINDS = ("auto", "flat", "hnsw", "ivf", "ivfpq", "ivfsq")
GPU_MODES = ("auto", "never", "always")

#: faiss's k-means warns below 39 training points per centroid: centroids trained on fewer are noisy.
MIN_POINTS_PER_LIST = 39
#: the catalogue size an IVF index is shaped for when nobody says how big it will grow
DEFAULT_IVF_ITEMS = 100_000


def set_faiss_threads(threads: int | None) -> None:
    """Set FAISS's process-wide OpenMP thread count (None leaves FAISS's default).

    streamrec searches in small per-batch calls; on them OpenMP start-up costs ~10x the search itself,
    so workers and the evaluation replay run FAISS on one thread.
    """
    if threads is not None:
        faiss.omp_set_num_threads(threads)


@dataclass(frozen=True)
class IndexOptions:
    """How to build a vector index; validated on construction. Tunables are inner-product, float32."""

    kind: str = "auto"
    use_gpu: str = "auto"
    #: "auto" picks the exact flat index up to this many expected items, HNSW above it
    flat_max_items: int = 200_000
    # HNSW: graph degree, build-time and search-time beam widths (recall ↔ speed)
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    #: HNSW cannot remove nodes: rebuild the graph once tombstones exceed this fraction of it
    rebuild_fraction: float = 0.2
    # IVF: number of inverted lists (None: 4·sqrt(expected items)) and lists probed per query
    nlist: int | None = None
    nprobe: int = 32  # recall@10 0.989 at 10^6 items, nlist 4000 (docs/results/benchmarks.md: 64 → 1.000 at half the QPS)
    # IVF-PQ (kind "ivfpq"): each vector stored as pq_m codes of pq_bits bits (pq_m bytes at 8 bits) instead
    # of dim·4 bytes; pq_m must divide dim. 48 codes for 384-d: 8 dimensions per code (docs/results/benchmarks.md).
    pq_m: int = 48
    pq_bits: int = 8

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise IndexConfigError(f"unknown index kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.use_gpu not in GPU_MODES:
            raise IndexConfigError(f"unknown use_gpu {self.use_gpu!r}; expected one of {', '.join(GPU_MODES)}")
        for name in ("flat_max_items", "m", "ef_construction", "ef_search", "nprobe", "pq_m"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise IndexConfigError(f"index option {name} must be an integer >= 1, got {value!r}")
        if self.m < 2:  # a graph node needs at least two links to be navigable
            raise IndexConfigError(f"index option m must be >= 2, got {self.m}")
        if self.nlist is not None and (not isinstance(self.nlist, int) or isinstance(self.nlist, bool) or self.nlist < 1):
            raise IndexConfigError(f"index option nlist must be an integer >= 1 or None, got {self.nlist!r}")
        if self.pq_bits not in (4, 5, 6, 7, 8, 10, 12):
            raise IndexConfigError(f"index option pq_bits must be one of 4-8, 10, 12, got {self.pq_bits!r}")
        if not 0.0 < self.rebuild_fraction < 1.0:
            raise IndexConfigError(f"index option rebuild_fraction must be in (0, 1), got {self.rebuild_fraction}")

    def resolved_kind(self, expected_items: int = 0) -> str:
        """The concrete kind: "auto" → flat up to ``flat_max_items`` expected items, HNSW above."""
        if self.kind != "auto":
            return self.kind
        return "hnsw" if expected_items > self.flat_max_items else "flat"

    def nlist_for(self, expected_items: int = 0) -> int:
        """IVF list count: the explicit one, else 4·sqrt(n) for n expected items (faiss's usual rule).

        Capped at n / 39 so that the expected catalogue itself is enough to train the centroids.
        """
        if self.nlist is not None:
            return self.nlist
        n = expected_items if expected_items > 0 else DEFAULT_IVF_ITEMS
        return max(1, min(int(4 * math.sqrt(n)), n // MIN_POINTS_PER_LIST))

    def to_faiss_index(self, dim: int, kind: str | None = None, expected_items: int = 0) -> faiss.Index:
        """Build the empty faiss index for ``kind`` (default: the resolved kind), ids mapped to int64."""
        if not isinstance(dim, int) or dim < 1:
            raise IndexConfigError(f"index dim must be an integer >= 1, got {dim!r}")
        kind = kind or self.resolved_kind(expected_items)
        if kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if kind == "hnsw":
            graph = faiss.IndexHNSWFlat(dim, self.m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = self.ef_construction
            graph.hnsw.efSearch = self.ef_search
            # IDMap2 keeps int id → graph position both ways, so reconstruct(id) works (vectors()).
            return faiss.IndexIDMap2(graph)
        if kind == "ivf":
            nlist = self.nlist_for(expected_items)
            ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            ivf.nprobe = min(self.nprobe, nlist)
            # A hashtable direct map (not an array) because our int ids are sparse: it lets
            # reconstruct(id) and remove_ids work on any int64 id.
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            return ivf
        if kind == "ivfpq":
            if dim % self.pq_m:
                raise IndexConfigError(f"index option pq_m ({self.pq_m}) must divide the dimension ({dim})")
            nlist = self.nlist_for(expected_items)
            ivf = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, self.pq_m, self.pq_bits,
                                   faiss.METRIC_INNER_PRODUCT)
            ivf.nprobe = min(self.nprobe, nlist)
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # as for ivf: reconstruct and remove by id
            return ivf
        if kind == "ivfsq":
            nlist = self.nlist_for(expected_items)
            ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                faiss.METRIC_INNER_PRODUCT)
            ivf.nprobe = min(self.nprobe, nlist)
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            return ivf
        raise IndexConfigError(f"cannot build a faiss index of kind {kind!r}; expected flat, hnsw, ivf, ivfpq or ivfsq")

    def to_dict(self) -> dict:
        """A JSON-ready dict (stored beside a saved index)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IndexOptions":
        """Options back from ``to_dict``; unknown keys (from a newer version) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
