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
from ..core.ranking import ListFilter, Ranker, RankingOptions
from ..core.recommender import Recommender
from ..core.records import Item
from ..core.signals import ItemSignals, SignalOptions
from .retail import Line, purchase
from .stream_methods import CONTENT, CONTENT_ONLY, HYBRID


NO_CONTENT = "streamrec-no-content"  # the hybrid with its content weight at 0: what the text adds
METHODS = (CONTENT, HYBRID, NO_CONTENT)


class StreamrecBaskets:
    """One Recommender with its own profiles and signals over the shop's catalogue.

    ``profiles_of``: another method whose profiles and signals this one ranks from (a second blend over the
    same replay costs its lists only); it learns nothing itself then.
    """

    def __init__(self, name: str, ranker: Ranker, model_version: str, profiles_of: "StreamrecBaskets | None" = None):
        self.name = name
        self.recommender = Recommender(ranker, None, model_version, clock=lambda: 0.0)
        self.leader = profiles_of
        self.profiles: dict[str, Profile] = {} if profiles_of is None else profiles_of.profiles

    @property
    def ranker(self) -> Ranker:
        return self.recommender.ranker

    def learn(self, line: Line) -> None:
        """The first sale stocks the item; the line is folded in as a history event (no list)."""
        if self.leader is not None:
            return
        ranker = self.ranker
        if not ranker.catalogue.recommendable(line.item_id):
            meta = ranker.catalogue.get(line.item_id)
            ranker.catalogue.put(replace(meta, in_stock=True, published_at=line.ts))
            ranker.signals.note_item(line.item_id, line.ts)
        event = replace(purchase(line), backfill=True)
        self.profiles[line.customer] = self.recommender.process([event], self.profiles)[0].profile

    def publish(self, customer: str, ts: float, k: int) -> dict[str, list[str]]:
        """The customer's lists as the HTTP view would show them now: *all* scores the list as it is (buy-again
        items mixed in); *new* the list of a page that excludes what the customer bought (``exclude=``)."""
        profile = self.profiles.get(customer)
        if profile is None:
            return {"all": [], "new": []}
        bought = ListFilter(exclude=frozenset(profile.seen_ids))
        return {"all": self.recommender.recommend(profile, k).item_ids,
                "new": self.recommender.recommend(profile, k, bought).item_ids}


def build_streamrec(items: Sequence[Item], vectors: np.ndarray, model_version: str, ranking: RankingOptions,
                    signals: SignalOptions, names: Sequence[str] = METHODS) -> list[StreamrecBaskets]:
    """The streamrec methods over one index, catalogue, profiles and signals; every item out of stock until sold.

    ``streamrec`` ranks with ``ranking``; ``streamrec-content`` with content alone, what was bought excluded;
    ``streamrec-no-content`` with ``ranking``'s blend less its content weight.
    """
    item_ids = [item.item_id for item in items]
    index = build_index(IndexOptions(kind="flat"), vectors.shape[1])
    index.upsert(item_ids, np.ascontiguousarray(vectors, dtype=np.float32))
    catalogue = Catalogue()
    for item in items:
        catalogue.put(replace(ItemMeta.from_item(item), in_stock=False))
    leader_ranker = Ranker(index, catalogue, ItemSignals(signals, catalogue.ids), ranking)
    leader = StreamrecBaskets(HYBRID, leader_ranker, model_version)
    options = {CONTENT: replace(ranking, weights=CONTENT_ONLY, exclude_types=None),
               NO_CONTENT: replace(ranking, weights=replace(ranking.weights, content=0.0))}
    out = [leader] if HYBRID in names else []
    for name in (CONTENT, NO_CONTENT):
        if name in names:
            ranker = Ranker(index, catalogue, leader_ranker.signals, options[name], vectors=leader_ranker.vectors,
                            content=leader_ranker.content)
            out.append(StreamrecBaskets(name, ranker, model_version, profiles_of=leader))
    if out and out[0] is not leader:
        out.insert(0, _Silent(leader))  # the others rank from its profiles: it learns, its lists are not scored
    return out


class _Silent:
    """The leader when only its followers are scored: it learns; the replay scores no list of it."""

    def __init__(self, leader: StreamrecBaskets) -> None:
        self.leader = leader
        self.name = "_profiles"

    def learn(self, line: Line) -> None:
        self.leader.learn(line)

    def publish(self, customer: str, ts: float, k: int) -> dict[str, list[str] | None]:
        return {"all": None, "new": None}
