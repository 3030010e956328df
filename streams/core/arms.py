"""Ranking under an experiment: each event's list from its shopper's arm (experiment.py), the batch still one.

The events of a micro-batch are grouped by arm and each group is ranked at once by that arm's recommender;
the outcomes come back in event order, each list marked with its arm. The signal updates of the batch are
replayed to the sink in event order too (an aggregator folds each source offset in order), after every list
of the batch is ranked, exactly as one recommender would.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

from .experiment import Experiment, split
from .profiles import Profile
from .recommender import Outcome, Recommendation, Recommender, SignalSink
from .records import Event


class _Buffer:
    """A signal sink that keeps what it is told, to replay it in event order."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def observe(self, item_id, previous, ts, weight=1.0, *, source=None, arrived=None) -> None:
        self.seen.append((item_id, previous, ts, weight, source, arrived))


class ArmedRecommender:
    """The recommenders of an experiment's arms, built over whatever base recommender the worker has now."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self._base: Recommender | None = None
        self._arms: dict[str, Recommender] = {}

    def recommenders(self, base: Recommender) -> dict[str, Recommender]:
        """arm name → its recommender (rebuilt when the base changes: a new blend, a new adapter)."""
        if base is not self._base:
            arms = {}
            for arm in self.experiment.arms:
                ranker = base.ranker
                if arm.weights:
                    ranker = ranker.with_weights(arm.weights_over(ranker.options.weights))
                if arm.blend and ranker.scorer is not None:
                    ranker = ranker.with_scorer(None)
                arms[arm.name] = Recommender(ranker, base.encoder, f"{base.model_version}/arm:{arm.name}",
                                             clock=base.clock)
            self._base, self._arms = base, arms
        return self._arms

    def recommend(self, base: Recommender, profile: Profile, *args, **kwargs) -> Recommendation:
        """:meth:`Recommender.recommend` in the shopper's arm."""
        arm = self.experiment.arm_of(profile.user_id).name
        return replace(self.recommenders(base)[arm].recommend(profile, *args, **kwargs), arm=arm)

    def process(self, base: Recommender, events: Sequence[Event], profiles: Mapping[str, Profile], *,
                signals: SignalSink | None = None, arrived: float | None = None) -> list[Outcome]:
        """:meth:`Recommender.process` with each shopper's list from their arm, outcomes in event order."""
        arms = self.recommenders(base)
        sink = base.ranker.signals if signals is None else signals
        out: list[Outcome | None] = [None] * len(events)
        observed: list[tuple[int, tuple]] = []
        for arm, positions in split(events, [e.user_id for e in events], self.experiment).items():
            buffer = _Buffer()
            outcomes = arms[arm].process([events[p] for p in positions], profiles, signals=buffer, arrived=arrived)
            for p, outcome in zip(positions, outcomes):
                if outcome.recommendation is not None:
                    outcome.recommendation = replace(outcome.recommendation, arm=arm)
                out[p] = outcome
            observed += _placed(buffer.seen, [events[p] for p in positions], positions)
        for _, (item_id, previous, ts, weight, source, when) in sorted(observed, key=lambda o: o[0]):
            sink.observe(item_id, previous, ts, weight, source=source, arrived=when)
        return out  # type: ignore[return-value]


def _placed(seen: list[tuple], events: Sequence[Event], positions: Sequence[int]) -> list[tuple[int, tuple]]:
    """Each observation with the batch position of the event that made it (observations follow event order)."""
    placed, n = [], 0
    for observation in seen:
        item_id, source = observation[0], observation[4]
        while n < len(events) and not (events[n].item_id == item_id and (source is None or events[n].source == source)):
            n += 1
        placed.append((positions[min(n, len(events) - 1)], observation))
        n += 1
    return placed
