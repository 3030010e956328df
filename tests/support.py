"""What the tests share: vectors, stand-ins for Faust's message objects, a test's own topic names, and the
steps every real-worker test takes (load a catalogue, read a metric, call the HTTP API or the real CLI).

Fixtures built on these live in conftest.py.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streams.local.cluster import LocalBroker, WorkerProcess, publish, wait_for
from streams.runtime.kafka import CONTRACT_TOPICS
from streams.settings import Settings, env_name

REPO = Path(__file__).resolve().parents[1]
ML100K = Path(os.environ.get("STREAMREC_ML100K", REPO.parent / "shared" / "data" / "ml-100k"))


# ---- vectors ---------------------------------------------------------------------------------------------
def unit(*values: float) -> np.ndarray:
    """The float32 unit vector along ``values``."""
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def random_units(n: int, dim: int, seed: int) -> np.ndarray:
    """``n`` random float32 unit vectors of ``dim`` components (rows), the same for the same seed."""
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---- stand-ins for Faust's objects, for calling an agent's batch handler directly --------------------------
@dataclass
class Message:
    """The fields of a Faust message a handler reads."""

    key: bytes | None
    value: bytes | None
    topic: str = "items"
    partition: int = 0
    offset: int = 0
    timestamp: float = 1_700_000_000.0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class StreamEvent:
    """A Faust event: what ``stream.take_events`` yields."""

    message: Message


class Sink:
    """Stands where a Faust topic stands: collects what the handler sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes | None]] = []

    async def send(self, key=None, value=None, headers=None):
        self.sent.append((key, value))


class Journal:
    """What a handler sent to its topics, in one order across them: (topic, key, value) entries."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, bytes | None, bytes | None]] = []

    def topic(self, name: str) -> "JournalTopic":
        """Stands where a Faust topic stands (``send(key=, value=)``)."""
        return JournalTopic(self, name)

    def batches(self, name: str) -> "JournalBatches":
        """Stands where a BatchSender stands (``send(records)``)."""
        return JournalBatches(self, name)

    def sent(self, name: str) -> list[tuple[bytes | None, bytes | None]]:
        """(key, value) of what went to topic ``name``."""
        return [(key, value) for topic, key, value in self.entries if topic == name]


@dataclass
class JournalTopic:
    journal: Journal
    name: str

    async def send(self, key=None, value=None, headers=None):
        self.journal.entries.append((self.name, key, value))


@dataclass
class JournalBatches:
    journal: Journal
    name: str

    partition_count: int = 4

    async def send(self, records):
        self.journal.entries.extend((self.name, key, value) for key, value in records)
        return len(records)

    async def partitions(self) -> list[int]:
        return list(range(self.partition_count))

    def partition_of(self, key: bytes) -> int:
        """The partition aiokafka's partitioner gives ``key``, as BatchSender does."""
        from aiokafka.partitioner import DefaultPartitioner
        partitions = list(range(self.partition_count))
        return DefaultPartitioner()(key, partitions, partitions)

    async def send_to(self, records):
        self.journal.entries.extend((self.name, key, value) for _, key, value in records)
        return len(records)


class StandInProducer:
    """Stands where the app's aiokafka producer stands, for a real BatchSender: real record batches, and a broker
    future per batch that resolves, or fails with ``failure`` when its topic is in ``failing`` (an injected
    produce error)."""

    def __init__(self, partitions: int = 4, max_batch: int = 1_048_576) -> None:
        self.partition_count = partitions
        self.max_batch = max_batch
        self.failing: dict[str, BaseException] = {}
        self.batches: list[tuple[str, int, int]] = []  # (topic, partition, records)

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partition_count))

    def create_batch(self):
        from aiokafka.producer.message_accumulator import BatchBuilder
        return BatchBuilder(self.max_batch, 0)

    async def send_batch(self, batch, topic: str, *, partition: int):
        import asyncio
        self.batches.append((topic, partition, batch.record_count()))
        future = asyncio.get_running_loop().create_future()
        if topic in self.failing:
            future.set_exception(self.failing[topic])
        else:
            future.set_result((topic, partition))
        return future


class StandInApp:
    """What BatchSender reads of a Faust app: ``app.producer._ensure_producer()``."""

    def __init__(self, producer: StandInProducer) -> None:
        self.producer = self
        self._producer = producer

    def _ensure_producer(self) -> StandInProducer:
        return self._producer


# ---- one test's topics -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopicNames:
    """The contract's topics and the consumer group under one prefix, so tests share a broker, not data.

    ``env`` configures a worker or a command (STREAMREC_TOPIC_*, STREAMREC_APP_ID).
    """

    prefix: str

    def name(self, setting: str) -> str:
        """The prefixed topic of a Settings field (``topic_items`` → ``t3-items``)."""
        return self.prefix + Settings.model_fields[setting].default

    @property
    def items(self) -> str:
        return self.name("topic_items")

    @property
    def events(self) -> str:
        return self.name("topic_events")

    @property
    def recommendations(self) -> str:
        return self.name("topic_recommendations")

    @property
    def dead_letters(self) -> str:
        return self.name("topic_dead_letters")

    @property
    def item_vectors(self) -> str:
        return self.name("topic_item_vectors")

    @property
    def app_id(self) -> str:
        return self.name("app_id")

    def changelog(self, table: str) -> str:
        """The changelog topic Faust keeps for one of the worker's tables."""
        return f"{self.app_id}-{table}-changelog"

    @property
    def env(self) -> dict[str, str]:
        names = {setting: self.name(setting) for setting in (*CONTRACT_TOPICS, "app_id")}
        return {env_name(setting): value for setting, value in names.items()}


_namespaces = itertools.count(1)


def new_topics() -> TopicNames:
    """Topic names no other test of this session uses."""
    return TopicNames(f"t{next(_namespaces)}-")


# ---- a real worker ---------------------------------------------------------------------------------------
def load_catalogue(broker: LocalBroker, topics: TopicNames, worker: WorkerProcess, items: list[dict],
                   timeout: float = 120.0) -> None:
    """Publish ``items`` to the worker's items topic and wait until its index holds every one of them."""
    publish(broker.bootstrap, topics.items, [(i["item_id"], i) for i in items])
    wait_for(lambda: worker.get_json("/health")["index_items"] == len(items), timeout=timeout,
             what=f"{len(items)} items indexed")


def metric(worker: WorkerProcess, sample: str) -> float:
    """One sample of the worker's /metrics (0 when absent), e.g. ``streamrec_events_consumed_total{type="view"}``."""
    match = re.search(rf"^{re.escape(sample)} ([0-9.e+-]+)$", worker.get_text("/metrics"), re.M)
    return float(match.group(1)) if match else 0.0


def http(worker: WorkerProcess, method: str, path: str, body: Any = None) -> tuple[int, dict]:
    """A real HTTP request to the worker; (status, JSON body) for 2xx and 4xx alike."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(worker.web_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **worker.headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def cli(broker: LocalBroker, topics: TopicNames | None, *args: str, stdin: str | None = None,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """The real `streamrec` command line, in its own process, against ``broker`` and ``topics``."""
    full = {**os.environ, "STREAMREC_BROKER": broker.url, "HF_HUB_OFFLINE": "1", **(topics.env if topics else {}),
            **(env or {})}
    return subprocess.run([sys.executable, "-m", "streams.cli.main", *args], input=stdin, capture_output=True,
                          text=True, timeout=180, env=full, cwd=REPO)
