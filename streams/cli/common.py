"""Flags shared by subcommands, and the one place where flags and environment become Settings."""
from __future__ import annotations

import argparse
import typing

from ..runtime.kafka import CONTRACT_TOPICS
from ..settings import Settings

#: flag dest → Settings field; a flag left at None falls back to STREAMREC_* / the default
_FLAG_FIELDS = {
    "broker": "broker",
    "data_dir": "data_dir",
    "web_port": "web_port",
    "model_path": "model_path",
    "device": "device",
    "k": "k",
    "topic_partitions": "topic_partitions",
    "role": "role",
    "log_level": "log_level",
    "weights": "weights",
    "ml100k": "ml100k",
}


def choices(field: str) -> list[str]:
    """The values a Literal setting accepts: a flag offers exactly what its STREAMREC_* variable accepts."""
    values = typing.get_args(Settings.model_fields[field].annotation)
    if not values:
        raise TypeError(f"setting {field} is not a Literal")
    return list(values)


def topic_name(given: str, settings: Settings) -> str:
    """A contract topic's short name (items, events, recommendations, dead-letters, item-vectors, …: its
    STREAMREC_TOPIC_* setting without the prefix, dashed) through the settings, or the name as given."""
    aliases = {field.removeprefix("topic_").replace("_", "-"): getattr(settings, field) for field in CONTRACT_TOPICS}
    return aliases.get(given, given)


def add_broker_flag(parser: argparse.ArgumentParser) -> None:
    """--broker URL (STREAMREC_BROKER)."""
    parser.add_argument("--broker", metavar="URL", help="Kafka bootstrap, e.g. kafka://127.0.0.1:9092 (STREAMREC_BROKER)")


def add_worker_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of a worker process: broker, data dir, web port, model."""
    add_broker_flag(parser)
    parser.add_argument("--data-dir", metavar="DIR", help="RocksDB tables and index snapshots (STREAMREC_DATA_DIR)")
    parser.add_argument("--web-port", type=int, metavar="PORT", help="HTTP port: /recommendations, /health, /metrics (STREAMREC_WEB_PORT)")
    parser.add_argument("--model-path", metavar="DIR", help="local mean-pooled (sentence-transformers) BERT-family model folder (STREAMREC_MODEL_PATH)")
    parser.add_argument("--device", choices=choices("device"), help="encoder device (STREAMREC_DEVICE)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from STREAMREC_* variables, overridden by the flags the user gave."""
    overrides = {
        field: getattr(args, flag)
        for flag, field in _FLAG_FIELDS.items()
        if getattr(args, flag, None) is not None
    }
    return Settings(**overrides)
