"""`streamrec forget USER`: forget a shopper through Kafka; `--audit`: report what still names them, topic by topic."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.privacy import COMPACTED, KEPT, RETAINED, TOMBSTONE, Record, TopicAudit, audit_topic, is_compacted
from ..core.records import checked_id
from ..errors import InvalidMessage, StreamrecError
from ..runtime.agents.forget import forget_message
from ..runtime.kafka import connect_admin, connect_producer, contract_topics, read_messages, topic_configs
from .common import add_broker_flag

_EPILOG = """\
examples:
  streamrec forget alice               forget alice: the control message on the events topic (like DELETE /users/alice)
  streamrec forget --audit alice       every topic streamrec owns, read from the beginning: what still names alice,
                                       and what compaction and retention will remove
  streamrec forget --audit alice --json   the same as one JSON document

Exit status of --audit: 0 when, after compaction, nothing that names the user is left in what streamrec keeps
(profiles, lists, signals, vectors); records that stay until a topic's retention (raw events, dead letters) are
listed, and fail the audit only with --strict. 1 otherwise. docs/guides/privacy.md explains each topic.
"""


def register(sub) -> None:
    """Add the `forget` subcommand."""
    parser = sub.add_parser(
        "forget", help="forget a shopper through Kafka, or audit what still names them",
        description="Without --audit: publish the forget control message for USER on the events topic (applied "
        "after USER's earlier events by the worker that owns them). With --audit: read every topic and table "
        "changelog streamrec owns and report each record that names USER, with what compaction or retention does "
        "to it.", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_broker_flag(parser)
    parser.add_argument("user", metavar="USER", help="the shopper's user_id")
    parser.add_argument("--audit", action="store_true", help="report what still names USER instead of forgetting")
    parser.add_argument("--json", dest="as_json", action="store_true", help="--audit: print one JSON document")
    parser.add_argument("--strict", action="store_true", help="--audit: records kept until retention fail it too")
    parser.add_argument("--idle", type=float, default=2.0, metavar="S",
                        help="--audit: a topic is read once S seconds pass without a message (default 2)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Forget USER, or audit what still names USER."""
    try:
        user = checked_id(args.user.strip(), "USER")
    except InvalidMessage as exc:
        raise StreamrecError(exc.detail) from None
    if not user:
        raise StreamrecError("USER must not be empty")
    if not args.audit:
        key, value, headers = forget_message(user)
        producer = connect_producer(settings, connect_timeout=5.0, max_block_ms=10_000)
        try:
            producer.send(settings.topic_events, key=key, value=value, headers=headers)
            producer.flush(timeout=30)
        finally:
            producer.close()
        print(f"forget of {user!r} published to {settings.topic_events}; `streamrec forget --audit {user}` reports "
              "what remains")
        return 0
    audits = audit_user(settings, user, idle=args.idle)
    kept = sum(a.count(KEPT) for a in audits)
    retained = sum(a.count(RETAINED) for a in audits)
    if args.as_json:
        print(json.dumps({"user_id": user, "kept_after_compaction": kept, "until_retention": retained,
                          "topics": [a.to_dict() for a in audits]}, indent=2))
    else:
        print_report(user, settings.broker, audits)
    return 1 if kept or (args.strict and retained) else 0


def owned_topics(settings, existing: set[str]) -> list[str]:
    """The contract's topics and every topic of the app's (Faust's table changelogs and its own), as they exist."""
    names = [t for t in contract_topics(settings) if t in existing]
    names += sorted(t for t in existing if t.startswith(f"{settings.app_id}-") and t not in names)
    return names


def audit_user(settings, user: str, *, idle: float = 2.0) -> list[TopicAudit]:
    """One TopicAudit per topic streamrec owns, read from the beginning."""
    admin = connect_admin(settings, connect_timeout=5.0)
    try:
        existing = set(admin.list_topics())
        names = owned_topics(settings, existing)
        reported = _describe(admin, names)
    finally:
        admin.close()
    expected = topic_configs(settings)
    audits = []
    for name in names:
        config = reported.get(name) or {}
        if not config:  # a broker that reports no configuration (the embedded one): as streamrec creates the topic
            config = {**expected.get(name, {}), "reported": "no"}
        records = [Record(m.topic, m.partition, m.offset, m.key, m.value)
                   for m in read_messages(settings, name, idle=idle, timeout=600.0)]
        audits.append(audit_topic(name, records, user, compacted=is_compacted(config), config=config))
    return audits


def _describe(admin, names: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's configuration as the broker reports it ({} where it reports none)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    try:
        answer: Any = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    except Exception:  # a broker without DescribeConfigs: the report says the configuration is assumed
        return {}
    topics = answer.get("topic", {}) if isinstance(answer, dict) else {}
    return {name: {k: str(v) for k, v in (config or {}).items()} for name, config in topics.items()}


def print_report(user: str, broker: str, audits: list[TopicAudit], out=sys.stdout) -> None:
    """One line per topic, then the verdict."""
    print(f"forget audit of {user!r} on {broker}: {len(audits)} topics read from the beginning", file=out)
    width = max((len(a.topic) for a in audits), default=10)
    for a in audits:
        policy = a.config.get("cleanup.policy", "delete")
        detail = [policy]
        for key in ("max.compaction.lag.ms", "retention.ms"):
            if key in a.config:
                detail.append(f"{key} {a.config[key]}")
        if "reported" in a.config:
            detail.append("not reported by the broker: as streamrec creates the topic")
        if not a.found:
            verdict = "nothing names the user"
        else:
            parts = [f"{a.count(fate)} {label}" for fate, label in (
                (COMPACTED, "removed by compaction"), (TOMBSTONE, "tombstones (removed after delete.retention.ms)"),
                (KEPT, "KEPT after compaction"), (RETAINED, "kept until the topic's retention")) if a.count(fate)]
            verdict = f"{len(a.found)} of {a.read} records name the user: " + ", ".join(parts)
        print(f"  {a.topic:<{width}}  {verdict}  [{', '.join(detail)}]", file=out)
    kept = sum(a.count(KEPT) for a in audits)
    retained = sum(a.count(RETAINED) for a in audits)
    if kept:
        print(f"{kept} records naming {user!r} survive compaction: the user is not (fully) forgotten", file=out)
    else:
        print(f"after compaction nothing that names {user!r} is left in what streamrec keeps"
              + (f"; {retained} records stay until their topic's retention (docs/guides/privacy.md)" if retained else ""),
              file=out)
