"""What the replay feeds: streamrec Recommenders (exactly as the event agent calls them) and the baselines."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from index import IndexOptions, build_index

from ..core.catalogue import Catalogue, ItemMeta
from ..core.profiles import Profile
from ..core.ranking import Ranker, RankingOptions, RankingWeights, cited_items
from ..core.recommender import Recommender
from ..core.records import Event
from ..core.signals import DeltaCollector, ItemSignals, SignalAggregator, SignalDelta, SignalOptions
from . import metrics
from .baselines import ItemKNNBaseline, PopularityBaseline
from .data import Dataset
from .knn import KNN_BASELINES, KNN_TUNED, KNN_WINDOW, WindowedItemKNN

HYBRID = "streamrec"
CONTENT = "streamrec-content"
TUNED = "streamrec-tuned"  # tuned content alone: the adapter's vectors (core/learning)
LEARNED = "streamrec-learned"  # the LightGBM LambdaRank ranker over the learned features
POPULARITY = PopularityBaseline.name
ITEM_KNN = ItemKNNBaseline.name
METHODS = (POPULARITY, ITEM_KNN, KNN_WINDOW, KNN_TUNED, CONTENT, TUNED, HYBRID, LEARNED)
LEARNING_METHODS = (TUNED, LEARNED)
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


@dataclass(frozen=True)
class Sharding:
    """How many workers the replay simulates, and how their signals meet.

    ``inplace`` — one process learns its signals in place, each event just before its own list (the
    default with one worker). Otherwise the workers each rank their users' events (users hashed to workers,
    as Kafka partitions them) with their own view of the signals: ``shared`` — every worker's deltas go to
    one aggregator, whose changed rows (their ``neighbours`` strongest neighbours) reach every view once per
    ``tick`` events (the aggregator's tick: 50 events ≈ 250 ms at 200 events/s); ``local`` — each worker
    learns in place from its own users only (how workers behaved before signals were shared).
    """

    workers: int = 1
    signals: str = "inplace"  # or "shared", "local"
    tick: int = 50
    neighbours: int | None = None  # published per row (None: every kept one)

    def worker_of(self, user_id: str) -> int:
        """A stable worker for a user (crc32: the same in every run, unlike hash())."""
        return zlib.crc32(user_id.encode()) % self.workers


class StreamrecMethod:
    """Recommenders with their own profiles and signals, fed exactly as the Faust event agent feeds them."""

    def __init__(self, name: str, recommenders: list[Recommender], sharding: Sharding = Sharding(),
                 aggregator: SignalAggregator | None = None) -> None:
        self.name = name
        self.recommenders = recommenders  # one per simulated worker
        self.sharding = sharding
        self.aggregator = aggregator  # shared signals only
        self.pending: list[SignalDelta] = []
        self.steps = 0
        self.profiles: dict[str, Profile] = {}  # the agents' `profiles` tables (a user lives on one worker)

    @property
    def ranker(self) -> Ranker:
        """The first worker's ranker (every worker ranks with the same options)."""
        return self.recommenders[0].ranker

    def ranker_for(self, user_id: str) -> Ranker:
        """The ranker of the worker that owns the user."""
        return self.recommenders[self.sharding.worker_of(user_id)].ranker

    def use_weights(self, weights: RankingWeights) -> None:
        """Rank from now on with another blend (the fitted one, at the fit boundary)."""
        self.recommenders = [r.with_ranker(r.ranker.with_weights(weights)) for r in self.recommenders]

    def step(self, event: Event) -> Step:
        """One-event micro-batch through Recommender.process; the profile is stored as the agent stores it."""
        recommender = self.recommenders[self.sharding.worker_of(event.user_id)]
        if self.aggregator is None:
            outcome = recommender.process([event], self.profiles)[0]  # the worker's own view learns in place
        else:
            collector = DeltaCollector(self.aggregator.options)
            outcome = recommender.process([event], self.profiles, signals=collector)[0]
            recommender.ranker.signals.apply_own(collector.deltas)  # a worker reads its own writes at once
            self.pending += collector.deltas
            self.steps += 1
            if self.steps % self.sharding.tick == 0:
                self._publish()
        self.profiles[event.user_id] = outcome.profile
        cited: set[str] = set()
        for item in outcome.recommendation.items:
            cited |= cited_items(item.reasons)
        touched = list(outcome.profile.seen) + [t.item_id for t in outcome.profile.history if t.item_id]
        return Step(outcome.recommendation.item_ids, metrics.history_cited(cited, touched))

    def _publish(self) -> None:
        """The aggregator's tick: fold the pending deltas and install the changed rows in every worker's view."""
        rows = self.aggregator.fold(self.pending)
        self.pending = []
        for recommender in self.recommenders:
            for row in rows:
                recommender.ranker.signals.apply_row(row)


class BaselineMethod:
    """Adapts a baseline's (user, item) step to the replay's event step."""

    def __init__(self, baseline: PopularityBaseline | ItemKNNBaseline | WindowedItemKNN) -> None:
        self.name = baseline.name
        self.baseline = baseline

    def step(self, event: Event) -> Step:
        """Learn the event, return the list."""
        return Step(self.baseline.step(event.user_id, event.item_id))


def build_methods(dataset: Dataset, vectors: np.ndarray, model_version: str, ranking: RankingOptions,
                  signals: SignalOptions, sharding: Sharding = Sharding(), names: tuple[str, ...] = METHODS,
                  adapter=None) -> list[Method]:
    """The baselines and the streamrec methods named in ``names`` (METHODS order), over one catalogue and index.

    ``adapter`` (evaluation.learning.AdapterOptions) configures the online adapter of the learning methods.
    """
    item_ids = [item.item_id for item in dataset.items]
    index = build_index(IndexOptions(kind="flat"), vectors.shape[1])
    index.upsert(item_ids, np.ascontiguousarray(vectors, dtype=np.float32))
    catalogue = Catalogue()
    for item in dataset.items:
        catalogue.put(ItemMeta.from_item(item))
    # one ranker over the catalogue: its item vectors and content rows are shared by every method and worker
    base = Ranker(index, catalogue, ItemSignals(signals, catalogue.ids), ranking)
    baselines = {POPULARITY: lambda: PopularityBaseline(item_ids, ranking.k),
                 ITEM_KNN: lambda: ItemKNNBaseline(item_ids, ranking.k),
                 **{name: (lambda name=name: WindowedItemKNN(name, item_ids, ranking.k, KNN_BASELINES[name]))
                    for name in KNN_BASELINES}}
    methods: list[Method] = [BaselineMethod(make()) for name, make in baselines.items() if name in names]
    shared = sharding.signals == "shared"
    for name, options in ((CONTENT, replace(ranking, weights=CONTENT_ONLY)), (HYBRID, ranking)):
        if name not in names:
            continue
        # each streamrec method (and each simulated worker) has its own signals; index and catalogue are
        # read-only here. A fixed clock: generated_at plays no part in scoring, and a constant keeps runs
        # reproducible.
        ranker = Ranker(index, catalogue, base.signals, options, vectors=base.vectors, content=base.content)
        recommenders = [Recommender(ranker.with_signals(ItemSignals(signals, catalogue.ids)), None, model_version,
                                    clock=lambda: 0.0) for _ in range(sharding.workers)]
        aggregator = SignalAggregator(signals, sharding.neighbours) if shared else None
        methods.append(StreamrecMethod(name, recommenders, sharding, aggregator))
    if any(name in names for name in LEARNING_METHODS):
        from .learning import build_learning_methods

        methods += build_learning_methods(names, item_ids, vectors, index, catalogue, model_version, ranking, signals,
                                          sharding, adapter)
    order = {name: n for n, name in enumerate(METHODS)}
    return sorted(methods, key=lambda m: order[m.name])

