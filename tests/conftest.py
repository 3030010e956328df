"""Shared fixtures: one real embedded broker per test session, topics of a test's own, real worker processes,
and the real encoder loaded once. Helpers without fixtures live in support.py."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from support import ML100K, TopicNames, load_catalogue, new_topics  # noqa: E402  (after HF_HUB_OFFLINE: it imports streams)

os.environ.setdefault("STREAMREC_ML100K", str(ML100K))  # every test finds the data where the tree sits

from streams.local.cluster import LocalBroker, WorkerProcess  # noqa: E402

#: Faust settings that make a worker start and rejoin faster on the embedded broker, which answers JoinGroup
#: only when the rebalance timeout expires (../shared/notes/tansu.md)
FAST_JOIN = {"STREAMREC_REBALANCE_TIMEOUT": "2"}


@pytest.fixture(scope="session")
def kafka(tmp_path_factory) -> LocalBroker:
    """The session's embedded broker (tansu, in memory); each test keeps to its own topics (``topics``)."""
    b = LocalBroker.start(log_path=tmp_path_factory.mktemp("kafka") / "broker.log")
    yield b
    b.stop()


@pytest.fixture
def topics() -> TopicNames:
    """This test's own topic names and consumer group on the session broker."""
    return new_topics()


@pytest.fixture(scope="module")
def module_topics() -> TopicNames:
    """Topic names shared by the tests of one module (a module whose tests share one worker)."""
    return new_topics()


@pytest.fixture
def own_broker(tmp_path) -> LocalBroker:
    """A broker of this test alone: for tests that stop, freeze or restart the broker itself."""
    b = LocalBroker.start(log_path=tmp_path / "broker.log")
    yield b
    b.stop()


class Workers:
    """Starts real `streamrec worker` processes; every one is stopped at the end of the fixture's scope."""

    def __init__(self, broker: LocalBroker, tmp_path_factory) -> None:
        self.broker = broker
        self.tmp = tmp_path_factory
        self.started: list[WorkerProcess] = []

    def start(self, topics: TopicNames | None, data_dir: Path | None = None, **env: str) -> WorkerProcess:
        """A worker on the broker, configured by ``topics`` and STREAMREC_* ``env``; not waited for."""
        full = {**FAST_JOIN, **(topics.env if topics is not None else {}), **env}
        worker = WorkerProcess.start(self.broker.url, data_dir or self.tmp.mktemp("worker"), env=full)
        self.started.append(worker)
        return worker

    def loaded(self, topics: TopicNames, items: list[dict], data_dir: Path | None = None, **env: str) -> WorkerProcess:
        """A ready worker whose index holds ``items`` (published to its items topic and embedded by it)."""
        worker = self.start(topics, data_dir, **env)
        worker.wait_ready(timeout=180)
        load_catalogue(self.broker, topics, worker, items)
        return worker

    def stop_all(self) -> None:
        for w in self.started:
            w.stop()


@pytest.fixture(scope="module")
def workers(kafka, tmp_path_factory) -> Workers:
    """Real workers on the session broker, stopped after the module."""
    pool = Workers(kafka, tmp_path_factory)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def loaded_worker(workers) -> Callable[..., WorkerProcess]:
    """``loaded_worker(topics, items, **env)``: a ready worker with ``items`` in its index."""
    return workers.loaded


@pytest.fixture(scope="session")
def encoder():
    """The real default encoder (all-MiniLM-L6-v2 on the CPU), loaded once per session."""
    from encoders import EncoderOptions, load_encoder

    return load_encoder(EncoderOptions(device="cpu"))


# ---- the fixtures as they were: a module's own broker and workers on the default topic names ----------------
@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> LocalBroker:
    """A broker of the module's own, on which workers use the default topic names (prefer ``kafka``)."""
    b = LocalBroker.start(log_path=tmp_path_factory.mktemp("broker") / "broker.log")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def start_worker(broker, tmp_path_factory) -> Callable[..., WorkerProcess]:
    """``start_worker(data_dir=None, **env)`` on the module's ``broker`` (prefer ``workers`` / ``loaded_worker``)."""
    pool = Workers(broker, tmp_path_factory)

    def start(data_dir: Path | None = None, **env: str) -> WorkerProcess:
        return pool.start(None, data_dir, **env)

    yield start
    pool.stop_all()
