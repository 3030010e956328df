"""What a worker accepts, refuses and survives at its inputs: catalogue attributes with lists and nested values,
events whose Kafka key is not their user, timestamps from a producer's broken clock, and a vector record that is
whole in itself but does not fit the index. Units first, then one real worker on the embedded broker."""
from __future__ import annotations

import base64
import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from streams.core.records import MAX_ATTRIBUTE_DEPTH, parse_event, parse_item
from streams.errors import InvalidMessage
from streams.local.cluster import producer, publish, read_topic, wait_for

REPO = Path(__file__).resolve().parents[1]
ML100K = Path(os.environ.get("STREAMREC_ML100K", REPO.parent / "shared" / "data" / "ml-100k"))
NOW = 1_780_000_000.0


def j(obj) -> bytes:
    return json.dumps(obj).encode()


def reason(fn, *args, **kwargs) -> str:
    with pytest.raises(InvalidMessage) as err:
        fn(*args, **kwargs)
    return err.value.reason


# -- units ---------------------------------------------------------------------------------------------------------

def test_attributes_hold_lists_and_nested_objects_to_the_stated_depth():
    item = parse_item(b"m1", j({"item_id": "m1", "title": "Toy Story (1995)", "attributes": {
        "genres": ["Animation", "Children's", "Comedy"], "year": 1995, "sizes": [38, 39.5, 40],
        "release": {"year": 1995, "region": {"code": "US", "dubbed": False}}, "discontinued": None}}))
    assert item.text() == ("Toy Story (1995). genres: Animation, Children's, Comedy. release: region: code: US, "
                           "dubbed: no, year: 1995. sizes: 38, 39.5, 40. year: 1995")
    deepest = {"a": {"b": {"c": {"d": 1}}}}  # MAX_ATTRIBUTE_DEPTH objects, attributes included
    assert MAX_ATTRIBUTE_DEPTH == 4 and parse_item(b"x", j({"item_id": "x", "title": "T", "attributes": deepest}))
    for fine in ({"a": [[1, 2]]}, {"a": [{"b": 1}]}, {"a": ["<b>bold</b>"]}):  # plain text, nested within the bound
        assert parse_item(b"x", j({"item_id": "x", "title": "T", "attributes": fine})).attributes == fine
    for bad in ({"a": {"b": {"c": {"d": {"e": 1}}}}}, {"a": {"b": "\u0007"}}, {"a": list(range(1001))}):
        assert reason(parse_item, b"x", j({"item_id": "x", "title": "T", "attributes": bad})) == "bad_field"


def test_an_event_must_be_keyed_by_its_user_and_a_null_key_is_refused():
    body = j({"user_id": "u1", "type": "view", "item_id": "p1"})
    assert parse_event(b"u1", body, now=NOW).user_id == "u1"
    assert reason(parse_event, b"u2", body, now=NOW) == "key_mismatch"
    assert reason(parse_event, None, body, now=NOW) == "key_mismatch"
    # numeric user ids are ids as text, their key the same text
    assert parse_event(b"7", j({"user_id": 7, "type": "view", "item_id": "p1"}), now=NOW).user_id == "7"


def test_the_future_is_judged_by_the_workers_clock_and_lateness_is_allowed():
    body = {"user_id": "u", "type": "view", "item_id": "p"}
    # a producer whose clock (and so the Kafka timestamp, `now`) is as wrong as the ts: still refused
    micros = NOW * 1e6
    assert reason(parse_event, b"u", j({**body, "ts": micros}), now=micros, wall_clock=NOW) == "future_ts"
    # no ts: it defaults to the message time, which is checked the same way
    assert reason(parse_event, b"u", j(body), now=NOW + 7200, wall_clock=NOW) == "future_ts"
    assert parse_event(b"u", j({**body, "ts": NOW + 60}), now=NOW, wall_clock=NOW).ts == NOW + 60
    assert reason(parse_event, b"u", j({**body, "ts": NOW + 120}), now=NOW, wall_clock=NOW, max_future=60) == "future_ts"
    assert parse_event(b"u", j({**body, "ts": "2001-09-09T01:46:40Z"}), now=NOW, wall_clock=NOW).ts == 1e9


# -- a real worker --------------------------------------------------------------------------------------------------

ODD_TITLES = ["Tom & Jerry's \"Best\" Mug", "Café Crème 🍰 Set", "<3 Valentine Socks", "שלום Poster",
              "100% Cotton, 2-pack (XL/XXL)", "Ünïcödé   spaced    title", "Backslash \\ and /slash/ Lamp"]


def realistic_catalogue(movies: int = 120) -> list[dict]:
    """MovieLens movies with genres as a list and a nested release, plus shop items with odd titles."""
    items = []
    with open(ML100K / "ml-100k.item", newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.DictReader(f, delimiter="\t")
        for n, row in zip(range(movies), rows):
            fields = {k.split(":")[0]: v for k, v in row.items()}
            year = fields.get("release_year", "")
            items.append({"item_id": f"m{fields['item_id']}", "title": fields["movie_title"],
                          "category": fields["class"].split()[0] if fields.get("class") else "",
                          "attributes": {"genres": fields.get("class", "").split(),
                                         "release": {"year": int(year) if year.isdigit() else None,
                                                     "decade": f"{year[:3]}0s" if year.isdigit() else None}}})
    for n, title in enumerate(ODD_TITLES):
        items.append({"item_id": f"odd-{n}", "title": title, "category": "Gifts", "price": 9.5 + n,
                      "attributes": {"colours": ["red", "blue"], "sizes": [38, 40], "care": {"wash": {"max_c": 30}},
                                     "eco": True}})
    return items


@pytest.fixture(scope="module")
def worker(start_worker):
    w = start_worker()
    w.wait_ready(timeout=180)
    return w


@pytest.mark.integration
def test_a_catalogue_with_list_and_nested_attributes_is_indexed_whole(broker, worker):
    items = realistic_catalogue()
    publish(broker.bootstrap, "items", [(i["item_id"], i) for i in items])
    wait_for(lambda: worker.get_json("/health")["index_items"] >= len(items), timeout=300, what="the catalogue indexed")
    letters = read_topic(broker.bootstrap, "streamrec-dead-letters", timeout=10, idle=3)
    assert not [l for l in letters if l["value"]["source_topic"] == "items"], "no catalogue item dead-lettered"
    hits = worker.get_json("/search?q=" + "Tom%20%26%20Jerry%20mug&k=3")["hits"]
    assert "odd-0" in {h["item_id"] for h in hits} and any(h["title"] == ODD_TITLES[0] for h in hits)


@pytest.mark.integration
def test_wrong_keys_and_future_times_are_dead_lettered_and_late_events_listed(broker, worker):
    item = "odd-1"
    wait_for(lambda: worker.get_json("/health")["index_items"] > 0, timeout=300, what="a catalogue")
    good = {"event_id": "k-good", "user_id": "keyed", "type": "view", "item_id": item}
    late = {"event_id": "k-late", "user_id": "keyed", "type": "click", "item_id": item, "ts": "2001-09-09T01:46:40Z"}
    wrong_key = {"event_id": "k-wrong", "user_id": "keyed", "type": "view", "item_id": item}
    null_key = {"event_id": "k-null", "user_id": "keyed", "type": "view", "item_id": item}
    micro_ts = {"event_id": "k-micro", "user_id": "keyed", "type": "view", "item_id": item, "ts": time.time() * 1e6}
    prod = producer(broker.bootstrap)
    try:
        prod.send("events", key=b"keyed", value=j(good))
        prod.send("events", key=b"somebody-else", value=j(wrong_key))
        prod.send("events", key=None, value=j(null_key))
        prod.send("events", key=b"keyed", value=j(micro_ts))
        # no ts, but the producer's Kafka timestamp is in microseconds: the event time defaults to it
        prod.send("events", key=b"keyed", value=j({"event_id": "k-stamp", "user_id": "keyed", "type": "view",
                                                   "item_id": item}), timestamp_ms=int(time.time() * 1e6))
        prod.send("events", key=b"keyed", value=j(late))
        prod.flush()
    finally:
        prod.close()

    def letters():
        found = {l["value"]["value"] and json.loads(l["value"]["value"]).get("event_id"): l["value"]["reason"]
                 for l in read_topic(broker.bootstrap, "streamrec-dead-letters", timeout=30, idle=3)
                 if l["value"]["source_topic"] == "events"}
        return found if len(found) >= 4 else None

    assert wait_for(letters, timeout=120, what="four dead letters") == {
        "k-wrong": "key_mismatch", "k-null": "key_mismatch", "k-micro": "future_ts", "k-stamp": "future_ts"}
    triggers = wait_for(lambda: {r["value"]["trigger_event_id"] for r in read_topic(
        broker.bootstrap, "recommendations", timeout=30, idle=3) if r["key"] == "keyed"} >= {"k-good", "k-late"} or None,
        timeout=120, what="lists of the good and the late event")
    assert triggers
    profile = worker.get_json("/users/keyed/profile")
    assert {"k-good", "k-late"} <= set(profile["applied_events"])
    assert not {"k-wrong", "k-null", "k-micro", "k-stamp"} & set(profile["applied_events"])
    assert max(h["ts"] for h in profile["history"]) < time.time() + 60, "no future time reached the profile"


@pytest.mark.integration
def test_a_vector_that_does_not_fit_the_index_is_dead_lettered_and_the_follower_goes_on(broker, worker):
    health = wait_for(lambda: (h := worker.get_json("/health"))["index_items"] > 0 and h, timeout=300,
                      what="a catalogue")
    model, before = health["model_version"], health["index_items"]

    def record(item_id: str, dim: int) -> bytes:
        vector = np.random.default_rng(len(item_id)).standard_normal(dim).astype(np.float32)
        vector /= np.linalg.norm(vector)
        return j({"schema_version": 1, "item_id": item_id, "model_version": model, "dim": dim,
                  "vector": base64.b64encode(vector.tobytes()).decode(),
                  "meta": {"title": f"Vector {item_id}", "category": "Gifts", "price": 1.0, "in_stock": True,
                           "published_at": time.time()}})

    # same partition (same key) for the bad record and the good one after it: the follower must get past it
    publish(broker.bootstrap, "item-vectors", [("fit-check", record("fit-check", 17)),
                                               ("fit-check", record("fit-check", 384))])
    wait_for(lambda: worker.get_json("/health")["index_items"] == before + 1, timeout=60,
             what="the good vector after the bad one indexed")
    letters = [l["value"] for l in read_topic(broker.bootstrap, "streamrec-dead-letters", timeout=30, idle=3)
               if l["value"]["source_topic"] == "item-vectors"]
    assert [l["reason"] for l in letters] == ["dim_mismatch"]
    assert worker.get_json("/search?item_id=fit-check&k=1")["hits"][0]["item_id"] == "fit-check"
