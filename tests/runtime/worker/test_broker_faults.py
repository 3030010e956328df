"""Broker faults never stop the stream: a worker started before its broker waits for it, and a broker that
stops answering for a while (frozen, its data kept) costs no event its list once it answers again, and one
that goes away and comes back on the same port finds the worker alive, saying so in two lines.

Each test has a broker of its own (it starts it late, freezes it or restarts it), on the default topic names.
The embedded broker keeps topics in memory only, so a restarted one comes back empty: what it still has
(nothing) cannot be lost; the test recreates the topics and catalogue, as `streamrec demo` would."""
from __future__ import annotations

import os
import re
import signal
import time

import pytest
from support import TopicNames, load_catalogue

from streams.local.broker import free_port
from streams.local.cluster import LocalBroker, WorkerProcess, publish, read_topic, wait_for
from streams.local.sample import catalogue
from streams.runtime.kafka import ensure_topics
from streams.settings import Settings

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=2)
DEFAULT_TOPICS = TopicNames("")  # each test's broker is its own: the default names


def views(prefix: str, n: int) -> list[tuple[str, dict]]:
    return [(f"{prefix}-{i % 7}", {"event_id": f"{prefix}-{i}", "user_id": f"{prefix}-{i % 7}", "type": "view",
                                    "item_id": ITEMS[i % len(ITEMS)]["item_id"]}) for i in range(n)]


def test_a_worker_started_before_its_broker_waits_then_serves(tmp_path):
    port = free_port()
    worker = WorkerProcess.start(f"kafka://127.0.0.1:{port}", tmp_path / "worker")
    broker = None
    try:
        wait_for(lambda: "is not reachable yet" in worker.log_path.read_text(), timeout=180,
                 what="the worker to say it waits for its broker")
        time.sleep(5)
        assert worker.process.poll() is None, "the worker waits for its broker instead of exiting"
        broker = LocalBroker.start(port=port, log_path=tmp_path / "broker.log")
        worker.wait_ready(timeout=180)
        load_catalogue(broker, DEFAULT_TOPICS, worker, ITEMS)
        publish(broker.bootstrap, "events", views("early", 5))
        assert len(read_topic(broker.bootstrap, "recommendations", count=5, timeout=60)) == 5
        log = worker.log_path.read_text()
        assert log.count("is not reachable yet") == 1, "one clear line while waiting"
    finally:
        worker.stop()
        if broker is not None:
            broker.stop()


def test_a_frozen_broker_costs_no_event_its_list(own_broker, tmp_path):
    broker = own_broker  # frozen below: a broker of this test's own
    worker = WorkerProcess.start(broker.url, tmp_path / "worker")
    try:
        worker.wait_ready(timeout=180)
        load_catalogue(broker, DEFAULT_TOPICS, worker, ITEMS)
        pid = worker.process.pid
        publish(broker.bootstrap, "events", views("before", 20))
        assert len(read_topic(broker.bootstrap, "recommendations", count=20, timeout=60)) == 20
        os.kill(broker.process.pid, signal.SIGSTOP)  # the broker stops answering: requests hang, connections stay
        try:
            time.sleep(15)  # longer than the worker's session timeout
            assert worker.process.poll() is None and worker.process.pid == pid
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        publish(broker.bootstrap, "events", views("after", 20))
        lists = read_topic(broker.bootstrap, "recommendations", timeout=180, idle=20)
        triggers = {r["value"]["trigger_event_id"] for r in lists}
        assert {e["event_id"] for _, e in views("before", 20) + views("after", 20)} <= triggers
        assert worker.process.poll() is None, "the worker rode out the outage"
    finally:
        worker.stop()


def test_a_broker_that_goes_away_and_comes_back_finds_the_worker_alive(tmp_path):
    broker = LocalBroker.start(log_path=tmp_path / "broker-1.log")
    worker = WorkerProcess.start(broker.url, tmp_path / "worker")
    try:
        worker.wait_ready(timeout=180)
        load_catalogue(broker, DEFAULT_TOPICS, worker, ITEMS)
        publish(broker.bootstrap, "events", views("before", 10))
        assert len(read_topic(broker.bootstrap, "recommendations", count=10, timeout=60)) == 10
        port, pid = broker.port, worker.process.pid
        broker.stop()
        time.sleep(15)
        broker = LocalBroker.start(port=port, log_path=tmp_path / "broker-2.log")
        ensure_topics(Settings(broker=broker.url))  # memory-only: the new broker starts empty
        publish(broker.bootstrap, "items", [(i["item_id"], i) for i in ITEMS])
        # Offsets restart at 0 on an empty broker, below the positions the worker had: events sent before
        # it has re-joined can be skipped (docs/design/reliability.md). Probe until it serves, then count.
        wait_for(lambda: _served(broker, f"probe-{time.monotonic_ns()}"), timeout=240, interval=1.0,
                 what="the worker to serve again")
        publish(broker.bootstrap, "events", views("after", 10))
        lists = read_topic(broker.bootstrap, "recommendations", timeout=180, idle=30)
        assert {e["event_id"] for _, e in views("after", 10)} <= {r["value"]["trigger_event_id"] for r in lists}
        assert worker.process.poll() is None and worker.process.pid == pid
        wait_for(lambda: "Kafka broker answers again" in worker.log_path.read_text(), timeout=60,
                 what="the worker to say its broker answers again")
        log = worker.log_path.read_text()
        assert log.count("Kafka broker unreachable") == 1, "one clear line when the broker goes away"
        # aiokafka's own per-attempt lines (150 a second without the filter) are summarised, not repeated
        assert len(re.findall(r"Unable connect to node|Failed fetch messages from", log)) <= 2
    finally:
        worker.stop()
        broker.stop()


def _served(broker: LocalBroker, event_id: str) -> bool:
    publish(broker.bootstrap, "events", [("probe", {"event_id": event_id, "user_id": "probe", "type": "view",
                                                    "item_id": ITEMS[0]["item_id"]})])
    lists = read_topic(broker.bootstrap, "recommendations", timeout=5, idle=3)
    return any(r["value"]["trigger_event_id"] == event_id for r in lists)
