"""`streamrec token NAME --scopes read,ingest`: a new HTTP API token, as a line for STREAMREC_API_TOKENS_FILE."""
from __future__ import annotations

import argparse
import secrets

from ..errors import StreamrecError
from ..runtime.httpauth import SCOPES, parse_tokens


def register(sub) -> None:
    """Add the `token` subcommand."""
    parser = sub.add_parser(
        "token", help="make a new HTTP API token (a line for STREAMREC_API_TOKENS_FILE)",
        description="Prints NAME:SCOPES:TOKEN with a fresh random token (32 bytes, URL-safe base64). Append the "
        "line to the file STREAMREC_API_TOKENS_FILE names on every worker, restart them, and give the caller the "
        "part after the last colon: it sends `Authorization: Bearer TOKEN`.",
        epilog="example:\n  streamrec token storefront --scopes read >> /run/secrets/streamrec-tokens",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", metavar="NAME", help="who the token is for (shown in logs and rate limits)")
    parser.add_argument("--scopes", default="read", metavar="S[,S]",
                        help=f"comma-separated, among {', '.join(SCOPES)} (default read)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Print one token line."""
    if not args.name.strip() or any(ch in args.name for ch in ":;#") or any(ch.isspace() for ch in args.name):
        raise StreamrecError("NAME must be a word without spaces, ':', ';' or '#'")
    line = f"{args.name}:{args.scopes.replace(' ', '')}:{secrets.token_urlsafe(32)}"
    parse_tokens(line, "the new token")  # unknown scopes end here, in one line
    print(line)
    return 0
