"""A local cluster on loopback — the embedded broker plus real worker processes — for the demo, benchmarks and tests."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import StreamrecError
from ..runtime.kafka import broker_errors, read_until_quiet
from .broker import die_with_parent, free_port, start_broker

#: the HTTP token (every scope) of the workers this process starts, unless told another: workers of one cluster
#: must share it, because a worker forwards a request with its Authorization header to the user's owner
LOCAL_TOKEN = secrets.token_urlsafe(32)
ALL_SCOPES = "read,ingest,admin"


@dataclass
class LocalBroker:
    """A tansu process on a loopback port."""

    port: int
    process: subprocess.Popen

    @classmethod
    def start(cls, port: int | None = None, log_path: Path | None = None, binary: Path | None = None,
              storage: str | None = None) -> "LocalBroker":
        """Start tansu on ``port`` (a free one when None) and wait until it listens."""
        port = port or free_port()
        return cls(port, start_broker(port, binary=binary, log_path=log_path, storage=storage))

    @property
    def url(self) -> str:
        """Faust-style broker URL."""
        return f"kafka://127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        """host:port for kafka-python."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Terminate the broker (its in-memory data is gone)."""
        _terminate(self.process)


@dataclass
class WorkerProcess:
    """A `streamrec worker` subprocess with its own data dir and web port."""

    process: subprocess.Popen
    web_port: int
    data_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    token: str = LOCAL_TOKEN

    @classmethod
    def start(cls, broker_url: str, data_dir: Path, *, web_port: int | None = None,
              env: dict[str, str] | None = None, log_path: Path | None = None,
              token: str | None = None) -> "WorkerProcess":
        """Launch ``python -m streams.cli.main worker`` configured through STREAMREC_* variables.

        The worker accepts ``token`` (default LOCAL_TOKEN) with every scope, from a tokens file in its data dir;
        ``STREAMREC_API_TOKENS`` in ``env`` adds others.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        web_port = web_port or free_port()
        log_path = log_path or data_dir / "worker.log"
        token = token or LOCAL_TOKEN
        tokens_file = data_dir / "api-tokens"
        tokens_file.touch(mode=0o600)
        tokens_file.write_text(f"local:{ALL_SCOPES}:{token}\n")
        full_env = dict(os.environ)
        full_env.update({
            "STREAMREC_BROKER": broker_url,
            "STREAMREC_DATA_DIR": str(data_dir),
            "STREAMREC_WEB_PORT": str(web_port),
            "STREAMREC_API_TOKENS_FILE": str(tokens_file),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        })
        with open(log_path, "ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "streams.cli.main", "worker"],
                                       stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True,
                                       preexec_fn=die_with_parent)
        return cls(process, web_port, data_dir, log_path, env or {}, token)

    @property
    def web_url(self) -> str:
        """Base URL of the worker's HTTP server."""
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of this worker's token."""
        return {"Authorization": f"Bearer {self.token}"}

    def get_json(self, path: str, timeout: float = 5.0) -> Any:
        """GET a JSON view of the worker (with its token)."""
        request = urllib.request.Request(self.web_url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def get_text(self, path: str, timeout: float = 5.0) -> str:
        """GET a text view of the worker (e.g. /metrics)."""
        request = urllib.request.Request(self.web_url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode()

    def wait_ready(self, timeout: float = 120.0) -> dict:
        """Block until /health says ready (partitions assigned, item vectors caught up)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StreamrecError(f"worker exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                last = self.get_json("/health", timeout=2)
                if last.get("ready"):
                    return last
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.25)
        raise StreamrecError(f"worker not ready after {timeout:.0f}s (last health: {last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The end of the worker's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait: the worker snapshots its index on the way out."""
        _terminate(self.process, timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, no snapshot on the way out."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def producer(bootstrap: str, **extra: Any):
    """A kafka-python producer for loopback tests and the demo."""
    from kafka import KafkaProducer

    with broker_errors(bootstrap):
        return KafkaProducer(**{"bootstrap_servers": [bootstrap], "linger_ms": 5, **extra})


def publish(bootstrap: str, topic: str, records: Iterable[tuple[str | None, Any]]) -> int:
    """Send (key, value) records; dict values are JSON-encoded, bytes sent as they are, None is a tombstone."""
    prod = producer(bootstrap)
    count = 0
    try:
        for key, value in records:
            if isinstance(value, (dict, list)):
                value = json.dumps(value).encode()
            elif isinstance(value, str):
                value = value.encode()
            prod.send(topic, key=None if key is None else key.encode(), value=value)
            count += 1
        prod.flush(timeout=30)
    finally:
        prod.close()
    return count


def read_topic(bootstrap: str, topic: str, *, count: int | None = None, timeout: float = 30.0,
               from_beginning: bool = True, idle: float | None = None) -> list[dict[str, Any]]:
    """Read records with an assign-mode consumer (group consumers hang on tansu).

    Stops after ``count`` records, after ``timeout`` seconds in all, or after ``idle`` quiet seconds.
    Values that are JSON come back decoded under "value"; the raw bytes stay under "raw".
    """
    return list(follow_topic(bootstrap, topic, count=count, timeout=timeout, from_beginning=from_beginning, idle=idle))


def follow_topic(bootstrap: str, topic: str, *, count: int | None = None, timeout: float = 30.0,
                 from_beginning: bool = True, idle: float | None = None) -> Iterator[dict[str, Any]]:
    """Yield records as they arrive (assign mode); the same stopping rules as :func:`read_topic`."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], enable_auto_commit=False, group_id=None,
                             fetch_max_wait_ms=50, consumer_timeout_ms=200)
    try:
        for message in read_until_quiet(consumer, topic, count=count, idle=idle, timeout=timeout,
                                        from_beginning=from_beginning):
            yield _record(message)
    finally:
        consumer.close()


def _record(message) -> dict[str, Any]:
    try:
        value = None if message.value is None else json.loads(message.value)
    except ValueError:
        value = None
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": None if message.key is None else message.key.decode("utf-8", "replace"),
        "value": value,
        "raw": message.value,
        "timestamp": message.timestamp / 1000.0,
    }


def _terminate(process: subprocess.Popen, timeout: float = 30.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition", interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned), or raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
