"""What the replay feeds: streamrec Recommenders (exactly as the event agent calls them) and the baselines."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from index import IndexOptions, build_index

from ..core.catalogue import Catalogue, ItemMeta
from ..core.profiles import Profile
from ..core.ranking import Ranker, RankingOptions, RankingWeights, cited_items
from ..core.recommender import Recommender
from ..core.records import Event
from ..core.signals import ItemSignals, SignalOptions
from . import metrics
from .baselines import ItemKNNBaseline, PopularityBaseline
from .data import Dataset

HYBRID = "streamrec"
CONTENT = "streamrec-content"
POPULARITY = PopularityBaseline.name
ITEM_KNN = ItemKNNBaseline.name
METHODS = (POPULARITY, ITEM_KNN, CONTENT, HYBRID)
#: the content-only method: the text embeddings alone
CONTENT_ONLY = RankingWeights(content=1.0, collab=0.0, popularity=0.0, category=0.0, freshness=0.0)


@dataclass(frozen=True)
class Step:
    """What a method published after one event."""

    item_ids: list[str]
    explained: bool | None = None  # streamrec only: do the explanations cite the user's own history?


class Method(Protocol):
    """Anything the replay can feed one event at a time."""

    name: str

    def step(self, event: Event) -> Step:
        """Learn the event, return the user's list right after it."""


class StreamrecMethod:
    """A Recommender with its own profiles and signals, fed exactly as the Faust event agent feeds it."""

    def __init__(self, name: str, recommender: Recommender) -> None:
        self.name = name
        self.recommender = recommender
        self.profiles: dict[str, Profile] = {}  # the agent's `profiles` table

    @property
    def ranker(self) -> Ranker:
        """The method's ranker (its weights change once the blend is fitted)."""
        return self.recommender.ranker

    def use_weights(self, weights: RankingWeights) -> None:
        """Rank from now on with another blend (the fitted one, at the fit boundary)."""
        self.recommender = self.recommender.with_ranker(self.ranker.with_weights(weights))

    def step(self, event: Event) -> Step:
        """One-event micro-batch through Recommender.process; the profile is stored as the agent stores it."""
        outcome = self.recommender.process([event], self.profiles)[0]
        self.profiles[event.user_id] = outcome.profile
        cited: set[str] = set()
        for item in outcome.recommendation.items:
            cited |= cited_items(item.reasons)
        touched = list(outcome.profile.seen) + [t.item_id for t in outcome.profile.history if t.item_id]
        return Step(outcome.recommendation.item_ids, metrics.history_cited(cited, touched))


class BaselineMethod:
    """Adapts a baseline's (user, item) step to the replay's event step."""

    def __init__(self, baseline: PopularityBaseline | ItemKNNBaseline) -> None:
        self.name = baseline.name
        self.baseline = baseline

    def step(self, event: Event) -> Step:
        """Learn the event, return the list."""
        return Step(self.baseline.step(event.user_id, event.item_id))


def build_methods(dataset: Dataset, vectors: np.ndarray, model_version: str, ranking: RankingOptions,
                  signals: SignalOptions) -> list[Method]:
    """Popularity, item-kNN, content-only streamrec and hybrid streamrec over one catalogue and index."""
    item_ids = [item.item_id for item in dataset.items]
    index = build_index(IndexOptions(kind="flat"), vectors.shape[1])
    index.upsert(item_ids, np.ascontiguousarray(vectors, dtype=np.float32))
    catalogue = Catalogue()
    for item in dataset.items:
        catalogue.put(ItemMeta.from_item(item))
    methods: list[Method] = [
        BaselineMethod(PopularityBaseline(item_ids, ranking.k)),
        BaselineMethod(ItemKNNBaseline(item_ids, ranking.k)),
    ]
    for name, options in ((CONTENT, replace(ranking, weights=CONTENT_ONLY)), (HYBRID, ranking)):
        # each streamrec method learns its own signals; index and catalogue are read-only here
        ranker = Ranker(index, catalogue, ItemSignals(signals), options)
        # a fixed clock: generated_at plays no part in scoring, and a constant keeps runs reproducible
        methods.append(StreamrecMethod(name, Recommender(ranker, None, model_version, clock=lambda: 0.0)))
    return methods

