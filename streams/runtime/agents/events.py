"""Event agent: fold each micro-batch of shopper events into profiles and publish one explained list per event."""
from __future__ import annotations

import time

from ...core.profiles import Profile
from ...core.records import parse_event
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..faust_compat import bind_event
from ..publish import publish_lists


def register(c: Components) -> None:
    """Attach the event agent to the app (roles `all` and `ranker`)."""
    settings = c.settings

    @c.app.agent(c.topics.events, name="streamrec.events")
    async def events(stream):
        async for batch in stream.take_events(settings.event_batch_size, within=settings.event_batch_within):
            await handle_batch(c, stream, batch)


async def handle_batch(c: Components, stream, batch) -> None:
    """Parse, update profiles, rank with one FAISS search, publish in event order."""
    arrived = time.time()
    metrics = c.metrics
    accepted = []  # (faust event, parsed Event)
    for fevent in batch:
        message = fevent.message
        try:
            event = parse_event(message.key, message.value, now=message.timestamp or arrived)
        except InvalidMessage as exc:
            await send_dead_letter(c, "events", message, exc.reason, exc.detail)
            continue
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
        metrics.profile_freshness_seconds.observe(max(0.0, updated_at - outcome.event.ts))

    await publish_lists(c, outcomes, arrived)  # one producer batch per partition, in event order
