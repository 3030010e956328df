"""`streamrec worker`: one Faust worker (items → vectors, events → recommendations)."""
from __future__ import annotations

import argparse

from .common import add_worker_flags, choices


def register(sub) -> None:
    """Add the `worker` subcommand."""
    parser = sub.add_parser(
        "worker",
        help="run one streamrec worker (Faust) against the configured broker",
        description="Consume items and events, keep profiles in RocksDB, publish explained recommendations. "
        "Serves GET /recommendations/{user_id}, POST /events, DELETE /users/{user_id}, /search, /health and "
        "/metrics on the web port.",
        epilog="Example: STREAMREC_BROKER=kafka://127.0.0.1:9092 streamrec worker --web-port 6066",
    )
    add_worker_flags(parser)
    parser.add_argument("--role", choices=choices("role"), help="what this worker does (STREAMREC_ROLE)")
    parser.add_argument("--log-level", type=str.lower, choices=choices("log_level"),
                        help="log level (STREAMREC_LOG_LEVEL, default info)")
    parser.add_argument("--weights", metavar="FILE",
                        help="blend weights written by `streamrec fit` (STREAMREC_WEIGHTS; default: the packaged ones)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Start the worker; it runs until SIGINT/SIGTERM."""
    from ..runtime.worker import run as run_worker

    run_worker(settings)
    return 0
