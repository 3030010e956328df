"""The soak and signals benches' figures from what they read (their runs are commands, not tests)."""
from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.bench.signals import METRIC, figures, quantile
from streams.bench.soak import _series
from streams.metrics import SIGNAL_VISIBILITY_BUCKETS


def _cumulative(observations):
    """A real prometheus_client histogram with the worker's buckets, read back through the text format."""
    registry = CollectorRegistry()
    histogram = Histogram(METRIC, "test", buckets=SIGNAL_VISIBILITY_BUCKETS, registry=registry)
    for x in observations:
        histogram.observe(x)
    [family] = [f for f in text_string_to_metric_families(generate_latest(registry).decode()) if f.name == METRIC]
    return sorted((float(s.labels["le"]), s.value) for s in family.samples if s.name == METRIC + "_bucket")


def test_quantiles_from_buckets_stay_within_a_bucket_of_the_exact_ones():
    observations = np.random.default_rng(0).gamma(2.0, 0.15, size=5000)  # mostly under a second
    cumulative = _cumulative(observations)
    bounds = (0.0, *SIGNAL_VISIBILITY_BUCKETS)
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(observations, q))
        lo = max(b for b in bounds if b <= exact)
        hi = min(b for b in SIGNAL_VISIBILITY_BUCKETS if b >= exact)
        assert lo <= quantile(q, cumulative) <= hi
    got = figures(cumulative)
    assert got["rows"] == 5000
    assert got["share_within_1s"] == pytest.approx(float(np.mean(observations <= 1.0)))


def test_quantile_of_an_empty_histogram_and_of_the_overflow_bucket():
    assert quantile(0.99, _cumulative([])) is None
    assert figures(_cumulative([]))["p99_s"] is None
    # everything past the last finite bucket: the last bound is all that can be said
    assert quantile(0.99, _cumulative([100.0] * 10)) == SIGNAL_VISIBILITY_BUCKETS[-1]


def test_soak_series_counts_per_interval_and_latency_of_what_arrived():
    sent = np.arange(0.0, 20.0, 0.1)  # 10 events/s for 20 s
    pairs = np.stack([sent, sent + 0.05], axis=1)[:150]  # the last 50 never listed
    series = _series(sent, pairs, interval=5.0)
    assert series["t"] == [5.0, 10.0, 15.0, 20.0]
    assert series["sent_per_s"] == [10.0, 10.0, 10.0, 10.0]
    assert series["lists_per_s"] == [10.0, 10.0, 10.0, 0.0]
    assert series["p50_ms"][:3] == [pytest.approx(50.0)] * 3 and series["p99_ms"][3] is None
