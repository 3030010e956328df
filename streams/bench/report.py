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


#: the transport anchors' phases (passthrough.py), in the order the bench runs them by default
ANCHOR_PHASES = ("passthrough", "consume-only", "aiokafka")


def _rate_ratio(a, b) -> float | None:
    return _sig(a / b) if a and b else None


def _sig(x: float) -> float:
    """Four significant digits: a ratio of 0.005 keeps its precision as well as one of 0.5."""
    return float(f"{x:.4g}")


def result(args, settings, phases: list[Phase], info: dict, rss: int, peak: int, load_before, load_after,
           commit: str | None = None) -> dict:
    """Every figure of the run, and the headline ratios (``commit``: the code the run started with)."""
    by_name = {p.name: p for p in phases}
    main = by_name.get("mixed") or by_name.get("movielens")
    pt, consume, aio = (by_name.get(name) for name in ANCHOR_PHASES)
    yardstick = pt.sustained_per_s if pt else None
    headline = {
        "passthrough_msgs_per_s": round(yardstick, 1) if pt else None,
        "worker_events_per_s": round(main.sustained_per_s, 1),
        "ratio": _rate_ratio(main.sustained_per_s, yardstick),
        # every anchor: messages/s and the CPU it spent per message, beside the worker's figures
        "anchors": {p.name: {"msgs_per_s": round(p.sustained_per_s, 1), "cpu_ms_per_msg": p.cpu_ms_per_event,
                             "producer_bound": p.producer_bound}
                    for p in (pt, consume, aio) if p is not None},
        "worker_cpu_ms_per_event": main.cpu_ms_per_event,
    }
    if consume is not None:
        headline["consume_msgs_per_s"] = round(consume.sustained_per_s, 1)
        headline["ratio_consume"] = _rate_ratio(main.sustained_per_s, consume.sustained_per_s)
    if aio is not None:
        headline["aiokafka_msgs_per_s"] = round(aio.sustained_per_s, 1)
    if pt is not None and aio is not None:
        headline["faust_over_aiokafka"] = _rate_ratio(pt.sustained_per_s, aio.sustained_per_s)
    # The same comparisons in CPU per message: what each costs, whatever share of the cores it got. A rate
    # ratio A ÷ B corresponds to B's CPU per message ÷ A's.
    if "movielens" in by_name:
        headline["movielens_whole_replay_per_s"] = round(by_name["movielens"].whole_per_s, 1)
    if pt is not None and pt.cpu_ms_per_event and main.cpu_ms_per_event:
        headline["cpu_ratio"] = _sig(pt.cpu_ms_per_event / main.cpu_ms_per_event)
    if consume is not None and consume.cpu_ms_per_event and main.cpu_ms_per_event:
        headline["cpu_ratio_consume"] = _sig(consume.cpu_ms_per_event / main.cpu_ms_per_event)
    if pt is not None and aio is not None and pt.cpu_ms_per_event and aio.cpu_ms_per_event:
        headline["faust_over_aiokafka_cpu"] = _sig(aio.cpu_ms_per_event / pt.cpu_ms_per_event)
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
        "commit": commit or current_commit(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, load average before {_load(load_before)}, after {_load(load_after)}",
        "workload": "movielens-100k" if args.movielens is not None else "synthetic",
        "items": info["items"],
        "catalogue_s": round(info["catalogue_s"], 1),
        "workers": args.workers,
        **run_settings(args, settings),
        "worker_rss_mb": round(rss / 2**20, 1),
        "worker_peak_rss_mb": round(peak / 2**20, 1),
        "headline": headline,
        "phases": [p.to_dict() for p in phases],
    }


def run_settings(args, settings) -> dict:
    """The worker settings a stream bench's figures depend on, and the bench's own arguments (JSON-ready)."""
    return {
        "settings": {"index_kind": settings.index_kind, "event_batch_size": settings.event_batch_size,
                     "event_batch_within": settings.event_batch_within, "fetch_max_wait_ms": embedded_fetch_wait_ms(settings),
                     "topic_partitions": settings.topic_partitions},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                 if k not in ("run", "bench_module", "func")},
    }


def commit_and_machine(load_before, commit: str | None = None) -> dict:
    """When, at which commit (the code the run started with) and on what machine (its load before and now) a bench ran."""
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "commit": commit or current_commit(),
            "machine": f"{platform.machine()}, {_cpus()} CPUs, load average before {_load(load_before)}, "
                       f"after {_load(os.getloadavg())}"}


def print_result(console: Console, res: dict) -> None:
    """The phases as a table, the headline, and the Markdown row for docs/results/benchmarks.md."""
    table = Table(title=f"pipeline bench: {res['items']:,} items, {res['workers']} worker(s), {res['machine']}")
    for col in ("phase", "sent", "out", "offered/s", "sustained/s", "whole/s", "p50 ms", "p95 ms", "p99 ms",
                "its CPU", "CPU ms/msg", "broker CPU", "note"):
        table.add_column(col, justify="left" if col in ("phase", "note") else "right")
    for p in res["phases"]:
        cpu = p["cpu"]
        process = p.get("process") or ("passthrough" if p["name"] == "passthrough" else "worker")
        table.add_row(p["name"], f"{p['sent']:,}", f"{p['arrived']:,}", num_text(p["offered_per_s"]), num_text(p["sustained_per_s"]),
                      num_text(p["whole_per_s"]), _ms(p["p50_ms"]), _ms(p["p95_ms"]), _ms(p["p99_ms"]),
                      f"{cpu.get(process, 0):.2f}", _cpu_ms(p.get("cpu_ms_per_event")), f"{cpu.get('broker', 0):.2f}",
                      "PAST CAPACITY" if p["past_capacity"] else
                      ("kept pace with the producer: a lower bound" if p.get("producer_bound") else ""))
    console.print(table)
    h = res["headline"]
    for name, anchor in h.get("anchors", {}).items():
        console.print(f"anchor {name}: {anchor['msgs_per_s']:,.0f} msg/s, {_cpu_ms(anchor['cpu_ms_per_msg'])} CPU ms per "
                      "message" + ("  (kept pace with the bench's producer: the rate is a lower bound, the CPU per "
                                   "message is exact)" if anchor.get("producer_bound") else ""))
    console.print(f"worker: {h['worker_events_per_s']:,.0f} lists/s, {_cpu_ms(h.get('worker_cpu_ms_per_event'))} CPU ms "
                  f"per event  (worker RSS {res['worker_rss_mb']:.0f} MB, peak {res['worker_peak_rss_mb']:.0f} MB)")
    for line in ratio_lines(h):
        console.print(line)
    if "loyal_over_light_cost" in h:
        console.print(f"cost of an event of a loyal shopper / a light one: {h['loyal_over_light_cost']:.2f}× by rate, "
                      f"{h.get('loyal_over_light_cpu', float('nan')):.2f}× by worker CPU per event")
    console.print("Markdown row:\n" + markdown_row(res))
    if h.get("anchors"):
        console.print("Markdown row (anchors):\n" + anchors_row(res))


def ratio_lines(h: dict) -> list[str]:
    """The headline ratios in words: by rate in this run, and by CPU per message (what each would do on a core)."""
    lines = []
    for label, rate, cpu in (("worker ÷ Faust per-message pass-through", "ratio", "cpu_ratio"),
                             ("worker ÷ Faust consume-only", "ratio_consume", "cpu_ratio_consume"),
                             ("Faust pass-through ÷ aiokafka pass-through", "faust_over_aiokafka",
                              "faust_over_aiokafka_cpu")):
        if h.get(rate) is not None:
            lines.append(f"[bold]{label}: {ratio_text(h[rate])}[/] by rate, {ratio_text(h.get(cpu))} by CPU per message")
    return lines


def markdown_row(res: dict) -> str:
    """| when | commit | workload | items | index | workers | pass-through | worker | ratio (CPU ratio) | loyal/light (CPU) | p50/p95/p99 @½ | CPU | RSS | load |"""
    h = res["headline"]
    by_name = {p["name"]: p for p in res["phases"]}
    half = by_name.get("rate 0.5")
    latency = (f"{half['p50_ms']:.0f} / {half['p95_ms']:.0f} / {half['p99_ms']:.0f}"
               + (" (past capacity)" if half["past_capacity"] else "")) if half and half["p50_ms"] is not None else "–"
    main = by_name.get("mixed") or by_name.get("movielens")
    cells = [res["when"], res["commit"], res["workload"], f"{res['items']:,}", res["settings"]["index_kind"],
             str(res["workers"]), num_text(h["passthrough_msgs_per_s"]), f"{h['worker_events_per_s']:,.0f}",
             f"**{ratio_text(h['ratio'])}** (CPU {ratio_text(h.get('cpu_ratio'))})",
             (f"{h['loyal_over_light_cost']:.2f}× (CPU {h.get('loyal_over_light_cpu', float('nan')):.2f}×)"
              if "loyal_over_light_cost" in h else "–"),
             latency, f"{main['cpu'].get('worker', 0):.2f}", f"{res['worker_peak_rss_mb']:.0f} MB", res["machine"].split("load average ")[1]]
    return "| " + " | ".join(cells) + " |"


def anchors_row(res: dict) -> str:
    """| when | commit | Faust pass-through msg/s (CPU ms) | consume-only | aiokafka | worker lists/s (CPU ms) | worker ÷ pass-through | worker ÷ consume-only | pass-through ÷ aiokafka | load |"""
    h = res["headline"]
    anchors = h.get("anchors", {})

    def anchor(name: str) -> str:
        a = anchors.get(name)
        if not a:
            return "–"
        return f"{'≥ ' if a.get('producer_bound') else ''}{a['msgs_per_s']:,.0f} ({_cpu_ms(a['cpu_ms_per_msg'])})"

    cells = [res["when"], res["commit"], anchor("passthrough"), anchor("consume-only"), anchor("aiokafka"),
             f"{h['worker_events_per_s']:,.0f} ({_cpu_ms(h.get('worker_cpu_ms_per_event'))})",
             f"{ratio_text(h.get('ratio'))} (CPU {ratio_text(h.get('cpu_ratio'))})",
             f"{ratio_text(h.get('ratio_consume'))} (CPU {ratio_text(h.get('cpu_ratio_consume'))})",
             f"{ratio_text(h.get('faust_over_aiokafka'))} (CPU {ratio_text(h.get('faust_over_aiokafka_cpu'))})",
             res["machine"].split("load average ")[1]]
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
    shades = {"passthrough": "tab:grey", "consume-only": "silver", "aiokafka": "dimgrey"}
    colours = [shades.get(p["name"], "tab:blue") for p in bursts]
    bars = ax.bar([p["name"] for p in bursts], [p["sustained_per_s"] for p in bursts], color=colours)
    for bar, p in zip(bars, bursts):  # CPU ms per message or event above each bar
        if p.get("cpu_ms_per_event"):
            ax.annotate(f"{p['cpu_ms_per_event']:.3g} ms", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("sustained messages or lists / s (CPU ms each)")
    rates = [p["sustained_per_s"] for p in bursts if p["sustained_per_s"]]
    if rates and max(rates) > 20 * min(rates):  # the anchors can be 100× the worker: keep both readable
        ax.set_yscale("log")
    h = res["headline"]
    title = f"{res['items']:,} items, {res['workers']} worker(s): worker ÷ pass-through {ratio_text(h.get('ratio'))}"
    extra = [f"÷ consume-only {ratio_text(h['ratio_consume'])}" if h.get("ratio_consume") is not None else "",
             f"pass-through ÷ aiokafka {ratio_text(h['faust_over_aiokafka'])}" if h.get("faust_over_aiokafka") is not None else ""]
    extra = [e for e in extra if e]
    ax.set_title(title + ("\n" + ", ".join(extra) if extra else ""), fontsize=9)
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


def current_commit() -> str:
    """The checkout's commit, "-dirty" when it has uncommitted changes (a bench takes it when it starts)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=5).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _load(load) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def num_text(x) -> str:
    return "–" if x is None else f"{x:,.0f}"


def _ms(x) -> str:
    return "–" if x is None else f"{x:.1f}"


def _cpu_ms(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def ratio_text(x) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}×" if abs(x) >= 0.1 else f"{x:.2g}×"  # 0.0051×, not 0.01×
