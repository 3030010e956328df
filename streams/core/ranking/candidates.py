"""The candidate pool of one profile: FAISS hits ∪ co-occurrence neighbours ∪ trending, filtered."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import filterfalse
from typing import Sequence

from index.base import VectorIndex

from ..catalogue import Catalogue
from ..profiles import Profile
from ..signals import ItemSignals
from .collab import CollabWindow
from .options import RankingOptions


@dataclass(frozen=True)
class ListFilter:
    """What a page asks of a list on top of the defaults (GET /recommendations?category=&exclude=&in_stock_only=)."""

    category: str | None = None  # only items of this category
    exclude: frozenset[str] = frozenset()  # never these ids
    in_stock_only: bool = True  # False: out-of-stock items may be listed too (deleted ones never are)

    def admits(self, item_id: str, catalogue: Catalogue) -> bool:
        """Whether ``item_id`` may be listed under this filter."""
        if item_id in self.exclude or item_id not in catalogue:
            return False
        if self.in_stock_only and not catalogue.recommendable(item_id):
            return False
        return self.category is None or catalogue.category(item_id) == self.category


DEFAULT_FILTER = ListFilter()


def candidates(profile: Profile, hit_ids: Sequence[str], window: CollabWindow, k: int, index: VectorIndex,
               catalogue: Catalogue, signals: ItemSignals, options: RankingOptions,
               list_filter: ListFilter = DEFAULT_FILTER) -> list[str]:
    """Admitted, indexed, unseen (when excluding seen) candidates, deduplicated in pool order.

    The pool is bounded whatever the shopper's history: the first ``content_candidates`` usable FAISS
    hits, the neighbours of the ``collab_window`` recent items (≤ max_neighbours each), the first
    ``trending_candidates`` usable trending items. Hits and trending are over-fetched by the size of the
    seen set so that enough usable ones remain, but only that many are kept: a shopper who has seen
    500 items does not get a pool (and a cost) five times larger. Filtering runs in C (filter/map over
    dicts and sets), the pool holds up to a few thousand ids.
    """
    seen = set(profile.seen) if options.exclude_seen else set()
    default = list_filter is DEFAULT_FILTER

    def usable(ids) -> list[str]:
        unseen = filterfalse(seen.__contains__, ids) if seen else ids
        if default:
            return index.present(catalogue.recommendable_ids(unseen))
        return index.present([i for i in unseen if list_filter.admits(i, catalogue)])

    pool: dict[str, None] = dict.fromkeys(usable(hit_ids)[: options.content_candidates])
    for ids in window.neighbour_ids:
        pool.update(dict.fromkeys(ids))
    trending = signals.popularity.top_keys(options.trending_candidates + len(seen))
    pool.update(dict.fromkeys(usable(trending)[: options.trending_candidates]))
    if len(pool) < k:  # a shop with no traffic yet: newest catalogue items
        for item_id in sorted(signals.first_seen, key=signals.first_seen.get, reverse=True)[: 5 * k]:
            pool[item_id] = None
    admitted = usable(pool)
    if list_filter.category is not None and len(admitted) < k:
        # the content, co-occurrence and trending pools may hold few items of one category: add the rest of it
        have = set(admitted) | seen
        extra = [i for i in catalogue if i not in have and list_filter.admits(i, catalogue)]
        admitted += index.present(extra)[: 5 * k - len(admitted)]
    return admitted
