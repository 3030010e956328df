"""What the replay feeds: the streamrec methods (stream_methods.py, learning.py) and the baselines, by name."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from index import IndexOptions, build_index

from ..core.catalogue import Catalogue, ItemMeta
from ..core.ranking import Ranker, RankingOptions
from ..core.recommender import Recommender
from ..core.records import Event
from ..core.signals import ItemSignals, SignalAggregator, SignalOptions
from .baselines import ItemKNNBaseline, PopularityBaseline
from .data import Dataset
from .knn import KNN_BASELINES, KNN_TUNED, KNN_WINDOW, WindowedItemKNN
from .learning import AdapterOptions, build_learning_methods
from .stream_methods import (
    CONTENT,
    CONTENT_ONLY,
    HYBRID,
    LEARNED,
    TUNED,
    Method,
    Sharding,
    Step,
    StreamrecMethod,
)

POPULARITY = PopularityBaseline.name
ITEM_KNN = ItemKNNBaseline.name
METHODS = (POPULARITY, ITEM_KNN, KNN_WINDOW, KNN_TUNED, CONTENT, TUNED, HYBRID, LEARNED)
LEARNING_METHODS = (TUNED, LEARNED)

__all__ = ["CONTENT", "CONTENT_ONLY", "HYBRID", "ITEM_KNN", "LEARNED", "LEARNING_METHODS", "METHODS", "POPULARITY",
           "TUNED", "BaselineMethod", "Method", "Sharding", "Step", "StreamrecMethod", "build_methods"]


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
                  adapter: AdapterOptions | None = None) -> list[Method]:
    """The baselines and the streamrec methods named in ``names`` (METHODS order), over one catalogue and index.

    ``adapter`` configures the online adapter of the learning methods.
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
        methods += build_learning_methods(names, item_ids, vectors, index, catalogue, model_version, ranking, signals,
                                          sharding, adapter)
    order = {name: n for n, name in enumerate(METHODS)}
    return sorted(methods, key=lambda m: order[m.name])

