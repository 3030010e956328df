"""A stream that mixes many kinds of malformed messages with good ones, through a real worker: every good
event gets its list, every bad message reaches the dead letters with its reason, the agents never crash,
and nothing a shopper sees carries control or bidirectional formatting characters from item data."""
from __future__ import annotations

import json

import pytest

from streams.local.cluster import producer, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=2)
ITEM = ITEMS[0]["item_id"]
FUTURE = 4_102_444_800  # 2100-01-01


def good(n: int) -> tuple[str, bytes]:
    user = f"good-{n % 5}"
    return user, json.dumps({"event_id": f"g{n}", "user_id": user, "type": "view",
                             "item_id": ITEMS[n % len(ITEMS)]["item_id"]}).encode()


BAD_EVENTS: list[tuple[str, bytes, str]] = [  # key, value, expected reason
    ("b", b"{not json", "invalid_json"),
    ("b", b"\xff\xfe\x00 not utf-8", "invalid_json"),
    ("b", b"[1, 2, 3]", "not_an_object"),
    ("b", json.dumps({"user_id": ["u"], "type": "view", "item_id": ITEM}).encode(), "missing_user_id"),
    ("b", json.dumps({"user_id": "u", "type": ["view"], "item_id": ITEM}).encode(), "bad_type"),
    ("b", json.dumps({"user_id": "u", "type": "view", "item_id": {"id": 1}}).encode(), "missing_item_id"),
    ("b", b'{"user_id": "u", "type": "view", "item_id": "p", "ts": NaN}', "invalid_json"),
    ("b", json.dumps({"user_id": "u", "type": "view", "item_id": ITEM, "ts": -1}).encode(), "bad_ts"),
    ("b", json.dumps({"user_id": "u", "type": "view", "item_id": ITEM, "ts": FUTURE}).encode(), "future_ts"),
    ("b", json.dumps({"user_id": "u" * 10_240, "type": "view", "item_id": ITEM}).encode(), "too_long"),
    ("b", b"[" * 50_000 + b"]" * 50_000, "invalid_json"),
    ("b", json.dumps({"user_id": "u\u0007ser", "type": "view", "item_id": ITEM}).encode(), "bad_field"),
    ("b", json.dumps({"user_id": "u", "type": "search", "query": "tent\u202egnipmac"}).encode(), "bad_field"),
    ("b", json.dumps({"user_id": "u", "type": "teleport", "item_id": ITEM}).encode(), "bad_type"),
]
BAD_ITEMS: list[tuple[str, bytes, str]] = [
    ("x1", json.dumps({"item_id": "x1", "title": "Tent \u2066free\u2069"}).encode(), "bad_field"),
    ("x2", json.dumps({"item_id": "x2", "title": "T" * 1_000_000}).encode(), "too_long"),
    ("x3", json.dumps({"item_id": "x3", "title": "Tent", "attributes": {"a": {"b": {"c": {"d": {"e": 1}}}}}}).encode(),
     "bad_field"),
    ("x4", json.dumps({"item_id": "x4", "title": "Tent\u0000"}).encode(), "bad_field"),
    ("x5", json.dumps({"item_id": "x5", "title": "Tent", "price": "free"}).encode(), "bad_field"),
]


def test_every_good_event_gets_its_list_and_every_bad_message_its_reason(kafka, topics, workers):
    worker = workers.start(topics)
    worker.wait_ready(timeout=180)
    prod = producer(kafka.bootstrap, max_request_size=4_000_000)
    # each bad item alone: a message the broker refused would take its producer batch with it
    for key, value, _ in BAD_ITEMS:
        prod.send(topics.items, key=key.encode(), value=value)
        prod.flush()
    for item in ITEMS:
        prod.send(topics.items, key=item["item_id"].encode(), value=json.dumps(item).encode())
    prod.send(topics.items, key=b"never-existed", value=None)  # a tombstone for an unknown item: a harmless delete
    prod.flush()
    wait_for(lambda: worker.get_json("/health")["index_items"] == len(ITEMS), what="good items indexed")
    goods = [good(n) for n in range(40)]
    mixed = []
    for n, (key, value) in enumerate(goods):  # bad messages between good ones, same partitions, same batches
        mixed.append((key, value))
        if n < len(BAD_EVENTS):
            bad_key, bad_value, _ = BAD_EVENTS[n]
            mixed.append((key, bad_value))  # the good user's key: its partition, its micro-batch
    mixed.append(("good-1", json.dumps({"event_id": "unknown-item", "user_id": "good-1", "type": "view",
                                        "item_id": "not-in-the-catalogue"}).encode()))
    for key, value in mixed:
        prod.send(topics.events, key=key.encode(), value=value)
    prod.flush()
    prod.close()

    lists = read_topic(kafka.bootstrap, topics.recommendations, timeout=120, idle=10)
    triggers = {r["value"]["trigger_event_id"] for r in lists}
    assert {f"g{n}" for n in range(40)} | {"unknown-item"} <= triggers, "every good event got its list"
    letters = [l["value"] for l in read_topic(kafka.bootstrap, topics.dead_letters, timeout=60, idle=10)]
    by_source: dict[str, list[str]] = {}
    for letter in letters:
        by_source.setdefault(letter["source_topic"], []).append(letter["reason"])
    assert sorted(by_source[topics.events]) == sorted(reason for _, _, reason in BAD_EVENTS)
    assert sorted(by_source[topics.items]) == sorted(reason for _, _, reason in BAD_ITEMS)
    assert all(letter["detail"] for letter in letters), "every dead letter says why"
    for record in lists:
        for item in record["value"]["items"]:
            for text in (item["title"], item["explanation"]):
                assert not any(ch in text for ch in "\u202e\u2066\u2069\x00"), text
    log = worker.log_path.read_text()
    assert "Crashed" not in log and "Restarting dead" not in log, "no agent crashed or was restarted"
