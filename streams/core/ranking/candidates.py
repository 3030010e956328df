"""The candidate pool of one profile: FAISS hits ∪ co-occurrence neighbours ∪ trending, filtered."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from index.base import Hit, VectorIndex

from ..catalogue import Catalogue
from ..profiles import Profile
from ..signals import ItemSignals
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


def candidates(profile: Profile, hits: Sequence[Hit], neighbour_maps: dict[str, dict[str, float]], k: int,
               index: VectorIndex, catalogue: Catalogue, signals: ItemSignals, options: RankingOptions,
               list_filter: ListFilter = DEFAULT_FILTER) -> list[str]:
    """Admitted, indexed, unseen (when excluding seen) candidates, deduplicated in pool order."""
    seen = set(profile.seen) if options.exclude_seen else set()
    pool: dict[str, None] = {}
    for hit in hits:
        pool[hit.item_id] = None
    for row in neighbour_maps.values():
        pool.update(dict.fromkeys(row))
    for item_id, _ in signals.trending(options.trending_candidates + len(seen)):
        pool[item_id] = None
    if len(pool) < k:  # a shop with no traffic yet: newest catalogue items
        for item_id in sorted(signals.first_seen, key=signals.first_seen.get, reverse=True)[: 5 * k]:
            pool[item_id] = None
    if list_filter is DEFAULT_FILTER:
        return [i for i in pool if i not in seen and catalogue.recommendable(i) and i in index]
    admitted = [i for i in pool if i not in seen and list_filter.admits(i, catalogue) and i in index]
    if list_filter.category is not None and len(admitted) < k:
        # the content, co-occurrence and trending pools may hold few items of one category: add the rest of it
        have = set(admitted) | seen
        for item_id in catalogue:
            if item_id not in have and list_filter.admits(item_id, catalogue) and item_id in index:
                admitted.append(item_id)
                if len(admitted) >= 5 * k:
                    break
    return admitted
