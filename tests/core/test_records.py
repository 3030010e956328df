"""The wire contract: what parses, what becomes a dead letter and why."""
import json

import pytest

from streams.core.records import parse_event, parse_item
from streams.errors import InvalidMessage


def j(obj) -> bytes:
    return json.dumps(obj).encode()


def test_item_full_and_text():
    item = parse_item(b"p1", j({"item_id": "p1", "title": "Trail shoe", "description": "Grippy.", "category": "Shoes",
                                "attributes": {"size": "42"}, "price": 99.5, "in_stock": False}))
    assert (item.item_id, item.price, item.in_stock, item.deleted) == ("p1", 99.5, False, False)
    assert item.text() == "Trail shoe. Grippy.. Shoes. size: 42"


@pytest.mark.parametrize("value", [None, j({"item_id": "p1", "deleted": True})])
def test_item_removal(value):
    item = parse_item(b"p1", value)
    assert item.deleted and item.item_id == "p1"


@pytest.mark.parametrize("key,value,reason", [
    (b"p1", b"{not json", "invalid_json"),
    (b"p1", b"[1, 2]", "not_an_object"),
    (b"p1", j({"title": "x"}), "missing_item_id"),
    (b"p1", j({"item_id": "p1"}), "missing_title"),
    (b"p1", j({"item_id": "p1", "title": "x", "price": "cheap"}), "bad_field"),
    (b"p1", j({"item_id": "p1", "title": "x", "attributes": [1]}), "bad_field"),
    (None, None, "tombstone_without_key"),
    (b"p1", b"\xff\xfe", "invalid_json"),
])
def test_item_rejections(key, value, reason):
    with pytest.raises(InvalidMessage) as err:
        parse_item(key, value)
    assert err.value.reason == reason


def test_event_defaults_and_formats():
    e = parse_event(b"u1", j({"user_id": "u1", "type": "view", "item_id": "p1"}), now=123.0)
    assert e.ts == 123.0 and len(e.event_id) == 32 and e.weight == 1.0
    e = parse_event(b"u1", j({"user_id": "u1", "type": "purchase", "item_id": "p1", "ts": "2026-01-01T00:00:00Z", "event_id": "e9"}))
    assert e.ts == 1767225600.0 and e.event_id == "e9"
    assert parse_event(b"u", j({"user_id": "u", "type": "view", "item_id": 7, "ts": "2026-01-01T00:00:00"})).ts == 1767225600.0
    assert parse_event(b"u", j({"user_id": "u", "type": "click", "item_id": "p", "ts": 1767225600000})).ts == 1767225600.0
    s = parse_event(b"u", j({"user_id": "u", "type": "search", "query": "red shoes"}))
    assert s.query == "red shoes" and s.item_id is None


@pytest.mark.parametrize("body,reason", [
    ({"type": "view", "item_id": "p"}, "missing_user_id"),
    ({"user_id": "u", "type": "teleport", "item_id": "p"}, "bad_type"),
    ({"user_id": "u", "type": "view"}, "missing_item_id"),
    ({"user_id": "u", "type": "search"}, "missing_query"),
    ({"user_id": "u", "type": "view", "item_id": "p", "ts": "yesterday"}, "bad_ts"),
    ({"user_id": "u", "type": "view", "item_id": "p", "ts": -5}, "bad_ts"),
])
def test_event_rejections(body, reason):
    with pytest.raises(InvalidMessage) as err:
        parse_event(b"u", j(body))
    assert err.value.reason == reason
