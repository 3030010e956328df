"""Prometheus metrics of one worker process, registered on a registry the caller passes in.

Multiprocess decision: every worker process has its own ``CollectorRegistry`` and serves it on its own
web port (``/metrics``, ``STREAMREC_WEB_PORT``). Prometheus scrapes each worker separately and sums
across them in PromQL (``sum by (...)``); no prometheus-client multiprocess directory, no push gateway.
That keeps a worker's numbers tied to its ``instance`` label, which is what lag and freshness need.
"""
from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Latencies from 1 ms to 10 s, fine-grained at the low end where the targets are (a list in tens of ms).
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
)
# Freshness spans a batch wait (tens of ms) up to a catch-up after a restart (minutes).
FRESHNESS_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)
# Shop-wide signals: the goal is p99 <= 1 s (tick 250 ms + fold + follow), so the buckets are fine around it.
SIGNAL_VISIBILITY_BUCKETS = (
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
)
# A Kafka offset commit: milliseconds on a healthy cluster, seconds when a broker struggles.
COMMIT_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Encoder batches: powers of two up to the largest batch a worker forms.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# One encoder batch: a few ms on a GPU, up to seconds for 1024 long texts on a CPU.
ENCODER_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# One batched FAISS search: sub-millisecond for exact search on small catalogues.
SEARCH_SECONDS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """The worker's counters, gauges and histograms, all on the registry given (never the global one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        if not isinstance(registry, CollectorRegistry):
            raise TypeError(f"Metrics needs a prometheus_client CollectorRegistry, got {type(registry).__name__}")
        self.registry = registry
        self._streams(registry)
        self._encoder_and_index(registry)
        self._quality(registry)
        self._faust(registry)
        # the standard process_* (CPU, memory, open files) and python_* (GC, version) families, on this registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)

    def _streams(self, r: CollectorRegistry) -> None:
        self.events_consumed = Counter(
            "streamrec_events_consumed", "Behaviour events accepted, by event type.", ["type"], registry=r)
        self.history_events_applied = Counter(
            "streamrec_history_events_applied",
            "Historical events (streamrec import) applied to profiles and signals without publishing a list, by type.",
            ["type"], registry=r)
        self.http_events_accepted = Counter(
            "streamrec_http_events_accepted", "Events accepted by POST /events and published to the events topic.",
            registry=r)
        self.users_forgotten = Counter(
            "streamrec_users_forgotten", "Forget requests applied (profile removed, tombstone published).", registry=r)
        self.sessions_merged = Counter(
            "streamrec_sessions_merged", "Guest sessions folded into a user's profile at login (once per login).",
            registry=r)
        self.items_upserted = Counter(
            "streamrec_items_upserted", "Items added to or replaced in this worker's index.", registry=r)
        self.items_deleted = Counter(
            "streamrec_items_deleted", "Items removed from this worker's index.", registry=r)
        self.dead_letters = Counter(
            "streamrec_dead_letters", "Messages sent to the dead-letter topic, by source and reason.",
            ["source", "reason"], registry=r)
        self.send_failures = Counter(
            "streamrec_send_failures", "Records the broker refused or did not acknowledge in time, by topic "
            "(the batch that produced them is not acknowledged and is read again).", ["topic"], registry=r)
        self.batches_failed = Counter(
            "streamrec_batches_failed", "Micro-batches stopped unacknowledged (a send failed or the handler raised), "
            "by source topic; the worker stops and the batch is redelivered.", ["source"], registry=r)
        self.event_to_recommendation_seconds = Histogram(
            "streamrec_event_to_recommendation_seconds",
            "Seconds from an event's arrival at this worker (the consumer handing the message over) until its list "
            "is handed to the producer; includes the micro-batch wait, parsing, ranking and the table write.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.recommendations_published = Counter(
            "streamrec_recommendations_published", "Recommendation lists published.", registry=r)
        self.cold_start_lists = Counter(
            "streamrec_cold_start_recommendations", "Lists for users without usable history (trending).",
            registry=r)
        self.duplicate_events = Counter(
            "streamrec_duplicate_events",
            "Events whose id the profile had already applied (redeliveries, producer retries): no effect, list sent again.",
            registry=r)
        self.signal_rows_published = Counter(
            "streamrec_signal_rows_published", "Shop-wide signal rows this worker's aggregator published.", registry=r)
        self.profiles = Gauge("streamrec_profiles", "User profiles held by this worker.", registry=r)
        self.consumer_lag = Gauge(
            "streamrec_consumer_lag",
            "Messages behind the high watermark per partition: the assigned partitions of items and events, and every "
            "partition of item-vectors (each worker follows all of them). On the embedded broker the high watermark "
            "can fall short (its end offsets are the last batch's base + 1), so the lag reads low there.",
            ["topic", "partition"], registry=r)
        self.partition_stalls = Counter(
            "streamrec_partition_stalls",
            "Times a partition this worker reads held records and made no progress for STREAMREC_STALL_TIMEOUT "
            "seconds (/ready answers 503 while one is stalled).", registry=r)
        self.stalled_partitions = Gauge(
            "streamrec_stalled_partitions", "Partitions stalled now (records waiting, no progress).", registry=r)
        self.build_info = Info(
            "streamrec_build", "Version, encoder model version and index kind of this worker.", registry=r)

    def _encoder_and_index(self, r: CollectorRegistry) -> None:
        self.encoder_batch_size = Histogram(
            "streamrec_encoder_batch_size", "Texts per encoder batch.", buckets=BATCH_SIZE_BUCKETS, registry=r)
        self.encoder_batch_seconds = Histogram(
            "streamrec_encoder_batch_seconds", "Wall time of one encoder batch.",
            buckets=ENCODER_SECONDS_BUCKETS, registry=r)
        self.encoder_texts = Counter("streamrec_encoder_texts", "Texts embedded by the encoder.", registry=r)
        self.index_items = Gauge("streamrec_index_items", "Items searchable in this worker's index.", registry=r)
        self.index_search_seconds = Histogram(
            "streamrec_index_search_seconds", "Wall time of one batched index search.",
            buckets=SEARCH_SECONDS_BUCKETS, registry=r)

    def _quality(self, r: CollectorRegistry) -> None:
        self.list_impressions = Counter(
            "streamrec_list_impressions_total", "Impression events (a list shown), by the shopper's experiment arm.",
            ["arm"], registry=r)
        self.list_interactions = Counter(
            "streamrec_list_interactions_total", "Events citing a list (from_list), by arm and event type.",
            ["arm", "type"], registry=r)
        self.item_freshness_seconds = Histogram(
            "streamrec_item_freshness_seconds",
            "Item published on the items topic until searchable in this worker's index.",
            buckets=FRESHNESS_BUCKETS, registry=r)
        self.signal_visibility_seconds = Histogram(
            "streamrec_signal_visibility_seconds",
            "Event arrival at a ranking worker until the signal change it caused is in this worker's view "
            "(wall clocks of two workers: skew between machines adds to it).",
            buckets=SIGNAL_VISIBILITY_BUCKETS, registry=r)
        self.profile_freshness_seconds = Histogram(
            "streamrec_profile_freshness_seconds", "Event timestamp until its user's profile is updated.",
            buckets=FRESHNESS_BUCKETS, registry=r)
        self.explanations_checked = Counter(
            "streamrec_explanations_checked", "Recommendation lists whose explanations were checked.", registry=r)
        self.explanation_violations = Counter(
            "streamrec_explanation_integrity_violations",
            "Explanations citing an item the user never touched (must stay 0).", registry=r)

        self.adapter_version = Gauge(
            "streamrec_adapter_version", "Version of the behaviour-tuned adapter this worker searches (0: frozen).",
            registry=r)
        self.adapter_switch_seconds = Histogram(
            "streamrec_adapter_switch_seconds", "Re-embedding the catalogue under a new adapter and switching to it.",
            buckets=ENCODER_SECONDS_BUCKETS, registry=r)

    def _faust(self, r: CollectorRegistry) -> None:
        # counted by streams.runtime.sensor, a Faust sensor
        self.rebalances = Counter(
            "streamrec_rebalances", "Consumer group rebalances this worker took part in (Faust sensor).", registry=r)
        self.commit_seconds = Histogram(
            "streamrec_commit_seconds", "Wall time of one offset commit of the worker's consumer (Faust sensor).",
            buckets=COMMIT_SECONDS_BUCKETS, registry=r)
        self.producer_errors = Counter(
            "streamrec_producer_send_errors", "Messages the worker's producer failed to send (Faust sensor).",
            registry=r)

    def render(self) -> tuple[bytes, str]:
        """The registry in the Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
