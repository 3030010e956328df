"""The stage the stream benches share: worker processes on a local broker, a catalogue loaded, a probe through.

pipeline, soak and signals all start the same way; only what they drive and read differs.
"""
from __future__ import annotations

import json
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rich.console import Console

from ..local.cluster import LocalBroker, WorkerProcess, publish, read_topic, wait_for
from ..runtime.kafka import ensure_topics
from .traffic import Message, Traffic, produce_all
from .workload import Shoppers, synthetic_catalogue, vector_records

#: quiet workers: a bench reads their metrics, not their logs
QUIET = {"STREAMREC_LOG_LEVEL": "warning"}


def start_workers(count: int, broker: LocalBroker, workdir: Path, console: Console,
                  env: dict[str, str] | None = None) -> list[WorkerProcess]:
    """``count`` worker processes (role all, one consumer group), each with its own data dir, ready."""
    workers = [WorkerProcess.start(broker.url, workdir / f"worker-{n}", env={**QUIET, **(env or {})})
               for n in range(count)]
    with console.status(f"starting {count} streamrec worker(s)…"):
        for worker in workers:
            worker.wait_ready(timeout=240)
    return workers


def load_catalogue(broker: LocalBroker, workers: list[WorkerProcess], console: Console, *,
                   catalogue=None, items: list | None = None, vectors: list | None = None) -> dict:
    """Publish a synthetic ``catalogue`` as precomputed vectors straight to `item-vectors` (or ``items`` records
    to `items`, embedded by the workers; or ``vectors``, `item-vectors` records another stage's workers
    published, as they are) and wait until every worker has indexed all of them."""
    health = workers[0].get_json("/health")
    started = time.monotonic()
    if vectors is not None:
        with console.status(f"publishing {len(vectors):,} item vectors…"):
            count = produce_all(broker.bootstrap, "item-vectors", vectors)
    elif items is not None:
        count = publish(broker.bootstrap, "items", items)
    else:
        records = vector_records(catalogue, health["model_version"], dim=384)
        with console.status(f"publishing {len(catalogue.item_ids):,} item vectors…"):
            count = produce_all(broker.bootstrap, "item-vectors", records)
    with console.status(f"indexing {count:,} items…"):
        for worker in workers:
            wait_for(lambda w=worker: _indexed(w, count), timeout=1800, interval=1.0, what="the catalogue to be indexed")
    seconds = time.monotonic() - started
    console.print(f"catalogue: {count:,} items indexed by {len(workers)} worker(s) in {seconds:.0f} s")
    return {"items": count, "model_version": health["model_version"], "catalogue_s": seconds}


def item_vectors(broker: LocalBroker, count: int, timeout: float = 120.0) -> list[tuple[str, bytes]]:
    """The `item-vectors` records the workers published (the last per item), read back by an assign-mode reader."""
    latest: dict[str, bytes] = {}
    for record in read_topic(broker.bootstrap, "item-vectors", timeout=timeout, idle=5.0):
        if record["key"] is not None and record["raw"] is not None:
            latest[record["key"]] = record["raw"]
        if len(latest) >= count:
            break
    return list(latest.items())


def probe(traffic: Traffic, make, timeout: float = 240.0) -> None:
    """Send one probe message every 2 s until one comes out: the agent is assigned and running."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        message = make(n)
        traffic.burst([message])
        if traffic.wait_for([message.event_id], timeout=2.0, idle=2.0):
            return
        n += 1
    raise TimeoutError("the agent never forwarded a probe")


def probe_event(item_id: str):
    """A probe maker for the event agent: a view of ``item_id`` by a user of its own."""
    return lambda n: Message(b"probe", json.dumps({"event_id": f"probe-{n}", "user_id": "probe", "type": "view",
                                                   "item_id": item_id}).encode(), f"probe-{n}")


@dataclass
class Shop:
    """A running stage: the broker, ready workers that indexed a synthetic catalogue, and its shoppers."""

    broker: LocalBroker
    workers: list[WorkerProcess]
    info: dict  # items, model_version, catalogue_s
    shoppers: Shoppers
    users: list[str]

    def traffic(self, settings, fetch_max_wait_ms: int = 5) -> Traffic:
        """A started driver: events in, lists read back (close it when done)."""
        traffic = Traffic(self.broker.bootstrap, settings.topic_events, settings.topic_recommendations,
                          fetch_max_wait_ms=fetch_max_wait_ms).start()
        probe(traffic, lambda n: self.shoppers.event("probe-user", f"probe{n}"))
        return traffic


@contextmanager
def synthetic_shop(settings, *, workers: int, items: int, users: int, console: Console, name: str,
                   partitions: int | None = None) -> Iterator[Shop]:
    """Broker + ``workers`` workers + ``items`` synthetic items indexed + ``users`` shoppers; all stopped after.

    ``partitions``: the topics' and tables' partition count (default: the settings')."""
    workdir = Path(tempfile.mkdtemp(prefix=f"streamrec-{name}-"))
    broker = LocalBroker.start(log_path=workdir / "broker.log")
    update = {"broker": broker.url, **({"topic_partitions": partitions} if partitions else {})}
    ensure_topics(settings.model_copy(update=update))
    running: list[WorkerProcess] = []
    try:
        catalogue = synthetic_catalogue(items)
        running = start_workers(workers, broker, workdir, console,
                                env={"STREAMREC_TOPIC_PARTITIONS": str(partitions)} if partitions else None)
        info = load_catalogue(broker, running, console, catalogue=catalogue)
        yield Shop(broker, running, info, Shoppers(catalogue), [f"u{i}" for i in range(users)])
    finally:
        for worker in running:
            worker.stop()
        broker.stop()


def write_json(path: Path | None, result: dict) -> None:
    """Write a bench's figures where --json says (nothing without it)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))


def _indexed(worker, count: int) -> bool:
    """Whether ``worker`` has indexed ``count`` items; a worker busy indexing a large batch may answer late."""
    try:
        return worker.get_json("/health", timeout=30)["index_items"] >= count
    except OSError:  # a timeout or a refused connection: ask again
        return False
