"""Two real workers share one shop's signals: a co-occurrence learnt only from shoppers on one worker's
partitions shows up, with its reason, in a list the other worker produces."""
from __future__ import annotations

from itertools import count

import pytest
from kafka.partitioner.default import murmur2
from prometheus_client.parser import text_string_to_metric_families

from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=3)
PARTITIONS = 4  # STREAMREC_TOPIC_PARTITIONS's default


def partition_of(key: str) -> int:
    """The partition the default (murmur2) partitioner of every Kafka client picks for a key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def users_on(partitions: set[int], prefix: str, n: int) -> list[str]:
    names = (f"{prefix}-{i}" for i in count())
    return [u for u, _ in zip((u for u in names if partition_of(u) in partitions), range(n))]


@pytest.fixture(scope="module")
def two_workers(broker, start_worker):
    a, b = start_worker(), start_worker()
    a.wait_ready(timeout=180)
    b.wait_ready(timeout=180)
    publish(broker.bootstrap, "items", [(i["item_id"], i) for i in ITEMS])

    def split():
        ha, hb = a.get_json("/health"), b.get_json("/health")
        return ha["ready"] and hb["ready"] and ha["events_partitions"] and hb["events_partitions"] and (ha, hb)

    ha, hb = wait_for(split, timeout=240, what="both workers ready with events partitions each")
    wait_for(lambda: all(w.get_json("/health")["index_items"] == len(ITEMS) for w in (a, b)), what="catalogue indexed")
    return (a, set(ha["events_partitions"])), (b, set(hb["events_partitions"]))


def test_a_cooccurrence_learnt_on_one_worker_is_recommended_by_the_other(broker, two_workers):
    (a, a_parts), (b, b_parts) = two_workers
    tent = next(i for i in ITEMS if i["category"] == "Tents")
    espresso = next(i for i in ITEMS if i["category"] == "Espresso Machines")
    # shoppers whose events only worker A sees: a tent, then an espresso machine
    events = []
    for user in users_on(a_parts, "camper", 12):
        events += [(user, {"user_id": user, "type": "view", "item_id": tent["item_id"]}),
                   (user, {"user_id": user, "type": "view", "item_id": espresso["item_id"]})]
    publish(broker.bootstrap, "events", events)

    def b_knows():
        row = b.get_json(f"/items/{tent['item_id']}/signals")
        return {n["item_id"] for n in row["neighbours"]} >= {espresso["item_id"]}

    wait_for(b_knows, timeout=60, what="worker B's view to hold the pair worker A learnt")
    [shopper] = users_on(b_parts, "newcomer", 1)
    publish(broker.bootstrap, "events", [(shopper, {"event_id": "n1", "user_id": shopper, "type": "view",
                                                     "item_id": tent["item_id"]})])
    lists = [r["value"] for r in read_topic(broker.bootstrap, "recommendations", timeout=60, idle=5)
             if r["value"]["trigger_event_id"] == "n1"]
    assert len(lists) == 1
    listed = {i["item_id"]: i for i in lists[0]["items"]}
    assert espresso["item_id"] in listed, "the other worker's shoppers' pair is in this worker's list"
    reasons = listed[espresso["item_id"]]["reasons"]
    assert any(r["code"] == "co_interacted" and r["item_id"] == tent["item_id"] for r in reasons)
    assert "also viewed this" in listed[espresso["item_id"]]["explanation"]
    # the worker that ranked it measured how long shop-wide changes took to reach it
    families = {f.name: f for f in text_string_to_metric_families(b.get_text("/metrics"))}
    visibility = {s.name: s.value for s in families["streamrec_signal_visibility_seconds"].samples}
    assert visibility["streamrec_signal_visibility_seconds_count"] > 0
