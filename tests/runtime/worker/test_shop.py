"""A shop adopts streamrec, end to end on the embedded broker with real worker processes and the real CLI:
its own history (import), its own weights and event types, events and filters over HTTP, forgetting a shopper,
dead letters listed and replayed after a fix, and the metrics an operator reads.

One worker serves the module (a second one replaces it for the replay at the end, and a third joins it).
"""
from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from support import cli as run_cli
from support import http, metric

from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=4)  # 80 products in 20 categories
TENTS = [i for i in ITEMS if i["category"] == "Tents"]
BAGS = [i for i in ITEMS if i["category"] == "Sleeping Bags"]
SHOP_TYPES = "view=1,click=2,add_to_cart=4,purchase=8,search=2"
T0 = 1_760_000_000.0
TAKEN_OVER: dict = {}  # the worker that took over at the replay test, joined by a second one in the routing test


@pytest.fixture(scope="module")
def topics(module_topics):
    return module_topics  # the module's workers share its topics


def cli(kafka, topics, *args: str, stdin: str | None = None):
    """The real `streamrec` command line against the module's topics."""
    return run_cli(kafka, topics, *args, stdin=stdin)


def lists_for(kafka, topics, user: str, idle: float = 3.0) -> list[dict]:
    return [r for r in read_topic(kafka.bootstrap, topics.recommendations, timeout=60, idle=idle) if r["key"] == user]


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "shop-weights.json"
    path.write_text(json.dumps({"weights": {"content": 1.0, "collab": 0.8, "popularity": 0.2, "category": 0.1,
                                            "freshness": 0.0}}))
    return path


@pytest.fixture(scope="module")
def worker(topics, loaded_worker, weights_file):
    return loaded_worker(topics, ITEMS, STREAMREC_WEIGHTS=str(weights_file), STREAMREC_EVENT_WEIGHTS=SHOP_TYPES)


def test_import_warms_profiles_and_signals_without_publishing_lists(kafka, topics, worker, tmp_path):
    history = [{"event_id": f"h{n}", "user_id": "hist-1", "type": "view", "item_id": TENTS[n % 2]["item_id"],
                "ts": T0 + 60 * n} for n in range(4)]
    history.append({"user_id": "hist-2", "type": "purchase", "item_id": BAGS[0]["item_id"], "ts": T0})  # no event_id
    lines = [json.dumps(e) for e in reversed(history)]  # out of time order on purpose
    lines += [json.dumps(history[0]),  # the same event twice: a duplicate
              json.dumps(history[-1]),  # an exact repeat without event_id: a duplicate too
              json.dumps({"user_id": "hist-1", "type": "view", "item_id": TENTS[0]["item_id"]}),  # no ts
              json.dumps({"user_id": "hist-1", "type": "wishlist", "item_id": TENTS[0]["item_id"], "ts": T0})]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n")

    out = cli(kafka, topics, "import", str(path), "--quiet")
    assert out.returncode == 0, out.stderr
    assert ("applied 5 historical events, skipped 2 duplicates, dead-lettered 2 (missing_ts 1, bad_type 1)"
            in out.stdout), out.stdout + out.stderr

    csv_text = "user_id,type,item_id,ts\nhist-3,view,%s,2025-10-09T08:00:00Z\nhist-3,purchase,%s,%d\n" % (
        BAGS[1]["item_id"], BAGS[1]["item_id"], T0)
    out = cli(kafka, topics, "import", "--format", "csv", "-", "--quiet", stdin=csv_text)  # CSV from stdin
    assert out.returncode == 0 and "applied 2 historical events, skipped 0 duplicates, dead-lettered 0 " in out.stdout

    wait_for(lambda: metric(worker, 'streamrec_history_events_applied_total{type="view"}') == 5, what="history applied")
    view = worker.get_json("/recommendations/hist-1?k=5")
    assert not view["cold_start"], "the imported history made a profile"
    cited = {r.get("item_id") for i in view["items"] for r in i["reasons"]}
    assert cited & {TENTS[0]["item_id"], TENTS[1]["item_id"]}, "its explanations cite the imported views"

    live = {"event_id": "live-1", "user_id": "hist-1", "type": "view", "item_id": BAGS[1]["item_id"], "ts": T0 + 900}
    publish(kafka.bootstrap, topics.events, [("hist-1", live)])
    lists = wait_for(lambda: lists_for(kafka, topics, "hist-1"), what="the live event's list")
    assert [r["value"]["trigger_event_id"] for r in lists] == ["live-1"], "history published no list"
    assert TENTS[0]["item_id"] not in {i["item_id"] for i in lists[0]["value"]["items"]}, "imported views count as seen"
    assert lists[0]["value"]["model_version"].endswith("/" + weights_label_of(worker))
    assert metric(worker, 'streamrec_history_events_applied_total{type="purchase"}') == 2
    assert not worker.get_json("/recommendations/hist-3")["cold_start"]


def weights_label_of(worker) -> str:
    log = worker.log_path.read_text()
    match = re.search(r"ranking with (weights:shop-weights@[0-9a-f]{8}) \(", log)
    assert match, "the worker logs which weights it ranks with"
    return match.group(1)


def test_post_events_publishes_valid_batches_and_rejects_invalid_ones(kafka, topics, worker):
    status, body = http(worker, "POST", "/events", {"user_id": "web-1", "type": "view", "item_id": TENTS[2]["item_id"]})
    assert status == 202 and body["accepted"] == 1 and len(body["event_ids"]) == 1
    first_id = body["event_ids"][0]
    status, body = http(worker, "POST", "/events", [
        {"event_id": "w2", "user_id": "web-1", "type": "search", "query": "warm sleeping bag"},
        {"event_id": "w3", "user_id": "web-1", "type": "add_to_cart", "item_id": BAGS[2]["item_id"]}])
    assert status == 202 and body == {"accepted": 2, "event_ids": ["w2", "w3"]}

    status, body = http(worker, "POST", "/events", [
        {"event_id": "w4", "user_id": "web-1", "type": "view", "item_id": "p1"},
        {"event_id": "w5", "user_id": "web-1", "type": "teleport", "item_id": "p1"}, {"type": "view"}])
    assert status == 400 and body["error"] == "2 of 3 events are invalid; none was published"
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(1, "bad_type"), (2, "missing_user_id")]
    assert "type must be one of view, click, add_to_cart, purchase, search" in body["rejected"][0]["detail"]
    assert http(worker, "POST", "/events", b"{not json")[0] == 400

    lists = wait_for(lambda: (found := lists_for(kafka, topics, "web-1")) and len(found) >= 3 and found, what="web lists")
    assert [r["value"]["trigger_event_id"] for r in lists] == [first_id, "w2", "w3"], "w4 was never published"
    assert metric(worker, "streamrec_http_events_accepted_total") == 3


def test_a_resent_post_events_body_is_the_same_events_and_applied_once(kafka, topics, worker):
    body = [{"user_id": "idem-1", "type": "view", "item_id": TENTS[0]["item_id"]},
            {"user_id": "idem-1", "type": "click", "item_id": BAGS[0]["item_id"]}]
    status, first = http(worker, "POST", "/events", body)
    assert status == 202
    wait_for(lambda: len(lists_for(kafka, topics, "idem-1")) == 2, what="the first two lists")
    status, again = http(worker, "POST", "/events", body)  # the client did not see the 202 and sends it again
    assert status == 202 and again["event_ids"] == first["event_ids"], "the arrival time is in no id"
    wait_for(lambda: len(lists_for(kafka, topics, "idem-1")) == 4, what="the resend's lists (duplicates get one)")
    status, profile = http(worker, "GET", "/users/idem-1/profile")
    assert status == 200 and profile["events"] == 2, "each event applied once"


def test_recommendations_take_page_filters_and_validate_every_parameter(worker):
    status, tents = http(worker, "GET", "/recommendations/web-1?category=Tents&k=3")
    assert status == 200 and len(tents["items"]) == 3
    assert {i["item_id"] for i in tents["items"]} <= {t["item_id"] for t in TENTS}
    excluded = tents["items"][0]["item_id"]
    status, rest = http(worker, "GET", f"/recommendations/web-1?category=Tents&k=3&exclude={excluded},nope")
    assert status == 200 and excluded not in {i["item_id"] for i in rest["items"]}
    category = next(i["category"] for i in ITEMS if not i["in_stock"])
    sold_out = {i["item_id"] for i in ITEMS if i["category"] == category and not i["in_stock"]}
    query = urllib.parse.urlencode({"category": category, "k": 10})
    stocked = http(worker, "GET", f"/recommendations/nobody?{query}")[1]["items"]
    everything = http(worker, "GET", f"/recommendations/nobody?{query}&in_stock_only=false")[1]["items"]
    assert stocked and {i["item_id"] for i in stocked}.isdisjoint(sold_out)
    assert sold_out <= {i["item_id"] for i in everything}, "in_stock_only=false lists the sold-out ones too"
    for query, message in [("k=0", "k must be between 1 and 200"), ("k=abc", "k must be an integer"),
                           ("k=999", "k must be between 1 and 200"), ("in_stock_only=perhaps", "in_stock_only must be true or false"),
                           ("category=", "category must not be empty")]:
        status, body = http(worker, "GET", f"/recommendations/web-1?{query}")
        assert (status, body["error"].split(",")[0]) == (400, message), (query, body)
    assert http(worker, "GET", "/search?k=abc")[0] == 400


def test_forget_a_shopper_over_http_and_over_kafka(kafka, topics, worker):
    secret = "purple unicorn raincoat"
    publish(kafka.bootstrap, topics.events, [
        ("forget-me", {"event_id": "f1", "user_id": "forget-me", "type": "search", "query": secret}),
        ("forget-me", {"event_id": "f2", "user_id": "forget-me", "type": "view", "item_id": TENTS[3]["item_id"]}),
        ("forget-too", {"event_id": "g1", "user_id": "forget-too", "type": "view", "item_id": BAGS[3]["item_id"]}),
        ("other", {"event_id": "o1", "user_id": "other", "type": "view", "item_id": TENTS[3]["item_id"]})])
    wait_for(lambda: len(lists_for(kafka, topics, "forget-me", idle=2)) == 2, what="forget-me's lists")
    assert not worker.get_json("/recommendations/forget-me")["cold_start"]

    status, body = http(worker, "DELETE", "/users/forget-me")
    assert (status, body) == (200, {"user_id": "forget-me", "status": "forgotten", "profile_removed": True})
    # the matching control message on Kafka, as a shop's own producer would send it
    publish_control(kafka, topics, "forget-too")
    wait_for(lambda: metric(worker, "streamrec_users_forgotten_total") == 2, what="both forgotten")
    assert http(worker, "DELETE", "/users/never-seen")[1]["profile_removed"] is False

    records = read_topic(kafka.bootstrap, topics.changelog("profiles"), timeout=60, idle=3)
    for user in ("forget-me", "forget-too"):
        last = [r for r in records if r["key"] in (user, json.dumps(user))][-1]
        assert last["raw"] is None, f"the table's last word on {user} is a tombstone"
        view = worker.get_json(f"/recommendations/{user}")
        assert view["cold_start"] and secret not in json.dumps(view), "the HTTP view knows nothing of them"
        recs = read_topic(kafka.bootstrap, topics.recommendations, timeout=60, idle=3)
        assert [r["raw"] for r in recs if r["key"] == user][-1] is None, "a tombstone on recommendations"

    publish(kafka.bootstrap, topics.events, [("other", {"event_id": "o2", "user_id": "other", "type": "click",
                                                     "item_id": TENTS[2]["item_id"]})])
    after = wait_for(lambda: [r for r in lists_for(kafka, topics, "other") if r["value"]["trigger_event_id"] == "o2"],
                     what="other's next list")
    text = json.dumps(after[0]["value"])
    assert "forget-me" not in text and secret not in text and "forget-too" not in text


def publish_control(kafka, topics, user: str) -> None:
    from streams.local.cluster import producer

    prod = producer(kafka.bootstrap)
    try:
        prod.send(topics.events, key=user.encode(), value=json.dumps({"control": "forget", "user_id": user}).encode(),
                  headers=[("streamrec-control", b"forget")])
        prod.flush(timeout=30)
    finally:
        prod.close()


def test_operators_metrics(topics, worker):
    text = worker.get_text("/metrics")
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "python_info",
                 "python_gc_collections_total", "streamrec_commit_seconds_count"):
        assert re.search(rf"^{name}\b", text, re.M), name
    assert metric(worker, "streamrec_rebalances_total") >= 1
    lagging = {m.group(1) for m in re.finditer(r'^streamrec_consumer_lag\{.*topic="([^"]+)".*\} ', text, re.M)}
    assert {topics.item_vectors, topics.events} <= lagging, lagging
    assert "includes the micro-batch wait" in text


def test_dead_letters_are_listed_tailed_and_replayed_after_a_fix(kafka, topics, worker, workers, weights_file):
    publish(kafka.bootstrap, topics.events, [("fan-1", {"event_id": "wl-1", "user_id": "fan-1", "type": "wishlist",
                                                     "item_id": TENTS[0]["item_id"]})])
    listed = wait_for(lambda: (out := cli(kafka, topics, "dead-letters", "--idle", "2")).returncode == 0
                      and "bad_type  2" in out.stdout and out, what="two bad_type letters")
    assert f"(from {topics.events})" in listed.stdout and "missing_ts  1" in listed.stdout
    assert "type must be one of view, click, add_to_cart, purchase, search, got 'wishlist'" in listed.stdout
    tail = cli(kafka, topics, "tail", "--topic", "dead-letters", "--from-beginning", "--timeout", "3")
    assert tail.returncode == 0 and f"bad_type from {topics.events}@" in tail.stdout
    assert f"missing_ts from {topics.events}" in tail.stdout

    # the fix: the shop configures its wishlist type; a worker with the new configuration takes over
    worker.stop()
    fixed = workers.start(topics, STREAMREC_WEIGHTS=str(weights_file), STREAMREC_EVENT_WEIGHTS=SHOP_TYPES + ",wishlist=3")
    fixed.wait_ready(timeout=180)
    TAKEN_OVER["worker"] = fixed
    out = cli(kafka, topics, "dead-letters", "--reason", "bad_type", "--replay", "--idle", "2")
    assert out.returncode == 0 and "replayed 2 letters to their source topics" in out.stdout, out.stdout + out.stderr
    lists = wait_for(lambda: lists_for(kafka, topics, "fan-1"), what="the replayed wishlist event's list")
    assert [r["value"]["trigger_event_id"] for r in lists] == ["wl-1"]
    assert any("from your wishlist activity" in i["explanation"] for i in lists[0]["value"]["items"])
    # the imported wishlist line replays as history: applied, no list
    wait_for(lambda: metric(fixed, 'streamrec_history_events_applied_total{type="wishlist"}') == 1,
             what="the replayed history event applied")
    assert [r["value"]["trigger_event_id"] for r in lists_for(kafka, topics, "hist-1")] == ["live-1"]


def test_requests_for_a_user_reach_the_worker_that_holds_them(topics, workers, weights_file):
    """Two workers split the partitions; either one answers for any user, by routing to the user's owner."""
    a = TAKEN_OVER["worker"]
    b = workers.start(topics, STREAMREC_WEIGHTS=str(weights_file), STREAMREC_EVENT_WEIGHTS=SHOP_TYPES + ",wishlist=3")
    b.wait_ready(timeout=180)
    wait_for(lambda: a.get_json("/health")["assigned_partitions"] and b.get_json("/health")["assigned_partitions"]
             and all(w.get_json("/health")["ready"] for w in (a, b)), what="both workers own partitions", timeout=120)
    warm = ["hist-1", "web-1", "other", "fan-1"]
    for user in warm:
        via_a, via_b = (http(w, "GET", f"/recommendations/{user}?k=5")[1] for w in (a, b))
        assert not via_a["cold_start"] and not via_b["cold_start"], user
        assert [i["item_id"] for i in via_a["items"]] == [i["item_id"] for i in via_b["items"]], user
    for user, w in (("web-1", a), ("other", b)):
        status, body = http(w, "DELETE", f"/users/{user}")
        assert status == 200 and body["profile_removed"] is True, (user, body)
        assert http(a, "GET", f"/recommendations/{user}")[1]["cold_start"]
        assert http(b, "GET", f"/recommendations/{user}")[1]["cold_start"]
