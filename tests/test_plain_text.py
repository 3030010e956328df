"""Text fields are plain text: `<`, `&` and quotes pass (whoever renders them escapes them), control and
bidirectional formatting characters are refused, and a realistic catalogue — lists and nested values in attributes,
odd titles — parses."""
from __future__ import annotations

import json
import time

import pytest

from streams.core.ingest import BatchError, parse_event_batch
from streams.core.records import parse_event, parse_item
from streams.errors import InvalidMessage


def j(value) -> bytes:
    return json.dumps(value).encode()


REALISTIC = [
    {"item_id": "sku-1", "title": "T-shirt, Size S<M", "category": "Shirts & Tops",
     "attributes": {"sizes": ["S", "M", "L"], "colours": ["navy", "off-white"], "care": {"wash": "30°C", "dry": False},
                    "dimensions": {"chest_cm": [92, 98, 104]}, "eco": True, "rating": 4.5, "note": None}},
    {"item_id": "sku-2", "title": 'Bolt "Heavy" M8 > 50 mm & washer', "description": "Line one.\nLine two.\tTabbed.",
     "attributes": {"variants": [{"length": "50 mm", "pack": 10}, {"length": "80 mm", "pack": 5}]}},
    {"item_id": "sku-3", "title": "<Limited> edition — 限定版 🎲", "attributes": {"tags": []}},
    {"item_id": "sku-4", "title": "Café crème d'été", "attributes": {"يسار": "عربي", "ZWJ emoji": "👩‍👩‍👧"}},
]


@pytest.mark.parametrize("item", REALISTIC, ids=[i["item_id"] for i in REALISTIC])
def test_a_realistic_catalogue_parses(item):
    parsed = parse_item(item["item_id"].encode(), j(item))
    assert parsed.title == item["title"]
    assert parsed.attributes == item["attributes"]


def test_nested_attribute_values_reach_the_encoder_as_readable_text():
    text = parse_item(b"sku-1", j(REALISTIC[0])).text()
    assert "sizes: S, M, L" in text and "care: dry: no, wash: 30°C" in text and "dimensions: chest_cm: 92, 98, 104" in text
    assert "T-shirt, Size S<M" in text


def test_scalar_attributes_read_as_before():
    item = parse_item(b"p", j({"item_id": "p", "title": "Tent", "attributes": {"weight": 2.5, "size": "42"}}))
    assert item.text() == "Tent. size: 42. weight: 2.5"


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
                                  "\u061c"])
def test_bidirectional_formatting_characters_are_refused_everywhere(char):
    with pytest.raises(InvalidMessage, match="bidirectional") as title:
        parse_item(b"p", j({"item_id": "p", "title": f"Tent {char}sale"}))
    assert title.value.reason == "bad_field"
    with pytest.raises(InvalidMessage, match="bidirectional"):
        parse_item(b"p", j({"item_id": "p", "title": "Tent", "attributes": {"tags": ["ok", f"x{char}"]}}))
    with pytest.raises(InvalidMessage, match="bidirectional"):
        parse_event(b"u", j({"user_id": "u", "type": "search", "query": f"tent{char}"}))
    with pytest.raises(InvalidMessage, match="bidirectional"):
        parse_event(b"u", j({"user_id": f"u{char}", "type": "view", "item_id": "p"}))


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"])
def test_control_characters_are_refused(char):
    with pytest.raises(InvalidMessage, match="control characters"):
        parse_item(b"p", j({"item_id": "p", "title": f"Te{char}nt"}))
    with pytest.raises(InvalidMessage, match="control characters"):
        parse_item(b"p", j({"item_id": "p", "title": "Tent", "attributes": {"care": {"wash": f"30{char}"}}}))


def test_markup_characters_are_plain_text():
    for text in ("<script>alert(1)</script>", "Size S<M", "a & b", "it's \"quoted\"", "<!-- -->", "<?xml?>"):
        assert parse_event(b"u", j({"user_id": "u", "type": "search", "query": text})).query == text
        assert parse_item(b"p", j({"item_id": "p", "title": text})).title == text


def test_attributes_are_bounded():
    deep = {"a": {"b": {"c": {"d": 1}}}}  # four objects, attributes included: the deepest accepted
    parse_item(b"p", j({"item_id": "p", "title": "Tent", "attributes": deep}))
    with pytest.raises(InvalidMessage, match="nest at most"):
        parse_item(b"p", j({"item_id": "p", "title": "Tent", "attributes": {"a": [deep]}}))
    with pytest.raises(InvalidMessage, match="more than 1000"):
        parse_item(b"p", j({"item_id": "p", "title": "Tent", "attributes": {"sizes": list(range(1001))}}))
    with pytest.raises(InvalidMessage, match="attributes must be an object"):
        parse_item(b"p", j({"item_id": "p", "title": "Tent", "attributes": ["S", "M"]}))


def test_http_bodies_never_raise_anything_but_batch_error():
    for body in (b"[" * 60_000 + b"]" * 60_000, b'[{"user_id": "u", "type": "view", "item_id": "p", "ts": ' + b"9" * 400 + b"}]",
                 b'{"user_id": "u", "type": "view", "item_id": "p", "ts": ' + b"9" * 400 + b"}", b"42", b"\xff\xfe",
                 b'[{"user_id": "u", "type": "view", "item_id": "p", "ts": 1e400}]'):
        with pytest.raises(BatchError):
            parse_event_batch(body, now=time.time())


def test_a_huge_integer_ts_from_another_parser_is_bad_ts():
    from streams.core.records import event_from_object

    with pytest.raises(InvalidMessage) as err:
        event_from_object({"user_id": "u", "type": "view", "item_id": "p", "ts": int("9" * 400)})
    assert err.value.reason == "bad_ts"
