"""The pipeline bench's result: one JSON document, a table on the terminal, a Markdown row and a PNG."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .measure import Phase


def embedded_fetch_wait_ms(settings) -> int | None:
    """The fetch wait the workers used on the embedded broker (the benches' broker)."""
    if callable(getattr(settings, "fetch_wait_ms", None)):
        kind = settings.broker_kind if settings.broker_kind != "auto" else "embedded"
        return settings.model_copy(update={"broker_kind": kind}).fetch_wait_ms()
    return getattr(settings, "fetch_max_wait_ms", None)


def result(args, settings, phases: list[Phase], info: dict, rss: int, peak: int, load_before, load_after) -> dict:
    """Every figure of the run, and the headline ratios."""
    by_name = {p.name: p for p in phases}
    yardstick = by_name["passthrough"].sustained_per_s
    main = by_name.get("mixed") or by_name.get("movielens")
    headline = {
        "passthrough_msgs_per_s": round(yardstick, 1),
        "worker_events_per_s": round(main.sustained_per_s, 1),
        "ratio": round(main.sustained_per_s / yardstick, 3) if yardstick else None,
    }
    if "movielens" in by_name:
        headline["movielens_whole_replay_per_s"] = round(by_name["movielens"].whole_per_s, 1)
    if yardstick and by_name["passthrough"].cpu_ms_per_event and main.cpu_ms_per_event:
        # the same comparison in CPU per message: what each costs, whatever share of the cores it got
        headline["cpu_ratio"] = round(by_name["passthrough"].cpu_ms_per_event / main.cpu_ms_per_event, 3)
    if "light" in by_name and "loyal" in by_name:
        light, loyal = by_name["light"].sustained_per_s, by_name["loyal"].sustained_per_s
        # cost per event is 1 / rate: how many times dearer an event of a loyal shopper is
        headline["loyal_over_light_cost"] = round(light / loyal, 3) if loyal else None
        if by_name["light"].cpu_ms_per_event and by_name["loyal"].cpu_ms_per_event:
            headline["loyal_over_light_cpu"] = round(by_name["loyal"].cpu_ms_per_event / by_name["light"].cpu_ms_per_event, 3)
    half = next((p for p in phases if p.name == "rate 0.5"), None)
    if half is not None:
        headline["half_rate_p99_ms"] = round(half.p99_ms or 0.0, 1)
        headline["half_rate_past_capacity"] = half.past_capacity
    return {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "commit": _commit(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, load average before {_load(load_before)}, after {_load(load_after)}",
        "workload": "movielens-100k" if args.movielens is not None else "synthetic",
        "items": info["items"],
        "catalogue_s": round(info["catalogue_s"], 1),
        "workers": args.workers,
        "settings": {"index_kind": settings.index_kind, "event_batch_size": settings.event_batch_size,
                     "event_batch_within": settings.event_batch_within, "fetch_max_wait_ms": embedded_fetch_wait_ms(settings),
                     "topic_partitions": settings.topic_partitions},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                 if k not in ("run", "bench_module", "func")},
        "worker_rss_mb": round(rss / 2**20, 1),
        "worker_peak_rss_mb": round(peak / 2**20, 1),
        "headline": headline,
        "phases": [p.to_dict() for p in phases],
    }


def commit_and_machine(load_before) -> dict:
    """When, at which commit and on what machine (with its load before and now) a bench ran."""
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "commit": _commit(),
            "machine": f"{platform.machine()}, {_cpus()} CPUs, load average before {_load(load_before)}, "
                       f"after {_load(os.getloadavg())}"}


def print_result(console: Console, res: dict) -> None:
    """The phases as a table, the headline, and the Markdown row for docs/benchmarks.md."""
    table = Table(title=f"pipeline bench: {res['items']:,} items, {res['workers']} worker(s), {res['machine']}")
    for col in ("phase", "sent", "lists", "offered/s", "sustained/s", "whole/s", "p50 ms", "p95 ms", "p99 ms",
                "worker CPU", "broker CPU", "note"):
        table.add_column(col, justify="left" if col in ("phase", "note") else "right")
    for p in res["phases"]:
        cpu = p["cpu"]
        table.add_row(p["name"], f"{p['sent']:,}", f"{p['arrived']:,}", _num(p["offered_per_s"]), _num(p["sustained_per_s"]),
                      _num(p["whole_per_s"]), _ms(p["p50_ms"]), _ms(p["p95_ms"]), _ms(p["p99_ms"]),
                      f"{cpu.get('worker', cpu.get('passthrough', 0)):.2f}", f"{cpu.get('broker', 0):.2f}",
                      "PAST CAPACITY" if p["past_capacity"] else "")
    console.print(table)
    h = res["headline"]
    console.print(f"[bold]worker {h['worker_events_per_s']:,.0f} events/s vs bare Faust pass-through "
                  f"{h['passthrough_msgs_per_s']:,.0f} msg/s: {h['ratio']:.2f}×[/]  (worker RSS {res['worker_rss_mb']:.0f} MB, "
                  f"peak {res['worker_peak_rss_mb']:.0f} MB)")
    if "cpu_ratio" in h:
        console.print(f"in CPU per message (load-independent): the pass-through spends {h['cpu_ratio']:.2f}× what the worker "
                      "spends per event")
    if "loyal_over_light_cost" in h:
        console.print(f"cost of an event of a loyal shopper / a light one: {h['loyal_over_light_cost']:.2f}× by rate, "
                      f"{h.get('loyal_over_light_cpu', float('nan')):.2f}× by worker CPU per event")
    console.print("Markdown row:\n" + markdown_row(res))


def markdown_row(res: dict) -> str:
    """| when | commit | workload | items | index | workers | pass-through | worker | ratio (CPU ratio) | loyal/light (CPU) | p50/p95/p99 @½ | CPU | RSS | load |"""
    h = res["headline"]
    by_name = {p["name"]: p for p in res["phases"]}
    half = by_name.get("rate 0.5")
    latency = (f"{half['p50_ms']:.0f} / {half['p95_ms']:.0f} / {half['p99_ms']:.0f}"
               + (" (past capacity)" if half["past_capacity"] else "")) if half and half["p50_ms"] is not None else "–"
    main = by_name.get("mixed") or by_name.get("movielens")
    cells = [res["when"], res["commit"], res["workload"], f"{res['items']:,}", res["settings"]["index_kind"],
             str(res["workers"]), f"{h['passthrough_msgs_per_s']:,.0f}", f"{h['worker_events_per_s']:,.0f}",
             f"**{h['ratio']:.2f}×** (CPU {h.get('cpu_ratio', float('nan')):.2f}×)",
             (f"{h['loyal_over_light_cost']:.2f}× (CPU {h.get('loyal_over_light_cpu', float('nan')):.2f}×)"
              if "loyal_over_light_cost" in h else "–"),
             latency, f"{main['cpu'].get('worker', 0):.2f}", f"{res['worker_peak_rss_mb']:.0f} MB", res["machine"].split("load average ")[1]]
    return "| " + " | ".join(cells) + " |"


def plot(res: dict, path: Path) -> None:
    """Left: sustained rates per phase beside the pass-through; right: latency percentiles per offered rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = res["phases"]
    bursts = [p for p in phases if p["offered_per_s"] is None]
    paced = [p for p in phases if p["offered_per_s"] is not None]
    fig, axes = plt.subplots(1, 2 if paced else 1, figsize=(11 if paced else 6, 3.8), squeeze=False)
    ax = axes[0][0]
    colours = ["tab:grey" if p["name"] == "passthrough" else "tab:blue" for p in bursts]
    ax.bar([p["name"] for p in bursts], [p["sustained_per_s"] for p in bursts], color=colours)
    ax.set_ylabel("sustained messages or lists / s")
    ax.set_title(f"{res['items']:,} items, {res['workers']} worker(s): ratio {res['headline']['ratio']:.2f}×", fontsize=10)
    ax.tick_params(axis="x", labelrotation=20)
    if paced:
        ax = axes[0][1]
        rates = [p["offered_per_s"] for p in paced]
        for key, style in (("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^:")):
            ax.plot(rates, [p[key] for p in paced], style, label=key.replace("_ms", ""))
        for p in paced:
            if p["past_capacity"]:
                ax.annotate("past capacity", (p["offered_per_s"], p["p99_ms"]), fontsize=8, color="red")
        ax.axhline(50, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xlabel("offered events / s")
        ax.set_ylabel("event → list (ms)")
        ax.set_yscale("log")
        ax.legend()
        ax.set_title("latency at fixed offered rates", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=5).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _load(load) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def _num(x) -> str:
    return "–" if x is None else f"{x:,.0f}"


def _ms(x) -> str:
    return "–" if x is None else f"{x:.1f}"
