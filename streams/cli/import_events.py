"""`streamrec import`: load a shop's historical events so profiles and signals start warm, without publishing lists."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..core.deadletters import dead_letter
from ..core.ingest import WireEvent, wire_event
from ..core.lines import count_records, file_format, messages
from ..core.records import load_json
from ..errors import BrokerUnavailable, InvalidMessage
from ..runtime.headers import BACKFILL
from ..runtime.kafka import connect_producer, ensure_topics
from .common import add_broker_flag

_EPILOG = """\
examples:
  streamrec import history.jsonl
  streamrec import orders.csv
  zcat history.jsonl.gz | streamrec import -
  streamrec import online_retail.csv.gz     # an Online Retail invoice-line export, read as it is

Each record has the wire contract's event shape and must carry its time (ts). Records are sorted by ts and
published to the events topic, keyed by user_id, with the header streamrec-backfill: 1: the workers fold them
into profiles and signals exactly like live events but publish no list. A record whose event_id appeared
earlier in the input is skipped as a duplicate (a record without event_id gets one derived from its
content, so an exact repeat is a duplicate too); an unusable record goes to the dead-letter topic with its
reason (streamrec dead-letters lists them).

An Online Retail export (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country; plain or gzipped) is recognised by its header: its products go to the items topic (title, price) and
each purchase line with a customer to the events topic as a purchase; guest, cancelled, non-product and
correction lines are counted and left out.
"""


@dataclass
class ImportReport:
    """What happened to each input record."""

    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    def summary(self, seconds: float) -> str:
        """The one line the command ends with."""
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.reasons.items(), key=lambda kv: -kv[1]))
        return (f"applied {self.applied} historical events, skipped {self.duplicates} duplicates, "
                f"dead-lettered {self.dead_lettered}{f' ({reasons})' if reasons else ''} in {seconds:.1f}s")


def register(sub) -> None:
    """Add the `import` subcommand."""
    parser = sub.add_parser(
        "import",
        help="load historical events (JSON lines or CSV) so profiles and signals start warm; no lists published",
        description="Load a shop's history: events in the wire contract's shape, in event-time order, through the "
        "workers' own event path, marked so that no recommendation list is published for them.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_flag(parser)
    parser.add_argument("file", nargs="?", default="-", metavar="FILE", help="JSON lines or CSV; '-' or nothing reads stdin")
    parser.add_argument("--format", dest="fmt", choices=["jsonl", "csv"],
                        help="input format (default: csv for *.csv files, else jsonl)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Validate, deduplicate, sort by time, publish; print applied / duplicates / dead-lettered."""
    path = None if args.file == "-" else Path(args.file)
    if path is not None and not path.is_file():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    console = Console(stderr=True)
    started = time.monotonic()
    from ..evaluation.retail import looks_like_retail

    if path is not None and looks_like_retail(path):
        return _import_retail(settings, path, console, args.quiet, started)
    fmt = file_format(args.file, args.fmt)
    total = count_records(path, fmt) if path is not None else None
    report = ImportReport()
    rejected: list[tuple[int, bytes | None, bytes, InvalidMessage]] = []
    events: list[tuple[float, int, WireEvent]] = []
    seen: set[str] = set()
    with _progress(console, args.quiet) as progress:
        task = progress.add_task("reading", total=total)
        stream = open(path, "rb") if path is not None else sys.stdin.buffer
        try:
            for line, (key, value) in enumerate(messages(stream, fmt, "user_id"), start=1):
                progress.advance(task)
                try:
                    wire = wire_event(load_json(value), types=settings.event_weights, require_ts=True)
                except InvalidMessage as exc:
                    rejected.append((line, key, value, exc))
                    continue
                if wire.event.event_id in seen:
                    report.duplicates += 1
                    continue
                seen.add(wire.event.event_id)
                events.append((wire.event.ts, line, wire))
        finally:
            if path is not None:
                stream.close()
        events.sort(key=lambda row: (row[0], row[1]))  # event-time order; input order among equal times
        ensure_topics(settings, [settings.topic_events, settings.topic_dead_letters])
        _publish(settings, events, rejected, report, progress, args.file)
    print(report.summary(time.monotonic() - started))
    if report.failed:
        print(f"streamrec: error: {report.failed} messages were not acknowledged by the broker", file=sys.stderr)
        return 1
    return 0


def _import_retail(settings, path: Path, console: Console, quiet: bool, started: float) -> int:
    """An Online Retail export: its catalogue to `items`, its purchase lines to `events` (history)."""
    import orjson

    from ..evaluation.retail import load_retail, wire_records

    log = load_retail(path)
    for line in log.report():
        console.print(line)
    report = ImportReport()
    events: list[tuple[float, int, WireEvent]] = []
    rejected: list[tuple[int, bytes | None, bytes, InvalidMessage]] = []
    items = []
    for n, (kind, record) in enumerate(wire_records(log)):
        if kind == "item":
            items.append((record["item_id"].encode(), orjson.dumps(record)))
            continue
        try:
            events.append((record["ts"], n, wire_event(record, types=settings.event_weights, require_ts=True)))
        except InvalidMessage as exc:
            rejected.append((n, record["user_id"].encode(), orjson.dumps(record), exc))
    with _progress(console, quiet) as progress:
        ensure_topics(settings, [settings.topic_items, settings.topic_events, settings.topic_dead_letters])
        _publish(settings, events, rejected, report, progress, str(path), items)
    print(f"published {len(items)} products to {settings.topic_items}; " + report.summary(time.monotonic() - started))
    if report.failed:
        print(f"streamrec: error: {report.failed} messages were not acknowledged by the broker", file=sys.stderr)
        return 1
    return 0


def _publish(settings, events, rejected, report: ImportReport, progress: Progress, source: str,
             items: list[tuple[bytes, bytes]] = ()) -> None:
    from kafka.errors import KafkaError

    producer = connect_producer(settings, connect_timeout=5.0, linger_ms=20, max_block_ms=10_000)
    futures = []
    try:
        for key, value in items:  # the catalogue first: a worker indexes an item before its events arrive
            futures.append(producer.send(settings.topic_items, key=key, value=value))
        if items:
            producer.flush(timeout=60)
        task = progress.add_task(f"→ {settings.topic_events}", total=len(events))
        for _, _, wire in events:
            futures.append(producer.send(settings.topic_events, key=wire.key, value=wire.value,
                                         headers=[(BACKFILL, b"1")]))
            progress.advance(task)
        for line, key, value, exc in rejected:
            letter = dead_letter(source_topic=settings.topic_events, partition=None, offset=None, key=key, value=value,
                                 reason=exc.reason, detail=f"{source} record {line}: {exc.detail}", backfill=True)
            producer.send(settings.topic_dead_letters, key=key, value=letter)
            report.reasons[exc.reason] = report.reasons.get(exc.reason, 0) + 1
        producer.flush(timeout=60)
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot publish to {settings.topic_events}: {type(exc).__name__}") from exc
    finally:
        producer.close(timeout=5)
    report.failed = sum(1 for f in futures if f.failed())
    report.applied = len(futures) - len(items) - report.failed
    report.dead_lettered = len(rejected)


def _progress(console: Console, quiet: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=quiet)
