"""`streamrec fit`: fit the blend weights on a replay and write them to a file of your choice (STREAMREC_WEIGHTS)."""
from __future__ import annotations

import argparse

from .eval import add_data_flags, replay_and_report, weights_path


def register(sub) -> None:
    """Add the `fit` subcommand."""
    parser = sub.add_parser(
        "fit",
        help="fit the blend weights on MovieLens or a shop's own log and write them to a file",
        description="Runs the same prequential replay as `streamrec eval`, fits the blend on its first part, "
        "reports every method on the rest, and writes the fitted weights to FILE. Workers use them with "
        "STREAMREC_WEIGHTS=FILE (or `streamrec worker --weights FILE`); each list's model_version then names them.",
        epilog="example: streamrec fit --items catalogue.jsonl --events history.jsonl --out my-weights.json",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="where the weights go (never inside the package)")
    parser.add_argument("--ranker", dest="ranker_out", metavar="FILE",
                        help="also fit the learned ranker (LightGBM LambdaRank) and write it to FILE "
                        "(workers load it with STREAMREC_RANKER_MODEL)")
    parser.add_argument("--report", dest="report_dir", metavar="DIR", default="out/fit",
                        help="where the replay's eval.json and eval.png go (default out/fit)")
    add_data_flags(parser)
    parser.set_defaults(run=run, save_weights=None)


def run(args: argparse.Namespace, settings) -> int:
    """Replay with a fit and save the weights."""
    if args.fit_fraction <= 0:
        from ..errors import ImproperlyConfigured

        raise ImproperlyConfigured("--fit-fraction must be above 0 to fit anything")
    if args.ranker_out is not None:
        args.ranker_out = weights_path(args.ranker_out)
    return replay_and_report(args, settings, weights_path(args.out))
