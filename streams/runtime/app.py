"""The Faust app, its topics and the profiles table, built from the settings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from ..settings import Settings
from .faust_compat import tuned_app_class
from .httpauth import middlewares
from .kafka import faust_credentials


@dataclass(frozen=True)
class Topics:
    """The contract's topics as Faust topic objects (raw bytes in and out: we parse ourselves)."""

    items: Any
    events: Any
    recommendations: Any
    dead_letters: Any
    item_vectors: Any
    signal_deltas: Any
    signals: Any


@dataclass(frozen=True)
class Tables:
    """The worker's RocksDB-backed, changelogged tables."""

    profiles: Any  # user_id → Profile bytes (partitioned like `events`)
    signal_rows: Any  # item_id → SignalRow bytes (partitioned like `signal-deltas`: one owner per item)


def create_app(settings: Settings) -> tuple[faust.App, Topics, Tables]:
    """The Faust app, its topics and its RocksDB-backed tables."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    rebalance_timeout, session_timeout, heartbeat_interval = settings.group_timings()
    app = tuned_app_class(settings.fetch_wait_ms())(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=faust_credentials(settings),
        store="rocksdb://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        recovery_consistency_check=settings.consistency_check(),
        # Apache Kafka's defaults, or short ones on the embedded broker, which answers JoinGroup only when
        # the rebalance timeout expires (Settings.group_timings)
        broker_rebalance_timeout=rebalance_timeout,
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=heartbeat_interval,
        table_standby_replicas=settings.standby_replicas,
        broker_commit_interval=1.0,
        web_enabled=True,
        # Faust's own views (/table/ reads any table row, /router/, the statistics pages) are off: every route
        # is ours, behind the token check (httpauth.py), and every body is at most STREAMREC_HTTP_MAX_BODY
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        web_application_options={"client_max_size": settings.http_max_body, "middlewares": middlewares(settings)},
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.advertised_web_host(),  # goes into the canonical URL peers route to
        producer_linger_ms=1,
        # batches of up to 1 MB: a micro-batch's lists (~4 KB each) go out in a few produce requests
        # per partition instead of one per four lists (the 16 KB default)
        producer_max_batch_size=1024 * 1024,
        consumer_auto_offset_reset="earliest",
        table_cleanup_interval=30.0,
        autodiscover=False,
    )
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    topics = Topics(
        items=app.topic(settings.topic_items, **raw),
        events=app.topic(settings.topic_events, **raw),
        recommendations=app.topic(settings.topic_recommendations, **raw),
        dead_letters=app.topic(settings.topic_dead_letters, **raw),
        item_vectors=app.topic(settings.topic_item_vectors, **raw),
        signal_deltas=app.topic(settings.topic_signal_deltas, **raw),
        signals=app.topic(settings.topic_signals, **raw),
    )
    # key_type str: Faust derives the serializers from the types (str → json, bytes → raw)
    table = {"default": None, "key_type": str, "value_type": bytes, "partitions": settings.topic_partitions}
    tables = Tables(profiles=app.Table("profiles", **table), signal_rows=app.Table("signal-rows", **table))
    return app, topics, tables
