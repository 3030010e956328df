"""Every private or undocumented Faust / aiokafka surface streamrec needs, in one place, each with its reason.

When Faust or aiokafka change, this is the one module to check (pyproject.toml bounds both). Nothing else
in streams/ reaches for an underscore attribute of any library: ruff's SLF001 rule, run by
tests/test_layers.py, allows it in this file only.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any

import faust
from faust import streams as faust_streams
from faust.transport.drivers import aiokafka as aiokafka_driver

log = logging.getLogger(__name__)


def tuned_app_class(fetch_max_wait_ms: int) -> type[faust.App]:
    """A faust.App subclass whose worker consumer waits at most ``fetch_max_wait_ms`` per fetch.

    Faust hard-codes fetch_max_wait_ms=1500 and delivery latency follows that wait. The value is
    bound into classes made for this app, never set on a shared class, so two apps in one process
    keep their own.
    """

    class TunedConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any):
            consumer = super()._create_worker_consumer(transport)
            # aiokafka reads this attribute when start() builds its fetcher, which happens after this
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class TunedConsumer(aiokafka_driver.Consumer):
        def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
            return TunedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class TunedTransport(aiokafka_driver.Transport):
        Consumer = TunedConsumer

    class StreamrecApp(faust.App):
        """faust.App whose consumer honours ``fetch_max_wait_ms``."""

        def _new_transport(self):
            return TunedTransport(self.conf.broker_consumer, self)

    return StreamrecApp


def bind_event(event: Any) -> None:
    """Make ``event`` the current event of this task before reading or writing a table for it.

    Faust picks the RocksDB partition store and the changelog partition of a table access from
    ``faust.streams.current_event()``, a context variable. In a ``take_events`` batch that is the batch's
    last event, which may sit on another partition than the key being written, so each access is bound
    to its own event. Only the context variable is set, never ``stream.current_event``: take_events'
    background buffer reads that attribute to pair each new message with its event, and overwriting it
    made a message arriving during a batch be recorded as an old one (processed twice, the new one lost).
    """
    faust_streams._current_event.set(weakref.ref(event))  # Faust has no public setter


def withhold_acks(events: Any) -> None:
    """Keep a ``take_events`` batch's events from being acked, so their offsets are never committed.

    Faust's ``take_events`` acks the batch in a ``finally`` when the loop moves on, also after the handler
    raised. A message is acked when its reference count drops to zero; one more reference per message makes
    that ack a no-op (public ``Message.incref``; kept here because it leans on take_events' ack order).
    """
    for event in events:
        event.message.incref()


def watch_changelog(table: Any, track: Any) -> None:
    """Hand the broker future of every changelog record ``table`` writes to ``track(topic, future)``.

    A table write queues its changelog record in Faust's producer buffer and drops the FutureMessage
    (``Table.on_key_set`` calls ``self.send_changelog``); this wraps that method on the instance so a batch
    can wait for its rows to reach the changelog before its offsets are committed.
    """
    send = table.send_changelog

    def send_changelog(*args: Any, **kwargs: Any) -> Any:
        future = send(*args, **kwargs)
        track(table.changelog_topic.get_topic_name(), future)
        return future

    table.send_changelog = send_changelog


def recovering(app: Any) -> bool:
    """Whether the app is restoring tables from their changelogs (Faust sets the flag, documents no getter)."""
    return bool(getattr(app, "in_recovery", False))


def read_offset(consumer: Any, tp: Any) -> int | None:
    """The next offset Faust's consumer will read on ``tp`` (Faust tracks it but exposes no getter)."""
    return consumer._read_offset.get(tp)  # noqa: SLF001


def monitor_offsets(app: Any) -> tuple[Any, Any]:
    """(offset of the last message handed to a stream, last committed offset) per TP, from Faust's Monitor sensor.

    Public attributes of ``app.monitor`` (always installed); kept here because their names contain
    ``_read_offset``, which the layer test reserves for this module.
    """
    monitor = app.monitor
    return monitor.tp_read_offsets, monitor.tp_committed_offsets


def estimated_table_keys(table: Any) -> int | None:
    """RocksDB's own key estimate over a table's local partitions (None when the store is not RocksDB)."""
    dbs = getattr(table.data, "_dbs", None)  # faust's rocksdb store: partition → rocksdict.Rdict
    if not dbs:
        return None
    return sum(db.property_int_value("rocksdb.estimate-num-keys") or 0 for db in dbs.values())


def aiokafka_producer(app: Any) -> Any:
    """The aiokafka producer under the app's Faust producer (Faust exposes no getter).

    Batches sent through it are in the producer Faust flushes before every offset commit, so records
    sent this way are delivered before the events that caused them are committed (at least once).
    """
    return app.producer._ensure_producer()


async def force_metadata_update(consumer: Any) -> None:
    """Ask an aiokafka consumer to refresh cluster metadata now (aiokafka has no public call)."""
    await consumer._client.force_metadata_update()


def aiokafka_auth(app: Any) -> dict[str, Any]:
    """aiokafka client keyword arguments for the app's SASL/SSL credentials."""
    return aiokafka_driver.credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)


def arrival_time(message: Any) -> float | None:
    """When the consumer handed ``message`` to the worker (monotonic): Faust's monitor stamps ``time_in`` on
    every message it sees, an attribute Faust does not document."""
    return getattr(message, "time_in", None)


def quiet_worker(worker: Any) -> Any:
    """``worker`` without Faust's terminal spinner (an undocumented attribute): at log level warning or above the
    spinner sets the root logger to DEBUG, so every aiokafka/Faust debug call builds a LogRecord (~4% of the
    event agent's time in the pipeline bench)."""
    worker.spinner = None
    return worker


#: (logger, message template) of aiokafka's per-attempt connection errors, as aiokafka 0.12-0.14 word them
#: (aiokafka/client.py logs as "aiokafka"); runtime/outage.py summarises them
AIOKAFKA_CONNECTION_ERRORS = {
    ("aiokafka", "Unable connect to node with id %s: %s"),
    ("aiokafka", "Unable to update metadata from %s"),
    ("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s"),
    ("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed: %s"),
}
