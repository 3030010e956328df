"""The prequential (test-then-train) replay: every method sees the same events in the same order.

For each interaction, every method first learns it (a streamrec Recommender exactly as the Faust agent
calls it, one-event batches; a baseline its own way) and publishes the user's list. That list waits
until the same user's next interaction arrives, which is its target: nothing a list was built from can
come after the interaction it is scored against.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from encoders.base import Encoder
from index import set_faiss_threads

from ..core.profiles import Profile
from ..core.ranking import Ranker, RankingOptions, RankingWeights
from ..core.signals import SignalOptions
from ..errors import ImproperlyConfigured
from . import metrics
from .data import RATING_MAPS, Dataset
from .fit import FitOptions, FitResult, PairSet, fit_weights
from .knn import KNN_TUNED, KNN_WINDOW
from .learning import AdapterOptions, RankerFit, RankerFitOptions, RankerGroups, UpdateLog, fit_ranker, group_rows
from .methods import (
    CONTENT,
    HYBRID,
    ITEM_KNN,
    LEARNED,
    METHODS,
    POPULARITY,
    TUNED,
    Sharding,
    StreamrecMethod,
    build_methods,
)

__all__ = ["CONTENT", "HYBRID", "ITEM_KNN", "KNN_TUNED", "KNN_WINDOW", "LEARNED", "METHODS", "POPULARITY", "SEGMENTS",
           "TUNED", "ReplayOptions", "ReplayResult", "replay"]
SEGMENTS = ("fit", "test", "full")  # lists published before / after the fit boundary / all of them


@dataclass(frozen=True)
class ReplayOptions:
    """What is replayed and how streamrec is configured for it (list length: ``ranking.k``)."""

    fit_fraction: float = 0.5  # share of the log (by event) whose lists train the blend; 0 = no fit
    rating_map: str = "view"
    cold_items: int = 20  # items held out of the log and added with no interactions (0 = no check)
    cold_min_ratings: int = 20  # held-out items are drawn among items rated this often …
    cold_max_ratings: int = 100  # … and at most this often
    seed: int = 0
    # One-event batches make FAISS's OpenMP start-up cost ~10x the search itself on small machines.
    faiss_threads: int | None = 1
    # with a fit, the replay starts from the hand-set weights so the result does not depend on a previous fit
    ranking: RankingOptions = field(default_factory=lambda: RankingOptions(weights=RankingWeights()))
    signals: SignalOptions = field(default_factory=SignalOptions)
    fit: FitOptions = field(default_factory=FitOptions)
    sharding: Sharding = field(default_factory=Sharding)
    methods: tuple[str, ...] = METHODS  # which to replay (the blend fit needs streamrec, the ranker fit streamrec-learned)
    adapter: AdapterOptions = field(default_factory=AdapterOptions)
    ranker_fit: RankerFitOptions = field(default_factory=RankerFitOptions)

    def __post_init__(self) -> None:
        if not 0.0 <= self.fit_fraction < 1.0:
            raise ImproperlyConfigured(f"--fit-fraction must be within [0, 1), got {self.fit_fraction}")
        if self.rating_map not in RATING_MAPS:
            raise ImproperlyConfigured(f"unknown rating map {self.rating_map!r}; expected one of {', '.join(RATING_MAPS)}")
        if self.k < 1 or self.cold_items < 0:
            raise ImproperlyConfigured("k must be >= 1 and cold_items >= 0")
        sharding = self.sharding
        if sharding.workers < 1 or sharding.tick < 1 or sharding.signals not in ("inplace", "shared", "local"):
            raise ImproperlyConfigured("--workers and --signal-tick must be >= 1, --signals inplace, shared or local")
        if sharding.signals == "inplace" and sharding.workers > 1:
            raise ImproperlyConfigured("several workers learn their signals shared or local, not in place")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ImproperlyConfigured(f"unknown methods {', '.join(unknown) or '(none given)'}; "
                                       f"choose among {', '.join(METHODS)}")

    @property
    def k(self) -> int:
        """List length, the cutoff of every metric."""
        return self.ranking.k


@dataclass
class _Pending:
    """A published list waiting for its user's next item."""

    event_index: int
    item_ids: list[str]
    explained: bool | None
    profile: Profile | None = None  # streamrec hybrid only: for the fit's feature rows


@dataclass
class MethodLog:
    """Per-method record of the replay: one row per scored list, one latency per event."""

    event_index: list[int] = field(default_factory=list)  # when the scored list was published
    rank: list[int] = field(default_factory=list)  # target's 1-based rank in the list, 0 = absent
    explained: list[bool | None] = field(default_factory=list)
    shown: list[list[str]] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)  # per event, in event order
    cold_shown: int = 0  # lists containing a held-out (never interacted) item
    cold_matched: int = 0  # … of which the user rated that item in the original log
    cold_items_shown: set[str] = field(default_factory=set)
    # a held-out item's rating, kept out of every method's learning, still scores the user's waiting list
    cold_event_index: list[int] = field(default_factory=list)  # when the probed list was published
    cold_rank: list[int] = field(default_factory=list)  # the held-out item's rank in it, 0 = absent


@dataclass
class ReplayResult:
    """Everything measured in one replay."""

    options: ReplayOptions
    events: int
    users: int
    catalogue: int
    boundary: int  # first event index of the test part
    logs: dict[str, MethodLog]
    fit: FitResult | None
    cold_items: list[str]
    model_version: str
    seconds: float
    dataset: str = "ml-100k"  # what was replayed (a shop's log is named after its events file)
    methods: tuple[str, ...] = METHODS  # those replayed, in table order
    ranker_fit: RankerFit | None = None
    adapter_updates: list[UpdateLog] = field(default_factory=list)
    adapter_seconds: float = 0.0  # spent training the adapter (part of ``seconds``)
    adapter_version: str | None = None  # the adapter searched at the end

    def segment_mask(self, method: str, segment: str) -> np.ndarray:
        """Which scored lists of a method belong to the segment."""
        idx = np.asarray(self.logs[method].event_index, dtype=np.int64)
        if segment == "fit":
            return idx < self.boundary
        if segment == "test":
            return idx >= self.boundary
        return np.ones(len(idx), dtype=bool)

    def summary(self, method: str, segment: str) -> dict:
        """HR/NDCG/MRR@k, coverage, explanation share and latency of one method on one segment."""
        log = self.logs[method]
        k = self.options.k
        mask = self.segment_mask(method, segment)
        ranks = np.asarray(log.rank, dtype=np.int64)[mask]
        shown = [s for s, keep in zip(log.shown, mask) if keep]
        explained = [e for e, keep in zip(log.explained, mask) if keep and e is not None]
        lat = log.latency_ms if segment == "full" else (
            log.latency_ms[: self.boundary] if segment == "fit" else log.latency_ms[self.boundary:])
        return {
            "lists": int(mask.sum()),
            f"hr@{k}": float(metrics.hits(ranks).mean()) if len(ranks) else 0.0,
            f"ndcg@{k}": float(metrics.ndcg(ranks).mean()) if len(ranks) else 0.0,
            f"mrr@{k}": float(metrics.reciprocal_rank(ranks).mean()) if len(ranks) else 0.0,
            "coverage": metrics.coverage(shown, self.catalogue),
            "explained_by_history": metrics.share(explained),
            "latency_p50_ms": metrics.percentile(lat, 50),
            "latency_p99_ms": metrics.percentile(lat, 99),
        }

    def cold_summary(self, method: str, segment: str) -> dict:
        """Hit rate on the events whose next item is a held-out (never learned) one, per segment."""
        log = self.logs[method]
        idx = np.asarray(log.cold_event_index, dtype=np.int64)
        mask = (idx < self.boundary) if segment == "fit" else (idx >= self.boundary) if segment == "test" else \
            np.ones(len(idx), dtype=bool)
        ranks = np.asarray(log.cold_rank, dtype=np.int64)[mask]
        return {"events": int(mask.sum()), "hits": int(metrics.hits(ranks).sum()) if len(ranks) else 0,
                f"hr@{self.options.k}": float(metrics.hits(ranks).mean()) if len(ranks) else 0.0}

    def ndcg_series(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """(event index, NDCG@k) of every scored list of a method, in replay order."""
        log = self.logs[method]
        return np.asarray(log.event_index), metrics.ndcg(log.rank)


def pick_cold_items(dataset: Dataset, options: ReplayOptions) -> list[str]:
    """Items to hold out: a seeded draw among moderately rated items (so some users would like them)."""
    if options.cold_items == 0:
        return []
    counts: dict[str, int] = {}
    for inter in dataset.interactions:
        counts[inter.item_id] = counts.get(inter.item_id, 0) + 1
    pool = sorted((i for i, c in counts.items() if options.cold_min_ratings <= c <= options.cold_max_ratings), key=int_or_str)
    if not pool:
        return []
    rng = np.random.default_rng(options.seed)
    chosen = rng.choice(len(pool), min(options.cold_items, len(pool)), replace=False)
    return sorted((pool[i] for i in chosen), key=int_or_str)


def int_or_str(value: str):
    """Sort key: numeric ids numerically, others after them as text."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def replay(
    dataset: Dataset,
    encoder: Encoder,
    options: ReplayOptions = ReplayOptions(),
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Replay the log test-then-train through every method; fit the blend at the boundary."""
    started = time.perf_counter()
    set_faiss_threads(options.faiss_threads)  # process-wide; the replay is this process's only FAISS user
    cold = pick_cold_items(dataset, options)
    cold_set = set(cold)
    rated_cold = {(i.user_id, i.item_id) for i in dataset.interactions if i.item_id in cold_set}
    log_data = dataset.without_items(cold) if cold else dataset
    if not log_data.interactions:
        raise ImproperlyConfigured("no interactions to replay")
    vectors = encoder.encode([item.text() for item in dataset.items])
    methods = build_methods(dataset, vectors, encoder.version, options.ranking, options.signals, options.sharding,
                            options.methods, options.adapter)
    hybrid = next((m for m in methods if isinstance(m, StreamrecMethod) and m.name == HYBRID), None)
    learned = next((m for m in methods if m.name == LEARNED), None)
    online = next((m.online for m in methods if hasattr(m, "online")), None)
    # the learned-from log, and each held-out item's rating placed after the event it follows (a probe)
    events = [inter.to_event(options.rating_map) for inter in log_data.interactions]
    probes: dict[int, list[tuple[str, str]]] = {}
    t_next = 0
    for inter in dataset.interactions:
        if inter.item_id in cold_set:
            probes.setdefault(t_next - 1, []).append((inter.user_id, inter.item_id))
        else:
            t_next += 1
    n = len(events)
    boundary = int(n * options.fit_fraction) if options.fit_fraction > 0 else 0
    logs = {m.name: MethodLog() for m in methods}
    pending: dict[str, dict[str, _Pending]] = {m.name: {} for m in methods}
    pairs = PairSet()
    groups = RankerGroups()
    rng = np.random.default_rng(options.seed)
    all_ids = np.array([item.item_id for item in dataset.items if item.item_id not in cold_set])
    fit: FitResult | None = None
    ranker_fit: RankerFit | None = None
    for t, event in enumerate(events):
        if t == boundary and boundary > 0:
            if hybrid is not None:
                fit = fit_weights(pairs, options.fit)
                hybrid.use_weights(fit.weights)
            if learned is not None:
                ranker_fit = fit_ranker(groups, options.ranker_fit)
                learned.use_model(ranker_fit.model)
        if online is not None:  # the adapter learns each event before the lists that follow it
            online.observe(t, event)
        for method in methods:
            waiting = pending[method.name].pop(event.user_id, None)
            if waiting is not None:
                _score(logs[method.name], waiting, event.item_id, options.k)
                if waiting.profile is not None and t < boundary:
                    if method is hybrid:
                        pairs.add(_fit_rows(hybrid.ranker_for(event.user_id), waiting, event.item_id, all_ids, rng,
                                            options.fit))
                    else:
                        groups.add(group_rows(method, waiting.profile, waiting.item_ids, event.item_id, rng,
                                              options.ranker_fit))
            t0 = time.perf_counter()
            step = method.step(event)
            logs[method.name].latency_ms.append((time.perf_counter() - t0) * 1000.0)
            keep_profile = (method is hybrid or method is learned) and t < boundary
            pending[method.name][event.user_id] = _Pending(
                t, step.item_ids, step.explained, method.profiles[event.user_id] if keep_profile else None)
            _count_cold(logs[method.name], step.item_ids, event.user_id, cold_set, rated_cold)
        for user_id, item_id in probes.get(t, ()):
            for method in methods:
                waiting = pending[method.name].get(user_id)
                if waiting is not None:
                    logs[method.name].cold_event_index.append(waiting.event_index)
                    logs[method.name].cold_rank.append(metrics.rank_of(waiting.item_ids, item_id, options.k) or 0)
        if on_progress is not None:
            on_progress(t + 1, n)
    return ReplayResult(
        options=options,
        events=n,
        users=len({e.user_id for e in events}),
        catalogue=len(dataset.items),
        boundary=boundary,
        logs=logs,
        fit=fit,
        cold_items=cold,
        model_version=encoder.version,
        seconds=time.perf_counter() - started,
        dataset=dataset.name,
        methods=tuple(m.name for m in methods),
        ranker_fit=ranker_fit,
        adapter_updates=online.updates if online is not None else [],
        adapter_seconds=online.seconds if online is not None else 0.0,
        adapter_version=online.adapter.model_version if online is not None else None,
    )


def _score(log: MethodLog, waiting: _Pending, target: str, k: int) -> None:
    log.event_index.append(waiting.event_index)
    log.rank.append(metrics.rank_of(waiting.item_ids, target, k) or 0)
    log.explained.append(waiting.explained)
    log.shown.append(waiting.item_ids)


def _fit_rows(ranker: Ranker, waiting: _Pending, target: str, all_ids: np.ndarray,
              rng: np.random.Generator, options: FitOptions) -> np.ndarray:
    """Features of the target (row 0) and of random unseen items (and the other items shown, if asked).

    Rows are computed when the target arrives, from the profile the list was built from; the signals
    are those of that moment, which never include the target interaction itself.
    """
    profile = waiting.profile
    seen = set(profile.seen)
    negatives = [i for i in waiting.item_ids if i != target] if options.shown_negatives else []
    sampled = rng.choice(all_ids, min(options.sampled_negatives * 2, len(all_ids)), replace=False)
    negatives += [str(i) for i in sampled if i != target and i not in seen and i not in negatives][: options.sampled_negatives]
    return ranker.feature_matrix(profile, [target] + negatives)


def _count_cold(log: MethodLog, item_ids: Iterable[str], user_id: str, cold: set[str], rated: set[tuple[str, str]]) -> None:
    shown = [i for i in item_ids if i in cold]
    if shown:
        log.cold_shown += 1
        log.cold_items_shown.update(shown)
        if any((user_id, i) in rated for i in shown):
            log.cold_matched += 1
