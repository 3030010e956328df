"""The Faust shell: the app, its topics and the profiles table, built from the settings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver

from .kafka import faust_credentials
from .settings import Settings


class _TunedConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust hard-codes fetch_max_wait_ms=1500; delivery latency follows that wait, so make it a setting."""

    fetch_max_wait_ms = 10

    def _create_worker_consumer(self, transport: Any):
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this attribute when start() builds its fetcher, which happens after this
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class _TunedConsumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _TunedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _TunedTransport(aiokafka_driver.Transport):
    Consumer = _TunedConsumer


class StreamrecApp(faust.App):
    """faust.App whose consumer honours ``fetch_max_wait_ms``."""

    def _new_transport(self):
        return _TunedTransport(self.conf.broker_consumer, self)


@dataclass(frozen=True)
class Topics:
    """The contract's topics as Faust topic objects (raw bytes in and out: we parse ourselves)."""

    items: Any
    events: Any
    recommendations: Any
    dead_letters: Any
    item_vectors: Any


def create_app(settings: Settings) -> tuple[StreamrecApp, Topics, Any]:
    """The Faust app, its topics and the RocksDB-backed profiles table."""
    _TunedConsumerThread.fetch_max_wait_ms = settings.fetch_max_wait_ms
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = StreamrecApp(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=faust_credentials(settings),
        store="rocksdb://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        # tansu answers JoinGroup only when the rebalance timeout expires (../shared/notes/tansu.md)
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_interval=1.0,
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.advertised_web_host(),  # goes into the canonical URL peers route to
        producer_linger_ms=1,
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
    )
    profiles = app.Table(
        "profiles",
        default=None,
        key_type=str,  # Faust derives the serializers from the types: str → json, bytes → raw
        value_type=bytes,
        partitions=settings.topic_partitions,
    )
    return app, topics, profiles
