"""Shared fixtures: a real embedded broker and real worker processes on loopback ports."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.local.cluster import LocalBroker, WorkerProcess

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
ML100K = Path(os.environ.get("STREAMREC_ML100K", REPO.parent / "shared" / "data" / "ml-100k"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A tansu broker of this test module's own (in memory: modules never see each other's topics)."""
    b = LocalBroker.start(log_path=tmp_path_factory.mktemp("broker") / "broker.log")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def start_worker(broker, tmp_path_factory):
    """Start real `streamrec worker` processes against the module's broker; all are stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(data_dir: Path | None = None, **env: str) -> WorkerProcess:
        worker = WorkerProcess.start(broker.url, data_dir or tmp_path_factory.mktemp("worker"), env=env)
        started.append(worker)
        return worker

    yield start
    for w in started:
        w.stop()
