"""`streamrec dead-letters`: list the dead letters grouped by reason, and replay selected ones to their source topic."""
from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape

from ..core.deadletters import Letter, Selection, group_by_reason, parse_offset, selected
from ..errors import BrokerUnavailable, ImproperlyConfigured
from ..runtime.headers import BACKFILL
from ..runtime.kafka import connect_producer, read_messages
from .common import add_broker_flag

#: marks a replayed message with the dead letter it came from (traceability; the worker ignores it)
REPLAYED_FROM = "streamrec-replayed-from"

_EPILOG = """\
examples:
  streamrec dead-letters                              every reason, how many, a few examples each
  streamrec dead-letters --reason bad_type --show 50  the bad_type letters
  streamrec dead-letters --reason bad_type --replay   after adding the type to STREAMREC_EVENT_WEIGHTS
  streamrec dead-letters --offset 1:21 --replay       the letter of the message at partition 1, offset 21

A replay publishes each selected letter's exact original bytes, with its original key, to its source topic
(a historical event keeps its history mark). A message that is still unusable is dead-lettered again.
"""


def register(sub) -> None:
    """Add the `dead-letters` subcommand."""
    parser = sub.add_parser(
        "dead-letters",
        help="list dead letters grouped by reason; replay selected ones to their source topic",
        description="Reads the dead-letter topic (STREAMREC_TOPIC_DEAD_LETTERS) from the beginning in assign mode "
        "and groups the letters by reason. --reason / --offset / --source select letters; --replay publishes them "
        "again to the topic they came from.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_flag(parser)
    parser.add_argument("--reason", action="append", default=[], metavar="R", help="only letters with this reason (repeatable)")
    parser.add_argument("--offset", action="append", default=[], metavar="[P:]N",
                        help="only the letter of the source message at offset N (on partition P) (repeatable)")
    parser.add_argument("--source", metavar="TOPIC", help="only letters from this source topic")
    parser.add_argument("--show", type=int, default=3, metavar="N", help="examples listed per reason (default 3)")
    parser.add_argument("--replay", action="store_true", help="publish the selected letters to their source topic")
    parser.add_argument("--idle", type=float, default=2.0, metavar="S",
                        help="stop reading after S seconds without a new letter (default 2)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """List (and maybe replay) the selected letters."""
    selection = _selection(args)
    if args.replay and selection.empty:
        raise ImproperlyConfigured("--replay needs a selection: --reason, --offset or --source")
    messages = read_messages(settings, settings.topic_dead_letters, idle=args.idle)
    letters = [letter for m in messages
               if (letter := Letter.from_message(f"{m.topic}@{m.partition}:{m.offset}", m.key, m.value)) is not None]
    chosen = selected(letters, selection)
    console = Console(highlight=False, soft_wrap=True)
    print_groups(chosen, console, args.show, total=len(letters), topic=settings.topic_dead_letters)
    if args.replay:
        replayed = replay(settings, chosen)
        console.print(f"replayed {replayed} letter{'s' if replayed != 1 else ''} to their source topics")
    return 0


def print_groups(letters: list[Letter], console: Console, show: int, *, total: int, topic: str) -> None:
    """One header line per reason, then up to ``show`` examples."""
    scope = "" if len(letters) == total else f" ({len(letters)} selected)"
    console.print(f"{total} dead letter{'s' if total != 1 else ''} on {escape(topic)}{scope}")
    for reason, group in group_by_reason(letters).items():
        sources = sorted({letter.source_topic for letter in group})
        console.print(f"[bold]{escape(reason)}[/]  {len(group)}  (from {escape(', '.join(sources))})")
        for letter in group[:show]:
            key = (letter.key or b"").decode("utf-8", "replace")
            console.print(f"  {escape(letter.source)}  key={escape(key)}  {escape(letter.detail[:160])}")
        if len(group) > show:
            console.print(f"  … {len(group) - show} more (--show {len(group)})")


def replay(settings, letters: list[Letter]) -> int:
    """Publish each letter's original bytes and key to its source topic; returns how many were acknowledged."""
    from kafka.errors import KafkaError

    producer = connect_producer(settings, connect_timeout=5.0, linger_ms=5)
    try:
        futures = []
        for letter in letters:
            headers = [(REPLAYED_FROM, letter.position.encode())]
            if letter.backfill:
                headers.append((BACKFILL, b"1"))
            futures.append(producer.send(letter.source_topic, key=letter.key, value=letter.value, headers=headers))
        producer.flush(timeout=30)
        failed = [f for f in futures if f.failed()]
    except KafkaError as exc:
        raise BrokerUnavailable(f"replay failed: {type(exc).__name__}: {exc}") from exc
    finally:
        producer.close(timeout=5)
    if failed:
        print(f"streamrec: error: {len(failed)} of {len(futures)} replays were not acknowledged", file=sys.stderr)
    return len(futures) - len(failed)


def _selection(args: argparse.Namespace) -> Selection:
    offsets = set()
    for text in args.offset:
        try:
            offsets.add(parse_offset(text))
        except ValueError:
            raise ImproperlyConfigured(f"--offset takes N or PARTITION:N (non-negative integers), got {text!r}") from None
    return Selection(reasons=frozenset(args.reason), offsets=frozenset(offsets), source_topic=args.source)
