"""The learning steps in the replay: the online adapter, the tuned and learned streamrec methods, the ranker fit.

- ``OnlineAdapter`` does in-process what the trainer role does beside the workers: every event's pairs
  (the user's previous items, as the signal deltas carry them) feed an AdapterTrainer; every ``every``
  events it updates, and a published adapter is switched into the shared TunedIndex between two events.
- ``LearningMethod`` is a streamrec method over that TunedIndex with a LearnedScorer: a linear model
  (tuned content alone, or the hand-set blend until the ranker is fitted) or the LightGBM booster.
- ``RankerGroups`` collects LambdaRank training groups from the fit part: the user's next item (label 1)
  beside a uniform sample of the list's candidate pool (label 0), only when the next item is in the pool,
  with features computed from the profile the list was built from when the next item arrives, like the
  blend fit's pairs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from index import IndexOptions, build_index

from ..core.catalogue import Catalogue
from ..core.learning.adapter import Adapter
from ..core.learning.features import LEARNED_FEATURES
from ..core.learning.model import BoosterModel, LinearModel, check_rows
from ..core.learning.pairs import pairs_of
from ..core.learning.scorer import LearnedScorer
from ..core.learning.space import TunedIndex
from ..core.learning.training import AdapterTrainer, TrainerOptions, VectorTable
from ..core.learning.trend import PopularityTrend
from ..core.profiles import Profile
from ..core.ranking import Ranker, RankingOptions, RankingWeights
from ..core.ranking.candidates import DEFAULT_FILTER
from ..core.recommender import Recommender
from ..core.records import Event
from ..core.signals import ItemSignals, SignalOptions
from ..errors import ImproperlyConfigured
from .stream_methods import LEARNED, TUNED, Sharding, StreamrecMethod

#: tuned content alone: the adapter's vectors, nothing else
TUNED_CONTENT = LinearModel({"content": 1.0}, "tuned-content")
#: the learned method before its ranker is fitted: the hand-set blend (RankingWeights' defaults) over the same features
#: (the learned features have no buy-again column: the learned ranker serves shops that exclude what was seen)
HAND_SET = LinearModel({f: w for f, w in asdict(RankingWeights()).items() if f in LEARNED_FEATURES}, "hand-set")


@dataclass(frozen=True)
class AdapterOptions:
    """How the replay's adapter learns (the trainer role's settings map to the same TrainerOptions)."""

    every: int = 1000  # events between updates
    window: int = 10  # previous items each interaction pairs with (the signals' collaborative window)
    decay: float = 0.85
    trainer: TrainerOptions = field(default_factory=lambda: TrainerOptions(device="cpu"))


@dataclass
class UpdateLog:
    """One update of the replay's adapter."""

    event: int
    steps: int
    val_loss: float
    running_val_loss: float
    published: bool
    version: int
    seconds: float


class OnlineAdapter:
    """The trainer, fed event by event, switching the shared tuned index when an update is published."""

    def __init__(self, item_ids: list[str], vectors: np.ndarray, index: TunedIndex, options: AdapterOptions) -> None:
        table = VectorTable(vectors.shape[1])
        table.put(item_ids, vectors)
        self.index = index
        self.options = options
        self.trainer = AdapterTrainer(table, index.adapter.base_version, options.trainer, start=index.adapter)
        self.recent: dict[str, list[str]] = {}
        self.updates: list[UpdateLog] = []
        self.seconds = 0.0
        self.on_switch: list = []  # called after each switch (rankers drop content rows of the old space)

    def observe(self, t: int, event: Event) -> None:
        """Learn the event's pairs; every ``every`` events, update (and switch if published)."""
        if event.item_id is not None:
            previous = self.recent.setdefault(event.user_id, [])
            self.trainer.add(pairs_of(event.item_id, previous, self.options.decay, self.options.window))
            if event.item_id in previous:
                previous.remove(event.item_id)
            previous.insert(0, event.item_id)
            del previous[self.options.window:]
        if (t + 1) % self.options.every == 0 and self.trainer.ready():
            result = self.trainer.update()
            if result.published is not None:
                self.index.switch(result.published)
                for callback in self.on_switch:
                    callback()
            self.seconds += result.seconds
            self.updates.append(UpdateLog(t + 1, result.steps, result.val_loss, result.running_val_loss,
                                          result.published is not None, self.index.adapter.version, result.seconds))

    @property
    def adapter(self) -> Adapter:
        """The adapter searched now."""
        return self.index.adapter


class LearningMethod(StreamrecMethod):
    """A streamrec method ranking through a LearnedScorer (tuned content, or the learned ranker)."""

    def __init__(self, name: str, recommenders: list[Recommender], sharding: Sharding, online: OnlineAdapter) -> None:
        super().__init__(name, recommenders, sharding)
        self.online = online  # the adapter that keeps learning under this method's tuned index

    def use_model(self, model) -> None:
        """Rank from now on with another model (the fitted booster, at the fit boundary)."""
        self.recommenders = [r.with_ranker(r.ranker.with_scorer(r.ranker.scorer.with_model(model)))
                             for r in self.recommenders]

    @property
    def scorer(self) -> LearnedScorer:
        """The scorer of the (only) worker."""
        return self.ranker.scorer

    def step(self, event: Event):
        """As StreamrecMethod, then the trend reads the event item's new popularity (as a worker reads rows)."""
        step = super().step(event)
        trend = self.scorer.trend
        if trend is not None and event.item_id is not None:
            popularity = self.ranker.signals.popularity
            trend.note(event.item_id, popularity.get(event.item_id), popularity.clock)
        return step


@dataclass(frozen=True)
class RankerFitOptions:
    """How the LambdaRank ranker is fitted on the fit part."""

    pool_negatives: int = 50  # random items of the list's candidate pool per group
    trees: int = 300
    leaves: int = 31
    learning_rate: float = 0.05
    min_data_in_leaf: int = 50
    validation_share: float = 0.1  # the latest groups: early stopping
    early_stopping: int = 30
    threads: int = 2
    seed: int = 0


class RankerGroups:
    """LambdaRank groups: the next item first (label 1), then negatives (label 0)."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []

    def add(self, x: np.ndarray) -> None:
        """One group's feature rows, the positive first."""
        if len(x) >= 2:
            check_rows(x, [len(x)])
            self.rows.append(np.asarray(x, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.rows)


def group_rows(method: LearningMethod, profile: Profile, shown: list[str], target: str, rng: np.random.Generator,
               options: RankerFitOptions) -> np.ndarray:
    """Features of the next item (first) and a uniform sample of the candidate pool, for the list's profile;
    no rows when the next item is outside the pool."""
    ranker = method.ranker
    scorer = method.scorer
    pool = scorer.candidates(ranker, profile, [], ranker.options.k, DEFAULT_FILTER)
    if target not in pool:
        # the ranker only ever orders its pool: a next item from outside it teaches features of items it never
        # sees (early in a log, mostly never-touched ones), and the booster learned to push those
        return np.zeros((0, len(LEARNED_FEATURES)))
    pool = [i for i in pool if i != target]
    sample = [pool[i] for i in rng.choice(len(pool), min(options.pool_negatives, len(pool)), replace=False)] if pool else []
    # negatives are a uniform sample of the pool, never the items the list showed: those are what the running
    # model liked best, and with them as negatives the booster learned to push down what the blend ranks high
    negatives = sample
    if target not in ranker.index:
        return np.zeros((0, len(LEARNED_FEATURES)))
    return scorer.rows(ranker, profile, [target] + negatives)


@dataclass
class RankerFit:
    """The fitted booster and what it was fitted on."""

    model: BoosterModel
    groups: int
    rows: int
    trees: int
    valid_ndcg: float | None

    def to_dict(self) -> dict:
        """Plain values for the JSON report."""
        return {"groups": self.groups, "rows": self.rows, "trees": self.trees, "valid_ndcg@10": self.valid_ndcg,
                "label": self.model.label, "bias": self.model.bias,
                "importance_gain": dict(zip(self.model.booster.feature_name(),
                                            (round(float(g), 1) for g in self.model.booster.feature_importance("gain"))))}


def fit_ranker(groups: RankerGroups, options: RankerFitOptions = RankerFitOptions()) -> RankerFit:
    """LightGBM LambdaRank on the groups (the latest ``validation_share`` of them for early stopping)."""
    import lightgbm

    if len(groups) < 10:
        raise ImproperlyConfigured("too few lists in the fit part to fit a ranker (need 10 with a next item)")
    cut = max(1, int(len(groups) * (1 - options.validation_share)))
    rng = np.random.default_rng(options.seed)

    def dataset(part: list[np.ndarray], reference=None):
        # each group is shuffled: with the positive always first, LightGBM's NDCG (ties kept in row order)
        # scores a constant model perfectly, and early stopping kept the first, near-constant tree
        xs, ys = [], []
        for g in part:
            order = rng.permutation(len(g))
            xs.append(g[order])
            ys.append(np.r_[1.0, np.zeros(len(g) - 1)][order])
        return lightgbm.Dataset(np.concatenate(xs), np.concatenate(ys), group=[len(g) for g in part],
                                feature_name=list(LEARNED_FEATURES), reference=reference, free_raw_data=False)

    train = dataset(groups.rows[:cut])
    valid = dataset(groups.rows[cut:], reference=train) if cut < len(groups) else None
    params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "num_leaves": options.leaves,
              "learning_rate": options.learning_rate, "min_data_in_leaf": options.min_data_in_leaf,
              "num_threads": options.threads, "seed": options.seed, "verbosity": -1, "deterministic": True,
              "force_row_wise": True}
    callbacks = [lightgbm.early_stopping(options.early_stopping, verbose=False)] if valid is not None else []
    booster = lightgbm.train(params, train, options.trees, valid_sets=[valid] if valid is not None else None,
                             callbacks=callbacks)
    score = booster.best_score.get("valid_0", {}).get("ndcg@10") if valid is not None else None
    model = BoosterModel(booster, f"ranker:replay@{booster.best_iteration or booster.current_iteration()}")
    return RankerFit(model, len(groups), sum(len(g) for g in groups.rows), booster.current_iteration(), score)


def build_learning_methods(names, item_ids: list[str], vectors: np.ndarray, index, catalogue: Catalogue,
                           model_version: str, ranking: RankingOptions, signals: SignalOptions, sharding: Sharding,
                           options: AdapterOptions | None) -> list[LearningMethod]:
    """Tuned content and the learned ranker over one TunedIndex, which one OnlineAdapter keeps learning."""
    if sharding.workers != 1 or sharding.signals != "inplace":
        raise ImproperlyConfigured("the learning methods (streamrec-tuned, streamrec-learned) replay one worker "
                                   "with in-place signals; leave them out with --methods to simulate several")
    tuned = TunedIndex(index, lambda dim: build_index(IndexOptions(kind="flat"), dim),
                       Adapter.identity(vectors.shape[1], model_version))
    online = OnlineAdapter(item_ids, vectors, tuned, options or AdapterOptions())
    out: list[LearningMethod] = []
    for name, model in ((TUNED, TUNED_CONTENT), (LEARNED, HAND_SET)):
        if name not in names:
            continue
        view = ItemSignals(signals, catalogue.ids)
        scorer = LearnedScorer(model, PopularityTrend(signals.half_life_seconds) if name == LEARNED else None)
        ranker = Ranker(tuned, catalogue, view, ranking, scorer)
        online.on_switch.append(ranker.content.clear)
        out.append(LearningMethod(name, [Recommender(ranker, None, model_version, clock=lambda: 0.0)], sharding, online))
    return out
