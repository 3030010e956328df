"""Events from outside Kafka (HTTP, files) and the shop's own event types: what is accepted, with what weight."""
from __future__ import annotations

import json

import pytest

from streams.core.ingest import BatchError, parse_event_batch, wire_event
from streams.core.records import parse_event
from streams.errors import InvalidMessage

SHOP_TYPES = {"view": 1.0, "wishlist": 3.0, "purchase": 8.0, "search": 2.0}


def test_a_configured_type_carries_its_weight_and_an_unknown_one_names_the_configured_ones():
    e = parse_event(b"u", json.dumps({"user_id": "u", "type": "wishlist", "item_id": "p1"}).encode(), types=SHOP_TYPES)
    assert e.type == "wishlist" and e.weight == 3.0
    with pytest.raises(InvalidMessage) as err:
        parse_event(b"u", json.dumps({"user_id": "u", "type": "click", "item_id": "p1"}).encode(), types=SHOP_TYPES)
    assert err.value.reason == "bad_type" and err.value.detail == "type must be one of view, wishlist, purchase, search, got 'click'"


def test_wire_event_fills_a_stable_id_and_the_time():
    data = {"user_id": "u", "type": "view", "item_id": "p1"}
    a = wire_event(data, default_ts=100.0)
    b = wire_event(dict(data), default_ts=100.0)
    assert a.event.event_id == b.event.event_id != wire_event(dict(data), default_ts=101.0).event.event_id
    assert json.loads(a.value) == {**data, "ts": 100.0, "event_id": a.event.event_id} and a.key == b"u"
    assert wire_event({**data, "event_id": "mine"}, default_ts=1.0).event.event_id == "mine"
    with pytest.raises(InvalidMessage, match="missing_ts"):
        wire_event(data, require_ts=True)


def test_a_batch_is_one_event_or_a_list_and_is_all_or_nothing():
    one = parse_event_batch(b'{"user_id": "u", "type": "view", "item_id": "p1"}', now=5.0)
    assert [w.event.ts for w in one] == [5.0]
    many = parse_event_batch(json.dumps([{"user_id": "u", "type": "view", "item_id": "p1", "event_id": "e1"},
                                         {"user_id": "v", "type": "search", "query": "tent"}]).encode(), now=5.0)
    assert [w.event.user_id for w in many] == ["u", "v"] and many[0].event.event_id == "e1"
    with pytest.raises(BatchError) as err:
        parse_event_batch(json.dumps([{"user_id": "u", "type": "view", "item_id": "p1"}, {"type": "view"},
                                      {"user_id": "w", "type": "teleport", "item_id": "x"}, 7]).encode(), now=5.0)
    assert err.value.message == "3 of 4 events are invalid; none was published"
    assert [(r["index"], r["reason"]) for r in err.value.rejected] == [(1, "missing_user_id"), (2, "bad_type"), (3, "not_an_object")]
    for body, message in [(b"{oops", "the body is not JSON"), (b"[]", "no events"), (b"[1,", "the body is not JSON")]:
        with pytest.raises(BatchError, match=message):
            parse_event_batch(body, now=0.0)
