"""`streamrec eval`: prequential replay of MovieLens-100K through streamrec and baselines, blend fit, report."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..core.ranking import PACKAGED_WEIGHTS
from ..errors import require_extra

REPO_ROOT = Path(__file__).resolve().parents[2]


def register(sub) -> None:
    """Add the `eval` subcommand."""
    parser = sub.add_parser(
        "eval",
        help="replay MovieLens-100K test-then-train: streamrec vs popularity and item-kNN, fit the blend",
        description="Replays the rating log in time order through the real Recommender (one-event batches, as "
        "the event agent runs it) and through baselines; each list is scored against the user's next item. "
        "The blend weights are fitted on the first part and every method is reported on the rest.",
    )
    parser.add_argument("--data", metavar="DIR", help="RecBole ml-100k folder (default: ../shared/data/ml-100k)")
    parser.add_argument("--limit", type=int, metavar="N", help="replay only the first N interactions")
    parser.add_argument("--out", metavar="DIR", default="out/eval", help="where eval.json and eval.png go (default out/eval)")
    parser.add_argument("--fit-fraction", type=float, default=0.5, metavar="F",
                        help="share of the log whose lists train the blend; 0 = keep the shipped weights (default 0.5)")
    parser.add_argument("--ratings", choices=["view", "graded"], default="view",
                        help="how star ratings map to event types (default view; see docs/evaluation.md)")
    parser.add_argument("--cold-items", type=int, default=20, metavar="N",
                        help="items held out of the log and added with no interactions (default 20; 0 = off)")
    parser.add_argument("--save-weights", nargs="?", const=str(PACKAGED_WEIGHTS), metavar="PATH",
                        help="write the fitted weights (default path: the packaged streams/core/ranking/default_weights.json)")
    parser.add_argument("--model-path", metavar="DIR", help="local Hugging Face BERT-family model dir (STREAMREC_MODEL_PATH)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="encoder device (STREAMREC_DEVICE)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Load the data and the encoder, replay, print the table, write JSON and PNG."""
    from dataclasses import replace

    from encoders import load_encoder

    from ..core.ranking import RankingWeights
    from ..evaluation import report
    from ..evaluation.data import load_movielens, resolve_data_dir
    from ..evaluation.replay import ReplayOptions, replay

    require_extra("matplotlib", "streamrec eval's plots")  # before the replay, not after minutes of it
    # off a terminal rich would wrap the tables at 80 columns and cut the method names
    console = Console() if sys.stdout.isatty() else Console(width=140)
    data_dir = resolve_data_dir(args.data, REPO_ROOT)
    dataset = load_movielens(data_dir).head(args.limit)
    options = ReplayOptions(
        fit_fraction=args.fit_fraction,
        rating_map=args.ratings,
        cold_items=args.cold_items,
        # with a fit, the replay starts from the hand-set weights so the result does not depend on a
        # previous fit; without one it evaluates the shipped defaults
        ranking=replace(settings.ranking_options(),
                        weights=RankingWeights() if args.fit_fraction > 0 else RankingWeights.default()),
    )
    with console.status("loading the encoder…"):
        encoder = load_encoder(settings.encoder_options())
    command = "streamrec " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["eval"] else "streamrec eval"
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=args.quiet) as progress:
        task = progress.add_task("replaying", total=len(dataset.interactions))
        # a log file or CI gets no live bar: print a plain line every 5% instead
        plain = not console.is_terminal and not args.quiet
        started = time.monotonic()

        def advance(done: int, total: int) -> None:
            if done % 200 == 0 or done == total:  # redrawing per event would cost more than ranking
                progress.update(task, completed=done, total=total)
            if plain and (done == total or done % max(1, total // 20) == 0):
                print(f"replayed {done:,} / {total:,} events ({done / total:.0%}) in {time.monotonic() - started:.0f} s",
                      flush=True)

        result = replay(dataset, encoder, options, on_progress=advance)
    out = Path(args.out)
    body = report.to_json(result, command, str(data_dir))
    json_path = report.write_json(body, out / "eval.json")
    png_path = report.plot(result, out / "eval.png")
    for segment in ("fit", "test") if result.boundary else ("full",):
        report.print_table(result, console, segment)
    report.print_summary(result, console)
    if args.save_weights and result.fit is not None:
        path = Path(args.save_weights)
        path.write_text(json.dumps(report.weights_file(result, command), indent=1) + "\n", encoding="utf-8")
        console.print(f"fitted weights saved to {path}")
    console.print(f"wrote {json_path} and {png_path} ({result.seconds:.0f} s)")
    return 0
