"""The yardsticks of the pipeline bench ("anchors"): what moving messages costs without streamrec's work.

Each anchor runs as its own process on the same broker, with the worker's Faust and consumer settings
(the same tuned fetch wait, producer linger, partitions and group timeouts), so its messages/s is what
the transport itself moves on this machine in this run; the streamrec worker's lists/s is reported as a
ratio to them.

- ``faust``: a bare Faust agent that forwards each message with one ``await send`` (the per-message path).
- ``consume``: a Faust agent that only consumes, in ``take_events`` batches of the worker's event batch
  size and window, and sends nothing per message: once per batch it reports how many events it took
  and when (one small record on its output topic), so the bench counts what was consumed by reading
  those reports, never from offsets (tansu's end offsets are short, ../shared/notes/tansu.md).
- ``aiokafka``: no Faust: an ``AIOKafkaConsumer`` in a consumer group ``getmany`` → one producer batch
  per fetched partition (``create_batch``/``send_batch``) → the batch's futures awaited → offsets
  committed (at most once a second, like the Faust agents' commit interval, and only after the sends
  were acknowledged).

Run by the bench as ``python -m streams.bench.passthrough KIND BROKER IN OUT DATA_DIR``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..local.broker import die_with_parent
from ..settings import Settings

#: anchor kind → what it is, in the bench's words
KINDS = {
    "faust": "bare Faust pass-through (one await send per message)",
    "consume": "Faust consume-only (take_events batches, no send)",
    "aiokafka": "aiokafka getmany → batched send pass-through (no Faust)",
}
#: the offset commit interval of every anchor (seconds), as the Faust agents are configured
COMMIT_INTERVAL = 1.0


def start(broker_url: str, in_topic: str, out_topic: str, data_dir: Path, log_path: Path,
          kind: str = "faust") -> subprocess.Popen:
    """Launch an anchor process (it inherits this process's STREAMREC_* settings)."""
    if kind not in KINDS:
        raise ValueError(f"unknown anchor {kind!r}; expected one of {', '.join(KINDS)}")
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, STREAMREC_BROKER=broker_url, PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "streams.bench.passthrough", kind, broker_url, in_topic,
                                 out_topic, str(data_dir)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, preexec_fn=die_with_parent)


def report_value(seq: int, count: int, at: float) -> bytes:
    """The consume-only agent's report of one batch: its own id (so the bench's reader keeps it), size, time."""
    return b'{"event_id":"consumed-%d","n":%d,"t":%.6f}' % (seq, count, at)


def _faust_app(settings: Settings, broker_url: str, name: str, data_dir: str):
    from ..runtime.faust_compat import tuned_app_class

    rebalance_timeout, session_timeout, heartbeat_interval = settings.group_timings()
    return tuned_app_class(settings.fetch_wait_ms())(
        name,
        broker=broker_url,
        store="memory://",
        datadir=str(Path(data_dir) / "faust"),
        topic_partitions=settings.topic_partitions,
        broker_rebalance_timeout=rebalance_timeout,
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=heartbeat_interval,
        broker_commit_interval=COMMIT_INTERVAL,
        producer_linger_ms=1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
    )


def _run_faust(kind: str, settings: Settings, broker_url: str, in_topic: str, out_topic: str, data_dir: str) -> int:
    import time

    import faust

    from ..runtime.faust_compat import quiet_worker

    app = _faust_app(settings, broker_url, f"streamrec-bench-{kind}", data_dir)
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    source, sink = app.topic(in_topic, **raw), app.topic(out_topic, **raw)

    if kind == "faust":
        @app.agent(source, name="bench.passthrough")
        async def forward(stream):
            async for event in stream.events():
                await sink.send(key=event.key, value=event.value)
    else:
        @app.agent(source, name="bench.consume")
        async def consume(stream):
            seq = 0
            async for batch in stream.take_events(settings.event_batch_size, within=settings.event_batch_within):
                seq += 1
                await sink.send(key=b"report", value=report_value(seq, len(batch), time.time()))

    worker = quiet_worker(faust.Worker(app, loglevel="warning", quiet=True))  # as the streamrec worker runs
    worker.execute_from_commandline()
    return 0


async def _aiokafka(settings: Settings, broker_url: str, in_topic: str, out_topic: str) -> None:
    import asyncio
    import signal
    import time

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    consumer = AIOKafkaConsumer(
        in_topic, bootstrap_servers=broker_url.removeprefix("kafka://"), group_id="streamrec-bench-aiokafka",
        enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=settings.fetch_wait_ms(),
        rebalance_timeout_ms=int(settings.group_timings()[0] * 1000),
        session_timeout_ms=int(settings.group_timings()[1] * 1000),
        heartbeat_interval_ms=int(settings.group_timings()[2] * 1000))
    # Faust's producer defaults: acks from every in-sync replica; the linger the Faust anchors use
    producer = AIOKafkaProducer(bootstrap_servers=broker_url.removeprefix("kafka://"), linger_ms=1, acks="all")
    await producer.start()
    await consumer.start()
    last_commit, uncommitted = time.monotonic(), False
    try:
        while not stopping.is_set():
            fetched = await consumer.getmany(timeout_ms=200, max_records=settings.event_batch_size)
            futures = []
            for tp, messages in fetched.items():
                batch = producer.create_batch()
                for m in messages:
                    if batch.append(key=m.key, value=m.value, timestamp=None) is None:  # full: send, start another
                        futures.append(await producer.send_batch(batch, out_topic, partition=tp.partition))
                        batch = producer.create_batch()
                        batch.append(key=m.key, value=m.value, timestamp=None)
                futures.append(await producer.send_batch(batch, out_topic, partition=tp.partition))
            if futures:
                await asyncio.gather(*futures)  # acknowledged before the offsets that produced them are committed
                uncommitted = True
            if uncommitted and time.monotonic() - last_commit >= COMMIT_INTERVAL:
                await consumer.commit()
                last_commit, uncommitted = time.monotonic(), False
    finally:
        await consumer.stop()
        await producer.stop()


def main(argv: list[str]) -> int:
    """Build the anchor and run it until SIGTERM."""
    if argv and argv[0] not in KINDS:  # the old form: BROKER IN OUT DATA_DIR is the Faust pass-through
        argv = ["faust", *argv]
    kind, broker_url, in_topic, out_topic, data_dir = argv
    settings = Settings(broker=broker_url)
    if settings.broker_kind == "auto":  # the benches run on the embedded broker
        settings = settings.model_copy(update={"broker_kind": "embedded"})
    if kind == "aiokafka":
        import asyncio

        asyncio.run(_aiokafka(settings, broker_url, in_topic, out_topic))
        return 0
    return _run_faust(kind, settings, broker_url, in_topic, out_topic, data_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
