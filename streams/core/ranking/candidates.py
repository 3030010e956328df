"""The candidate pool of one profile: FAISS hits ∪ co-occurrence neighbours ∪ trending, filtered."""
from __future__ import annotations

from typing import Sequence

from index.base import Hit, VectorIndex

from ..catalogue import Catalogue
from ..profiles import Profile
from ..signals import ItemSignals
from .options import RankingOptions


def candidates(profile: Profile, hits: Sequence[Hit], neighbour_maps: dict[str, dict[str, float]], k: int,
               index: VectorIndex, catalogue: Catalogue, signals: ItemSignals, options: RankingOptions) -> list[str]:
    """Recommendable, indexed, unseen (when excluding seen) candidates, deduplicated in pool order."""
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
    return [i for i in pool if i not in seen and catalogue.recommendable(i) and i in index]
