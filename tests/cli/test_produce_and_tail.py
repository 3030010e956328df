"""`streamrec produce` and `streamrec tail` against the session's real embedded broker, run in-process through
main(); each test on topics of its own (STREAMREC_TOPIC_* set for it)."""
from __future__ import annotations

import io
import json
import sys
import threading
import time

import pytest

from streams.cli.main import main
from streams.cli.produce import RateLimiter
from streams.core.lines import csv_record
from streams.errors import ImproperlyConfigured
from streams.local.broker import free_port
from streams.local.cluster import publish, read_topic

ITEMS = [
    {"item_id": "p1", "title": "Ultralight two-person tent", "category": "Tents", "price": 249.0},
    {"item_id": "p2", "title": "Down sleeping bag", "category": "Sleeping Bags", "price": 199.5},
    {"item_id": "p3", "title": "French press", "category": "Coffee Makers", "in_stock": False},
]


def _read(broker, topic, count):
    # one more than expected, with an idle stop: a surplus message would show up as a wrong count
    return read_topic(broker.bootstrap, topic, count=count + 1, timeout=30, idle=3)


@pytest.fixture
def broker(kafka, topics, monkeypatch):
    """The session broker, with this test's topic names as the settings in force."""
    for name, value in topics.env.items():
        monkeypatch.setenv(name, value)
    return kafka


# -- pure parts: no broker ---------------------------------------------------------------------------

def test_csv_record_converts_numbers_booleans_and_attributes():
    row = {"item_id": "p9", "title": " Chef's knife ", "price": "89.90", "ts": "1700000000", "in_stock": "false",
           "attributes": '{"blade length": "20 cm"}', "description": "", None: ["extra cell"]}
    assert csv_record(row) == {"item_id": "p9", "title": "Chef's knife", "price": 89.9, "ts": 1700000000,
                               "in_stock": False, "attributes": {"blade length": "20 cm"}}
    # text that only looks half like a number or JSON stays text: the worker judges it
    assert csv_record({"price": "12 EUR", "attributes": "{broken", "ts": "2024-05-01T10:00:00Z"}) == {
        "price": "12 EUR", "attributes": "{broken", "ts": "2024-05-01T10:00:00Z"}


def test_rate_limiter_paces_to_the_rate():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(50, burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(101):
        limiter.acquire()
    # the first message goes at once, the next 100 take 2 s at 50/s
    assert now[0] == pytest.approx(2.0, rel=1e-6)
    assert slept, "it paced by sleeping"


def test_rate_limiter_rejects_a_non_positive_rate():
    with pytest.raises(ImproperlyConfigured, match="--rate"):
        RateLimiter(0)


# -- against the embedded broker ---------------------------------------------------------------------

@pytest.mark.integration
def test_produce_jsonl_keys_by_item_id_and_sends_bad_lines_unchanged(broker, topics, tmp_path, capsys):
    path = tmp_path / "catalogue.jsonl"
    lines = [json.dumps(i) for i in ITEMS] + ["", "{oops not json"]
    path.write_text("\n".join(lines) + "\n")

    code = main(["produce", "--broker", broker.url, "--topic", "items", str(path)])

    out = capsys.readouterr().out
    assert code == 0
    assert f"produced 4 messages to {topics.items}" in out
    records = _read(broker, topics.items, 4)
    assert len(records) == 4
    by_key = {r["key"]: r for r in records}
    assert set(by_key) == {"p1", "p2", "p3", None}
    assert by_key["p2"]["value"] == ITEMS[1]
    assert by_key[None]["raw"] == b"{oops not json", "the worker, not produce, dead-letters a bad line"


@pytest.mark.integration
def test_produce_csv_rows_become_contract_json(broker, topics, tmp_path, capsys):
    path = tmp_path / "products.csv"
    path.write_text(
        "item_id,title,category,price,in_stock,attributes\n"
        'k1,Cast iron skillet,Cookware,39.95,true,"{""diameter"": ""24 cm""}"\n'
        "k2,Santoku knife,Kitchen Knives,75,false,\n"
    )
    topic = topics.prefix + "csv-items"  # a topic outside the contract, named as it is
    code = main(["produce", "--broker", broker.url, "--topic", topic, "--key-field", "item_id",
                 "--rate", "100", str(path)])

    assert code == 0
    assert f"produced 2 messages to {topic}" in capsys.readouterr().out
    records = sorted(_read(broker, topic, 2), key=lambda r: r["key"])
    assert [r["key"] for r in records] == ["k1", "k2"]
    assert records[0]["value"] == {"item_id": "k1", "title": "Cast iron skillet", "category": "Cookware",
                                   "price": 39.95, "in_stock": True, "attributes": {"diameter": "24 cm"}}
    assert records[1]["value"] == {"item_id": "k2", "title": "Santoku knife", "category": "Kitchen Knives",
                                   "price": 75, "in_stock": False}


@pytest.mark.integration
def test_produce_events_from_stdin_keyed_by_user(broker, topics, monkeypatch, capsys):
    events = [{"event_id": f"e{n}", "user_id": user, "type": "view", "item_id": "p1"}
              for n, user in enumerate(["ann", "ben", "ann"])]
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    code = main(["produce", "--broker", broker.url, "--topic", "events", "-"])

    assert code == 0
    assert f"produced 3 messages to {topics.events}" in capsys.readouterr().out
    records = _read(broker, topics.events, 3)
    assert sorted(r["key"] for r in records) == ["ann", "ann", "ben"]
    assert all(r["key"] == r["value"]["user_id"] for r in records)
    # one key → one partition → the user's events stay in order
    ann = [r for r in records if r["key"] == "ann"]
    assert len({r["partition"] for r in ann}) == 1
    assert [r["value"]["event_id"] for r in sorted(ann, key=lambda r: r["offset"])] == ["e0", "e2"]


def _recommendation(user, event_id, explanation):
    return {
        "user_id": user, "trigger_event_id": event_id, "generated_at": 1_700_000_000.0,
        "model_version": "all-MiniLM-L6-v2@test", "cold_start": False, "schema_version": 1,
        "items": [
            {"item_id": "p2", "rank": 1, "score": 0.812, "title": "Down sleeping bag",
             "reasons": [{"code": "similar_to_item", "weight": 0.812, "item_id": "p1", "title": "Ultralight two-person tent"}],
             "explanation": explanation},
        ],
    }


@pytest.mark.integration
def test_tail_prints_a_published_list_with_its_explanation(broker, topics, capsys):
    text = "Similar to “Ultralight two-person tent”, which you viewed."
    publish(broker.bootstrap, topics.recommendations, [("alice", _recommendation("alice", "a1", text))])

    code = main(["tail", "--broker", broker.url, "--from-beginning", "--max", "1", "--timeout", "20"])

    out = capsys.readouterr().out
    assert code == 0
    assert text in out
    assert "alice" in out and "a1" in out and "p2" in out and "Down sleeping bag" in out and "0.812" in out


@pytest.mark.integration
def test_tail_filters_by_user_and_prints_raw_json(broker, topics, capsys):
    publish(broker.bootstrap, topics.recommendations, [
        ("carol", _recommendation("carol", "c1", "For carol.")),
        ("dave", _recommendation("dave", "d1", "For dave.")),
    ])

    code = main(["tail", "--broker", broker.url, "--from-beginning", "--user", "dave", "--json",
                 "--max", "1", "--timeout", "20"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(lines) == 1
    assert json.loads(lines[0]) == _recommendation("dave", "d1", "For dave.")


@pytest.mark.integration
def test_tail_from_the_end_shows_only_lists_published_after_it_started(broker, topics, capsys):
    publish(broker.bootstrap, topics.recommendations, [("erin", _recommendation("erin", "old", "Stale list."))])
    result = {}
    tail = threading.Thread(target=lambda: result.update(code=main(
        ["tail", "--broker", broker.url, "--max", "1", "--timeout", "20"])))
    tail.start()
    time.sleep(2)  # tail is connected and positioned at the end by now
    publish(broker.bootstrap, topics.recommendations, [("erin", _recommendation("erin", "new", "Fresh list."))])
    tail.join(timeout=30)

    out = capsys.readouterr().out
    assert not tail.is_alive() and result["code"] == 0
    assert "Fresh list." in out and "Stale list." not in out


@pytest.mark.integration
def test_tail_stops_after_timeout_of_silence(broker, capsys):
    code = main(["tail", "--broker", broker.url, "--timeout", "1"])  # from the end: nothing new arrives
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == ""
    assert "0 lists shown" in captured.err


def test_produce_missing_file_is_one_line(tmp_path, capsys):
    code = main(["produce", "--broker", "kafka://127.0.0.1:9", "--topic", "items", str(tmp_path / "nope.jsonl")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"streamrec: error: no such file: {tmp_path / 'nope.jsonl'}"


@pytest.mark.parametrize("argv", [["produce", "--topic", "items", "FILE"], ["tail", "--max", "1"]], ids=["produce", "tail"])
def test_unreachable_broker_is_one_line(argv, tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(ITEMS[0]) + "\n")
    port = free_port()  # nothing listens there
    argv = [str(path) if a == "FILE" else a for a in argv]

    code = main([argv[0], "--broker", f"kafka://127.0.0.1:{port}", *argv[1:]])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"streamrec: error: cannot reach Kafka at kafka://127.0.0.1:{port}")


def test_produce_puts_headers_on_every_message():
    import argparse

    from streams.cli.produce import produce_options
    from streams.errors import ImproperlyConfigured
    from streams.settings import Settings

    args = argparse.Namespace(topic="events", file="-", fmt=None, rate=None, key_field=None,
                              header=["streamrec-control=forget", "x=a=b"])
    options = produce_options(args, Settings())
    assert options.headers == (("streamrec-control", b"forget"), ("x", b"a=b")) and options.key_field == "user_id"
    with pytest.raises(ImproperlyConfigured, match="--header takes NAME=VALUE"):
        produce_options(argparse.Namespace(**{**vars(args), "header": ["novalue"]}), Settings())


@pytest.mark.integration
def test_tail_takes_kcats_partition_offset_and_group_options(broker, topics, capsys):
    from kafka import KafkaConsumer

    users = [f"k{n}" for n in range(8)]
    for u in users:  # one batch per message: the embedded broker reports a multi-record batch's end short
        publish(broker.bootstrap, topics.recommendations, [(u, _recommendation(u, f"{u}-e", f"For {u}."))])
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    partitions = sorted(consumer.partitions_for_topic(topics.recommendations))
    consumer.close()
    placed = {(m["partition"], m["offset"]): m["key"] for m in read_topic(broker.bootstrap, topics.recommendations,
                                                                          count=len(users), timeout=30)}
    first = partitions[0]
    in_first = [key for (p, _), key in sorted(placed.items()) if p == first]

    def tail(*flags):
        code = main(["tail", "--broker", broker.url, "--json", "--timeout", "3", *flags])
        assert code == 0
        return [json.loads(line)["user_id"] for line in capsys.readouterr().out.splitlines()]

    assert tail("-p", str(first), "-o", "beginning") == in_first
    assert tail("--partition", str(first), "--offset", "-1") == in_first[-1:], "kcat's -o -N: N before the end"
    assert tail("-p", str(first), "-o", "1") == in_first[1:]
    assert sorted(tail("-o", "0")) == sorted(users), "every partition from offset 0"
    assert tail("-p", "99", "-o", "beginning") == [], "no such partition: nothing"
    grouped = tail("-G", f"{topics.prefix}dashboards", "-o", "beginning", "--max", "8", "--timeout", "30")
    assert sorted(grouped) == sorted(users)
    assert tail("-G", f"{topics.prefix}dashboards", "-o", "beginning", "--timeout", "12") == [], \
        "the group committed what it read"

    assert main(["tail", "--broker", broker.url, "-G", "g", "-p", "0"]) == 2
    assert "leave out -p" in capsys.readouterr().err
