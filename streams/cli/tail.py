"""`streamrec tail`: print recommendation lists from the recommendations topic as they arrive."""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..core.deadletters import Letter
from ..runtime.kafka import connect_consumer, poll_partitions
from ..errors import StreamrecError
from .common import add_broker_flag, topic_name

_EPILOG = """\
examples:
  streamrec tail                               follow new lists (Ctrl-C stops)
  streamrec tail --user alice --from-beginning every list published for alice so far, then follow
  streamrec tail --max 5 --timeout 30          five lists, or stop after 30 s without one
  streamrec tail --json | jq .items[0]         raw JSON, one list per line
  streamrec tail --topic dead-letters --from-beginning --timeout 5   every dead letter so far
  streamrec tail --topic events --max 3        any other topic: one line per message (key, position, value)
  streamrec tail -t events -p 2 -o -5          the last five messages of partition 2 (kcat's -p and -o)
  streamrec tail -G dashboards                 as a member of consumer group "dashboards" (kcat's -G)

The topic is read in assign mode (every partition, no consumer group), so tail never joins or
disturbs the workers' group, and works on the embedded broker as well as on Apache Kafka. With -G it joins
the group named instead (never the workers' own) and commits what it read; the embedded broker answers a
group join only when the rebalance timeout expires, so there a -G tail starts after a few seconds.
Without --from-beginning, lists whose message timestamp is older than tail's start are skipped.
On the embedded broker, -o -N counts back from the end offset it reports, which falls short after a
multi-record batch (the base offset of the last batch + 1): there, -o -N may show more than N messages.
"""


@dataclass(frozen=True)
class TailOptions:
    """Which lists to show and when to stop."""

    topic: str
    user: str | None = None
    from_beginning: bool = False
    max_lists: int | None = None
    timeout: float | None = None
    raw_json: bool = False
    list_topic: bool = True  # the topic carries recommendation lists (else: one line per message)
    partition: int | None = None  # only this partition (kcat -p)
    offset: int | None = None  # start each partition here; negative: that many before the end (kcat -o)
    group: str | None = None  # read as a member of this consumer group, committing offsets (kcat -G)


def register(sub) -> None:
    """Add the `tail` subcommand."""
    parser = sub.add_parser(
        "tail",
        help="pretty-print recommendation lists (or any topic's messages) as they arrive",
        description="Follow the recommendations topic (STREAMREC_TOPIC_RECOMMENDATIONS) and print each list:\n"
        "the user, the event that triggered it, then every item with its rank, score and explanation.\n"
        "--topic reads any other topic instead: dead letters with their reason, anything else as raw JSON.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_flag(parser)
    parser.add_argument("--topic", "-t", metavar="T", default="recommendations",
                        help="recommendations (default), items, events, item-vectors, dead-letters (the names mapped "
                        "through the STREAMREC_TOPIC_* settings) or any topic name")
    parser.add_argument("--user", metavar="U", help="only lists (or messages) for this user_id / key")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest retained list, not at the end")
    parser.add_argument("--partition", "-p", type=int, metavar="N", help="read partition N only")
    parser.add_argument("--offset", "-o", metavar="O", type=_offset,
                        help="where each partition starts: beginning, end, an offset, or -N (N before the end)")
    parser.add_argument("--group", "-G", metavar="G", help="read as a member of consumer group G, committing offsets")
    parser.add_argument("--max", dest="max_lists", type=int, metavar="N", help="stop after N lists")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds without a list (default: never)")
    parser.add_argument("--json", dest="raw_json", action="store_true", help="print each list as one raw JSON line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Follow the topic until --max lists were shown or --timeout seconds passed without one."""
    offset = args.offset
    if args.group is not None and args.partition is not None:
        raise StreamrecError("-G reads the partitions the group assigns; leave out -p")
    if args.group is not None and args.group == settings.app_id:
        raise StreamrecError(f"-G {args.group} is the workers' own group; name another")
    options = TailOptions(
        topic=topic_name(args.topic, settings), user=args.user, from_beginning=args.from_beginning or offset == "beginning",
        max_lists=args.max_lists, timeout=args.timeout, raw_json=args.raw_json,
        list_topic=topic_name(args.topic, settings) == settings.topic_recommendations, partition=args.partition,
        offset=offset if isinstance(offset, int) else None, group=args.group,
    )
    console = Console(soft_wrap=True, highlight=False)
    extra = {} if options.group is None else {"group_id": options.group, "enable_auto_commit": True,
                                              "auto_offset_reset": "earliest" if options.from_beginning else "latest",
                                              "max_poll_interval_ms": 3_000, "session_timeout_ms": 6_000,
                                              "heartbeat_interval_ms": 1_000}
    consumer = connect_consumer(settings, connect_timeout=5.0, fetch_max_wait_ms=100, **extra)
    try:
        shown = follow(consumer, options, console)
    finally:
        consumer.close()
    if not options.raw_json:
        what = "list" if options.topic == settings.topic_recommendations else "message"
        Console(stderr=True).print(f"[dim]{shown} {what}{'s' if shown != 1 else ''} shown[/]")
    return 0


def follow(consumer, options: TailOptions, console: Console) -> int:
    """Read every partition of the topic, then print matching lists; returns how many were shown."""
    quiet_since = time.monotonic()
    # "from the end" means lists published from now on. The message timestamp says so on any broker;
    # the end offset alone does not on tansu, whose end offsets can fall short of the last batch.
    explicit = options.from_beginning or options.offset is not None or options.group is not None
    not_before_ms = None if explicit else time.time() * 1000
    shown = 0
    # the topic may not exist yet (no worker started): wait for it like for a quiet topic
    reader = (poll_group(consumer, options.topic) if options.group is not None else
              poll_partitions(consumer, options.topic, from_beginning=options.from_beginning, topic_timeout=options.timeout,
                              interval=0.5, partition=options.partition, offset=options.offset))
    for messages in reader:
        for message in messages:
            if not_before_ms is not None and 0 < message.timestamp < not_before_ms:
                continue
            record = _decode(message.value)
            if options.user is not None and _user_of(record, message.key) != options.user:
                continue
            if options.list_topic and message.value is None:  # a forgotten user's tombstone: shown, not a list
                show_message(message, record, options, console)
                quiet_since = time.monotonic()
                continue
            if options.list_topic:
                show(record, message.value, options, console)
            else:
                show_message(message, record, options, console)
            shown += 1
            quiet_since = time.monotonic()
            if options.max_lists is not None and shown >= options.max_lists:
                return shown
        if _timed_out(options, quiet_since):
            return shown
    return shown


def show(record: dict[str, Any] | None, raw: bytes | None, options: TailOptions, console: Console) -> None:
    """Print one list: raw JSON with --json, else a header line and one line plus explanation per item."""
    if options.raw_json:
        sys.stdout.write((raw or b"").decode("utf-8", "replace") + "\n")
        sys.stdout.flush()
        return
    if record is None:
        console.print(f"[yellow]not a JSON list:[/] {escape((raw or b'')[:200].decode('utf-8', 'replace'))}")
        return
    console.print(render_header(record))
    for item in record.get("items") or []:
        console.print(
            f"  {item.get('rank', '?'):>2}. [cyan]{escape(str(item.get('item_id')))}[/]  "
            f"{_score(item.get('score'))}  {escape(str(item.get('title') or ''))}"
        )
        console.print(f"      [dim]↳[/] {escape(str(item.get('explanation') or ''))}")
    console.print()


def show_message(message, record: dict[str, Any] | None, options: TailOptions, console: Console) -> None:
    """One line per message of a topic that carries no lists: a dead letter's reason, else the raw value."""
    raw = (message.value or b"").decode("utf-8", "replace") if message.value is not None else "null (tombstone)"
    if options.raw_json:
        sys.stdout.write(("null" if message.value is None else raw) + "\n")  # a tombstone is JSON null
        sys.stdout.flush()
        return
    where = f"{message.topic}@{message.partition}:{message.offset}"
    key = (message.key or b"").decode("utf-8", "replace")
    letter = Letter.from_message(where, message.key, message.value) if record is not None else None
    if letter is not None:
        console.print(f"{escape(where)}  [bold]{escape(letter.reason)}[/] from {escape(letter.source)} "
                      f"key={escape(key)}: {escape(letter.detail)}")
        return
    console.print(f"{escape(where)}  key={escape(key)}  {escape(raw[:500])}")


def render_header(record: dict[str, Any]) -> str:
    """'user — after event E · model M · generated HH:MM:SS' with a cold-start mark."""
    parts = [f"[bold]{escape(str(record.get('user_id')))}[/] — after event {escape(str(record.get('trigger_event_id')))}"]
    if record.get("model_version"):
        parts.append(f"model {escape(str(record['model_version']))}")
    generated = record.get("generated_at")
    if isinstance(generated, (int, float)):
        parts.append("generated " + time.strftime("%H:%M:%S", time.localtime(generated)))
    if record.get("cold_start"):
        parts.append("[yellow]cold start (trending)[/]")
    return " · ".join(parts)


def poll_group(consumer, topic: str):
    """Each poll's records as a member of the consumer's group (its offsets committed as it reads)."""
    consumer.subscribe([topic])
    while True:
        yield [record for records in consumer.poll(timeout_ms=200).values() for record in records]


def _offset(text: str):
    """kcat's -o: ``beginning``, ``end``, an offset, or ``-N`` (N before the end)."""
    if text in ("beginning", "end"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected beginning, end, an offset or -N, got {text!r}") from None


def _timed_out(options: TailOptions, since: float) -> bool:
    return options.timeout is not None and time.monotonic() - since >= options.timeout


def _decode(value: bytes | None) -> dict[str, Any] | None:
    try:
        record = json.loads(value) if value is not None else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _user_of(record: dict[str, Any] | None, key: bytes | None) -> str | None:
    if record is not None and record.get("user_id") is not None:
        return str(record["user_id"])
    return key.decode("utf-8", "replace") if key is not None else None


def _score(score: Any) -> str:
    return f"{score:.3f}" if isinstance(score, (int, float)) else "  –  "
