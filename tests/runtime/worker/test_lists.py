"""A real worker process end to end, through the wire contract only: one explained list per event in order, dead
letters, the HTTP views and metrics, deleted and sold-out items never recommended."""
from __future__ import annotations

import json
import time

import pytest
from support import load_catalogue

from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=4)  # 80 products across 20 categories


@pytest.fixture(scope="module")
def topics(module_topics):
    return module_topics  # one worker serves the module


@pytest.fixture(scope="module")
def worker(kafka, topics, workers):
    w = workers.start(topics)
    w.wait_ready(timeout=180)
    publish(kafka.bootstrap, topics.items, [("x1", b'{"item_id": "x1"}'), ("x2", b"\x00\x01 not json")])  # bad items
    load_catalogue(kafka, topics, w, ITEMS)
    return w


def by_id(item_id):
    return next(i for i in ITEMS if i["item_id"] == item_id)


def test_one_explained_list_per_event_in_order_and_dead_letters(kafka, topics, worker):
    tent = next(i for i in ITEMS if i["category"] == "Tents" and i["in_stock"])
    bag = next(i for i in ITEMS if i["category"] == "Sleeping Bags" and i["in_stock"])
    events = [
        {"event_id": "a1", "user_id": "alice", "type": "search", "query": "lightweight tent for two"},
        {"event_id": "a2", "user_id": "alice", "type": "view", "item_id": tent["item_id"]},
        {"event_id": "b1", "user_id": "bob", "type": "view", "item_id": bag["item_id"]},
        {"event_id": "a3", "user_id": "alice", "type": "add_to_cart", "item_id": bag["item_id"]},
        {"event_id": "a4", "user_id": "alice", "type": "purchase", "item_id": bag["item_id"]},
    ]
    bad = [("alice", b"{oops"), ("bob", json.dumps({"user_id": "bob", "type": "teleport", "item_id": "p1"}).encode())]
    # one burst: several events of one user share a micro-batch. Bob's view comes in a second burst: users
    # on different partitions have no order between them, and his view makes the bag trending for alice.
    publish(kafka.bootstrap, topics.events, [(e["user_id"], e) for e in events[:2]] + bad[:1])
    read_topic(kafka.bootstrap, topics.recommendations, count=2, timeout=60)
    publish(kafka.bootstrap, topics.events, bad[1:] + [(e["user_id"], e) for e in events[2:]])

    recs = read_topic(kafka.bootstrap, topics.recommendations, count=len(events) + 1, timeout=60, idle=5)
    assert len(recs) == len(events), "exactly one list per accepted event"
    by_user: dict[str, list[dict]] = {}
    for r in recs:
        assert r["key"] == r["value"]["user_id"]
        by_user.setdefault(r["key"], []).append(r["value"])
    assert [r["trigger_event_id"] for r in by_user["alice"]] == ["a1", "a2", "a3", "a4"]
    assert [r["trigger_event_id"] for r in by_user["bob"]] == ["b1"]

    after_view = by_user["alice"][1]
    assert after_view["model_version"] and len(after_view["items"]) == 10
    ids = [i["item_id"] for i in after_view["items"]]
    assert tent["item_id"] not in ids, "seen items are excluded"
    for item in after_view["items"]:
        assert item["reasons"] and item["explanation"].endswith(".")
        assert sum(r["weight"] for r in item["reasons"]) == pytest.approx(item["score"], abs=1e-4)
        assert by_id(item["item_id"])["in_stock"]
    cited = {r["item_id"] for i in after_view["items"] for r in i["reasons"] if r["code"] in ("similar_to_item", "co_interacted")}
    assert cited <= {tent["item_id"]}, "explanations cite only what alice touched so far"
    assert any(tent["title"] in i["explanation"] for i in after_view["items"])
    assert after_view["items"][0]["item_id"] in {i["item_id"] for i in ITEMS if i["category"] == "Tents"}
    assert any(r["code"] == "matches_search" for r in by_user["alice"][0]["items"][0]["reasons"])
    # alice adds the bag at a3: the list published after a2 could not know, the one after a3 excludes it
    assert bag["item_id"] not in {i["item_id"] for i in by_user["alice"][2]["items"]}

    letters = read_topic(kafka.bootstrap, topics.dead_letters, count=4, timeout=30, idle=5)
    reasons = sorted(l["value"]["reason"] for l in letters)
    assert reasons == ["bad_type", "invalid_json", "invalid_json", "missing_title"]
    oops = next(l["value"] for l in letters if l["value"]["value"] == "{oops")
    assert oops["source_topic"] == topics.events and oops["offset"] is not None and oops["partition"] is not None
    binary = next(l["value"] for l in letters if l["value"]["source_topic"] == topics.items and l["value"]["reason"] == "invalid_json")
    assert binary["value_base64"] == "AAEgbm90IGpzb24="


def test_http_views_and_metrics(worker):
    rec = worker.get_json("/recommendations/alice?k=5")
    assert rec["user_id"] == "alice" and len(rec["items"]) == 5 and not rec["cold_start"]
    cold = worker.get_json("/recommendations/nobody-yet?k=3")
    assert cold["cold_start"] and len(cold["items"]) == 3
    health = worker.get_json("/health")
    assert health["ready"] and health["index_items"] == len(ITEMS)
    metrics = worker.get_text("/metrics")
    assert f"streamrec_index_items {float(len(ITEMS))}" in metrics
    assert 'streamrec_events_consumed_total{type="purchase"} 1.0' in metrics
    assert "streamrec_explanation_integrity_violations_total 0.0" in metrics


def test_deleted_and_out_of_stock_items_are_never_recommended(kafka, topics, worker):
    tents = [i for i in ITEMS if i["category"] == "Tents" and i["in_stock"]]
    gone, sold_out = tents[1], tents[2]
    publish(kafka.bootstrap, topics.items, [(gone["item_id"], None), (sold_out["item_id"], {**sold_out, "in_stock": False})])
    wait_for(lambda: worker.get_json("/health")["index_items"] == len(ITEMS) - 1, what="delete applied")
    time.sleep(1.0)  # the out-of-stock update travels the same path right behind the delete
    publish(kafka.bootstrap, topics.events, [("carol", {"event_id": "c1", "user_id": "carol", "type": "view", "item_id": tents[0]["item_id"]})])
    recs = read_topic(kafka.bootstrap, topics.recommendations, timeout=30, idle=4)
    carol = [r["value"] for r in recs if r["key"] == "carol"]
    assert len(carol) == 1
    ids = {i["item_id"] for i in carol[0]["items"]}
    assert gone["item_id"] not in ids and sold_out["item_id"] not in ids
    assert ids & {t["item_id"] for t in tents}, "other tents still come first for a tent viewer"
