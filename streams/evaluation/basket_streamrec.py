"""streamrec in the next-basket replay: the real Recommender fed every purchase line as the event agent feeds it.

Every product is in the index from the start (its title encoded once) but out of stock until its first sale,
so no list shows an item before the shop sold it; at the first sale the item is stocked and its first-seen
time noted (freshness). Lines are history events (no list per line); the list that is scored is the one the
HTTP view computes for the customer's profile just before the invoice (``Recommender.recommend``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from index import IndexOptions, build_index

from ..core.catalogue import Catalogue, ItemMeta
from ..core.profiles import Profile
from ..core.ranking import Ranker, RankingOptions
from ..core.recommender import Recommender
from ..core.records import Item
from ..core.signals import ItemSignals, SignalOptions
from .retail import Line, purchase
from .stream_methods import CONTENT, CONTENT_ONLY, HYBRID


class StreamrecBaskets:
    """One Recommender with its own profiles and signals over the shop's catalogue."""

    def __init__(self, name: str, ranker: Ranker, model_version: str) -> None:
        self.name = name
        self.recommender = Recommender(ranker, None, model_version, clock=lambda: 0.0)
        self.profiles: dict[str, Profile] = {}

    @property
    def ranker(self) -> Ranker:
        return self.recommender.ranker

    def learn(self, line: Line) -> None:
        """The first sale stocks the item; the line is folded in as a history event (no list)."""
        ranker = self.ranker
        if not ranker.catalogue.recommendable(line.item_id):
            meta = ranker.catalogue.get(line.item_id)
            ranker.catalogue.put(replace(meta, in_stock=True, published_at=line.ts))
            ranker.signals.note_item(line.item_id, line.ts)
        event = replace(purchase(line), backfill=True)
        self.profiles[line.customer] = self.recommender.process([event], self.profiles)[0].profile

    def publish(self, customer: str, ts: float, k: int) -> dict[str, list[str]]:
        """The customer's list as the HTTP view would show it now (one list for both targets)."""
        profile = self.profiles.get(customer)
        if profile is None:
            return {"all": []}
        return {"all": self.recommender.recommend(profile, k).item_ids}


def build_streamrec(items: Sequence[Item], vectors: np.ndarray, model_version: str, ranking: RankingOptions,
                    signals: SignalOptions, names: Sequence[str] = (CONTENT, HYBRID)) -> list[StreamrecBaskets]:
    """The content-only and hybrid methods over one index; every item out of stock until first sold."""
    item_ids = [item.item_id for item in items]
    index = build_index(IndexOptions(kind="flat"), vectors.shape[1])
    index.upsert(item_ids, np.ascontiguousarray(vectors, dtype=np.float32))
    out = []
    for name, options in ((CONTENT, replace(ranking, weights=CONTENT_ONLY)), (HYBRID, ranking)):
        if name not in names:
            continue
        catalogue = Catalogue()
        for item in items:
            catalogue.put(replace(ItemMeta.from_item(item), in_stock=False))
        ranker = Ranker(index, catalogue, ItemSignals(signals, catalogue.ids), options)
        out.append(StreamrecBaskets(name, ranker, model_version))
    return out
