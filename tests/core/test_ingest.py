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
    # the id never holds the arrival time: the same body resent later is the same event
    assert a.event.event_id == b.event.event_id == wire_event(dict(data), default_ts=101.0).event.event_id
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


def test_a_resent_body_without_ids_or_times_gets_the_same_ids_whenever_it_arrives():
    body = json.dumps([{"user_id": "ana", "type": "view", "item_id": "p1"},
                       {"user_id": "ana", "type": "search", "query": "tent"}]).encode()
    first = parse_event_batch(body, now=1_700_000_000.0)
    again = parse_event_batch(body, now=1_700_000_600.0)  # the client retried ten minutes later
    assert [w.event.event_id for w in first] == [w.event.event_id for w in again]
    assert [w.event.ts for w in again] == [1_700_000_600.0] * 2, "a missing ts is still the arrival time"


def test_an_idempotency_key_names_the_events_sent_without_ids():
    body = json.dumps([{"user_id": "ana", "type": "view", "item_id": "p1"},
                       {"user_id": "ana", "type": "view", "item_id": "p1"}]).encode()
    ids = [w.event.event_id for w in parse_event_batch(body, now=1.0e9, idempotency_key="order-7")]
    assert ids == [w.event.event_id for w in parse_event_batch(body, now=1.1e9, idempotency_key="order-7")]
    assert ids[0] != ids[1], "two identical views in one request are two events"
    assert ids != [w.event.event_id for w in parse_event_batch(body, now=1.0e9, idempotency_key="order-8")]
    given = json.dumps({"event_id": "ana-1", "user_id": "ana", "type": "view", "item_id": "p1"}).encode()
    assert parse_event_batch(given, now=1.0e9, idempotency_key="k")[0].event.event_id == "ana-1", "a client id wins"
