"""The pure core the agents, the web view and `streamrec eval` all call: events in, explained lists out."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np

from encoders.base import Encoder

from .explain import explain, integrity_violations
from .profiles import Profile, apply_event
from .ranking import ListFilter, Ranker, ScoredItem
from .records import Event

SCHEMA_VERSION = 1


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

    def to_message(self) -> dict[str, Any]:
        """The `recommendations` topic's JSON value (the wire contract)."""
        return {
            "schema_version": SCHEMA_VERSION,
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
                    "reasons": [r.to_dict() for r in item.reasons],
                    "explanation": text,
                }
                for rank, (item, text, title) in enumerate(zip(self.items, self.explanations, self.titles), start=1)
            ],
        }

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

    def observe(self, item_id: str, previous: Sequence[str], ts: float, *, source: tuple[int, int] | None = None,
                arrived: float | None = None) -> None:
        """Learn one interaction with ``item_id``; ``previous`` are the user's earlier items, most recent first."""


class Recommender:
    """Applies micro-batches of events to profiles and ranks each intermediate profile."""

    def __init__(self, ranker: Ranker, encoder: Encoder | None, model_version: str, *, clock: Callable[[], float] = time.time,
                 observe_search: Callable[[float], None] | None = None) -> None:
        self.ranker = ranker
        self.encoder = encoder
        self.model_version = model_version
        self.clock = clock
        self.observe_search = observe_search  # called with the seconds of each batched index search

    def process(self, events: Sequence[Event], profiles: Mapping[str, Profile], *,
                signals: SignalSink | None = None, arrived: float | None = None) -> list[Outcome]:
        """Fold events into profiles in order and rank after each one, with one batched FAISS search.

        ``profiles`` holds the users' current profiles (missing = new user) and is not modified; each
        Outcome carries the profile right after its event, so the last Outcome of a user is the one to store.
        ``signals`` receives each new event's interaction just before its list is ranked (default: the
        ranker's own view, learning in place); ``arrived`` is when the batch reached the worker.
        """
        sink = self.ranker.signals if signals is None else signals
        if not events:
            return []
        ranker = self.ranker
        half_life = ranker.options.half_life_seconds
        query_vectors = self._encode_queries(events)
        item_vectors = self._item_vectors(events)
        current: dict[str, Profile] = {}
        intermediates: list[Profile] = []
        # per event: the user's recent items before it (its signal deltas' window), and whether it is new
        observations: list[tuple[list[str] | None, bool]] = []
        for event in events:
            profile = current.get(event.user_id)
            if profile is None:
                stored = profiles.get(event.user_id)
                profile = stored.copy() if stored is not None else Profile(event.user_id)
                current[event.user_id] = profile
            applied = profile.applied_entry(event.event_id)
            if applied is not None:  # a duplicate: the profile does not change
                intermediates.append(profile.copy())
                observations.append((self._redelivered_window(profile, event, applied.source), False))
                continue
            previous = ranker.recent_items(profile) if event.item_id else []
            if event.query is not None:
                vector = query_vectors.get(event.query)
                category = ""
            else:
                vector = item_vectors.get(event.item_id)
                category = ranker.catalogue.category(event.item_id)
            apply_event(profile, event, vector, category=category, half_life=half_life)
            current[event.user_id] = profile
            intermediates.append(profile.copy())
            observations.append((previous, True))
        # content search does not depend on the shared signals; history (backfill) events get no list
        hits = iter(self._search([p for e, p in zip(events, intermediates) if not e.backfill]))
        outcomes = []
        for event, profile, (previous, new) in zip(events, intermediates, observations):
            # Signals learn from each event just before its own list is ranked, never from later ones,
            # so a list reflects its event and nothing after it (same as a one-event-at-a-time replay).
            # Deltas go out in event order: an aggregator folds each source offset once, in order.
            if event.item_id is not None and previous is not None:
                sink.observe(event.item_id, previous, event.ts, source=event.source, arrived=arrived)
            if event.backfill:
                outcome = Outcome(event=event, profile=profile, recommendation=None)
            else:
                outcome = self._outcome(event, profile, next(hits))
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

    def recommend(self, profile: Profile, k: int | None = None, list_filter: ListFilter | None = None) -> Recommendation:
        """The ``k`` best items (default: the ranking options' k) for one profile as it stands (the HTTP view)."""
        hits = self._search([profile])[0]
        return self._outcome(None, profile, hits, k, list_filter).recommendation

    def with_ranker(self, ranker: Ranker) -> "Recommender":
        """The same recommender ranking with another ranker (e.g. a newly fitted blend)."""
        return Recommender(ranker, self.encoder, self.model_version, clock=self.clock,
                           observe_search=self.observe_search)

    # ---- internals --------------------------------------------------------------------------
    def _encode_queries(self, events: Sequence[Event]) -> dict[str, np.ndarray]:
        queries = list(dict.fromkeys(e.query for e in events if e.query is not None))
        if not queries or self.encoder is None:
            return {}
        return dict(zip(queries, self.encoder.encode(queries)))

    def _item_vectors(self, events: Sequence[Event]) -> dict[str, np.ndarray]:
        index = self.ranker.index
        ids = list(dict.fromkeys(e.item_id for e in events if e.item_id is not None and e.item_id in index))
        return dict(zip(ids, index.vectors(ids))) if ids else {}

    def _search(self, profiles: Sequence[Profile]) -> list[list[str]]:
        """The ids of each profile's FAISS hits, from one search for the batch."""
        rows = [(i, p.query_vector()) for i, p in enumerate(profiles)]
        rows = [(i, q) for i, q in rows if q is not None]
        hits: list[list[str]] = [[] for _ in profiles]
        if rows and len(self.ranker.index):
            opts = self.ranker.options
            # each profile asks for enough hits to keep content_candidates after dropping what it has
            # seen (at most 500 more): its own count, so a list never depends on who shared its batch
            limits = [opts.content_candidates + (min(len(profiles[i].seen), 500) if opts.exclude_seen else 0)
                      for i, _ in rows]
            started = time.perf_counter()
            found = self.ranker.index.search_rows(np.stack([q for _, q in rows]), limits)
            if self.observe_search is not None:
                self.observe_search(time.perf_counter() - started)
            for (i, _), (row_ids, _) in zip(rows, found):
                hits[i] = row_ids
        return hits

    def _outcome(self, event: Event | None, profile: Profile, hit_ids: list[str], k: int | None = None,
                 list_filter: ListFilter | None = None) -> Outcome:
        ranker = self.ranker
        items = ranker.rank_ids(profile, hit_ids, k) if list_filter is None else \
            ranker.rank_ids(profile, hit_ids, k, list_filter)
        explanations = tuple(explain(item.reasons) for item in items)
        violations: set[str] = set()
        for item in items:
            violations |= integrity_violations(item.reasons, profile)
        recommendation = Recommendation(
            user_id=profile.user_id,
            trigger_event_id=None if event is None else event.event_id,
            generated_at=self.clock(),
            items=tuple(items),
            explanations=explanations,
            titles=tuple(ranker.catalogue.title(i.item_id) for i in items),
            cold_start=profile.is_cold,
            model_version=self.model_version,
        )
        return Outcome(event=event, profile=profile, recommendation=recommendation, violations=violations)
