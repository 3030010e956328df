"""`streamrec eval --data online-retail`: the next-basket protocol on a shop's invoice-line export."""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from ..errors import ImproperlyConfigured, require_extra

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_NAME = "online-retail"


def run(args: argparse.Namespace, settings) -> int:
    """Load the export and the encoder, replay the baskets, print the tables, write JSON and PNG."""
    from encoders import load_encoder

    from ..evaluation import basket_report as report
    from ..evaluation.basket import Period, replay_baskets
    from ..evaluation.basket_baselines import BASELINES, build_baselines
    from ..evaluation.basket_streamrec import METHODS, build_streamrec
    from ..evaluation.retail import load_retail, resolve_path

    require_extra("matplotlib", "streamrec eval's plots")
    if getattr(args, "items", None) or getattr(args, "events", None):
        raise ImproperlyConfigured("--data online-retail reads the export itself; leave out --items/--events")
    console = Console() if sys.stdout.isatty() else Console(width=160)
    path = resolve_path(args.path, REPO_ROOT)
    log = load_retail(path)
    for line in log.report():
        console.print(line)
    known = (*BASELINES, *METHODS)
    names = [m.strip() for m in (args.methods or ",".join(known)).split(",") if m.strip()]
    unknown = [m for m in names if m not in known]
    if unknown or not names:
        raise ImproperlyConfigured(f"unknown --methods {', '.join(unknown) or '(none)'}; choose among {', '.join(known)}")
    lines = log.lines[: args.limit] if args.limit else log.lines
    items = list(log.items.values())
    methods = build_baselines([i.item_id for i in items], [i.title for i in items], names)
    model_version = "-"
    if any(name in METHODS for name in names):
        with console.status("loading the encoder and encoding the titles…"):
            encoder = load_encoder(settings.encoder_options())
            vectors = encoder.encode([item.text() for item in items])
        model_version = encoder.version
        ranking = settings.ranking_options()
        if ranking.exclude_types is None and ranking.exclude_seen:
            ranking = replace(ranking, exclude_types=())  # a shop of consumables: what was bought comes back
        methods += build_streamrec(items, vectors, model_version, ranking, settings.signal_options(), names)
    started = time.monotonic()
    step = max(1, len(lines) // 20)
    printed = [0]

    def progress(done: int, total: int) -> None:  # a plain line every 5%: readable in a log file too
        if not args.quiet and (done == total or done // step > printed[0]):
            printed[0] = done // step
            print(f"replayed {done:,} / {total:,} purchase lines ({done / total:.0%}) in "
                  f"{time.monotonic() - started:.0f} s", flush=True)

    period = Period(args.start, args.end)
    result = replay_baskets(lines, methods, period, settings.k, on_progress=progress)
    figures = report.summaries(result)
    report.print_tables(figures, result, console)
    command = "streamrec " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["eval"] else "streamrec eval"
    out = Path(args.report_dir)
    extra = {"model_version": model_version, "period": [period.start, period.end], "methods": names,
             "ranking": {"weights": ranking.weights.__dict__, "weights_label": ranking.weights_label,
                         "exclude_types": ranking.exclude_types} if model_version != "-" else None,
             "signals": settings.signal_options().__dict__}
    json_path = report.write_json(report.to_json(result, figures, command, str(path), extra), out / "eval.json")
    png_path = report.plot(figures, out / "eval.png")
    console.print(f"wrote {json_path} and {png_path} ({result.seconds:.0f} s)")
    return 0
