"""`streamrec produce`: publish JSON lines or CSV rows from a file or stdin to a Kafka topic."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..core.lines import count_records, messages
from ..errors import BrokerUnavailable, ImproperlyConfigured
from ..runtime.kafka import connect_producer
from .common import add_broker_flag, topic_name

#: seconds to reach the broker before giving up with one error line
CONNECT_TIMEOUT = 5.0

_EPILOG = """\
examples:
  streamrec produce --topic items catalogue.jsonl
  streamrec produce --topic items products.csv --rate 200
  cat events.jsonl | streamrec produce --topic events -
  streamrec produce --topic my-topic data.jsonl --key-field sku

JSON lines are sent byte for byte, one message per non-blank line, even when a line is not valid JSON:
the worker decides, and sends what it cannot use to the dead-letter topic with the reason.
CSV rows become JSON objects: numeric-looking price/ts become numbers, in_stock/deleted become
booleans, an attributes cell holding a JSON object becomes that object, and empty cells are left out.
"""


@dataclass(frozen=True)
class ProduceOptions:
    """What to send where: topic, key field, format, pace."""

    topic: str
    key_field: str | None
    fmt: str
    rate: float | None = None
    headers: tuple[tuple[str, bytes], ...] = ()  # Kafka headers put on every message

    def limiter(self) -> "RateLimiter | None":
        """The pacing object for this run (None: as fast as the producer goes)."""
        return RateLimiter(self.rate) if self.rate else None


@dataclass
class SendReport:
    """Messages handed to the producer, deliveries that failed, and the first failure's text."""

    sent: int = 0
    failed: int = 0
    first_error: str = ""

    def on_error(self, exc: BaseException) -> None:
        """Delivery callback: count the failure, keep the first message."""
        if not self.failed:
            self.first_error = f"{type(exc).__name__}: {exc}"
        self.failed += 1


class RateLimiter:
    """Paces calls to ``rate`` per second on average, letting up to ``burst`` through at once after a pause."""

    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic, sleep=time.sleep) -> None:
        if rate <= 0:
            raise ImproperlyConfigured(f"--rate must be positive, got {rate}")
        self.rate = float(rate)
        # a burst of a tenth of a second keeps the pace smooth without one sleep per message at high rates
        self.burst = float(burst) if burst is not None else max(1.0, self.rate / 10)
        self._clock, self._sleep = clock, sleep
        self._next = clock()  # when the next call may go

    def acquire(self) -> None:
        """Block until one message may be sent."""
        now = self._clock()
        # time not used while idle is credited only up to the burst, so a pause never buys a flood
        self._next = max(self._next, now - (self.burst - 1.0) / self.rate)
        if self._next > now:
            self._sleep(self._next - now)
        self._next += 1.0 / self.rate


def register(sub) -> None:
    """Add the `produce` subcommand."""
    parser = sub.add_parser(
        "produce",
        help="publish JSON lines or CSV rows from a file or stdin to a topic",
        description="Publish one Kafka message per JSON line or CSV row. The key is the record's item_id\n"
        "on the items topic and its user_id on the events topic, unless --key-field says otherwise.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_flag(parser)
    parser.add_argument("--topic", required=True,
                        help="'items' or 'events' (mapped through STREAMREC_TOPIC_ITEMS/_EVENTS) or any topic name")
    parser.add_argument("file", nargs="?", default="-", metavar="FILE",
                        help="JSON lines or CSV file; '-' or nothing reads stdin")
    parser.add_argument("--format", dest="fmt", choices=["jsonl", "csv"],
                        help="input format (default: csv for *.csv files, else jsonl)")
    parser.add_argument("--rate", type=float, metavar="N", help="at most N messages per second (default: no limit)")
    parser.add_argument("--header", action="append", metavar="NAME=VALUE",
                        help="a Kafka header on every message (repeatable), e.g. streamrec-control=forget")
    parser.add_argument("--key-field", metavar="F",
                        help="record field used as the message key (default: item_id for items, user_id for events)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Send every record of the input, flush, print a one-line summary."""
    options = produce_options(args, settings)
    path = None if args.file == "-" else Path(args.file)
    if path is not None and not path.is_file():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    total = count_records(path, options.fmt) if path is not None else None
    producer = _connect(settings)
    console = Console(stderr=True)
    started = time.monotonic()
    try:
        report = _send_all(producer, options, path, total, console)
    finally:
        producer.close(timeout=5)
    elapsed = time.monotonic() - started
    delivered = report.sent - report.failed
    rate = delivered / elapsed if elapsed > 0 else 0.0
    summary = f"produced {delivered} messages to {options.topic} in {elapsed:.1f}s ({rate:,.0f} msg/s)"
    if report.failed:
        print(f"streamrec: error: {summary}; {report.failed} failed, first: {report.first_error}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def produce_options(args: argparse.Namespace, settings) -> ProduceOptions:
    """Resolve the topic name, the default key field and the input format from flags and settings."""
    topic = topic_name(args.topic, settings)
    default_keys = {settings.topic_items: "item_id", settings.topic_events: "user_id"}
    fmt = args.fmt or ("csv" if args.file.lower().endswith(".csv") else "jsonl")
    if args.rate is not None and args.rate <= 0:
        raise ImproperlyConfigured(f"--rate must be positive, got {args.rate:g}")
    headers = []
    for text in getattr(args, "header", None) or []:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ImproperlyConfigured(f"--header takes NAME=VALUE, got {text!r}")
        headers.append((name.strip(), value.encode()))
    return ProduceOptions(topic=topic, key_field=args.key_field or default_keys.get(topic), fmt=fmt, rate=args.rate,
                          headers=tuple(headers))


def _connect(settings):
    return connect_producer(settings, connect_timeout=CONNECT_TIMEOUT, linger_ms=5, max_block_ms=10_000)


def _send_all(producer, options: ProduceOptions, path: Path | None, total: int | None,
              console: Console) -> SendReport:
    from kafka.errors import KafkaError

    report = SendReport()
    limiter = options.limiter()
    stream = open(path, "rb") if path is not None else sys.stdin.buffer
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    try:
        with progress:
            task = progress.add_task(f"→ {options.topic}", total=total)
            for key, value in messages(stream, options.fmt, options.key_field):
                if limiter is not None:
                    limiter.acquire()
                try:
                    producer.send(options.topic, key=key, value=value,
                                  headers=list(options.headers) or None).add_errback(report.on_error)
                except KafkaError as exc:  # no metadata for the topic: it is missing (no auto-create) or the broker went away
                    raise BrokerUnavailable(f"cannot send to {options.topic}: the topic does not exist or the broker "
                                            f"stopped answering ({type(exc).__name__})") from exc
                report.sent += 1
                progress.advance(task)
            try:
                producer.flush(timeout=30)
            except KafkaError as exc:
                raise BrokerUnavailable(f"messages to {options.topic} not acknowledged within 30s ({type(exc).__name__})") from exc
    finally:
        if path is not None:
            stream.close()
    return report
