"""A guest's session folded into their account at login, exactly once.

A guest's events carry ``session_id`` without ``user_id``: their profile is keyed ``session:<session_id>`` and
lives on the session's partition. A ``login`` (both ids, keyed by the session) makes that partition send the
session's profile, as it holds it, in a merge message keyed by the user; the user's partition folds it into
the user's profile once per login event id (the profile keeps the ids it applied), so a redelivered login or
merge message changes nothing. No worker ever reads another partition's state.
"""
from __future__ import annotations

import numpy as np

from .decay import decay_factor
from .profiles import APPLIED_LIMIT, HISTORY_LIMIT, Profile


def merge_profiles(user: Profile, session: Profile, merge_id: str, *, half_life: float) -> bool:
    """Fold ``session`` into ``user`` in place, once per ``merge_id``; True when it was folded now."""
    if merge_id in user.applied_ids:
        return False
    if session.events:
        now = max(user.updated_at, session.updated_at)
        own = decay_factor(now - user.updated_at, half_life) if user.events else 1.0
        theirs = decay_factor(now - session.updated_at, half_life)
        if session.vector is not None:
            base = user.vector * np.float32(own) if user.vector is not None else np.zeros_like(session.vector)
            user.vector = base + session.vector * np.float32(theirs)
        elif user.vector is not None:
            user.vector = user.vector * np.float32(own)
        categories = {c: w * own for c, w in user.categories.items()}
        for c, w in session.categories.items():
            categories[c] = categories.get(c, 0.0) + w * theirs
        user.categories = {c: w for c, w in categories.items() if w > 1e-4}
        user.updated_at = now
        user.events += session.events
        user.history = sorted(user.history + session.history, key=lambda t: t.ts)[-HISTORY_LIMIT:]
        live = {t.query for t in user.history if t.query}
        user.query_vectors = {q: v for q, v in {**user.query_vectors, **session.query_vectors}.items() if q in live}
        for item_id in session.seen_ids:
            user.see(item_id, None)
    user.applied_ids[merge_id] = None
    if len(user.applied_ids) > APPLIED_LIMIT:
        del user.applied_ids[next(iter(user.applied_ids))]
    return True
