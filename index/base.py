"""The vector-index contract: string item ids, upsert, delete, batched inner-product search."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np


class Hit(NamedTuple):
    item_id: str
    score: float  # inner product (cosine for L2-normalised vectors)


class VectorIndex(ABC):
    """A mutable inner-product index keyed by string item ids."""

    dim: int

    @abstractmethod
    def upsert(self, item_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of these ids (vectors: float32 [n, dim])."""

    @abstractmethod
    def delete(self, item_ids: Sequence[str]) -> int:
        """Remove these ids; unknown ids are ignored. Return how many were removed."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """Top-k hits per query row (queries: float32 [q, dim]), best first; one call per batch."""

    def present(self, item_ids: Iterable[str]) -> list[str]:
        """The live ones among ``item_ids``, in their order."""
        return [i for i in item_ids if i in self]

    def search_rows(self, queries: np.ndarray, limits: Sequence[int]) -> list[tuple[list[str], np.ndarray]]:
        """Per query row, its top ``limits[i]`` hits as (item ids, scores), best first; one search for the batch.

        The same hits as :meth:`search` with k = limits[i] for each row, without building a Hit per result
        (a micro-batch of 256 rows asks for tens of thousands). Kinds may override it with a faster path.
        """
        found = self.search(queries, max(limits, default=1)) if len(limits) else []
        return [([h.item_id for h in row[:n]], np.array([h.score for h in row[:n]], dtype=np.float32))
                for row, n in zip(found, limits)]

    @abstractmethod
    def vectors(self, item_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of these ids, float32 [n, dim]; KeyError for an unknown id."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of live (not deleted) items."""

    @abstractmethod
    def __contains__(self, item_id: object) -> bool:
        """Whether this id is live in the index."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the index and its id map into an existing directory."""
