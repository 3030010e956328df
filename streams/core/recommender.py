"""The pure core the agents, the web view and `streamrec eval` all call: events in, explained lists out."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np

from encoders.base import Encoder

from .explain import explain, integrity_violations
from .profiles import Profile, apply_event
from .ranking import ListFilter, Ranker, ScoredItem
from .ranking.basis import capture
from .ranking.candidates import DEFAULT_FILTER
from .records import Event
from .rules import Rules

SCHEMA_VERSION = 1
#: the deepest a page may reach into one list (offset + k)
MAX_DEPTH = 1000
#: a list served over HTTP is ranked this deep (a multiple of it beyond), then cut into the page asked for, so
#: the pages of one list (and the shop's rules, which may lift an item from below a page) agree with each other
PAGE_DEPTH = 100


def list_id(*parts: object) -> str:
    """A list's id from what makes it that list (its owner, its trigger or time, its page): ``l-`` + 20 hex."""
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=10)
    return "l-" + digest.hexdigest()


@dataclass(frozen=True)
class Recommendation:
    """One published list: the items for a user right after ``trigger_event_id``."""

    user_id: str
    trigger_event_id: str | None
    generated_at: float
    items: tuple[ScoredItem, ...]
    explanations: tuple[str, ...]
    titles: tuple[str, ...]
    cold_start: bool
    model_version: str
    offset: int = 0  # items of the whole list before this page (the first item's rank is offset + 1)
    arm: str | None = None  # the experiment arm the list was ranked in (core/arms.py)

    @property
    def list_id(self) -> str:
        """The list's id, for events to cite (``from_list``): the same list (redelivered) has the same id."""
        return list_id(self.user_id, self.trigger_event_id, repr(self.generated_at), self.offset)

    def to_message(self) -> dict[str, Any]:
        """The `recommendations` topic's JSON value (the wire contract)."""
        message = {
            "schema_version": SCHEMA_VERSION,
            "list_id": self.list_id,
            "user_id": self.user_id,
            "trigger_event_id": self.trigger_event_id,
            "generated_at": self.generated_at,
            "model_version": self.model_version,
            "cold_start": self.cold_start,
            "items": [
                {
                    "item_id": item.item_id,
                    "rank": rank,
                    "score": round(item.score, 6),
                    "title": title,
                    "reasons": list(item.reasons),  # each Reason is its wire form
                    "explanation": text,
                }
                for rank, (item, text, title) in enumerate(zip(self.items, self.explanations, self.titles), start=self.offset + 1)
            ],
        }
        if self.arm is not None:
            message["arm"] = self.arm
        return message

    @property
    def item_ids(self) -> list[str]:
        """The recommended ids, best first."""
        return [i.item_id for i in self.items]


@dataclass
class Outcome:
    """What one accepted event produced: the user's profile after it and the list to publish (None for history).

    A duplicate (an event id the profile already applied: a redelivery or a producer's retry) changes
    neither the profile nor the signals; it still gets a list, computed from the profile as it stands, so a
    crash between storing a profile and publishing its list never costs the shopper that list.
    """

    event: Event
    profile: Profile
    recommendation: Recommendation | None
    violations: set[str] = field(default_factory=set)
    duplicate: bool = False


class SignalSink(Protocol):
    """Where an event's signal update goes: the view itself (one process) or a delta collector (a worker)."""

    def observe(self, item_id: str, previous: Sequence[str], ts: float, weight: float = 1.0, *,
                source: tuple[int, int] | None = None, arrived: float | None = None) -> None:
        """Learn one interaction with ``item_id``; ``previous`` are the user's earlier items, most recent first."""


class Recommender:
    """Applies micro-batches of events to profiles and ranks the batch's lists at once."""

    def __init__(self, ranker: Ranker, encoder: Encoder | None, model_version: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.ranker = ranker
        self.encoder = encoder
        self.model_version = model_version
        self.clock = clock

    def process(self, events: Sequence[Event], profiles: Mapping[str, Profile], *,
                signals: SignalSink | None = None, arrived: float | None = None) -> list[Outcome]:
        """Fold events into profiles in order and rank every list of the batch at once.

        ``profiles`` holds the users' current profiles (missing = new user) and is not modified; each
        Outcome carries the profile as it stands after the batch, so the last Outcome of a user is the one
        to store. Each list is ranked on its own user's events up to and including its event, and on the
        shop-wide signals as they stood when the batch began; ``signals`` (default: the ranker's own view,
        learning in place) receives every event's interaction, in order, after the lists are ranked — so a
        list never reflects a later event, and batching changes no list. ``arrived`` is when the batch
        reached the worker.
        """
        sink = self.ranker.signals if signals is None else signals
        if not events:
            return []
        ranker = self.ranker
        half_life = ranker.options.half_life_seconds
        query_vectors = self._encode_queries(events)
        ids, vectors, catalogue = ranker.ids, ranker.vectors, ranker.catalogue
        current: dict[str, Profile] = {}
        snaps = []
        # per event: the user's recent items before it (its signal deltas' window), and whether it is new
        observations: list[tuple[list[str] | None, bool]] = []
        for event in events:
            profile = current.get(event.user_id)
            if profile is None:
                stored = profiles.get(event.user_id)
                profile = current[event.user_id] = stored.copy() if stored is not None else Profile(event.user_id)
            applied = profile.applied_entry(event.event_id, event.source)
            if applied is not None:  # a duplicate: the profile does not change
                observations.append((self._redelivered_window(profile, event, applied.source), False))
            else:
                previous = ranker.recent_items(profile) if event.item_id else []
                dense = None
                if event.query is not None:
                    vector, category = query_vectors.get(event.query), ""
                else:
                    dense = ids.ensure(event.item_id)
                    vector = vectors.of(np.array([dense]))[0] if vectors.has(np.array([dense]))[0] else None
                    category = catalogue.category(event.item_id)
                apply_event(profile, event, vector, category=category, half_life=half_life, dense=dense)
                observations.append((previous, True))
            # history (backfill) events get no list
            snaps.append(None if event.backfill else capture(profile, ids, ranker.options.exclude_seen, ranker.options))
        lists = iter(ranker.rank_batch(ranker.snapshots([s for s in snaps if s is not None])))
        outcomes = []
        # shop-wide signals only for catalogue items (a flood of unknown ids makes no rows anywhere); a shop
        # without a catalogue yet counts every item
        known = catalogue if len(catalogue) else None
        for event, snap, (previous, new) in zip(events, snaps, observations):
            # Deltas go out in event order: an aggregator folds each source offset once, in order.
            if event.item_id is not None and previous is not None and (known is None or event.item_id in known):
                if known is not None and previous:
                    previous = [item for item in previous if item in known]
                sink.observe(event.item_id, previous, event.ts, source=event.source, arrived=arrived)
            profile = current[event.user_id]
            if snap is None:
                outcome = Outcome(event=event, profile=profile, recommendation=None)
            else:
                outcome = self._outcome(event, profile, next(lists))
            outcome.duplicate = not new
            outcomes.append(outcome)
        return outcomes

    def _redelivered_window(self, profile: Profile, event: Event, source: tuple[int, int] | None) -> list[str] | None:
        """For a redelivery (the same message read again after a crash), the window its first deltas had.

        Its first deltas may have died with the crash, so they are sent again; they carry the same source
        tag, so an aggregator that folded them folds them once. A producer's retry (the same event id at
        another offset) sends nothing.
        """
        if event.item_id is None or event.source is None or source != event.source:
            return None
        before = profile.history_before(event.event_id)
        return None if before is None else self.ranker.recent_items(before)

    def recommend(self, profile: Profile, k: int | None = None, list_filter: ListFilter | None = None, *,
                  offset: int = 0, rules: Rules | None = None) -> Recommendation:
        """The ``k`` best items (default: the ranking options' k) after the first ``offset``, for one profile as
        it stands, with the shop's ``rules`` applied (the HTTP view)."""
        ranker = self.ranker
        k = ranker.options.k if k is None else k
        list_filter = list_filter or DEFAULT_FILTER
        depth = -(-(offset + k) // PAGE_DEPTH) * PAGE_DEPTH
        items = ranker.rank_batch([ranker.snapshot(profile)], depth, list_filter)[0]
        if rules:
            items = rules.apply(items, ranker.catalogue, list_filter)
        recommendation = self._outcome(None, profile, items[offset:offset + k]).recommendation
        return replace(recommendation, offset=offset) if offset else recommendation

    def with_ranker(self, ranker: Ranker) -> "Recommender":
        """The same recommender ranking with another ranker (e.g. a newly fitted blend)."""
        return Recommender(ranker, self.encoder, self.model_version, clock=self.clock)

    # ---- internals --------------------------------------------------------------------------
    def _encode_queries(self, events: Sequence[Event]) -> dict[str, np.ndarray]:
        queries = list(dict.fromkeys(e.query for e in events if e.query is not None))
        if not queries or self.encoder is None:
            return {}
        return dict(zip(queries, self.encoder.encode(queries)))

    def _outcome(self, event: Event | None, profile: Profile, items: list[ScoredItem]) -> Outcome:
        catalogue = self.ranker.catalogue
        explanations = tuple(explain(item.reasons) for item in items)
        violations = integrity_violations([r for item in items for r in item.reasons], profile)
        recommendation = Recommendation(
            user_id=profile.user_id,
            trigger_event_id=None if event is None else event.event_id,
            generated_at=self.clock(),
            items=tuple(items),
            explanations=explanations,
            titles=tuple(catalogue.title(i.item_id) for i in items),
            cold_start=profile.is_cold,
            model_version=self.model_version,
        )
        return Outcome(event=event, profile=profile, recommendation=recommendation, violations=violations)
