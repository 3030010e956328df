"""`streamrec` entry point: one small module per subcommand, errors a user can cause end in one line."""
from __future__ import annotations

import argparse
import importlib
import sys

from pydantic import ValidationError

from encoders.errors import EncoderError
from index.errors import VectorIndexError

from .. import __version__
from ..errors import StreamrecError

#: subcommand → module in this package; each module has `register(subparsers)` and `run(args, settings)`
COMMANDS = ("broker", "worker", "demo", "produce", "import_events", "tail", "dead_letters", "forget", "token", "eval",
            "fit", "bench", "config", "report")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="streamrec",
        description="Streaming, real-time, explainable recommendations for online shops.",
        epilog="Every flag can also be set as a STREAMREC_* environment variable (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"streamrec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, build the settings once, run the subcommand."""
    args = build_parser().parse_args(argv)
    try:
        from ..settings import misspelled_variables
        from .common import settings_from_args

        for warning in misspelled_variables():
            print(f"streamrec: warning: {warning}", file=sys.stderr)
        settings = settings_from_args(args)
        return int(args.run(args, settings) or 0)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        print(f"streamrec: error: bad setting {where}: {err.get('msg')}", file=sys.stderr)
    except (StreamrecError, EncoderError, VectorIndexError) as exc:
        print(f"streamrec: error: {exc}", file=sys.stderr)
    except FileNotFoundError as exc:
        print(f"streamrec: error: no such file: {exc.filename}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
