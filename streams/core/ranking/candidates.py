"""The candidate pool of one snapshot: content rows ∪ co-occurrence neighbours ∪ trending, filtered.

The pool is bounded whatever the shopper's history: the content rows of the last ``content_sources`` items
and searches (``content_neighbours`` each), the co-occurrence rows of the ``collab_window`` recent items,
and the first ``trending_candidates`` usable trending items. Everything is dense ids and array operations:
duplicates are folded with a scratch array indexed by dense id, the seen set is a scratch bitmap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..catalogue import Catalogue
from ..items import ItemIds, ItemVectors, grown
from .features import CollabEntries


@dataclass(frozen=True)
class ListFilter:
    """What a page asks of a list on top of the defaults (GET /recommendations?category=&exclude=&in_stock_only=)."""

    category: str | None = None  # only items of this category
    exclude: frozenset[str] = frozenset()  # never these ids
    in_stock_only: bool = True  # False: out-of-stock items may be listed too (deleted ones never are)
    price_min: float | None = None  # only items priced at least this (an item without a price is left out)
    price_max: float | None = None  # only items priced at most this
    attributes: tuple[tuple[str, str], ...] = ()  # only items whose attribute holds the value, for each pair

    def admits(self, item_id: str, catalogue: Catalogue) -> bool:
        """Whether ``item_id`` may be listed under this filter."""
        dense = catalogue.ids.get(item_id)
        catalogue.fit()
        return dense >= 0 and bool(self.mask(np.array([dense]), catalogue)[0])

    def mask(self, dense: np.ndarray, catalogue: Catalogue) -> np.ndarray:
        """:meth:`admits` of dense ids, as a column operation."""
        ok = (catalogue.stocked if self.in_stock_only else catalogue.live)[dense]
        if self.category is not None:
            ok &= catalogue.category_code[dense] == catalogue.code_of(self.category)
        if self.exclude:
            ok &= ~np.isin(dense, catalogue.ids.lookup(list(self.exclude)))
        if self.price_min is not None or self.price_max is not None:
            price = catalogue.price[dense]  # NaN compares False: an item without a price is left out
            ok &= (price >= (self.price_min if self.price_min is not None else -np.inf)) & \
                  (price <= (self.price_max if self.price_max is not None else np.inf))
        if self.attributes and ok.any():  # a page filter (HTTP), never on the event path: per admitted item
            at = np.flatnonzero(ok)
            for n, name in zip(at.tolist(), catalogue.ids.name_of(dense[at].tolist())):
                meta = catalogue.get(name)
                ok[n] = meta is not None and all(meta.has(a, v) for a, v in self.attributes)
        return ok


DEFAULT_FILTER = ListFilter()


class Pool(NamedTuple):
    """A snapshot's admitted candidates and their collaborative feature."""

    dense: np.ndarray  # int64, duplicates folded, in first-seen order (content, collab, trending, hits)
    collab: np.ndarray  # Σ_j b_j · cosine(candidate, recent item j)


class Scratch:
    """Arrays indexed by dense id, reused by every pool (set, read, reset: never reallocated per event)."""

    def __init__(self) -> None:
        self.position = np.zeros(0, dtype=np.int64)
        self.marked = np.zeros(0, dtype=bool)

    def fit(self, size: int) -> None:
        if len(self.position) < size:
            self.position = grown(self.position, size, -1)
            self.marked = grown(self.marked, size, False)


def assemble(parts: list[np.ndarray], entries: CollabEntries, shares: np.ndarray, seen: np.ndarray,
             list_filter: ListFilter, catalogue: Catalogue, vectors: ItemVectors, scratch: Scratch) -> Pool:
    """Fold ``parts`` (content ids, the collab entries' ids first among them, trending, hits) into one pool."""
    scratch.fit(len(catalogue.ids))
    catalogue.fit()
    every = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    every = every[every >= 0]
    n = len(every)
    if not n:
        return Pool(every, np.zeros(0))
    position = scratch.position
    ar = np.arange(n)
    position[every[::-1]] = ar[::-1]  # the first occurrence wins
    unique = every[position[every] == ar]
    position[every] = -1
    collab = np.zeros(len(unique))
    if len(entries.ids):
        # the collab entries are where they sit in ``every``: find them by dense id (each is in the pool)
        position[unique] = np.arange(len(unique))
        collab = np.bincount(position[entries.ids], weights=shares[entries.column] * entries.cosines,
                             minlength=len(unique))
        position[unique] = -1
    ok = list_filter.mask(unique, catalogue) & vectors.has(unique)
    if len(seen):
        marked = scratch.marked
        marked[seen[seen >= 0]] = True
        ok &= ~marked[unique]
        marked[seen[seen >= 0]] = False
    return Pool(unique[ok], collab[ok])


def newest(ids: ItemIds, first_seen: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` items that entered the catalogue last (a shop with no traffic yet)."""
    known = np.flatnonzero(~np.isnan(first_seen[: len(ids)]))
    if not len(known):
        return known
    order = np.lexsort((known, -first_seen[known]))
    return known[order[:count]]
