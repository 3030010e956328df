"""Build a new index from options, or load a saved one of whatever kind it is.

Which kind ("auto" decides by expected catalogue size):
- flat: exact, no training, every mutation honoured at once; memory n·dim·4 bytes and search
  cost linear in n (about 1.5 GB and tens of ms per query at 10^6 × 384 on two cores). The
  right choice up to a few hundred thousand items, so "auto" picks it up to ``flat_max_items``.
- hnsw: sub-linear search at recall ≈ 0.95-0.99, but the graph costs m·2·4 extra bytes per item,
  builds slowly (minutes per million on two cores) and cannot remove nodes (tombstones plus
  rebuilds, see hnsw.py). "auto" picks it above ``flat_max_items``.
- ivf: cheaper to build than HNSW and supports true removal, but needs a training set (it buffers
  items exactly until it has one) and its fixed centroids suit the size it was trained for;
  chosen explicitly only.
- ivfpq: IVF whose lists hold product-quantised codes (pq_m bytes per item at 8 bits, 48 for 384-d:
  ~30x smaller than float32) for catalogues a worker could not hold otherwise; approximate scores and
  vectors, needs training like ivf. Chosen explicitly only.
- ivfsq: IVF over 8-bit scalar-quantised vectors (dim bytes per item, 4x smaller than float32) with
  recall close to ivf's: the middle ground. Chosen explicitly only.
"""
from __future__ import annotations

from pathlib import Path

from .base import VectorIndex
from .errors import SnapshotError
from .flat import FlatIndex, IdMappedIndex, read_meta
from .hnsw import HNSWIndex
from .ivf import IVFIndex, IVFPQIndex, IVFSQIndex
from .options import IndexOptions

#: kind name → implementation (an immutable lookup table, not a registry anyone adds to)
KIND_CLASSES: dict[str, type[IdMappedIndex]] = {"flat": FlatIndex, "hnsw": HNSWIndex, "ivf": IVFIndex,
                                                "ivfpq": IVFPQIndex, "ivfsq": IVFSQIndex}


def build_index(options: IndexOptions, dim: int, expected_items: int = 0) -> VectorIndex:
    """A new, empty index of the kind ``options`` resolve to for ``expected_items`` items."""
    kind = options.resolved_kind(expected_items)
    if kind in ("ivf", "ivfpq", "ivfsq"):
        return KIND_CLASSES[kind](dim, options, expected_items=expected_items)
    return KIND_CLASSES[kind](dim, options, options.to_faiss_index(dim, kind, expected_items))


def load_index(directory: Path, options: IndexOptions | None = None) -> VectorIndex:
    """Load the index saved in ``directory`` (its kind read from meta.json); SnapshotError if unreadable.

    ``options`` overrides the saved tunables (ef_search, nprobe, use_gpu…); the kind stays the saved one.
    """
    kind = read_meta(Path(directory))["kind"]
    cls = KIND_CLASSES.get(kind)
    if cls is None:
        raise SnapshotError(f"{directory} holds an index of unknown kind {kind!r}")
    return cls.load(Path(directory), options)
