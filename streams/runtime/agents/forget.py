"""Forget a shopper: the control message that `DELETE /users/{id}` (or any producer) puts on `events`.

It travels the user's own partition, so it is applied after every earlier event of that user and before
any later one. Applying it removes the profile row (its vector, history, search texts and categories) from the
table — a tombstone on the changelog — and publishes a tombstone for the user's key on `recommendations`;
compaction then removes the older records of both (docs/guides/privacy.md). The item signals (popularity,
co-occurrence) are counts per item that name no shopper; `/items/{id}/signals` shows a pair only once enough
shoppers made it (STREAMREC_SIGNAL_MIN_PAIR_COUNT). Every forget applied writes an audit line.
"""
from __future__ import annotations

import json

from ...core.privacy import forgotten_key
from ...core.profiles import Profile
from ...core.records import SESSION_PREFIX
from ..audit import audit
from ..components import Components
from ..deadletters import send_dead_letter
from ..delivery import track, when_delivered
from ..faust_compat import bind_event
from ..headers import CONTROL, FORGET, header


def forget_message(user_id: str, request_id: str | None = None, *,
                   session: bool = False) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the control message that forgets ``user_id`` (``session``: a guest's session id)."""
    value = {"control": "forget", "session_id" if session else "user_id": user_id}
    if request_id:
        value["request_id"] = request_id
    return user_id.encode(), json.dumps(value).encode(), [(CONTROL, FORGET)]


async def handle_control(c: Components, fevent) -> None:
    """Apply one control message (only ``forget`` exists); anything else is dead-lettered."""
    message = fevent.message
    kind = header(message, CONTROL)
    try:
        body = json.loads(message.value) if message.value else {}
    except ValueError:
        body = None
    key = (message.key or b"").decode("utf-8", "replace").strip()
    named = body.get("session_id", body.get("user_id", key)) if isinstance(body, dict) else None
    if kind != FORGET or not isinstance(body, dict) or not key or named != key:
        await send_dead_letter(c, "events", message, "bad_control",
                               "a control message needs header streamrec-control: forget, the user_id (a guest's "
                               "session_id) as key and a JSON object whose user_id or session_id (if any) is the key")
        return
    user_id = SESSION_PREFIX + key if "session_id" in body else key  # a guest's profile is their session's
    bind_event(fevent)  # the table row and its changelog partition are this user's
    raw = c.profiles.get(user_id)
    existed = raw is not None
    c.profile_cache.discard(user_id)
    if existed:
        del c.profiles[user_id]
    # the marker (no name, no history): events read up to here are duplicates if they ever come again
    marker = forgotten_key(user_id)
    marks = _marks(raw) | _marks(c.profiles.get(marker))
    marks[message.partition] = max(message.offset, marks.get(message.partition, -1))
    c.profiles[marker] = Profile(marker, offset_marks=marks).to_bytes()
    track(c.settings.topic_recommendations, await c.topics.recommendations.send(key=user_id.encode(), value=None))
    c.metrics.users_forgotten.inc()
    audit("forget_applied", user_id=user_id, profile_removed=existed, recommendations_tombstoned=True,
          request_id=body.get("request_id"), partition=message.partition, offset=message.offset)
    waiter = c.forget_waiters.pop(str(body.get("request_id")), None)
    if waiter is not None:  # DELETE /users/{id} answers once the tombstones are acknowledged
        when_delivered(lambda: waiter.done() or waiter.set_result(existed))


def _marks(raw: bytes | None) -> dict[int, int]:
    if raw is None:
        return {}
    try:
        return Profile.from_bytes(raw).offset_marks
    except Exception:  # an unreadable row: nothing to keep from it
        return {}
