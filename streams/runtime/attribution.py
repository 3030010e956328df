"""Attribution and experiments in the worker: impressions and list-citing events counted per arm, and every
list ranked in its shopper's arm (core/experiment.py, core/arms.py).

An ``impression`` event (a page showed a list: ``from_list`` = its ``list_id``) is counted and goes no further:
it changes no profile and gets no list. Any other event citing a list is counted by type and then handled as
usual. ``streamrec report`` reads the counters of every worker and gives each arm's click-through.
"""
from __future__ import annotations

from ..core.arms import ArmedRecommender
from ..core.experiment import Experiment
from ..core.records import IMPRESSION
from ..settings import Settings
from .components import Components

#: the arm label of shoppers when no experiment runs
NO_ARM = "none"


def load(settings: Settings) -> ArmedRecommender | None:
    """The experiment STREAMREC_EXPERIMENT names (ImproperlyConfigured when malformed), or None."""
    if settings.experiment is None:
        return None
    return ArmedRecommender(Experiment.from_file(settings.experiment))


def arm_name(c: Components, user_id: str) -> str:
    return c.experiment.experiment.arm_of(user_id).name if c.experiment is not None else NO_ARM


def count(c: Components, accepted: list) -> list:
    """Count impressions and list-citing events of (Faust event, Event) pairs; the pairs without impressions."""
    kept = []
    for pair in accepted:
        event = pair[1]
        if event.type == IMPRESSION:
            c.metrics.list_impressions.labels(arm=arm_name(c, event.user_id)).inc()
            continue
        if event.from_list is not None:
            c.metrics.list_interactions.labels(arm=arm_name(c, event.user_id), type=event.type).inc()
        kept.append(pair)
    return kept


def process(c: Components, events, profiles, **kwargs):
    """The batch's outcomes, each list from its shopper's arm."""
    if c.experiment is None:
        return c.recommender.process(events, profiles, **kwargs)
    return c.experiment.process(c.recommender, events, profiles, **kwargs)


def recommend(c: Components, profile, *args, **kwargs):
    """One shopper's list now (the HTTP view), in their arm."""
    if c.experiment is None:
        return c.recommender.recommend(profile, *args, **kwargs)
    return c.experiment.recommend(c.recommender, profile, *args, **kwargs)
