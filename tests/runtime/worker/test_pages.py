"""What a shop's pages need, through one real worker on the embedded broker: a product page's similar items,
items over HTTP, a guest shopper, an experiment's arms."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from support import cli, http, metric

from streams.core.experiment import Experiment
from streams.runtime.httpauth import OPEN_ROUTES, ROUTE_SCOPES

from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=4)
TENTS = [i for i in ITEMS if i["category"] == "Tents"]
BAGS = [i for i in ITEMS if i["category"] == "Sleeping Bags"]
T0 = 1_760_000_000.0


@pytest.fixture(scope="module")
def topics(module_topics):
    return module_topics


COFFEE = [i for i in ITEMS if i["category"] == "Coffee Makers"]
BY_ID = {i["item_id"]: i for i in ITEMS}
EXPERIMENT = {"name": "popular-blend", "arms": [{"name": "control", "share": 50},
                                               {"name": "popular", "share": 50, "weights": {"popularity": 3.0}}]}
RULES = {"rules": [{"name": "sleep-week", "boost": 0.5, "category": "Sleeping Bags"},
                   {"name": "hero", "pin": COFFEE[0]["item_id"], "position": 2}]}


@pytest.fixture(scope="module")
def worker(topics, loaded_worker, tmp_path_factory):
    rules = tmp_path_factory.mktemp("rules") / "rules.json"
    rules.write_text(json.dumps(RULES))
    experiment = rules.with_name("experiment.json")
    experiment.write_text(json.dumps(EXPERIMENT))
    return loaded_worker(topics, ITEMS, STREAMREC_SIGNAL_MIN_PAIR_COUNT="2", STREAMREC_RULES=str(rules),
                         STREAMREC_EXPERIMENT=str(experiment))


def test_a_product_page_lists_similar_items_by_behaviour_and_text_with_reasons(kafka, topics, worker):
    tent, bag, sold_out = TENTS[0]["item_id"], BAGS[0]["item_id"], TENTS[1]["item_id"]
    events = []
    for n in range(3):  # three shoppers view the tent, then a sleeping bag
        user = f"page-{n}"
        events += [(user, {"event_id": f"p{n}a", "user_id": user, "type": "view", "item_id": tent, "ts": T0 + n}),
                   (user, {"event_id": f"p{n}b", "user_id": user, "type": "view", "item_id": bag, "ts": T0 + n + 1})]
    publish(kafka.bootstrap, topics.events, events)
    publish(kafka.bootstrap, topics.items, [(sold_out, {**TENTS[1], "in_stock": False})])
    wait_for(lambda: any(n["item_id"] == bag for n in worker.get_json(f"/items/{tent}/signals")["neighbours"]),
             what="the co-views reach the signals")
    wait_for(lambda: not _stocked(worker, sold_out),
             what="the sold-out tent's update")

    status, body = http(worker, "GET", f"/items/{tent}/similar?k=5")
    assert status == 200 and body["item_id"] == tent and body["list_id"].startswith("l-")
    listed = [i["item_id"] for i in body["items"]]
    assert tent not in listed and sold_out not in listed and len(listed) == 5
    first = body["items"][0]
    assert first["item_id"] == bag and first["reasons"][0]["code"] == "co_interacted"
    assert first["explanation"].startswith(f"Shoppers who viewed “{TENTS[0]['title']}” also viewed this")
    texts = [i for i in body["items"] if any(r["code"] == "similar_to_item" for r in i["reasons"])]
    assert texts and all(r["item_id"] == tent for i in texts for r in i["reasons"])
    assert any(i["item_id"] in {t["item_id"] for t in TENTS} for i in texts), "other tents are described alike"

    assert http(worker, "GET", f"/items/{tent}/similar?k=0")[0] == 400
    status, body = http(worker, "GET", "/items/no-such-item/similar")
    assert status == 404 and "no-such-item" in body["error"]


def _stocked(worker, item_id: str) -> bool:
    """Whether the worker still lists ``item_id`` as a similar item of another tent."""
    listed = worker.get_json(f"/items/{TENTS[2]['item_id']}/similar?k=50")["items"]
    return item_id in {i["item_id"] for i in listed}


def test_the_openapi_document_covers_every_route_validates_and_a_generated_client_calls_the_api(worker, tmp_path):
    with urllib.request.urlopen(worker.web_url + "/openapi.json", timeout=10) as response:  # no token needed
        doc = json.loads(response.read())
    validate(doc)
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert documented == set(ROUTE_SCOPES) | set(OPEN_ROUTES), "every route the worker serves, and no other"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["operationId"], f"{method} {path} is described"
            assert bool(op["security"]) == ((method.upper(), path) in ROUTE_SCOPES)

    (tmp_path / "openapi.json").write_text(json.dumps(doc))
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: the test stays fast
    generator = Path(sys.executable).with_name("openapi-python-client")
    out = subprocess.run([str(generator), "generate", "--path", "openapi.json", "--output-path", "streamrec_client",
                          "--meta", "none", "--config", "config.yaml"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("streamrec_client")
        similar = importlib.import_module("streamrec_client.api.default.get_similar_items")
        post_events = importlib.import_module("streamrec_client.api.default.post_events")
        models = importlib.import_module("streamrec_client.models")
    finally:
        sys.path.remove(str(tmp_path))
    client = client_module.AuthenticatedClient(base_url=worker.web_url, token=worker.token)
    tent = TENTS[0]["item_id"]
    page = similar.sync(tent, client=client, k=3, in_stock_only=True)
    assert isinstance(page, models.SimilarList) and page.item_id == tent and len(page.items) == 3
    assert all(i.reasons and i.item_id != tent for i in page.items)
    accepted = post_events.sync(client=client, body=models.Event.from_dict(
        {"user_id": "client-1", "type": "view", "item_id": tent}))
    assert isinstance(accepted, models.Accepted) and accepted.accepted == 1
    missing = similar.sync_detailed("no-such-item", client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Error)


def test_items_over_http_take_the_kafka_path_with_the_same_validation(kafka, topics, worker):
    new = {"item_id": "http-tent-1", "title": "Driftwood three-person dome tent", "category": "Tents",
           "price": 240.0, "attributes": {"colours": ["sand", "olive"], "packed": {"weight": "3.1 kg"}}}
    status, body = http(worker, "POST", "/items", new)
    assert status == 202 and body["item_ids"] == ["http-tent-1"], body
    on_topic = [r for r in read_topic(kafka.bootstrap, topics.items, timeout=30, idle=2) if r["key"] == "http-tent-1"]
    assert [r["value"] for r in on_topic] == [new], "published on items as a shop's producer would"
    wait_for(lambda: http(worker, "GET", "/search?item_id=http-tent-1&k=1")[0] == 200, what="the new item indexed")

    status, body = http(worker, "POST", "/items", [{"item_id": "ok-2", "title": "Fine"}, {"title": "no id"},
                                                   {"item_id": "x", "title": "T", "price": -3}])
    assert status == 400 and body["error"] == "2 of 3 items are invalid; none was published"
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(1, "missing_item_id"), (2, "bad_field")]
    assert http(worker, "POST", "/items", b"[")[0] == 400

    status, body = http(worker, "DELETE", "/items/http-tent-1")
    assert status == 202 and body == {"item_id": "http-tent-1", "status": "published"}
    wait_for(lambda: http(worker, "GET", "/search?item_id=http-tent-1&k=1")[0] == 404, what="the item removed")
    assert "ok-2" not in {r["key"] for r in read_topic(kafka.bootstrap, topics.items, timeout=30, idle=2)}


def test_pages_of_a_list_price_and_attribute_filters_and_the_shops_rules(kafka, topics, worker):
    publish(kafka.bootstrap, topics.events, [("pager", {"event_id": f"pg{n}", "user_id": "pager", "type": "view",
                                                        "item_id": TENTS[n]["item_id"], "ts": T0 + n}) for n in (2, 3)])
    wait_for(lambda: not worker.get_json("/recommendations/pager")["cold_start"], what="the pager's profile")

    whole = http(worker, "GET", "/recommendations/pager?k=8")[1]["items"]
    first, second = (http(worker, "GET", f"/recommendations/pager?k=4&offset={o}")[1]["items"] for o in (0, 4))
    assert [i["item_id"] for i in first + second] == [i["item_id"] for i in whole], "pages of one list"
    assert [i["rank"] for i in second] == [5, 6, 7, 8]

    hero = whole[1]  # pinned at 2, whatever the ranking thinks of it
    assert hero["item_id"] == COFFEE[0]["item_id"]
    assert [(r["code"], r["rule"], r["position"]) for r in hero["reasons"][:1]] == [("pinned", "hero", 2)]
    bags = [i for i in whole if BY_ID[i["item_id"]]["category"] == "Sleeping Bags"]
    assert bags and all(i["reasons"][-1]["code"] == "boosted" and i["reasons"][-1]["rules"] == ["sleep-week"]
                        for i in bags), "a boost shows on every item it lifted"
    for item in whole:
        assert sum(r["weight"] for r in item["reasons"]) == pytest.approx(item["score"], abs=1e-4)

    cheap = http(worker, "GET", "/recommendations/pager?k=10&price_min=100&price_max=200")[1]["items"]
    assert cheap and all(100 <= BY_ID[i["item_id"]]["price"] <= 200 for i in cheap)
    two = http(worker, "GET", "/recommendations/pager?k=10&attr.capacity=2%20persons&in_stock_only=false")[1]["items"]
    assert two and all(BY_ID[i["item_id"]]["attributes"]["capacity"] == "2 persons" for i in two)
    status, body = http(worker, "GET", "/recommendations/pager?offset=-1")
    assert status == 400 and body["error"].startswith("offset must be between 0 and")
    assert http(worker, "GET", "/recommendations/pager?price_min=5&price_max=1")[0] == 400
    assert http(worker, "GET", f"/items/{TENTS[0]['item_id']}/similar?k=2&offset=2")[1]["items"] == \
        http(worker, "GET", f"/items/{TENTS[0]['item_id']}/similar?k=4")[1]["items"][2:]


def test_a_two_arm_experiment_with_list_ids_impressions_and_click_through_per_arm(kafka, topics, worker):
    experiment = Experiment.from_object(EXPERIMENT)
    users = {arm: next(f"ab-{n}" for n in range(1000) if experiment.arm_of(f"ab-{n}").name == arm)
             for arm in ("control", "popular")}
    publish(kafka.bootstrap, topics.events, [(u, {"event_id": f"{u}-v", "user_id": u, "type": "view",
                                                  "item_id": BAGS[1]["item_id"], "ts": T0}) for u in users.values()])
    lists = wait_for(lambda: (found := {r["key"]: r["value"] for r in read_topic(
        kafka.bootstrap, topics.recommendations, timeout=30, idle=2) if r["key"] in users.values()}) and
        len(found) == 2 and found, what="both arms' lists")
    for arm, user in users.items():
        assert lists[user]["arm"] == arm and lists[user]["model_version"].endswith(f"/arm:{arm}")
        assert lists[user]["list_id"].startswith("l-")
    served = http(worker, "GET", f"/recommendations/{users['popular']}?k=3")[1]
    assert served["arm"] == "popular" and served["list_id"] != lists[users["popular"]]["list_id"]

    control, popular = users["control"], users["popular"]
    shown_c, shown_p = lists[control], lists[popular]
    status, _ = http(worker, "POST", "/events", [
        {"user_id": control, "type": "impression", "from_list": shown_c["list_id"]},
        {"user_id": control, "type": "click", "item_id": shown_c["items"][0]["item_id"], "from_list": shown_c["list_id"]},
        {"user_id": popular, "type": "impression", "from_list": shown_p["list_id"]},
        {"user_id": popular, "type": "impression", "from_list": served["list_id"]}])
    assert status == 202
    assert http(worker, "POST", "/events", {"user_id": control, "type": "impression"})[1]["rejected"][0]["reason"] \
        == "missing_from_list"
    wait_for(lambda: metric(worker, 'streamrec_list_impressions_total{arm="popular"}') == 2, what="impressions counted")
    wait_for(lambda: metric(worker, 'streamrec_list_interactions_total{arm="control",type="click"}') == 1,
             what="the click counted")
    assert metric(worker, 'streamrec_list_impressions_total{arm="control"}') == 1

    out = cli(kafka, topics, "report", worker.web_url, "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["arm"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert (rows["control"]["impressions"], rows["control"]["clicks"], rows["control"]["ctr"]) == (1, 1, 1.0)
    assert (rows["popular"]["impressions"], rows["popular"]["clicks"], rows["popular"]["ctr"]) == (2, 0, 0.0)
    assert 0 < rows["control"]["low"] < 1 == rows["control"]["high"] and rows["popular"]["high"] < 1
    table = cli(kafka, topics, "report", worker.web_url).stdout
    assert "control" in table and "100.0%" in table and "95% interval" in table

    after = [r for r in read_topic(kafka.bootstrap, topics.recommendations, timeout=30, idle=2) if r["key"] == popular]
    assert len(after) == 1, "an impression changes no profile and gets no list"


def test_a_guest_shops_by_session_and_signs_in_once(kafka, topics, worker):
    sid = "guest-7f3a"
    status, _ = http(worker, "POST", "/events", [
        {"event_id": "g1", "session_id": sid, "type": "view", "item_id": TENTS[2]["item_id"], "ts": T0},
        {"event_id": "g2", "session_id": sid, "type": "search", "query": "lightweight tent", "ts": T0 + 1}])
    assert status == 202
    on_topic = [r for r in read_topic(kafka.bootstrap, topics.events, timeout=30, idle=2) if r["value"].get("event_id") in ("g1", "g2")]
    assert {r["key"] for r in on_topic} == {sid}, "a guest's events are keyed by the session"
    wait_for(lambda: not http(worker, "GET", f"/sessions/{sid}/recommendations")[1]["cold_start"], what="the guest's list")
    guest_list = http(worker, "GET", f"/sessions/{sid}/recommendations?k=3")[1]
    assert guest_list["user_id"] == f"session:{sid}" and len(guest_list["items"]) == 3
    assert TENTS[2]["item_id"] not in {i["item_id"] for i in guest_list["items"]}, "what the guest saw stays out"
    pushed = wait_for(lambda: [r for r in read_topic(kafka.bootstrap, topics.recommendations, timeout=30, idle=2)
                               if r["key"] == f"session:{sid}"], what="the guest's lists on the topic")
    assert [r["value"]["trigger_event_id"] for r in pushed] == ["g1", "g2"]

    http(worker, "POST", "/events", {"event_id": "own-1", "user_id": "signed-in", "type": "view",
                                     "item_id": BAGS[2]["item_id"], "ts": T0 + 2})
    wait_for(lambda: http(worker, "GET", "/users/signed-in/profile")[0] == 200, what="the account's own profile")
    login = {"event_id": "login-1", "user_id": "signed-in", "session_id": sid, "type": "login", "ts": T0 + 3}
    assert http(worker, "POST", "/events", [login, login])[0] == 202  # the same login twice
    wait_for(lambda: metric(worker, "streamrec_sessions_merged_total") == 1, what="the session merged")
    profile = http(worker, "GET", "/users/signed-in/profile")[1]
    touched = [t.get("item_id") or t.get("query") for t in profile["history"]]
    assert touched == [TENTS[2]["item_id"], "lightweight tent", BAGS[2]["item_id"]], profile["history"]
    assert http(worker, "POST", "/events", {**login, "ts": T0 + 4})[0] == 202  # and once more, later
    wait_for(lambda: sum(1 for r in read_topic(kafka.bootstrap, topics.events, timeout=30, idle=2)
                         if r["key"] == "signed-in" and r["value"].get("control") == "merge") == 3, what="3 merges sent")
    assert metric(worker, "streamrec_sessions_merged_total") == 1, "folded exactly once"
    assert http(worker, "GET", "/users/signed-in/profile")[1]["events"] == 3
    listed = http(worker, "GET", "/recommendations/signed-in?k=5")[1]["items"]
    assert TENTS[2]["item_id"] not in {i["item_id"] for i in listed}, "the guest's views count as the user's"

    status, body = http(worker, "DELETE", f"/sessions/{sid}")  # the guest's own profile, forgotten too
    assert status == 200 and body == {"session_id": sid, "status": "forgotten", "profile_removed": True}
    assert http(worker, "GET", f"/sessions/{sid}/recommendations")[1]["cold_start"]
    assert wait_for(lambda: [r for r in read_topic(kafka.bootstrap, topics.recommendations, timeout=30, idle=2)
                             if r["key"] == f"session:{sid}"][-1]["value"] is None, what="the guest's tombstone")
    assert http(worker, "GET", "/users/signed-in/profile")[1]["events"] == 3, "the account keeps what it merged"
