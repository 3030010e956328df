"""An index whose search and scoring use the tuned space while profiles keep the encoder's vectors.

``vectors()`` returns the frozen vectors (what profiles accumulate, so a stored profile is valid under
every adapter version); ``search`` maps the profile query through the adapter (exact, since W is linear)
and searches the tuned vectors; ``tuned()`` gives tuned vectors for scoring. The tuned vectors of one
adapter version live in one FAISS index of their own: a new version is built beside the running one
from every frozen vector (one matrix product) and installed in one assignment, so a search never sees
two versions and a worker switches only once every item has a vector of the new version.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from index.base import Hit, VectorIndex

from .adapter import Adapter


@dataclass(frozen=True)
class TunedSpace:
    """One adapter version and the index of every item's tuned vector (swapped as one value)."""

    adapter: Adapter
    index: VectorIndex


class TunedIndex(VectorIndex):
    """The frozen index (owned by the worker's state) plus the tuned space of the running adapter."""

    def __init__(self, base: VectorIndex, new_index: Callable[[int], VectorIndex], adapter: Adapter) -> None:
        self.base = base
        self.dim = base.dim
        self._new_index = new_index  # dim → an empty index of the configured kind
        self._journal: list[tuple[str, Sequence[str], np.ndarray | None]] | None = None
        self.space = self.build(adapter, *self.snapshot())
        self._journal = None

    # ---- versions ---------------------------------------------------------------------------
    @property
    def adapter(self) -> Adapter:
        """The adapter whose vectors are searched now."""
        return self.space.adapter

    @property
    def model_version(self) -> str:
        """The version of the vectors searched now."""
        return self.space.adapter.model_version

    @property
    def kind(self) -> str:
        """The frozen index's kind (what a snapshot of it records)."""
        return getattr(self.base, "kind", type(self.base).__name__)

    def snapshot(self) -> tuple[list[str], np.ndarray]:
        """Every item's frozen vector, copied (call it where the index is changed, e.g. the event loop).

        Changes made after this are journalled, and :meth:`install` replays them onto the new space.
        """
        self._journal = []
        ids = list(self._ids())
        return ids, (self.base.vectors(ids) if ids else np.zeros((0, self.base.dim), dtype=np.float32))

    def build(self, adapter: Adapter, item_ids: list[str], vectors: np.ndarray) -> TunedSpace:
        """A new space: the tuned vectors of a snapshot in a new index. Touches no shared object, so it
        can run off the event loop (a thread) while the worker goes on ranking in the running space."""
        if adapter.weight.shape[1] != self.base.dim:
            raise ValueError(f"adapter maps {adapter.weight.shape[1]}-d vectors, the index holds {self.base.dim}-d")
        index = self._new_index(adapter.dim)
        if item_ids:
            index.upsert(item_ids, adapter.embed(vectors))
        return TunedSpace(adapter, index)

    def install(self, space: TunedSpace) -> None:
        """Catch the new space up with changes made since it was built, then make it the searched one."""
        for op, ids, vectors in self._journal or []:
            if op == "upsert":
                space.index.upsert(ids, space.adapter.embed(vectors))
            else:
                space.index.delete(ids)
        self._journal = None
        if len(space.index) != len(self.base):
            raise RuntimeError(f"tuned space holds {len(space.index)} items, the index {len(self.base)}")
        self.space = space  # one assignment: the next search uses the new version, no list mixes two

    def switch(self, adapter: Adapter) -> None:
        """Snapshot, build and install in one go (a replay, a test: nothing runs in between)."""
        self.install(self.build(adapter, *self.snapshot()))

    def tuned(self, item_ids: Sequence[str]) -> np.ndarray:
        """Tuned (normalised) vectors of these ids under the running adapter."""
        return self.space.index.vectors(item_ids)

    # ---- the VectorIndex contract -----------------------------------------------------------
    def upsert(self, item_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert frozen vectors, and their tuned ones in the running space."""
        self.base.upsert(item_ids, vectors)
        space = self.space
        space.index.upsert(item_ids, space.adapter.embed(vectors))
        if self._journal is not None:
            self._journal.append(("upsert", list(item_ids), np.asarray(vectors, dtype=np.float32)))

    def delete(self, item_ids: Sequence[str]) -> int:
        """Remove from both."""
        removed = self.base.delete(item_ids)
        self.space.index.delete(item_ids)
        if self._journal is not None:
            self._journal.append(("delete", list(item_ids), None))
        return removed

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """Frozen-space queries (normalised profiles) searched in the tuned space: W·p normalised."""
        space = self.space
        return space.index.search(space.adapter.embed(queries), k)

    def search_rows(self, queries: np.ndarray, limits: Sequence[int]) -> list[tuple[list[str], np.ndarray]]:
        """:meth:`search` as (ids, scores) per row, through the tuned index's own fast path."""
        space = self.space
        return space.index.search_rows(space.adapter.embed(queries), limits)

    def present(self, item_ids) -> list[str]:
        """The live ones among ``item_ids`` (the frozen index's id map: both spaces hold the same ids)."""
        return self.base.present(item_ids)

    def vectors(self, item_ids: Sequence[str]) -> np.ndarray:
        """The frozen vectors (profiles are built from these)."""
        return self.base.vectors(item_ids)

    def __len__(self) -> int:
        return len(self.base)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.base

    def save(self, directory: Path) -> None:
        """Only the frozen index is snapshotted: the tuned one is rebuilt from it and the adapter topic."""
        self.base.save(directory)

    def _ids(self):
        ids = getattr(self.base, "ids", None)  # every IdMappedIndex (flat, HNSW, IVF) keeps its id map
        if ids is None:
            raise TypeError(f"{type(self.base).__name__} cannot list its ids")
        return ids
