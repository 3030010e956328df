"""Guests: events keyed by their session, and a login that folds the session into the account exactly once."""
import numpy as np
import pytest

from streams.core.ingest import wire_event
from streams.core.profiles import Profile, apply_event
from streams.core.records import Event, InvalidMessage, event_from_object, parse_event
from streams.core.sessions import merge_profiles

DAY = 86400.0


def test_a_guest_event_is_keyed_by_its_session_and_a_login_names_both():
    guest = event_from_object({"session_id": "s1", "type": "view", "item_id": "p1", "ts": 1.0})
    assert (guest.user_id, guest.session_id, guest.key) == ("session:s1", "s1", "s1")
    assert wire_event({"session_id": "s1", "type": "view", "item_id": "p1", "ts": 1.0}).key == b"s1"
    login = event_from_object({"user_id": "ana", "session_id": "s1", "type": "login", "ts": 2.0})
    assert (login.user_id, login.key, login.item_id) == ("ana", "s1", None)
    signed_in = event_from_object({"user_id": "ana", "session_id": "s1", "type": "view", "item_id": "p1", "ts": 3.0})
    assert signed_in.key == "ana", "a signed-in shopper's events stay theirs"
    with pytest.raises(InvalidMessage, match="key must be its session_id 's1'"):
        parse_event(b"ana", b'{"session_id": "s1", "type": "view", "item_id": "p1", "ts": 1}')
    for bad, reason in [({"type": "view", "item_id": "p1"}, "missing_user_id"),
                        ({"session_id": "s1", "type": "login"}, "bad_login"),
                        ({"user_id": "ana", "type": "login"}, "bad_login")]:
        with pytest.raises(InvalidMessage) as err:
            event_from_object(bad)
        assert err.value.reason == reason


def profile_of(key, *touches):
    p = Profile(key)
    for n, (item, vector, ts) in enumerate(touches):
        apply_event(p, Event(f"{key}-{n}", key, "view", ts, item), np.asarray(vector, dtype=np.float32),
                    category="Tents", half_life=DAY)
    return p


def test_the_session_folds_into_the_user_once():
    user = profile_of("ana", ("p1", [1, 0, 0], 10.0))
    session = profile_of("session:s1", ("p2", [0, 1, 0], 20.0), ("p3", [0, 0, 1], 30.0))
    assert merge_profiles(user, session, "login-1", half_life=DAY)
    assert [t.item_id for t in user.history] == ["p1", "p2", "p3"] and list(user.seen_ids) == ["p1", "p2", "p3"]
    assert user.events == 3 and user.updated_at == 30.0 and user.user_id == "ana"
    assert np.all(user.vector > 0.9), "every touch of both is in the vector"
    before = user.to_bytes()
    assert not merge_profiles(user, session, "login-1", half_life=DAY), "the same login twice folds once"
    assert user.to_bytes() == before
    fresh = Profile("bo")
    assert merge_profiles(fresh, session, "login-2", half_life=DAY) and fresh.events == 2
