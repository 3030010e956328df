"""A partition that holds records and makes no progress is a stall: /ready answers 503, a metric counts it and one
log line says it (one more when it moves again). The real one: a partition of the embedded broker whose log is too
long to list within the consumer's fetch wait delivers nothing, ever; a worker must say so instead of idling."""
from __future__ import annotations

import asyncio
import logging
import re
import urllib.error
import urllib.request

import pytest

from streams.bench.broker import produce_single_batches
from streams.local.cluster import wait_for
from streams.runtime.stalls import StallWatch

# -- units: the watch itself, on a clock the test moves ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_records_without_progress_for_the_timeout_are_one_stall_and_moving_again_ends_it(caplog):
    clock, counted = Clock(), []
    watch = StallWatch(60.0, on_stall=lambda: counted.append(1), clock=clock)
    caplog.set_level(logging.WARNING, logger="streams.runtime.stalls")
    for step in range(10):  # 90 s at position 40 with 100 records waiting
        watch.observe("events", 2, 40, 40, 140)
        clock.now += 10
    assert watch.stalled == ["events:2"] and counted == [1]
    assert len([r for r in caplog.records if "is stalled" in r.message]) == 1, "one line, not one per check"
    assert "100 records wait" in caplog.records[0].message
    watch.observe("events", 2, 41, 41, 140)
    assert watch.stalled == [] and "moves again" in caplog.records[-1].message
    assert len(caplog.records) == 2


def test_no_stall_while_moving_caught_up_or_with_the_end_unknown():
    clock = Clock()
    watch = StallWatch(60.0, clock=clock)
    for step in range(20):
        watch.observe("events", 0, step, step, 1000)  # slow but moving
        watch.observe("events", 1, 500, 500, 500)  # caught up
        watch.observe("events", 2, None, None, None)  # nothing known yet
        # the embedded broker's short end: the position is past the reported end
        watch.observe("signals", 0, 1_204, 1_204, 1_200, owner="follower")
        clock.now += 10
    assert watch.stalled == []


def test_a_rebalance_or_recovery_holds_the_clock_and_revoked_partitions_are_forgotten():
    clock = Clock()
    watch = StallWatch(30.0, clock=clock)
    watch.observe("events", 0, 5, 5, 50)
    clock.now += 25
    watch.hold()  # a rebalance: partitions wait by design
    clock.now += 25
    watch.observe("events", 0, 5, 5, 50)
    assert watch.stalled == []
    clock.now += 10
    watch.observe("events", 0, 5, 5, 50)
    assert watch.stalled == ["events:0"]
    watch.observe("item-vectors", 0, 1, 1, 9, owner="follower")
    watch.keep_only([])  # the group lost every partition; the follower's stay
    assert watch.stalled == [] and watch._partitions.keys() == {("item-vectors", 0)}


# -- a real worker on the embedded broker -------------------------------------------------------------------------

STALL_BATCHES = 20_000  # single-record batches on one partition: listing them takes far longer than 1 ms


async def preload(bootstrap: str, topic: str, partition: int, batches: int) -> None:
    await produce_single_batches(bootstrap, topic, partition, batches, key=b"stall", value=b"{}")


def health(worker) -> dict:
    try:
        return worker.get_json("/health")
    except (urllib.error.URLError, OSError, ValueError):
        assert worker.process.poll() is None, worker.log_tail()
        return {}


def ready_status(worker) -> int:
    try:
        with urllib.request.urlopen(worker.web_url + "/ready", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.integration
def test_a_partition_the_broker_cannot_deliver_turns_ready_to_503_with_a_metric_and_a_log_line(broker, start_worker):
    from streams.runtime.kafka import ensure_topics
    from streams.settings import Settings

    ensure_topics(Settings(broker=broker.url))
    asyncio.run(preload(broker.bootstrap, "events", 3, STALL_BATCHES))
    # a 1 ms fetch wait: the broker gives up listing the long partition before it reaches any record
    worker = start_worker(STREAMREC_FETCH_MAX_WAIT_MS="1", STREAMREC_STALL_TIMEOUT="6")
    wait_for(lambda: health(worker).get("assigned_partitions"), timeout=180, what="partitions assigned")
    seen = wait_for(lambda: (h := health(worker)).get("stalled_partitions") and h, timeout=120, what="the stall seen")
    assert seen["stalled_partitions"] == ["events:3"] and not seen["ready"]
    assert ready_status(worker) == 503
    metrics = worker.get_text("/metrics")
    assert re.search(r"^streamrec_partition_stalls_total 1\.0$", metrics, re.M)
    assert re.search(r"^streamrec_stalled_partitions 1\.0$", metrics, re.M)
    lines = [l for l in worker.log_path.read_text().splitlines() if "is stalled" in l]
    assert len(lines) == 1 and "events:3" in lines[0] and f"{STALL_BATCHES} records wait" in lines[0]
