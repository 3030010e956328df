"""Optional GPU search: a GPU mirror of a CPU faiss index, with a CPU fallback.

Only the flat kind is mirrored. Trade-off: faiss's GPU flat index can append but cannot remove
rows, and HNSW has no GPU version in faiss (CAGRA needs cuVS and is rebuilt, not updated), so the
CPU index stays the source of truth for every mutation and for ``save``; the GPU copy exists
only to make brute-force search fast. Appends are mirrored as they happen; a removal or
replacement marks the copy stale and it is uploaded again on the next search (n·dim·4 bytes:
about 1.5 GB for 10^6 × 384, a fraction of a second over PCIe). That suits a catalogue that
churns in batches, not one that deletes between every two searches.
"""
from __future__ import annotations

import logging

import faiss
import numpy as np

from .errors import IndexConfigError

log = logging.getLogger(__name__)

#: faiss's GPU k-selection handles k up to 2048; larger k is searched on the CPU copy
GPU_MAX_K = 2048


def gpu_count() -> int:
    """GPUs faiss can use: 0 with the faiss-cpu build (no StandardGpuResources) or no device."""
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    try:
        return int(faiss.get_num_gpus())
    except (AttributeError, RuntimeError):  # a GPU build whose CUDA runtime is missing or broken
        return 0


def gpu_available() -> bool:
    """Whether faiss was built with GPU support and sees at least one GPU."""
    return gpu_count() > 0


def resolve_use_gpu(mode: str) -> bool:
    """Decide GPU use for an IndexOptions.use_gpu mode; "always" without a GPU is a config error."""
    if mode == "never":
        return False
    if mode == "auto":
        return gpu_available()
    if mode == "always":
        if not gpu_available():
            raise IndexConfigError("index use_gpu='always' but faiss has no GPU support or sees no GPU "
                                       "(install the 'gpu' extra, faiss-gpu-cu12, on a CUDA machine)")
        return True
    raise IndexConfigError(f"unknown use_gpu {mode!r}; expected auto, never or always")


class GpuMirror:
    """A GPU copy of a CPU faiss index, used for search only and re-uploaded after removals."""

    def __init__(self, device: int = 0) -> None:
        self.device = device
        self._resources = faiss.StandardGpuResources()
        self._gpu_index: faiss.Index | None = None  # None: stale, upload on next search
        self._failed = False

    def invalidate(self) -> None:
        """Mark the GPU copy stale (after a mutation the GPU index cannot replay)."""
        self._gpu_index = None

    def added(self, x: np.ndarray, ints: np.ndarray, *, removed: bool) -> None:
        """Mirror an append; when rows were also removed, mark the copy stale instead."""
        if removed or self._gpu_index is None:
            self._gpu_index = None
            return
        self._gpu_index.add_with_ids(x, ints)

    def search(self, cpu_index: faiss.Index, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search the GPU copy (uploading it when stale); the CPU index when the GPU can't."""
        if k > GPU_MAX_K or self._failed:
            return cpu_index.search(q, k)
        if self._gpu_index is None:
            try:
                self._gpu_index = faiss.index_cpu_to_gpu(self._resources, self.device, cpu_index)
            except RuntimeError as exc:  # e.g. out of GPU memory: slower but correct beats down
                log.warning("cannot copy the index to GPU %d (%s); searching on the CPU from now on",
                            self.device, exc)
                self._failed = True
                return cpu_index.search(q, k)
        return self._gpu_index.search(q, k)
