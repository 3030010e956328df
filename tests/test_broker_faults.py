"""Broker faults never stop the stream: a worker started before its broker waits for it, and a broker that
stops answering for a while (frozen, its data kept) costs no event its list once it answers again.

The embedded broker keeps topics in memory only, so restarting it loses every topic: that case is in
docs/reliability.md, not here."""
from __future__ import annotations

import os
import signal
import time

import pytest

from streams.local.broker import free_port
from streams.local.cluster import LocalBroker, WorkerProcess, publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=2)


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
        publish(broker.bootstrap, "items", [(i["item_id"], i) for i in ITEMS])
        wait_for(lambda: worker.get_json("/health")["index_items"] == len(ITEMS), what="catalogue indexed")
        publish(broker.bootstrap, "events", views("early", 5))
        assert len(read_topic(broker.bootstrap, "recommendations", count=5, timeout=60)) == 5
        log = worker.log_path.read_text()
        assert log.count("is not reachable yet") == 1, "one clear line while waiting"
    finally:
        worker.stop()
        if broker is not None:
            broker.stop()


def test_a_frozen_broker_costs_no_event_its_list(broker, start_worker):
    worker = start_worker()
    worker.wait_ready(timeout=180)
    publish(broker.bootstrap, "items", [(i["item_id"], i) for i in ITEMS])
    wait_for(lambda: worker.get_json("/health")["index_items"] == len(ITEMS), what="catalogue indexed")
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
