"""streams.metrics: every metric the agents use, driven on a fresh registry and read back."""
from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from streams.metrics import Metrics

EXPECTED_FAMILIES = {
    "streamrec_events_consumed", "streamrec_items_upserted", "streamrec_items_deleted", "streamrec_dead_letters",
    "streamrec_event_to_recommendation_seconds", "streamrec_encoder_batch_size", "streamrec_encoder_batch_seconds",
    "streamrec_encoder_texts", "streamrec_index_items", "streamrec_index_search_seconds",
    "streamrec_adapter_version", "streamrec_adapter_switch_seconds",
    "streamrec_recommendations_published", "streamrec_cold_start_recommendations", "streamrec_profiles",
    "streamrec_item_freshness_seconds", "streamrec_profile_freshness_seconds", "streamrec_explanations_checked",
    "streamrec_explanation_integrity_violations", "streamrec_consumer_lag", "streamrec_build",
    "streamrec_duplicate_events", "streamrec_send_failures", "streamrec_batches_failed",
    "streamrec_signal_rows_published", "streamrec_signal_visibility_seconds",
    "streamrec_history_events_applied", "streamrec_http_events_accepted", "streamrec_users_forgotten",
    "streamrec_rebalances", "streamrec_commit_seconds", "streamrec_producer_send_errors",
    "streamrec_partition_stalls", "streamrec_stalled_partitions", "streamrec_list_impressions",
    "streamrec_list_interactions", "streamrec_sessions_merged",
}
#: the standard collectors prometheus_client adds to the worker's own registry (process_* only on Linux)
STANDARD_PREFIXES = ("process_", "python_")


@pytest.fixture
def registry():
    return CollectorRegistry()


@pytest.fixture
def metrics(registry):
    return Metrics(registry)


def test_counters_with_and_without_labels(metrics, registry):
    metrics.events_consumed.labels(type="view").inc()
    metrics.events_consumed.labels(type="view").inc()
    metrics.events_consumed.labels(type="purchase").inc()
    metrics.items_upserted.inc(5)
    metrics.items_deleted.inc()
    metrics.dead_letters.labels(source="items", reason="missing_title").inc()
    metrics.dead_letters.labels(source="events", reason="invalid_json").inc(2)
    metrics.recommendations_published.inc(3)
    metrics.cold_start_lists.inc()
    metrics.encoder_texts.inc(64)
    metrics.explanations_checked.inc(3)

    get = registry.get_sample_value
    assert get("streamrec_events_consumed_total", {"type": "view"}) == 2
    assert get("streamrec_events_consumed_total", {"type": "purchase"}) == 1
    assert get("streamrec_items_upserted_total") == 5
    assert get("streamrec_items_deleted_total") == 1
    assert get("streamrec_dead_letters_total", {"source": "items", "reason": "missing_title"}) == 1
    assert get("streamrec_dead_letters_total", {"source": "events", "reason": "invalid_json"}) == 2
    assert get("streamrec_recommendations_published_total") == 3
    assert get("streamrec_cold_start_recommendations_total") == 1
    assert get("streamrec_encoder_texts_total") == 64
    assert get("streamrec_explanations_checked_total") == 3
    # nothing violated: the counter exists at 0 from the start, so a dashboard shows 0 rather than "no data"
    assert get("streamrec_explanation_integrity_violations_total") == 0
    metrics.explanation_violations.inc()
    assert get("streamrec_explanation_integrity_violations_total") == 1


def test_gauges_and_info(metrics, registry):
    metrics.index_items.set(1234)
    metrics.profiles.set(10)
    metrics.profiles.inc()
    metrics.consumer_lag.labels(topic="events", partition="3").set(42)
    metrics.build_info.info({"version": "0.1.0", "model_version": "minilm-abc", "index_kind": "FlatIndex"})

    get = registry.get_sample_value
    assert get("streamrec_index_items") == 1234
    assert get("streamrec_profiles") == 11
    assert get("streamrec_consumer_lag", {"topic": "events", "partition": "3"}) == 42
    assert get("streamrec_build_info", {"version": "0.1.0", "model_version": "minilm-abc", "index_kind": "FlatIndex"}) == 1


@pytest.mark.parametrize("attr, name, value, bucket", [
    ("event_to_recommendation_seconds", "streamrec_event_to_recommendation_seconds", 0.012, "0.015"),
    ("encoder_batch_size", "streamrec_encoder_batch_size", 48, "64.0"),
    ("encoder_batch_seconds", "streamrec_encoder_batch_seconds", 0.2, "0.25"),
    ("index_search_seconds", "streamrec_index_search_seconds", 0.0004, "0.0005"),
    ("item_freshness_seconds", "streamrec_item_freshness_seconds", 0.3, "0.5"),
    ("profile_freshness_seconds", "streamrec_profile_freshness_seconds", 0.02, "0.025"),
])
def test_histograms_count_sum_and_buckets(metrics, registry, attr, name, value, bucket):
    histogram = getattr(metrics, attr)
    histogram.observe(value)
    histogram.observe(value)
    get = registry.get_sample_value
    assert get(f"{name}_count") == 2
    assert get(f"{name}_sum") == pytest.approx(2 * value)
    assert get(f"{name}_bucket", {"le": bucket}) == 2
    assert get(f"{name}_bucket", {"le": "+Inf"}) == 2


def test_latency_buckets_span_1ms_to_10s_finely(metrics, registry):
    bounds = _bucket_bounds(registry, "streamrec_event_to_recommendation_seconds")
    assert bounds[0] == 0.001 and bounds[-1] == 10.0
    assert sum(b <= 0.1 for b in bounds) >= 10, "fine-grained where the latency targets are"
    sizes = _bucket_bounds(registry, "streamrec_encoder_batch_size")
    assert sizes[0] == 1 and sizes[-1] == 1024


def test_render_is_parseable_text_format(metrics):
    metrics.events_consumed.labels(type="click").inc()
    metrics.event_to_recommendation_seconds.observe(0.05)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["streamrec_events_consumed"].type == "counter"
    assert families["streamrec_event_to_recommendation_seconds"].type == "histogram"
    samples = {s.name: s.value for s in families["streamrec_events_consumed"].samples}
    assert samples["streamrec_events_consumed_total"] == 1


def test_names_follow_prometheus_conventions(metrics, registry):
    everything = list(registry.collect())
    families = [f for f in everything if not f.name.startswith(STANDARD_PREFIXES)]
    assert {f.name for f in families} == EXPECTED_FAMILIES
    for family in families:
        assert re.fullmatch(r"streamrec_[a-z0-9_]+", family.name), family.name
        for sample in family.samples:
            if family.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name
        if family.type == "histogram" and family.name != "streamrec_encoder_batch_size":
            assert family.name.endswith("_seconds"), f"{family.name}: time histograms are in base units"
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name


def test_each_worker_has_its_own_registry():
    a, b = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    a.recommendations_published.inc()
    assert a.registry.get_sample_value("streamrec_recommendations_published_total") == 1
    assert b.registry.get_sample_value("streamrec_recommendations_published_total") == 0


def test_rejects_anything_but_a_registry():
    with pytest.raises(TypeError, match="CollectorRegistry"):
        Metrics(None)


def _bucket_bounds(registry, name):
    bounds = []
    for family in registry.collect():
        if family.name == name:
            bounds = [float(s.labels["le"]) for s in family.samples if s.name.endswith("_bucket")]
    return [b for b in bounds if b != float("inf")]


def test_process_and_python_collectors_sit_on_the_workers_registry(metrics, registry):
    names = {f.name for f in registry.collect()}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info", "python_gc_collections"} <= names
    assert registry.get_sample_value("process_resident_memory_bytes") > 0
