"""`streamrec bench broker`: what the embedded broker costs as its log grows — no worker, a load you control.

A paced aiokafka producer writes records in batches of a chosen size to ``--topics`` topics (and to
``--unread-topics`` that nobody reads), assign-mode readers follow the read topics with the worker's fetch
wait, and every ``--interval`` seconds the bench samples the broker's CPU and RSS, the batches stored per
partition, the readers' lag and the produce → read latency. ``--preload`` writes batches as fast as the
broker takes them before the paced phase, to start from a long log.

tansu's memory engine keeps each produced batch as one object and, for every partition a fetch finds new
data on, lists every object of that partition: the broker's CPU follows (fetches/s) × (batches stored in the
fetched partitions). The bench shows it by varying one thing at a time (docs/design/reliability.md).
"""
from __future__ import annotations

import argparse
import asyncio
import struct
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from ..local.cluster import LocalBroker
from ..settings import Settings
from .procstat import CpuWindow, machine_load, memory_bytes
from .report import commit_and_machine

_STAMP = struct.Struct("<d")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the broker benchmark."""
    parser.add_argument("--minutes", type=float, default=5.0, help="minutes of paced traffic (default 5)")
    parser.add_argument("--rate", type=float, default=400.0, help="records/s produced to each topic (default 400)")
    parser.add_argument("--batch", type=int, default=1, help="records per produced batch (default 1)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic (default 4)")
    parser.add_argument("--topics", type=int, default=1, help="topics written and read (default 1)")
    parser.add_argument("--unread-topics", type=int, default=0,
                        help="topics written at the same rate that nobody reads (default 0)")
    parser.add_argument("--readers", type=int, default=1,
                        help="assign-mode readers per read topic (default 1; 0: produce only)")
    parser.add_argument("--fetch-wait-ms", type=int, default=10,
                        help="the readers' fetch wait (default 10, the worker's default)")
    parser.add_argument("--value-bytes", type=int, default=300, help="bytes per record value (default 300)")
    parser.add_argument("--preload", type=int, default=0,
                        help="batches per partition written to every topic before the paced phase (default 0)")
    parser.add_argument("--storage", default=None,
                        help="tansu storage engine URL (default memory://tansu/; s3://BUCKET/ with AWS_* variables)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default 10)")
    parser.add_argument("--probe", metavar="N[,N…]",
                        help="instead of pacing: for each N, a fresh broker with N one-record batches on one partition; "
                        "the broker CPU one fetch of the last record costs, and whether it comes back with a 10 ms and "
                        "a 100 ms fetch wait")
    parser.add_argument("--json", type=Path, help="write every figure here")


@dataclass
class Sample:
    """One moment of the paced phase."""

    t: float  # seconds since the paced phase began
    batches_per_partition: int  # stored on each partition of a topic (preload included)
    records_sent: int  # in the paced phase, all topics
    lag: int  # records sent to the read topics minus records read (the slowest reader)
    p50_ms: float | None  # produce → read of the records read in this interval
    p99_ms: float | None
    broker_cores: float  # CPU the broker used in this interval, in cores
    broker_rss_mb: float
    load1: float  # the machine's 1-minute load average


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start a broker of its own, preload, pace, sample, print and write the figures."""
    if args.minutes <= 0 or args.rate <= 0 or args.batch < 1 or args.partitions < 1 or args.topics < 0 \
            or args.readers < 0 or args.interval <= 0 or args.value_bytes < _STAMP.size:
        raise SystemExit("streamrec bench broker: --minutes, --rate, --interval must be > 0; --batch, --partitions >= 1, "
                         f"--readers >= 0; --value-bytes >= {_STAMP.size}")
    console = Console()
    load_before = machine_load()
    if args.probe:
        return _probe_all(args, settings, console, load_before)
    with tempfile.TemporaryDirectory(prefix="streamrec-bench-broker-") as tmp:
        broker = LocalBroker.start(log_path=Path(tmp) / "broker.log", storage=args.storage,
                                   binary=settings.tansu_bin)
        try:
            samples = asyncio.run(_bench(args, broker, console))
        finally:
            broker.stop()
    result = {**commit_and_machine(load_before),
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                       if k not in ("run", "bench_module", "func")},
              "samples": [asdict(s) for s in samples], "summary": summarise(samples, args)}
    _print(console, result)
    if args.json:
        import json

        args.json.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"figures written to {args.json}")
    return 0


def summarise(samples: list[Sample], args) -> dict:
    """The slope of broker CPU over stored batches, and where the readers fell behind."""
    xs = np.array([s.batches_per_partition for s in samples], dtype=float)
    ys = np.array([s.broker_cores for s in samples], dtype=float)
    slope = float(np.polyfit(xs, ys, 1)[0]) if len(samples) >= 3 and np.ptp(xs) > 0 else None
    behind = next((s for s in samples if s.lag > args.rate * args.topics * 2), None)  # > 2 s of traffic unread
    return {
        "first_cores": samples[0].broker_cores if samples else None,
        "last_cores": samples[-1].broker_cores if samples else None,
        "cores_per_10k_batches_per_partition": None if slope is None else round(slope * 10_000, 3),
        "last_rss_mb": samples[-1].broker_rss_mb if samples else None,
        "last_batches_per_partition": samples[-1].batches_per_partition if samples else None,
        "fell_behind_at_s": None if behind is None else behind.t,
        "fell_behind_at_batches_per_partition": None if behind is None else behind.batches_per_partition,
    }


async def _bench(args, broker: LocalBroker, console: Console) -> list[Sample]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    read = [f"bench-read-{n}" for n in range(args.topics)]
    unread = [f"bench-unread-{n}" for n in range(args.unread_topics)]
    admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap])
    try:
        admin.create_topics([NewTopic(t, args.partitions, 1) for t in read + unread])
    finally:
        admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0, acks=1,
                                max_batch_size=max(16384, args.batch * (args.value_bytes + 64)))
    await producer.start()
    padding = b"x" * (args.value_bytes - _STAMP.size)
    targets = [(t, p) for t in read + unread for p in range(args.partitions)]
    stored = {"batches": 0}  # per partition (every partition gets the same number)

    async def send_round() -> list:
        """One batch to every partition of every topic."""
        futures = []
        for topic, partition in targets:
            batch = producer.create_batch()
            for _ in range(args.batch):
                batch.append(key=None, value=_STAMP.pack(time.time()) + padding, timestamp=None)
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        stored["batches"] += 1
        return futures

    try:
        if args.preload:
            with console.status(f"preloading {args.preload:,} batches per partition…") as status:
                for n in range(args.preload):
                    futures = await send_round()
                    if n % 200 == 199:
                        await asyncio.gather(*futures)
                        status.update(f"preloading: {n + 1:,} of {args.preload:,} batches per partition")
                await asyncio.gather(*futures)
        phase_start = time.time()
        counts = {"read": [0] * (len(read) * args.readers)}
        latencies: list[float] = []
        readers = []
        for n, topic in enumerate(read):
            for r in range(args.readers):
                consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                                            enable_auto_commit=False, fetch_max_wait_ms=args.fetch_wait_ms,
                                            max_partition_fetch_bytes=4 * 1024 * 1024)
                await consumer.start()
                tps = [TopicPartition(topic, p) for p in range(args.partitions)]
                consumer.assign(tps)
                await consumer.seek_to_end(*tps)  # tansu's end may be short: stamps before phase_start are skipped
                readers.append(asyncio.create_task(
                    _read(consumer, n * args.readers + r, counts["read"], latencies, phase_start, r == 0)))
        rounds_per_s = args.rate / args.batch / args.partitions  # per topic: one round = a batch per partition
        samples: list[Sample] = []
        window = CpuWindow({"broker": broker.process.pid})
        window.start(time.time())
        sent_rounds = 0
        last_sample = time.monotonic()
        lat_mark = 0
        pending: list = []
        with console.status("pacing…") as status:
            started = time.monotonic()
            while time.monotonic() - started < args.minutes * 60:
                due = int((time.monotonic() - started) * rounds_per_s) + 1
                while sent_rounds < due:
                    pending += await send_round()
                    sent_rounds += 1
                pending = [f for f in pending if not f.done() or f.exception() is not None and _raise(f)]
                if time.monotonic() - last_sample >= args.interval:
                    last_sample = time.monotonic()
                    cores = window.stop(time.time())["broker"]
                    window.start(time.time())
                    got = np.array(latencies[lat_mark:]) * 1000.0
                    lat_mark = len(latencies)
                    sent_read = sent_rounds * args.batch * args.partitions
                    sample = Sample(
                        t=round(time.time() - phase_start, 1), batches_per_partition=stored["batches"],
                        records_sent=sent_rounds * args.batch * len(targets),
                        lag=max((sent_read - c for c in counts["read"]), default=0),
                        p50_ms=round(float(np.percentile(got, 50)), 1) if len(got) else None,
                        p99_ms=round(float(np.percentile(got, 99)), 1) if len(got) else None,
                        broker_cores=cores, broker_rss_mb=round(memory_bytes(broker.process.pid)[0] / 2**20, 1),
                        load1=round(machine_load()[0], 2))
                    samples.append(sample)
                    status.update(f"{sample.t:,.0f} s: {sample.batches_per_partition:,} batches per partition, "
                                  f"broker {sample.broker_cores:.2f} cores, {sample.broker_rss_mb:,.0f} MB, "
                                  f"lag {sample.lag:,}, p50 {sample.p50_ms} ms")
                    console.print(_row(sample), highlight=False)
                await asyncio.sleep(0.005)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        return samples
    finally:
        await producer.stop()


def _raise(future) -> bool:
    raise future.exception()


async def _read(consumer, slot: int, counts: list[int], latencies: list[float], phase_start: float,
                timed: bool) -> None:
    """Count the paced phase's records; the first reader of each topic also times them."""
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=20000)
            now = time.time()
            for messages in batches.values():
                for m in messages:
                    (stamp,) = _STAMP.unpack_from(m.value)
                    if stamp >= phase_start:
                        counts[slot] += 1
                        if timed:
                            latencies.append(now - stamp)
    finally:
        await consumer.stop()


def _row(s: Sample) -> str:
    lat = "–" if s.p50_ms is None else f"{s.p50_ms:.0f}/{s.p99_ms:.0f} ms"
    return (f"{s.t:7.0f} s  {s.batches_per_partition:8,} batches/partition  broker {s.broker_cores:4.2f} cores "
            f"{s.broker_rss_mb:7,.0f} MB  lag {s.lag:8,}  p50/p99 {lat}  load {s.load1:.2f}")


def _print(console: Console, res: dict) -> None:
    s, a = res["summary"], res["args"]
    console.print(f"[bold]broker[/]: {a['rate']:g} records/s per topic in batches of {a['batch']} "
                  f"({a['topics']} read, {a['unread_topics']} unread topics × {a['partitions']} partitions), "
                  f"fetch wait {a['fetch_wait_ms']} ms, storage {a['storage'] or 'memory://tansu/'}; {res['machine']}")
    console.print(f"  broker CPU {s['first_cores']} → {s['last_cores']} cores; "
                  f"{s['cores_per_10k_batches_per_partition']} cores per 10,000 stored batches per partition; "
                  f"RSS {s['last_rss_mb']} MB at {s['last_batches_per_partition']:,} batches per partition")
    if s["fell_behind_at_s"] is not None:
        console.print(f"  [bold red]readers fell behind[/] (lag > 2 s of traffic) at {s['fell_behind_at_s']:.0f} s, "
                      f"{s['fell_behind_at_batches_per_partition']:,} batches per partition")
    else:
        console.print("  readers kept pace")


# ---- --probe: one fetch's cost against the length of the partition's log ----------------------------------------

PROBE_WAITS_MS = (10, 100)


def _probe_all(args, settings: Settings, console: Console, load_before) -> int:
    sizes = [int(n) for n in str(args.probe).replace("_", "").split(",") if n.strip()]
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="streamrec-bench-broker-") as tmp:
            broker = LocalBroker.start(log_path=Path(tmp) / "broker.log", storage=args.storage,
                                       binary=settings.tansu_bin)
            try:
                with console.status(f"probing a partition of {n:,} batches…"):
                    row = asyncio.run(_probe(broker, n))
            finally:
                broker.stop()
        rows.append(row)
        waits = "  ".join(f"{w} ms wait: {'delivered' if row['delivered'][str(w)] else 'NOTHING'}"
                          for w in PROBE_WAITS_MS)
        console.print(f"{n:>9,} batches: one fetch {row['cpu_ms_per_fetch']:8.1f} ms broker CPU "
                      f"({row['us_per_batch']:.2f} µs per stored batch), {row['wall_ms_per_fetch']:8.1f} ms wall;  "
                      f"{waits}  (load {row['load1']:.2f})", highlight=False)
    result = {**commit_and_machine(load_before), "probe": rows}
    console.print(result["machine"])
    if args.json:
        import json

        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


async def produce_single_batches(bootstrap: str, topic: str, partition: int, batches: int, *, key: bytes | None,
                                 value: bytes) -> None:
    """Write ``batches`` one-record batches to one partition (the log shape that makes tansu's fetch slow)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        pending = []
        for _ in range(batches):
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
            batch.close()
            pending.append(await producer.send_batch(batch, topic, partition=partition))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _probe(broker: LocalBroker, batches: int, fetches: int = 10) -> dict:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    from .procstat import cpu_seconds

    topic = f"probe-{batches}-{int(time.time())}"  # an s3:// store outlives the broker: a topic of its own
    admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap])
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    await produce_single_batches(broker.bootstrap, topic, 0, batches, key=None, value=b"x" * 100)
    tp = TopicPartition(topic, 0)

    async def fetch_last(wait_ms: int, tries: int, timeout_ms: int) -> tuple[int, float, float]:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                                    fetch_max_wait_ms=wait_ms)
        await consumer.start()
        try:
            consumer.assign([tp])
            got, cpu0, t0 = 0, cpu_seconds(broker.process.pid), time.perf_counter()
            for _ in range(tries):
                consumer.seek(tp, batches - 1)
                got += len((await consumer.getmany(tp, timeout_ms=timeout_ms)).get(tp, []))
            return got, cpu_seconds(broker.process.pid) - cpu0, time.perf_counter() - t0
        finally:
            await consumer.stop()

    got, cpu, wall = await fetch_last(30_000, fetches, 60_000)  # a wait no listing outlasts
    delivered = {str(w): (await fetch_last(w, 1, 3_000))[0] > 0 for w in PROBE_WAITS_MS}
    return {"batches": batches, "cpu_ms_per_fetch": round(cpu / fetches * 1000, 2),
            "us_per_batch": round(cpu / fetches / batches * 1e6, 3), "wall_ms_per_fetch": round(wall / fetches * 1000, 1),
            "all_fetches_delivered": got == fetches, "delivered": delivered, "load1": round(machine_load()[0], 2)}
