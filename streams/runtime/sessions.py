"""Guest sessions in the event agent: a login sends the session's profile to the user's partition, keyed by
the user, and that partition folds it in once (core/sessions.py).

The login is read on the session's partition (it is keyed by the session) after every earlier event of the
session, so the profile sent is the session's as this partition holds it; the merge message travels the
user's partition like any event of theirs, so it lands in order with them. A login gets no list and is not
folded into any profile itself.
"""
from __future__ import annotations

import base64
import json
import logging

from ..core.profiles import Profile
from ..core.records import LOGIN, SESSION_PREFIX
from ..core.sessions import merge_profiles
from .components import Components
from .deadletters import send_dead_letter
from .faust_compat import bind_event
from .headers import CONTROL, MERGE

log = logging.getLogger(__name__)


def runs(accepted: list) -> list[tuple[list, object | None]]:
    """(Faust event, Event) pairs cut at each login: (the pairs before it, the login pair), then the rest."""
    out, run = [], []
    for pair in accepted:
        if pair[1].type == LOGIN:
            out.append((run, pair))
            run = []
        else:
            run.append(pair)
    out.append((run, None))
    return out


def _profile(c: Components, key: str) -> Profile | None:
    hot = c.profile_cache.get(key)
    if hot is not None:
        return hot
    raw = c.profiles.get(key)
    return Profile.from_bytes(raw) if raw is not None else None


async def send_merge(c: Components, login) -> None:
    """Send the session's profile to the user's partition (a merge control message keyed by the user)."""
    fevent, event = login
    bind_event(fevent)  # the session's row is read on the session's partition
    session = _profile(c, SESSION_PREFIX + event.session_id)
    body = {"control": "merge", "user_id": event.user_id, "session_id": event.session_id, "merge_id": event.event_id,
            "profile": base64.b64encode(session.to_bytes()).decode() if session is not None else None}
    await c.topics.events.send(key=event.user_id.encode(), value=json.dumps(body).encode(), headers=[(CONTROL, MERGE)])


async def handle_merge(c: Components, fevent) -> None:
    """Fold a session's profile into the user's, once per login; a malformed message is dead-lettered."""
    message = fevent.message
    user_id = (message.key or b"").decode("utf-8", "replace").strip()
    try:
        body = json.loads(message.value)
        if not isinstance(body, dict) or body.get("user_id") != user_id or not user_id:
            raise ValueError("the user_id must be the key")
        merge_id = str(body["merge_id"])
        session = Profile.from_bytes(base64.b64decode(body["profile"])) if body.get("profile") else Profile(user_id)
    except Exception as exc:  # any malformed merge costs this message only
        await send_dead_letter(c, "events", message, "bad_control", f"a merge message: {type(exc).__name__}: {exc}"[:200])
        return
    bind_event(fevent)  # the user's row and its changelog partition are this user's
    user = _profile(c, user_id)
    user = user.copy() if user is not None else Profile(user_id)
    if merge_profiles(user, session, merge_id, half_life=c.recommender.ranker.options.half_life_seconds):
        c.profiles[user_id] = user.to_bytes()
        c.profile_cache.put(user_id, user)
        c.metrics.sessions_merged.inc()
        log.info("session %s merged into user %s (login %s)", body.get("session_id"), user_id, merge_id)
