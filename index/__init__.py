"""streamrec's vector index: FAISS inner-product search keyed by string item ids, with atomic snapshots."""
from __future__ import annotations

from .base import Hit, VectorIndex
from .factory import build_index, load_index
from .options import IndexOptions, set_faiss_threads
from .snapshot import Snapshot, read_snapshot, write_snapshot

__all__ = ["Hit", "VectorIndex", "IndexOptions", "build_index", "load_index", "write_snapshot", "read_snapshot",
           "Snapshot", "set_faiss_threads"]
