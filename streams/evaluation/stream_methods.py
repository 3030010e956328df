"""The streamrec methods of the replay: Recommenders fed exactly as the event agent feeds them, and how they are
sharded (the baselines and the list of methods: methods.py; the learning methods: learning.py)."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Protocol

from ..core.profiles import Profile
from ..core.ranking import Ranker, RankingWeights, cited_items
from ..core.recommender import Recommender
from ..core.records import Event
from ..core.signals import DeltaCollector, SignalAggregator, SignalDelta
from . import metrics

HYBRID = "streamrec"
CONTENT = "streamrec-content"
TUNED = "streamrec-tuned"  # tuned content alone: the adapter's vectors (core/learning)
LEARNED = "streamrec-learned"  # the LightGBM LambdaRank ranker over the learned features
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
