"""`streamrec bench signals`: from an event's arrival to its signal change being visible on every worker.

Several worker processes (two by default) share one embedded broker and one catalogue; shoppers' events
arrive at a fixed rate (200/s by default), partitioned by user. Each worker sends its deltas to the
aggregators (keyed by item), the aggregators publish changed rows every tick, and every worker follows the
signals topic. Each worker measures, in ``streamrec_signal_visibility_seconds``, the time from the arrival
of the *earliest* event folded into a row to the moment that row is in its own view — so the figure is
per worker, and "visible on every worker" is the slowest worker's. The bench reads the histograms from
each worker's /metrics before and after the run (the difference is the run's), and estimates the
quantiles inside buckets as Prometheus's histogram_quantile does (linear interpolation).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from ..local.cluster import WorkerProcess
from ..settings import Settings
from . import stage
from .measure import summarise
from .procstat import machine_load
from .report import commit_and_machine

METRIC = "streamrec_signal_visibility_seconds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the signals benchmark."""
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second offered (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of traffic (default 60)")
    parser.add_argument("--items", type=int, default=10_000, help="synthetic catalogue size (default 10,000)")
    parser.add_argument("--users", type=int, default=20_000, help="distinct shoppers (default 20,000)")
    parser.add_argument("--memory", action="store_true",
                        help="instead: bytes per item of the view a ranking worker holds (in process, tracemalloc), "
                             "for 50, 100, 300 and the configured neighbours per item, over a catalogue of --items")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--plot", type=Path, help="write a PNG of each worker's visibility distribution here")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Offer events at a fixed rate to N workers and read how late each saw the signal changes."""
    if args.workers < 1 or args.rate <= 0 or args.seconds <= 0:
        raise SystemExit("streamrec bench signals: --workers must be >= 1, --rate and --seconds > 0")
    console = Console()
    if args.memory:
        sizes = sorted({50, 100, 300, settings.signal_neighbours})
        result = {**commit_and_machine(machine_load()), "items": args.items,
                  "bytes_per_item": {k: memory_per_item(args.items, k) for k in sizes}}
        for k, size in result["bytes_per_item"].items():
            console.print(f"{k} neighbours per item: {size / 1024:,.1f} KB per item ({args.items:,} items)")
        stage.write_json(args.json, result)
        return 0
    load_before = machine_load()
    with stage.synthetic_shop(settings, workers=args.workers, items=args.items, users=args.users, console=console,
                              name="signals") as shop:
        traffic = shop.traffic(settings)
        try:
            before = [buckets(w) for w in shop.workers]
            batch = shop.shoppers.events(shop.users, int(args.rate * args.seconds), "sig")
            with console.status(f"{args.rate:,.0f} events/s for {args.seconds:,.0f} s to {args.workers} workers…"):
                produce_s = traffic.paced(batch, args.rate)
                traffic.wait_for([m.event_id for m in batch], timeout=600, idle=30)
            phase = summarise("signals", traffic, [m.event_id for m in batch], produce_s, args.rate)
            time.sleep(2 * settings.signal_tick + 1.0)  # the last tick's rows reach every worker
            after = [buckets(w) for w in shop.workers]
        finally:
            traffic.close()
        info = shop.info
    per_worker = [figures(_minus(a, b)) for a, b in zip(after, before)]
    result = {
        **commit_and_machine(load_before),
        "workers": args.workers, "offered_per_s": args.rate, "seconds": args.seconds, "items": info["items"],
        "users": args.users, "signal_tick_s": settings.signal_tick,
        "lists": phase.to_dict(),
        "per_worker": per_worker,
        "every_worker_p99_s": max((w["p99_s"] for w in per_worker if w["p99_s"] is not None), default=None),
    }
    result["goal_met"] = bool(result["every_worker_p99_s"] is not None and result["every_worker_p99_s"] <= 1.0
                              and not phase.past_capacity)
    _print(console, result)
    stage.write_json(args.json, result)
    if args.plot:
        _plot(result, args.plot)
        console.print(f"plot written to {args.plot}")
    return 0


def memory_per_item(items: int, neighbours: int, seed: int = 0) -> int:
    """Bytes a ranking worker's view holds per item once every item's row (with ``neighbours`` neighbours drawn
    from the catalogue) is installed from its wire form: what tracemalloc sees the view allocate."""
    import tracemalloc

    from ..core.signals import ItemSignals, PublishedRow, SignalOptions

    rng = np.random.default_rng(seed)
    rows = [PublishedRow(f"p{i}", 1e9, 3.0, tuple(f"p{j}" for j in rng.choice(items, neighbours, replace=False)),
                         rng.random(neighbours), 1e9).to_bytes()
            for i in range(items)]
    tracemalloc.start()
    try:
        view = ItemSignals(SignalOptions(max_neighbours=neighbours))
        for raw in rows:
            view.apply_row(PublishedRow.from_bytes(raw))
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(used / items)


def buckets(worker: WorkerProcess) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of the worker's visibility histogram, from its /metrics."""
    for family in text_string_to_metric_families(worker.get_text("/metrics")):
        if family.name == METRIC:
            return sorted((float(s.labels["le"]), s.value) for s in family.samples if s.name == METRIC + "_bucket")
    raise RuntimeError(f"worker at {worker.web_url} exports no {METRIC}")


def _minus(after: list[tuple[float, float]], before: list[tuple[float, float]]) -> list[tuple[float, float]]:
    earlier = dict(before)
    return [(le, count - earlier.get(le, 0.0)) for le, count in after]


def quantile(q: float, cumulative: list[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a cumulative histogram, interpolated linearly inside its bucket (histogram_quantile)."""
    total = cumulative[-1][1] if cumulative else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in cumulative:
        if count >= rank:
            if np.isinf(le):  # past the last finite bucket: its bound is all that can be said
                return lower_le
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return lower_le + (le - lower_le) * share
        lower_le, lower_count = le, count
    return lower_le


def figures(cumulative: list[tuple[float, float]]) -> dict:
    """Count, p50/p95/p99 and the share within 1 s of one worker's run."""
    total = cumulative[-1][1] if cumulative else 0.0
    within = next((count for le, count in cumulative if le == 1.0), None)
    return {
        "rows": int(total),
        **{f"p{int(q * 100)}_s": (None if (v := quantile(q, cumulative)) is None else round(v, 3))
           for q in (0.5, 0.95, 0.99)},
        "share_within_1s": None if not total or within is None else round(within / total, 4),
        "buckets": [[le, c] for le, c in cumulative],
    }


def _print(console: Console, res: dict) -> None:
    lists = res["lists"]
    console.print(f"[bold]signals[/]: {res['workers']} workers, {res['offered_per_s']:,.0f} events/s for "
                  f"{res['seconds']:,.0f} s; lists {lists['arrived']:,} of {lists['sent']:,}, event → list p99 "
                  f"{lists['p99_ms'] or 0:.0f} ms" + ("  [bold red]past capacity[/]" if lists["past_capacity"] else ""))
    for n, w in enumerate(res["per_worker"]):
        console.print(f"  worker {n}: {w['rows']:,} rows installed, visible p50 {_s(w['p50_s'])}, p95 {_s(w['p95_s'])}, "
                      f"p99 {_s(w['p99_s'])}, within 1 s {w['share_within_1s']:.1%}" if w["rows"] else
                      f"  worker {n}: no rows")
    console.print(f"  visible on every worker: p99 {_s(res['every_worker_p99_s'])} — goal ≤ 1 s "
                  + ("[bold green]met[/]" if res["goal_met"] else "[bold red]not met[/]"))


def _s(x) -> str:
    return "–" if x is None else f"{x * 1000:,.0f} ms"


def _plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for n, w in enumerate(res["per_worker"]):
        finite = [(le, c) for le, c in w["buckets"] if np.isfinite(le)]
        if w["rows"]:
            ax.plot([le for le, _ in finite], [c / w["rows"] for _, c in finite], marker=".", label=f"worker {n}")
    ax.axvline(1.0, linestyle=":", color="k", label="goal: p99 ≤ 1 s")
    ax.axhline(0.99, linestyle="--", color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("event arrival → signal row in the worker's view (s)")
    ax.set_ylabel("share of rows")
    ax.set_title(f"{res['workers']} workers, {res['offered_per_s']:,.0f} events/s ({res['commit']})", fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
