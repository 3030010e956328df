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

from ..errors import ImproperlyConfigured, require_extra
from .common import choices

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the installed `streams` package: never written to


def register(sub) -> None:
    """Add the `eval` subcommand."""
    parser = sub.add_parser(
        "eval",
        help="replay MovieLens-100K (or a shop's own log) test-then-train: streamrec vs baselines, fit the blend",
        description="Replays the log in time order through the real Recommender (one-event batches, as "
        "the event agent runs it) and through baselines; each list is scored against the user's next item. "
        "The blend weights are fitted on the first part and every method is reported on the rest. "
        "MovieLens-100K by default; --items and --events replay a shop's own catalogue and event log.",
    )
    add_data_flags(parser)
    parser.add_argument("--out", dest="report_dir", metavar="DIR", default="out/eval",
                        help="where eval.json and eval.png go (default out/eval)")
    parser.add_argument("--save-weights", metavar="FILE",
                        help="also write the fitted weights to FILE (what `streamrec fit` does; load with STREAMREC_WEIGHTS)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="simulate N workers, users hashed to them like Kafka partitions (default 1)")
    parser.add_argument("--signals", choices=["inplace", "shared", "local"],
                        help="inplace: one process learns in place (default with one worker); shared: every worker's "
                        "deltas through one aggregator (default with several); local: each worker alone")
    parser.add_argument("--signal-neighbours", type=int, metavar="K",
                        help="with shared signals: neighbours per item the aggregator publishes (STREAMREC_SIGNAL_NEIGHBOURS)")
    parser.add_argument("--signal-tick", type=int, metavar="N",
                        help="events between the shared aggregator's publications (default: the replay's, about the "
                        "worker's 250 ms tick at 200 events/s)")
    parser.set_defaults(run=run)


def add_data_flags(parser) -> None:
    """What to replay and how: shared by `eval` and `fit`."""
    parser.add_argument("--data", metavar="DIR",
                        help="RecBole ml-100k folder (STREAMREC_ML100K; default: ../shared/data/ml-100k), or "
                        "'online-retail': the next-basket protocol on an Online Retail invoice-line export (--path)")
    parser.add_argument("--path", metavar="FILE",
                        help="with --data online-retail: the export (CSV or .csv.gz; default: "
                        "../shared/data/online-retail/online_retail_2010-12_2011-08.csv.gz)")
    parser.add_argument("--start", default="2011-06-01", metavar="DATE",
                        help="with --data online-retail: first day of scored invoices (default 2011-06-01)")
    parser.add_argument("--end", default="2011-08-31", metavar="DATE",
                        help="with --data online-retail: last day of scored invoices (default 2011-08-31)")
    parser.add_argument("--items", metavar="FILE", help="a shop's catalogue: items as JSON lines or CSV (wire contract)")
    parser.add_argument("--events", metavar="FILE",
                        help="a shop's event log: events as JSON lines or CSV, each with ts (wire contract)")
    parser.add_argument("--limit", type=int, metavar="N", help="replay only the first N interactions")
    parser.add_argument("--fit-fraction", type=float, default=0.5, metavar="F",
                        help="share of the log whose lists train the blend; 0 = keep the shipped weights (default 0.5)")
    parser.add_argument("--ratings", choices=["view", "graded"], default="view",
                        help="MovieLens only: how star ratings map to event types (default view; docs/results/evaluation.md)")
    parser.add_argument("--cold-items", type=int, default=20, metavar="N",
                        help="items held out of the log and added with no interactions (default 20; 0 = off)")
    parser.add_argument("--model-path", metavar="DIR", help="local mean-pooled (sentence-transformers) BERT-family model folder (STREAMREC_MODEL_PATH)")
    parser.add_argument("--device", choices=choices("device"), help="encoder device (STREAMREC_DEVICE)")
    parser.add_argument("--methods", metavar="LIST",
                        help="comma-separated methods to replay (default: all of them; a wrong name lists the valid ones)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, settings) -> int:
    """Replay, print the tables, write JSON and PNG (and the weights with --save-weights)."""
    from . import eval_retail

    if args.data == eval_retail.DATA_NAME:
        if args.save_weights or args.workers != 1:
            raise ImproperlyConfigured("--data online-retail replays one worker and fits no blend "
                                       "(leave out --save-weights and --workers)")
        return eval_retail.run(args, settings)
    if args.path:
        raise ImproperlyConfigured("--path goes with --data online-retail")
    return replay_and_report(args, settings, weights_path(args.save_weights) if args.save_weights else None)


def weights_path(given: str) -> Path:
    """Where fitted weights go: the user's file, never inside the installed package."""
    path = Path(given).expanduser().resolve()
    if path == PACKAGE_ROOT or PACKAGE_ROOT in path.parents:
        raise ImproperlyConfigured(f"{given} is inside the installed streamrec package; write the weights elsewhere "
                                   "and point STREAMREC_WEIGHTS at them")
    if path.is_dir():
        raise ImproperlyConfigured(f"{given} is a directory; give a file name, e.g. {Path(given) / 'weights.json'}")
    return Path(given).expanduser()  # as the user wrote it: messages show their path, not this machine's


def load_dataset(args: argparse.Namespace, settings, console: Console):
    """MovieLens (the default) or the shop's own --items/--events, cut to --limit; (dataset, where it came from)."""
    from ..evaluation.data import load_movielens, resolve_data_dir
    from ..evaluation.shop import load_shop

    if bool(args.items) != bool(args.events):
        raise ImproperlyConfigured("give both --items and --events (a shop's catalogue and its event log), or neither")
    if args.items:
        if args.data:
            raise ImproperlyConfigured("--data is the MovieLens folder; with --items/--events leave it out")
        dataset, loaded = load_shop(Path(args.items), Path(args.events), settings.event_weights)
        for line in loaded.lines():
            console.print(line)
        return dataset.head(args.limit), f"{args.items} + {args.events}"
    if args.data == "online-retail":
        raise ImproperlyConfigured(f"streamrec {args.command} replays MovieLens or --items/--events; "
                                   "the Online Retail protocol is `streamrec eval --data online-retail`")
    data_dir = resolve_data_dir(args.data or (str(settings.ml100k) if settings.ml100k else None), REPO_ROOT)
    return load_movielens(data_dir).head(args.limit), str(data_dir)


def sharding(args: argparse.Namespace, settings):
    """How many workers the replay simulates and how their signals meet (`eval` flags; `fit`: one worker)."""
    from ..evaluation.methods import Sharding

    workers = getattr(args, "workers", 1)
    return Sharding(workers=workers, tick=getattr(args, "signal_tick", None) or Sharding.tick,
                    signals=getattr(args, "signals", None) or ("inplace" if workers == 1 else "shared"),
                    neighbours=getattr(args, "signal_neighbours", None) or settings.signal_neighbours)


def chosen_methods(args: argparse.Namespace) -> tuple[str, ...]:
    """--methods as a tuple in table order (every method when not given)."""
    from ..evaluation.methods import METHODS

    if not getattr(args, "methods", None):
        return METHODS
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise ImproperlyConfigured(f"unknown --methods {', '.join(unknown) or args.methods!r}; choose among {', '.join(METHODS)}")
    return tuple(m for m in METHODS if m in names)


def replay_and_report(args: argparse.Namespace, settings, save_weights: Path | None) -> int:
    """Load the data and the encoder, replay, print the table, write JSON and PNG."""
    from dataclasses import replace

    from encoders import load_encoder

    from ..core.ranking import RankingWeights
    from ..evaluation import report
    from ..evaluation.replay import ReplayOptions, replay

    require_extra("matplotlib", f"streamrec {args.command}'s plots")  # before the replay, not after minutes of it
    # off a terminal rich would wrap the tables at 80 columns and cut the method names
    console = Console() if sys.stdout.isatty() else Console(width=140)
    dataset, data_dir = load_dataset(args, settings, console)
    options = ReplayOptions(
        fit_fraction=args.fit_fraction,
        rating_map=args.ratings,
        cold_items=args.cold_items,
        # with a fit, the replay starts from the hand-set weights so the result does not depend on a
        # previous fit; without one it evaluates the shipped defaults
        ranking=replace(settings.ranking_options(),
                        weights=RankingWeights() if args.fit_fraction > 0 else RankingWeights.default()),
        sharding=sharding(args, settings),
        methods=chosen_methods(args),
    )
    with console.status("loading the encoder…"):
        encoder = load_encoder(settings.encoder_options())
    command = ("streamrec " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == [args.command]
               else f"streamrec {args.command}")
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
    out = Path(args.report_dir)
    body = report.to_json(result, command, data_dir)
    json_path = report.write_json(body, out / "eval.json")
    png_path = report.plot(result, out / "eval.png")
    for segment in ("fit", "test") if result.boundary else ("full",):
        report.print_table(result, console, segment)
    report.print_summary(result, console)
    from ..evaluation.learning_report import print_learning

    print_learning(result, console)
    if save_weights is not None:
        if result.fit is None:
            raise ImproperlyConfigured("no weights were fitted (--fit-fraction 0); nothing to save")
        save_weights.parent.mkdir(parents=True, exist_ok=True)
        save_weights.write_text(json.dumps(report.weights_file(result, command), indent=1) + "\n", encoding="utf-8")
        console.print(f"fitted weights saved to {save_weights} (workers load them with STREAMREC_WEIGHTS={save_weights})")
    ranker_out = getattr(args, "ranker_out", None)
    if ranker_out is not None:
        if result.ranker_fit is None:
            raise ImproperlyConfigured("no ranker was fitted (it needs --fit-fraction > 0 and the streamrec-learned method)")
        result.ranker_fit.model.save(ranker_out)
        console.print(f"learned ranker saved to {ranker_out} (workers load it with STREAMREC_RANKER_MODEL={ranker_out})")
    console.print(f"wrote {json_path} and {png_path} ({result.seconds:.0f} s)")
    return 0
