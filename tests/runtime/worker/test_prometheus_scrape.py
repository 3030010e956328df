"""A real Prometheus scrapes a real worker's /metrics while traffic flows; the figures are read back through PromQL."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from support import load_catalogue

from streams.local.broker import free_port
from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=2)  # 40 products across 20 categories


class Prometheus:
    """A prometheus server process on a loopback port with a generated scrape config."""

    def __init__(self, binary: str, workdir, targets: list[str]) -> None:
        self.port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: streamrec\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: {json.dumps(targets)}\n"
        )
        self.log = workdir / "prometheus.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until /-/ready answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.process.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready after {timeout:.0f}s:\n{self.log.read_text()[-2000:]}")

    def query(self, promql: str) -> list[float]:
        """Instant query through /api/v1/query: one float per series of the result vector."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
        if body["status"] != "success":
            raise AssertionError(f"{promql}: {body}")
        result = body["data"]
        if result["resultType"] == "scalar":
            return [float(result["result"][1])]
        return [float(series["value"][1]) for series in result["result"]]

    def value(self, promql: str) -> float | None:
        """The single value of a query, or None when it returns no series."""
        values = self.query(promql)
        return values[0] if values else None

    def stop(self) -> None:
        """Terminate the server (bounded)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)




@pytest.fixture(scope="module")
def prometheus_binary():
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus server is not on PATH (Debian: apt-get install prometheus; .ci/run installs it)")
    return binary


@pytest.fixture(scope="module")
def topics(module_topics):
    return module_topics


@pytest.fixture(scope="module")
def worker(topics, workers):
    w = workers.start(topics)
    w.wait_ready(timeout=180)
    return w


@pytest.fixture
def prometheus(prometheus_binary, worker, tmp_path):
    server = Prometheus(prometheus_binary, tmp_path, [f"127.0.0.1:{worker.web_port}"])
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_prometheus_scrapes_worker_throughput_latency_and_integrity(kafka, topics, worker, prometheus):
    wait_for(lambda: prometheus.value('up{job="streamrec"}') == 1.0, 30, "the worker target to be up")
    events_before = prometheus.value("sum(streamrec_events_consumed_total)") or 0.0
    lists_before = prometheus.value("streamrec_recommendations_published_total") or 0.0

    load_catalogue(kafka, topics, worker, ITEMS)
    users = [f"shopper-{n}" for n in range(6)]
    events = [{"event_id": f"{u}-{j}", "user_id": u, "type": kind, "item_id": ITEMS[(n * 5 + j) % len(ITEMS)]["item_id"]}
              for n, u in enumerate(users) for j, kind in enumerate(["view", "click", "add_to_cart"])]
    publish(kafka.bootstrap, topics.events, [(e["user_id"], e) for e in events])
    lists = read_topic(kafka.bootstrap, topics.recommendations, count=len(events), timeout=60)
    assert len(lists) == len(events)

    # 1 s scrapes: the increase shows within a few seconds
    events_after = wait_for(
        lambda: (v := prometheus.value("sum(streamrec_events_consumed_total)") or 0.0) >= events_before + len(events) and v,
        30, "events consumed to reach Prometheus")
    assert events_after - events_before == len(events)
    lists_after = wait_for(
        lambda: (v := prometheus.value("streamrec_recommendations_published_total") or 0.0) >= lists_before + len(events) and v,
        30, "published lists to reach Prometheus")
    assert lists_after - lists_before == len(events)
    assert prometheus.value("streamrec_event_to_recommendation_seconds_count") >= len(events)
    assert prometheus.value('sum(streamrec_events_consumed_total{type="add_to_cart"})') >= len(users)

    p99 = prometheus.value(
        "histogram_quantile(0.99, sum by (le) (rate(streamrec_event_to_recommendation_seconds_bucket[1m])))")
    assert p99 is not None and math.isfinite(p99) and 0 < p99 <= 10.0, p99
    p50 = prometheus.value(
        "histogram_quantile(0.5, sum by (le) (rate(streamrec_event_to_recommendation_seconds_bucket[1m])))")
    assert p50 <= p99
    print(f"\nprometheus saw {events_after - events_before:.0f} events → {lists_after - lists_before:.0f} lists; "
          f"event → list p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (histogram buckets, 1 min rate)")

    assert prometheus.value("streamrec_explanation_integrity_violations_total") == 0.0
    assert prometheus.value("streamrec_explanations_checked_total") >= len(events)
    assert prometheus.value("streamrec_index_items") == len(ITEMS)
    assert prometheus.value('streamrec_build_info{model_version!=""}') == 1.0
    assert prometheus.value("streamrec_index_search_seconds_count") >= 1
    # the profiles gauge reads RocksDB's key estimate when scraped
    wait_for(lambda: (prometheus.value("streamrec_profiles") or 0) >= len(users), 30, "the profiles gauge to count the shoppers")
