"""Event agent: fold each micro-batch of shopper events into profiles and publish one explained list per event.

Historical events (`streamrec import` marks them with the ``streamrec-backfill`` header) take the same path in
the same order — profiles and signals learn from them — but publish no list. Control messages on the same
topic (``streamrec-control: forget``) remove a shopper (agents/forget.py).

Why a crash at any point neither loses nor doubles anything (docs/design/reliability.md): the batch runs inside
runtime/delivery.py's ``deliver``, so its offsets are committed only after the broker acknowledged every
record it produced (lists, deltas, dead letters, changelog rows); a failed send or a crash before that
redelivers the batch. Then
- each profile carries the events it applied (id and offset), so a redelivered event changes nothing,
  and its row is written again (in case its changelog record died with the crash);
- a redelivered event sends its signal deltas again (the first ones may have died too); they carry the
  event's (partition, offset), and an aggregator folds each offset once per item;
- a redelivered event gets its list again.
The wait is one per batch, after everything is handed over, never one per record.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace

from ...core.budgets import OverBudget, fit_profile, split_within
from ...core.privacy import forgotten_key
from ...core.profiles import Profile
from ...core.recommender import Outcome
from ...core.records import Event, parse_event
from ...core.signals import DeltaCollector, encode_deltas
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..delivery import SendFailed, deliver
from ..faust_compat import bind_event
from ..headers import BACKFILL, CONTROL, MERGE, header
from ..publish import publish_lists
from .. import attribution, sessions
from . import forget

log = logging.getLogger(__name__)


def register(c: Components) -> None:
    """Attach the event agent to the app (roles `all` and `ranker`)."""
    settings = c.settings

    @c.app.agent(c.topics.events, name="streamrec.events")
    async def events(stream):
        async for batch in stream.take_events(settings.event_batch_size, within=settings.event_batch_within):
            await deliver(c, "events", batch, handle_batch)


async def handle_batch(c: Components, batch) -> None:
    """Parse, update profiles, rank with one FAISS search, publish in event order. Never raises for one message.

    A control message splits the batch: what came before it is applied first, so the order per user holds.
    """
    started = time.monotonic()
    run: list = []
    for fevent in batch:
        kind = header(fevent.message, CONTROL)
        if kind is not None:
            await _handle_events(c, run, started)
            run = []
            await _control(c, fevent, kind)
        else:
            run.append(fevent)
    await _handle_events(c, run, started)


async def _control(c: Components, fevent, kind: str) -> None:
    """Apply a control message (a guest's merge at login, or a forget); when applying it fails, it goes to the
    dead letters with the reason."""
    try:
        await (sessions.handle_merge if kind == MERGE else forget.handle_control)(c, fevent)
    except SendFailed:
        raise  # the broker's failure, not the message's: the batch is read again
    except Exception as exc:
        log.exception("control message %s:%s@%s failed", fevent.message.topic, fevent.message.partition,
                      fevent.message.offset)
        await send_dead_letter(c, "events", fevent.message, "control_error", f"{type(exc).__name__}: {exc}"[:200])


async def _handle_events(c: Components, batch, started: float) -> None:
    if not batch:
        return
    arrived = time.time()
    accepted = attribution.count(c, await _parse(c, batch, arrived))  # impressions counted, not ranked
    for run, login in sessions.runs(accepted):  # a login sends its session's profile as it stands
        await _fold(c, run, started, arrived)
        if login is not None:
            await sessions.send_merge(c, login)


async def _fold(c: Components, accepted, started: float, arrived: float) -> None:
    if not accepted:
        return
    stored = _load_profiles(c, accepted)
    collector = DeltaCollector(c.state.signals.options)
    outcomes = await _rank(c, accepted, stored, collector, arrived)
    # a late redelivery to a forgotten shopper (a duplicate of a profile that holds no event): no row, no list
    gone = [o for o in outcomes if o.duplicate and o.profile.events == 0]
    if gone:
        c.metrics.duplicate_events.inc(len(gone))
        outcomes = [o for o in outcomes if not (o.duplicate and o.profile.events == 0)]
    if not outcomes:
        return
    # the last outcome of each user holds the profile to store; a profile that cannot be stored costs that
    # user's events of the batch (dead letters, no list), never the batch
    fevents = {id(event): fevent for fevent, event in accepted}
    final: dict[str, tuple[Outcome, object]] = {}
    for outcome in outcomes:
        final[outcome.profile.user_id] = (outcome, fevents[id(outcome.event)])
    rows: dict[str, bytes] = {}
    budget = c.settings.max_profile_bytes
    for user_id, (outcome, _) in final.items():
        try:
            rows[user_id] = fit_profile(outcome.profile, budget)
        except Exception as exc:
            log.exception("the profile of %r cannot be stored", user_id)
            reason = "too_large" if isinstance(exc, OverBudget) else "store_error"
            for lost in [o for o in outcomes if o.profile.user_id == user_id]:
                await send_dead_letter(c, "events", fevents[id(lost.event)].message, reason,
                                       f"{type(exc).__name__}: {exc}"[:200])
    if len(rows) < len(final):
        outcomes = [o for o in outcomes if o.profile.user_id in rows]
    # read your own writes: this worker's view counts its events at once; the aggregators' rows replace
    # them when they arrive (each delta counted once: rows carry the offsets they folded)
    c.state.signals.apply_own(collector.deltas)
    # one binary message per `signal-deltas` partition, each holding the deltas of the items it owns
    sender = c.deltas
    await sender.partitions()
    grouped = collector.by_partition(lambda item_id: sender.partition_of(item_id.encode()))
    budget = c.settings.max_delta_bytes
    await sender.send_to([(partition, None, value) for partition, deltas in grouped.items()
                          for value in split_within(deltas, encode_deltas, budget, "a delta")])
    updated_at = time.time()
    cache = c.profile_cache
    for user_id, raw in rows.items():
        outcome, fevent = final[user_id]
        bind_event(fevent)
        c.profiles[user_id] = raw
        cache.put(user_id, outcome.profile)
    metrics = c.metrics
    for outcome in outcomes:
        if outcome.duplicate:
            metrics.duplicate_events.inc()
        elif not outcome.event.backfill:
            metrics.profile_freshness_seconds.observe(max(0.0, updated_at - outcome.event.ts))
    # one list per event, in event order: one producer batch per partition
    await publish_lists(c, outcomes, [fevents[id(o.event)].message for o in outcomes], started)


async def _parse(c: Components, batch, arrived: float) -> list[tuple[object, Event]]:
    """(Faust event, parsed Event) of every usable message; the rest go to the dead letters with a reason."""
    types = c.settings.event_weights
    metrics = c.metrics
    accepted = []
    for fevent in batch:
        message = fevent.message
        try:
            # the future check reads this worker's own clock (arrived), never the producer's timestamp
            event = parse_event(message.key, message.value, now=message.timestamp or arrived, types=types,
                                wall_clock=arrived, max_future=c.settings.max_clock_skew)
        except InvalidMessage as exc:
            await send_dead_letter(c, "events", message, exc.reason, exc.detail)
            continue
        except Exception as exc:  # a parser bug must cost this message only, never its batch
            log.exception("event parser failed on %s:%s@%s", message.topic, message.partition, message.offset)
            await send_dead_letter(c, "events", message, "parser_error", f"{type(exc).__name__}: {exc}"[:200])
            continue
        backfill = header(message, BACKFILL) is not None
        if backfill:
            metrics.history_events_applied.labels(type=event.type).inc()
        else:
            metrics.events_consumed.labels(type=event.type).inc()
        accepted.append((fevent, replace(event, backfill=backfill, source=(message.partition, message.offset))))
    return accepted


def _load_profiles(c: Components, accepted) -> dict[str, Profile]:
    stored: dict[str, Profile] = {}
    ttl = c.settings.profile_ttl_days * 86_400.0  # measured between the shopper's own events (replays agree)
    cache = c.profile_cache
    for fevent, event in accepted:
        if event.user_id not in stored:
            hot = cache.get(event.user_id)
            if hot is not None and not (ttl and event.ts - hot.updated_at > ttl):
                stored[event.user_id] = hot
                continue
            bind_event(fevent)
            raw = c.profiles.get(event.user_id)
            if raw is None:  # a forgotten shopper starts afresh, but from where their events had reached
                raw = c.profiles.get(forgotten_key(event.user_id))
            if raw is not None:
                try:
                    profile = Profile.from_bytes(raw)
                except Exception:  # an unreadable row must not stop the stream: the user starts afresh
                    log.exception("unreadable profile of %r in the table; starting a new one", event.user_id)
                    continue
                expired = ttl and event.ts - profile.updated_at > ttl  # start afresh; duplicates still known
                stored[event.user_id] = profile if profile.user_id == event.user_id and not expired else \
                    Profile(event.user_id, offset_marks=profile.offset_marks)
    return stored


async def _rank(c: Components, accepted, stored: dict[str, Profile], collector: DeltaCollector,
                arrived: float) -> list[Outcome]:
    """Outcomes of the batch; if ranking the batch fails, each event alone, and only a failing one is dead-lettered."""
    events = [event for _, event in accepted]
    try:
        return attribution.process(c, events, stored, signals=collector, arrived=arrived)
    except Exception:
        log.exception("ranking a batch of %d events failed; ranking them one by one", len(events))
    collector.deltas.clear()
    outcomes: list[Outcome] = []
    profiles = dict(stored)
    for fevent, event in accepted:
        mark = len(collector.deltas)
        try:
            [outcome] = attribution.process(c, [event], profiles, signals=collector, arrived=arrived)
        except Exception as exc:
            del collector.deltas[mark:]
            log.exception("ranking event %s failed", event.event_id)
            await send_dead_letter(c, "events", fevent.message, "processing_error", f"{type(exc).__name__}: {exc}"[:200])
            continue
        profiles[event.user_id] = outcome.profile
        outcomes.append(outcome)
    return outcomes
