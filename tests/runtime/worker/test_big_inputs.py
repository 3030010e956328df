"""One shopper's oversized input through a real worker and the embedded broker: 60 searches of 9,000 characters
beside other shoppers' views. Every profile row stays within its byte budget, so the producer never refuses a
changelog record, the worker stays up, and every shopper's events, before and after, get their lists."""
from __future__ import annotations

import json

import pytest

from streams.local.cluster import producer, read_topic
from streams.local.sample import catalogue
from streams.settings import Settings

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=2)


def view(n: int) -> tuple[bytes, bytes]:
    user = f"shopper-{n % 8}"
    return user.encode(), json.dumps({"event_id": f"v{n}", "user_id": user, "type": "view",
                                      "item_id": ITEMS[n % len(ITEMS)]["item_id"]}).encode()


def test_one_shoppers_60_searches_of_9000_characters_do_not_take_the_worker_down(kafka, topics, workers):
    worker = workers.start(topics)
    worker.wait_ready(timeout=180)
    prod = producer(kafka.bootstrap)
    for item in ITEMS:
        prod.send(topics.items, key=item["item_id"].encode(), value=json.dumps(item).encode())
    prod.flush()
    worker.wait_ready(timeout=120)
    searches = [(b"heavy", json.dumps({"event_id": f"s{n}", "user_id": "heavy", "type": "search",
                                       "query": f"{n:02d} " + "warm tent and stove " * 450}).encode())
                for n in range(60)]
    mixed = [record for pair in zip(searches, [view(n) for n in range(60)]) for record in pair]
    later = [view(n) for n in range(100, 140)]  # other shoppers, after the heavy one
    for key, value in mixed + later:
        prod.send(topics.events, key=key, value=value)
    prod.flush()
    prod.close()

    lists = read_topic(kafka.bootstrap, topics.recommendations, timeout=240, idle=20)
    triggers = {r["value"]["trigger_event_id"] for r in lists if r.get("value")}
    assert {f"s{n}" for n in range(60)} <= triggers, "every search got its list"
    assert {f"v{n}" for n in [*range(60), *range(100, 140)]} <= triggers, "every other shopper's event too"
    budget = Settings().max_profile_bytes
    rows = read_topic(kafka.bootstrap, topics.changelog("profiles"), timeout=60, idle=10)
    assert rows and max(len(r["raw"] or b"") for r in rows) <= budget
    assert not read_topic(kafka.bootstrap, topics.dead_letters, timeout=20, idle=5)
    log = worker.log_path.read_text()
    assert "Crashed" not in log and "MessageSizeTooLarge" not in log, "the worker never fell"
