"""The load side of the pipeline bench: one aiokafka producer and one assign-mode reader in a background loop.

The reader is started before anything is produced and reads the output topic from its beginning, so it
counts every message by reading it (tansu's end offsets are short after multi-record batches, see
../shared/notes/tansu.md). Each output is matched to the event that caused it by the event id it
carries (``trigger_event_id`` of a list, ``event_id`` of a forwarded event), and its latency is
arrival at the reader minus the moment the bench handed the event to its producer.

aiokafka (C record codecs) rather than kafka-python (pure Python) keeps the bench's own CPU small: it
shares two cores with the broker and the worker it is measuring.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ..runtime.follower import topic_partitions

#: the event id inside a list (``"trigger_event_id":"…"``) or inside a forwarded event (``"event_id":"…"``)
_EVENT_ID = re.compile(rb'"(?:trigger_)?event_id":\s*"([^"]*)"')


@dataclass(frozen=True)
class Message:
    """One event to produce: its key, its JSON bytes and the event id the output will carry."""

    key: bytes
    value: bytes
    event_id: str


@dataclass
class Arrivals:
    """What the reader saw: event id → arrival time (the first output of each event)."""

    at: dict[str, float] = field(default_factory=dict)
    total: int = 0  # every output read, duplicates included
    repeats: int = 0  # outputs of an event that had one already (a duplicated list)


class Traffic:
    """Produce to ``in_topic`` and read ``out_topic`` from a loop thread; call from the bench's main thread."""

    def __init__(self, bootstrap: str, in_topic: str, out_topic: str, *, fetch_max_wait_ms: int = 5,
                 keep: Callable[[bytes], Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.in_topic = in_topic
        self.out_topic = out_topic
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.sent: dict[str, float] = {}  # event id → time handed to the producer
        self.arrivals = Arrivals()
        # with ``keep``: event id → keep(value) of its first output (what a bench reads from each output)
        self.keep = keep
        self.kept: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bench-traffic", daemon=True)
        self._producer: AIOKafkaProducer | None = None
        self._reader: asyncio.Task | None = None
        self._stop = False

    # ---- life cycle -----------------------------------------------------------------------------
    def start(self) -> "Traffic":
        """Start the loop thread, the producer and the reader (the output topic must exist)."""
        self._thread.start()
        self._call(self._start())
        return self

    def close(self) -> None:
        """Stop the reader and the producer, then the loop."""
        if not self._thread.is_alive():
            return
        self._stop = True
        try:
            self._call(self._close(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    # ---- producing ------------------------------------------------------------------------------
    def burst(self, messages: Sequence[Message]) -> float:
        """Produce every message as fast as the producer takes them; return the seconds it took."""
        return self._call(self._burst(messages), timeout=None)

    def paced(self, messages: Sequence[Message], rate: float) -> float:
        """Produce at ``rate`` messages/s (in 2 ms ticks); return the seconds it took."""
        return self._call(self._paced(messages, rate), timeout=None)

    # ---- reading --------------------------------------------------------------------------------
    def wait_for(self, event_ids: Sequence[str], *, timeout: float, idle: float = 20.0) -> int:
        """Block until every id has arrived, or ``timeout`` s pass, or nothing new arrives for ``idle`` s.

        Returns how many of the ids arrived.
        """
        at = self.arrivals.at
        return wait_until(lambda: sum(1 for e in event_ids if e in at), len(event_ids), timeout=timeout, idle=idle,
                          interval=0.2)

    # ---- internals (run on the loop thread) -----------------------------------------------------
    def _call(self, coro, timeout: float | None = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=2, max_batch_size=256 * 1024,
                                          acks=1)
        await self._producer.start()
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=self.fetch_max_wait_ms,
                                    max_partition_fetch_bytes=4 * 1024 * 1024)
        await consumer.start()
        partitions = await topic_partitions(consumer, self.out_topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._reader = asyncio.create_task(self._read(consumer))

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        at, keep, kept = self.arrivals.at, self.keep, self.kept
        try:
            while not self._stop:
                batches = await consumer.getmany(timeout_ms=100, max_records=20000)
                now = time.time()
                for messages in batches.values():
                    self.arrivals.total += len(messages)
                    for message in messages:
                        found = _EVENT_ID.search(message.value or b"")
                        if found:
                            event_id = found.group(1).decode()
                            if event_id in at:
                                self.arrivals.repeats += 1
                            else:
                                if keep is not None:  # before the arrival: whoever sees it arrived finds it
                                    kept[event_id] = keep(message.value)
                                at[event_id] = now
        finally:
            await consumer.stop()

    async def _close(self) -> None:
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, timeout=5)
            except asyncio.TimeoutError:
                self._reader.cancel()
        if self._producer is not None:
            await self._producer.stop()

    async def _burst(self, messages: Sequence[Message]) -> float:
        producer, sent, topic = self._producer, self.sent, self.in_topic
        started = time.perf_counter()
        for m in messages:
            sent[m.event_id] = time.time()
            await producer.send(topic, m.value, key=m.key)
        await producer.flush()
        return time.perf_counter() - started

    async def _paced(self, messages: Sequence[Message], rate: float) -> float:
        producer, sent, topic = self._producer, self.sent, self.in_topic
        started = time.perf_counter()
        n = 0
        while n < len(messages):
            due = min(len(messages), int((time.perf_counter() - started) * rate) + 1)
            while n < due:
                m = messages[n]
                sent[m.event_id] = time.time()
                await producer.send(topic, m.value, key=m.key)
                n += 1
            await asyncio.sleep(0.002)
        await producer.flush()
        return time.perf_counter() - started


def wait_until(count: Callable[[], int], target: int, *, timeout: float, idle: float, interval: float = 0.1) -> int:
    """Poll ``count()`` until it reaches ``target``, ``timeout`` s pass, or it stays the same for ``idle`` s; return it."""
    deadline = time.monotonic() + timeout
    last, changed = -1, time.monotonic()
    while True:
        done = count()
        now = time.monotonic()
        if done >= target or now > deadline:
            return done
        if done != last:
            last, changed = done, now
        elif now - changed > idle:
            return done
        time.sleep(interval)


def produce_all(bootstrap: str, topic: str, records) -> int:
    """Produce (key, value bytes) records with aiokafka and wait until all are delivered; return the count.

    For the catalogue: 10^5 vector records are 200 MB, past what kafka-python flushes in its 30 s here.
    """
    async def run() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1024 * 1024,
                                    max_request_size=8 * 1024 * 1024, acks=1)
        await producer.start()
        count = 0
        try:
            for key, value in records:
                await producer.send(topic, value, key=key.encode())
                count += 1
            await producer.flush()
        finally:
            await producer.stop()
        return count

    return asyncio.run(run())
