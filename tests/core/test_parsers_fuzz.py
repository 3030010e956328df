"""Any bytes in → a record or one InvalidMessage with a reason, never another exception (hypothesis)."""
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.records import parse_event, parse_item
from streams.core.signals import PublishedRow, decode_deltas
from streams.core.vectors import decode_record
from streams.errors import InvalidMessage

PARSERS = {
    "event": lambda k, v: parse_event(k, v, now=1_700_000_000.0),
    "item": parse_item,
    "vector": decode_record,
    "deltas": lambda k, v: decode_deltas(v),
    "signal row": lambda k, v: PublishedRow.from_bytes(v),
}

SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=50)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20)
FIELDS = st.sampled_from(["item_id", "user_id", "type", "event_id", "ts", "query", "title", "description", "category",
                          "attributes", "price", "in_stock", "deleted", "model_version", "dim", "vector", "meta",
                          "entries", "clock", "popularity", "neighbours", "first_seen"])
OBJECTS = st.dictionaries(FIELDS, JSON | st.sampled_from(["view", "search", "purchase", "AAAA", "2026-01-01T00:00:00Z"]),
                          max_size=8)


def only_invalid_message(parser, key, value):
    try:
        parser(key, value)
    except InvalidMessage as exc:
        assert exc.reason and isinstance(exc.reason, str)


@pytest.mark.parametrize("name", PARSERS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.none() | st.binary(max_size=20), value=st.none() | st.binary(max_size=300))
def test_any_bytes(name, key, value):
    only_invalid_message(PARSERS[name], key, value)


@pytest.mark.parametrize("name", PARSERS)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.none() | st.binary(max_size=20), body=OBJECTS)
def test_any_json_object_with_contract_field_names(name, key, body):
    only_invalid_message(PARSERS[name], key, orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
                         if _encodable(body) else b"{}")


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize("value", [
    b"[" * 100_000 + b"]" * 100_000,  # deeply nested: a RecursionError in the stdlib parser
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"user_id": "u", "type": "view", "item_id": "' + b"x" * 10_240 + b'"}',
    b'{"item_id": "p", "title": "' + b"t" * 1_000_000 + b'"}',
    b'{"user_id": "u", "type": "view", "item_id": "p", "ts": NaN}',
    b'{"user_id": "u", "type": "view", "item_id": "p", "ts": 1e400}',
    b'{"user_id": "u", "type": "view", "item_id": "p", "ts": "9999-12-31T23:59:59+14:00"}',
    "{\"user_id\": \"u\\u0000\", \"type\": \"view\", \"item_id\": \"p\"}".encode(),
    b"\xed\xa0\x80",  # a lone surrogate in UTF-8
])
def test_hostile_inputs(name, value):
    only_invalid_message(PARSERS[name], b"k", value)


def _encodable(body):
    try:
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        return True
    except (TypeError, orjson.JSONEncodeError):
        return False
