"""Event agent: fold each micro-batch of shopper events into profiles and publish one explained list per event.

Historical events (`streamrec import` marks them with the ``streamrec-backfill`` header) take the same path in
the same order — profiles and signals learn from them — but publish no list. Control messages on the same
topic (``streamrec-control: forget``) remove a shopper (runtime/forget.py).
"""
from __future__ import annotations

import json
import time
from dataclasses import replace

from ...core.profiles import Profile
from ...core.records import parse_event
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..faust_compat import bind_event
from ..headers import BACKFILL, CONTROL, header
from . import forget


def register(c: Components) -> None:
    """Attach the event agent to the app (roles `all` and `ranker`)."""
    settings = c.settings

    @c.app.agent(c.topics.events, name="streamrec.events")
    async def events(stream):
        async for batch in stream.take_events(settings.event_batch_size, within=settings.event_batch_within):
            await handle_batch(c, stream, batch)


async def handle_batch(c: Components, stream, batch) -> None:
    """Parse, update profiles, rank with one FAISS search, publish in event order.

    A control message splits the batch: what came before it is applied first, so the order per user holds.
    """
    started = time.monotonic()
    run: list = []
    for fevent in batch:
        if header(fevent.message, CONTROL) is not None:
            await _handle_events(c, stream, run, started)
            run = []
            await forget.handle_control(c, stream, fevent)
        else:
            run.append(fevent)
    await _handle_events(c, stream, run, started)


async def _handle_events(c: Components, stream, batch, started: float) -> None:
    if not batch:
        return
    now = time.time()
    types = c.settings.event_weights
    metrics = c.metrics
    accepted = []  # (faust event, parsed Event)
    for fevent in batch:
        message = fevent.message
        try:
            event = parse_event(message.key, message.value, now=message.timestamp or now, types=types)
        except InvalidMessage as exc:
            await send_dead_letter(c, "events", message, exc.reason, exc.detail)
            continue
        if header(message, BACKFILL) is not None:
            event = replace(event, backfill=True)
            metrics.history_events_applied.labels(type=event.type).inc()
        else:
            metrics.events_consumed.labels(type=event.type).inc()
        accepted.append((fevent, event))
    if not accepted:
        return

    stored: dict[str, Profile] = {}
    for fevent, event in accepted:
        if event.user_id not in stored:
            bind_event(stream, fevent)
            raw = c.profiles.get(event.user_id)
            if raw is not None:
                stored[event.user_id] = Profile.from_bytes(raw)

    outcomes = c.recommender.process([e for _, e in accepted], stored)

    last_event = {event.user_id: fevent for fevent, event in accepted}
    final = {o.profile.user_id: o.profile for o in outcomes}
    updated_at = time.time()
    for user_id, profile in final.items():
        bind_event(stream, last_event[user_id])
        c.profiles[user_id] = profile.to_bytes()
    for outcome in outcomes:
        if not outcome.event.backfill:
            metrics.profile_freshness_seconds.observe(max(0.0, updated_at - outcome.event.ts))

    for (fevent, _), outcome in zip(accepted, outcomes):
        rec = outcome.recommendation
        if rec is None:  # a historical event: state only
            continue
        value = json.dumps(rec.to_message(), separators=(",", ":")).encode()
        # send() only queues the record; the producer batches and delivers in order per key
        await c.topics.recommendations.send(key=rec.user_id.encode(), value=value)
        metrics.recommendations_published.inc()
        metrics.explanations_checked.inc()
        if outcome.violations:
            metrics.explanation_violations.inc()
        if rec.cold_start:
            metrics.cold_start_lists.inc()
        metrics.event_to_recommendation_seconds.observe(seconds_since_arrival(fevent.message, started))


def seconds_since_arrival(message, batch_started: float) -> float:
    """Seconds since the consumer handed ``message`` to the worker, so the micro-batch wait counts.

    Faust's monitor stamps ``Message.time_in`` (monotonic) as the consumer delivers the message; without
    that stamp the batch's start is the best bound left.
    """
    arrived = getattr(message, "time_in", None)
    return max(0.0, time.monotonic() - (arrived if arrived else batch_started))
