"""Dense item ids: every item a worker knows gets a small int, and every item column is an array indexed by it.

The ranking hot path works on these ints (numpy gathers over columns), never on string ids: strings
appear only at the edges — parsing an event, and the listed items of a published list. The catalogue,
the signals and the item vectors of one worker share one ``ItemIds``, so a dense id means the same item in
every column. Ids are handed out in order and never reused (a deleted item keeps its slot, flagged dead
in the catalogue), so an id computed a moment ago can never name another item.
"""
from __future__ import annotations

from itertools import repeat
from typing import Iterable, Sequence

import numpy as np

MISSING = -1  # the dense id of an item the registry does not know


class ItemIds:
    """str item id ↔ dense int id, append-only."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.names: list[str] = []  # dense id → item id

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._ids

    def get(self, item_id: str) -> int:
        """The dense id of ``item_id``, or MISSING."""
        return self._ids.get(item_id, MISSING)

    def ensure(self, item_id: str) -> int:
        """The dense id of ``item_id``, registering it when new."""
        found = self._ids.get(item_id)
        if found is not None:
            return found
        dense = self._ids[item_id] = len(self.names)
        self.names.append(item_id)
        return dense

    def lookup(self, item_ids: Iterable[str]) -> np.ndarray:
        """Dense ids (int64) of these item ids, MISSING for unknown ones (looked up in C)."""
        if not isinstance(item_ids, (list, tuple)):
            item_ids = list(item_ids)
        return np.fromiter(map(self._ids.get, item_ids, repeat(MISSING)), dtype=np.int64, count=len(item_ids))

    def ensure_many(self, item_ids: Sequence[str]) -> np.ndarray:
        """Dense ids (int64) of these item ids, registering the new ones."""
        ids = self.lookup(item_ids)
        if (ids < 0).any():
            ensure = self.ensure
            ids = np.fromiter((ensure(i) for i in item_ids), dtype=np.int64, count=len(item_ids))
        return ids

    def name_of(self, dense: Iterable[int]) -> list[str]:
        """The item ids of these dense ids."""
        names = self.names
        return [names[i] for i in dense]


def grown(array: np.ndarray, size: int, fill) -> np.ndarray:
    """``array`` with at least ``size`` rows (doubling), new rows set to ``fill``; the same array when big enough."""
    if len(array) >= size:
        return array
    capacity = max(size, 2 * len(array), 64)
    out = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    out[: len(array)] = array
    out[len(array):] = fill
    return out


class ItemVectors:
    """Every item's vector as one float32 matrix indexed by dense id: ranking gathers rows of it.

    A copy of what the vector index holds (the index answers searches; this answers "the vectors of these
    candidates" with one numpy gather instead of a FAISS reconstruct per id).
    """

    def __init__(self, ids: ItemIds, dim: int) -> None:
        self.ids = ids
        self.dim = dim
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self.present = np.zeros(0, dtype=bool)

    def _fit(self) -> None:
        size = len(self.ids)
        if len(self.present) < size:
            self.matrix = grown(self.matrix, size, 0.0)
            self.present = grown(self.present, size, False)

    def put(self, item_ids: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Store (or replace) these items' vectors; their dense ids."""
        dense = self.ids.ensure_many(item_ids)
        self._fit()
        self.matrix[dense] = vectors
        self.present[dense] = True
        return dense

    def drop(self, item_ids: Sequence[str]) -> None:
        """Forget these items' vectors."""
        dense = self.ids.lookup(item_ids)
        dense = dense[dense >= 0]
        self._fit()
        self.present[dense] = False

    def has(self, dense: np.ndarray) -> np.ndarray:
        """Whether each dense id has a vector."""
        self._fit()
        return self.present[dense]

    def of(self, dense: np.ndarray) -> np.ndarray:
        """The vectors of these dense ids [n, dim] (zeros for ids without one)."""
        self._fit()
        return self.matrix[dense]

    def __len__(self) -> int:
        return int(self.present.sum())

    @classmethod
    def from_index(cls, index, ids: ItemIds) -> "ItemVectors":
        """A copy of every vector a VectorIndex holds (an IdMappedIndex lists its ids)."""
        out = cls(ids, index.dim)
        id_map = getattr(index, "ids", None)
        if id_map is None:  # a TunedIndex: the frozen index underneath keeps the id map
            id_map = getattr(getattr(index, "base", None), "ids", ())
        known = list(id_map)
        if known:
            out.put(known, index.vectors(known))
        return out
