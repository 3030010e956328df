"""The candidate pool of one profile: FAISS hits ∪ co-occurrence neighbours ∪ trending, filtered."""
from __future__ import annotations

from itertools import filterfalse
from typing import Sequence

from index.base import VectorIndex

from ..catalogue import Catalogue
from ..profiles import Profile
from ..signals import ItemSignals
from .collab import CollabWindow
from .options import RankingOptions


def candidates(profile: Profile, hit_ids: Sequence[str], window: CollabWindow, k: int, index: VectorIndex,
               catalogue: Catalogue, signals: ItemSignals, options: RankingOptions) -> list[str]:
    """Recommendable, indexed, unseen (when excluding seen) candidates, deduplicated in pool order.

    The pool is bounded whatever the shopper's history: the first ``content_candidates`` usable FAISS
    hits, the neighbours of the ``collab_window`` recent items (≤ max_neighbours each), the first
    ``trending_candidates`` usable trending items. Hits and trending are over-fetched by the size of the
    seen set so that enough usable ones remain, but only that many are kept: a shopper who has seen
    500 items does not get a pool (and a cost) five times larger. Filtering runs in C (filter/map over
    dicts and sets), the pool holds up to a few thousand ids.
    """
    seen = set(profile.seen) if options.exclude_seen else set()

    def usable(ids) -> list[str]:
        return index.present(catalogue.recommendable_ids(filterfalse(seen.__contains__, ids) if seen else ids))

    pool: dict[str, None] = dict.fromkeys(usable(hit_ids)[: options.content_candidates])
    for ids in window.neighbour_ids:
        pool.update(dict.fromkeys(ids))
    trending = signals.popularity.top_keys(options.trending_candidates + len(seen))
    pool.update(dict.fromkeys(usable(trending)[: options.trending_candidates]))
    if len(pool) < k:  # a shop with no traffic yet: newest catalogue items
        for item_id in sorted(signals.first_seen, key=signals.first_seen.get, reverse=True)[: 5 * k]:
            pool[item_id] = None
    return usable(pool)
