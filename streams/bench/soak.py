"""`streamrec bench soak`: minutes of steady traffic at a share of the measured maximum; nothing lost, nothing grows.

One embedded broker, one worker, a synthetic catalogue (precomputed vectors, as in the pipeline bench) and
10^5 shoppers. The bench first measures the worker's full-speed rate with a short burst, then offers
``--fraction`` of it (80% by default) for ``--minutes`` and samples, every ``--interval`` seconds, what was
sent, what came out, the lag between the two, event → list latency and the worker's RSS and CPU. At the
end it waits for the tail and checks the goals of docs/design/reliability.md:

- every event got exactly one list (none lost, none duplicated: counted by its own reader of the topic);
- the lag is bounded: it does not trend upwards (the last third's peak is at most the first third's peak
  plus one second of offered traffic);
- RSS grows by less than 10% after the warm-up.
"""
from __future__ import annotations

import argparse
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from ..settings import Settings
from . import stage
from .measure import summarise
from .procstat import CpuWindow, machine_load, memory_bytes
from .report import commit_and_machine
from .traffic import Traffic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the soak benchmark."""
    parser.add_argument("--items", type=int, default=10_000, help="synthetic catalogue size (default 10,000)")
    parser.add_argument("--users", type=int, default=100_000, help="distinct shoppers (default 100,000)")
    parser.add_argument("--minutes", type=float, default=5.0, help="minutes of steady traffic (default 5)")
    parser.add_argument("--fraction", type=float, default=0.8,
                        help="offered rate as a share of the measured full-speed rate (default 0.8)")
    parser.add_argument("--rate", type=float, default=None, help="offer this many events/s instead (skips the burst)")
    parser.add_argument("--burst", type=int, default=4000, help="events of the full-speed burst (default 4,000)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default 10)")
    parser.add_argument("--warmup", type=float, default=60.0,
                        help="seconds of steady traffic before RSS growth is counted (default 60)")
    parser.add_argument("--partitions", type=int, default=16,
                        help="partitions of every topic and table (default 16: the embedded broker lists a "
                        "partition's whole log on each fetch, so a long run needs the log spread wide)")
    parser.add_argument("--fetch-wait-ms", type=int, default=100,
                        help="the bench reader's fetch wait: its latency resolution (default 100)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--plot", type=Path, help="write a PNG of rates, latency, lag and RSS over time here")


@dataclass
class Sample:
    """What the bench saw at one moment of the steady phase."""

    t: float  # seconds since the steady phase began
    sent: int
    listed: int
    rss_mb: float
    worker_cpu: float  # cores the worker kept busy since the previous sample
    broker_cpu: float  # the same for the broker: an idle worker with a growing lag waits on it

    @property
    def lag(self) -> int:
        return self.sent - self.listed


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Measure the maximum, soak at a share of it, and check the goals."""
    if args.minutes <= 0 or not 0 < args.fraction <= 1 or args.interval <= 0:
        raise SystemExit("streamrec bench soak: --minutes and --interval must be > 0, --fraction in (0, 1]")
    console = Console()
    load_before = machine_load()
    with stage.synthetic_shop(settings, workers=1, items=args.items, users=args.users, console=console,
                              name="soak", partitions=args.partitions) as shop:
        # minutes of reading: a 5 ms fetch wait would have the broker answer ~200 empty fetches a second
        traffic = shop.traffic(settings, fetch_max_wait_ms=args.fetch_wait_ms)
        try:
            full = None
            if args.rate is None:
                batch = shop.shoppers.events(shop.users, args.burst, "max")
                with console.status(f"full-speed burst of {args.burst:,} events…"):
                    produce_s = traffic.burst(batch)
                    traffic.wait_for([m.event_id for m in batch], timeout=1800, idle=60)
                full = summarise("full speed", traffic, [m.event_id for m in batch], produce_s)
                console.print(f"full speed: {full.sustained_per_s:,.0f} lists/s sustained")
            rate = float(args.rate or max(1.0, args.fraction * full.sustained_per_s))
            soak = shop.shoppers.events(shop.users, int(rate * args.minutes * 60), "soak")
            samples, started = _steady(traffic, soak, rate, shop.workers[0].process.pid, shop.broker.process.pid,
                                       args, console)
            listed = traffic.wait_for([m.event_id for m in soak], timeout=600, idle=60)
            phase = summarise("soak", traffic, [m.event_id for m in soak], time.time() - started, rate)
        finally:
            traffic.close()
        info = shop.info
    result = _result(args, settings, info, rate, full, phase, samples, traffic, soak, started, listed, load_before)
    _print(console, result)
    stage.write_json(args.json, result)
    if args.plot:
        _plot(result, args.plot)
        console.print(f"plot written to {args.plot}")
    return 0 if result["goals"]["met"] else 1

def _steady(traffic: Traffic, soak, rate: float, pid: int, broker_pid: int, args,
            console: Console) -> tuple[list[Sample], float]:
    """Offer ``soak`` at ``rate`` from a thread; sample every ``interval`` s until it is all sent."""
    started = time.time()
    producer = threading.Thread(target=traffic.paced, args=(soak, rate), name="soak-producer", daemon=True)
    producer.start()
    samples: list[Sample] = []
    window = CpuWindow({"worker": pid, "broker": broker_pid})
    window.start(time.time())
    with console.status("soaking…") as status:
        while producer.is_alive():
            producer.join(timeout=args.interval)
            cores = window.stop(time.time())
            window.start(time.time())
            sample = Sample(round(time.time() - started, 1), _count_sent(traffic, "soak-"),
                            _count_listed(traffic, "soak-"), round(memory_bytes(pid)[0] / 2**20, 1),
                            cores["worker"], cores["broker"])
            samples.append(sample)
            status.update(f"soaking: {sample.t:,.0f} s, {sample.sent:,} sent, lag {sample.lag:,}, "
                          f"RSS {sample.rss_mb:,.0f} MB, worker {sample.worker_cpu:.2f} cores, "
                          f"broker {sample.broker_cpu:.2f}")
    return samples, started


def _count_sent(traffic: Traffic, prefix: str) -> int:
    return sum(1 for e in list(traffic.sent) if e.startswith(prefix))


def _count_listed(traffic: Traffic, prefix: str) -> int:
    return sum(1 for e in list(traffic.arrivals.at) if e.startswith(prefix))


def _result(args, settings: Settings, info: dict, rate: float, full, phase, samples: list[Sample],
            traffic: Traffic, soak, started: float, listed: int, load_before) -> dict:
    ids = [m.event_id for m in soak]
    sent_at = np.array([traffic.sent[e] for e in ids]) - started
    arrived = [(traffic.sent[e], traffic.arrivals.at[e]) for e in ids if e in traffic.arrivals.at]
    series = _series(sent_at, np.array(arrived) - started if arrived else np.zeros((0, 2)), args.interval)
    steady = [s for s in samples if s.t >= args.warmup]
    base_rss = steady[0].rss_mb if steady else None
    growth = (max(s.rss_mb for s in steady) - base_rss) / base_rss if steady and base_rss else None
    third = max(1, len(samples) // 3)
    first_peak, last_peak = max(s.lag for s in samples[:third]), max(s.lag for s in samples[-third:])
    lag_bounded = last_peak <= first_peak + rate
    lost, duplicated = len(ids) - listed, traffic.arrivals.repeats
    goals = {"lost": lost, "duplicated": duplicated, "lag_first_third_peak": first_peak,
             "lag_last_third_peak": last_peak, "lag_bounded": lag_bounded,
             "rss_growth_after_warmup": None if growth is None else round(growth, 4)}
    goals["met"] = bool(lost == 0 and duplicated == 0 and lag_bounded and growth is not None and growth < 0.10)
    return {
        **commit_and_machine(load_before),
        "items": info["items"], "users": args.users, "minutes": args.minutes, "warmup_s": args.warmup,
        "settings": {"index_kind": settings.index_kind, "partitions": args.partitions, "event_batch_size": settings.event_batch_size,
                     "event_batch_within": settings.event_batch_within},
        "full_speed_per_s": None if full is None else round(full.sustained_per_s, 1),
        "offered_per_s": round(rate, 1),
        "soak": phase.to_dict(),
        "goals": goals,
        "samples": [asdict(s) | {"lag": s.lag} for s in samples],
        "series": series,
    }


def _series(sent_at: np.ndarray, pairs: np.ndarray, interval: float) -> dict:
    """Per-interval sent/s, lists/s and latency percentiles of the lists that arrived in each interval."""
    end = max(float(sent_at.max(initial=0.0)), float(pairs[:, 1].max(initial=0.0)) if len(pairs) else 0.0)
    edges = np.arange(0.0, end + interval, interval)
    out = {"t": [], "sent_per_s": [], "lists_per_s": [], "p50_ms": [], "p99_ms": []}
    for lo, hi in zip(edges[:-1], edges[1:]):
        got = pairs[(pairs[:, 1] >= lo) & (pairs[:, 1] < hi)] if len(pairs) else pairs
        ms = (got[:, 1] - got[:, 0]) * 1000.0 if len(got) else None
        out["t"].append(round(float(hi), 1))
        out["sent_per_s"].append(round(float(np.sum((sent_at >= lo) & (sent_at < hi))) / interval, 1))
        out["lists_per_s"].append(round(len(got) / interval, 1))
        out["p50_ms"].append(None if ms is None else round(float(np.percentile(ms, 50)), 1))
        out["p99_ms"].append(None if ms is None else round(float(np.percentile(ms, 99)), 1))
    return out


def _print(console: Console, res: dict) -> None:
    soak, goals = res["soak"], res["goals"]
    console.print(f"[bold]soak[/]: {res['minutes']:g} min at {res['offered_per_s']:,.0f} events/s offered "
                  f"(full speed {res['full_speed_per_s'] or '–'}/s), {res['users']:,} users, {res['items']:,} items")
    console.print(f"  lists {soak['arrived']:,} of {soak['sent']:,} events, sustained {soak['sustained_per_s']:,.0f}/s; "
                  f"event → list p50 {soak['p50_ms'] or 0:.0f} ms, p99 {soak['p99_ms'] or 0:.0f} ms"
                  + ("  [bold red]past capacity[/]" if soak["past_capacity"] else ""))
    growth = goals["rss_growth_after_warmup"]
    console.print(f"  lost {goals['lost']}, duplicated {goals['duplicated']}; lag peak first third "
                  f"{goals['lag_first_third_peak']:,}, last third {goals['lag_last_third_peak']:,} "
                  f"({'bounded' if goals['lag_bounded'] else 'GROWING'}); RSS growth after warm-up "
                  f"{'–' if growth is None else f'{growth:+.1%}'}")
    console.print("  goals " + ("[bold green]met[/]" if goals["met"] else "[bold red]not met[/]"))


def _plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series, samples = res["series"], res["samples"]
    minutes = np.array(series["t"]) / 60.0
    sample_minutes = np.array([s["t"] for s in samples]) / 60.0
    fig, axes = plt.subplots(4, 1, figsize=(7, 8), sharex=True)
    axes[0].plot(minutes, series["sent_per_s"], label="events sent/s")
    axes[0].plot(minutes, series["lists_per_s"], label="lists read/s")
    axes[0].set_ylabel("per second")
    axes[0].legend(loc="lower right")
    for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
        axes[1].plot(minutes, [np.nan if v is None else v for v in series[key]], style, label=key[:3])
    axes[1].set_ylabel("event → list (ms)")
    axes[1].legend(loc="upper right")
    axes[2].plot(sample_minutes, [s["lag"] for s in samples])
    axes[2].set_ylabel("lag (events)")
    axes[3].plot(sample_minutes, [s["rss_mb"] for s in samples])
    axes[3].axvline(res["warmup_s"] / 60.0, linestyle=":", color="k", label="end of warm-up")
    axes[3].set_ylabel("worker RSS (MB)")
    axes[3].set_xlabel("minutes")
    axes[3].legend(loc="lower right")
    fig.suptitle(f"soak: {res['offered_per_s']:,.0f} events/s, {res['users']:,} users, {res['items']:,} items "
                 f"({res['commit']})", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
