"""`streamrec bench pipeline`: events/s and event → list latency of real workers, as a ratio to bare transports.

One run, one embedded broker: first the transport anchors (passthrough.py) each move a burst of events:
a bare Faust pass-through agent (one ``await send`` per message), a Faust agent that only consumes
(``take_events`` batches, no send) and a plain aiokafka ``getmany`` → batched send pass-through. Then
streamrec worker process(es) load a catalogue and replay shoppers' events — full-speed bursts (a mix of
light and loyal shoppers, then each group alone, so the cost of a long history shows) and fixed offered
rates (fractions of the measured maximum), or MovieLens-100K in time order. Lists are counted and timed
by the bench's own reader of the output topic.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from ..local.cluster import LocalBroker, WorkerProcess
from ..runtime.kafka import ensure_topics
from ..settings import Settings
from . import passthrough, report, stage
from .measure import Phase, cpu_cost, mark_producer_bound, summarise, summarise_batches
from .procstat import CpuWindow, machine_load, memory_bytes
from .profile import sampling
from .traffic import Message, Traffic, wait_until
from .workload import Shoppers, movielens_messages, synthetic_catalogue

PT_IN, PT_OUT = "bench-passthrough-in", "bench-passthrough-out"
#: anchor kind → (phase name, input topic, output topic); each anchor has topics of its own
ANCHORS = {
    "faust": ("passthrough", PT_IN, PT_OUT),
    "consume": ("consume-only", "bench-consume-in", "bench-consume-out"),
    "aiokafka": ("aiokafka", "bench-aiokafka-in", "bench-aiokafka-out"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the pipeline benchmark."""
    parser.add_argument("--items", type=int, default=10_000, help="synthetic catalogue size (default 10,000)")
    parser.add_argument("--light-users", type=int, default=2000, help="shoppers with a short history (default 2000)")
    parser.add_argument("--light-history", type=int, default=5, help="past events of each light shopper (default 5)")
    parser.add_argument("--loyal-users", type=int, default=50, help="shoppers with a long history (default 50)")
    parser.add_argument("--loyal-history", type=int, default=500, help="past events of each loyal shopper (default 500)")
    parser.add_argument("--burst", type=int, default=10_000, help="events per full-speed phase (default 10,000)")
    parser.add_argument("--rates", default="0.25,0.5,0.75", help="offered rates as fractions of the full-speed rate")
    parser.add_argument("--rate-seconds", type=float, default=10.0, help="seconds per offered rate (default 10)")
    parser.add_argument("--passthrough", type=int, default=20_000,
                        help="messages each transport anchor moves (default 20,000)")
    parser.add_argument("--anchors", default="faust,consume,aiokafka", type=_anchors, metavar="LIST",
                        help="transport anchors to measure before the workers, in this order: faust (one await send "
                        "per message), consume (Faust take_events, no send), aiokafka (getmany → batched send); "
                        "default all three")
    parser.add_argument("--workers", type=int, default=1, help="streamrec worker processes (default 1)")
    parser.add_argument("--movielens", nargs="?", const="", default=None, metavar="DIR",
                        help="replay MovieLens-100K (default ../shared/data/ml-100k) instead of the synthetic mix")
    parser.add_argument("--limit", type=int, default=None, help="MovieLens: replay only the first N interactions")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--plot", type=Path, help="write a PNG of rates and latencies here")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (worker logs) afterwards")
    parser.add_argument("--profile", type=Path, help="py-spy the worker during the main phase (mixed or MovieLens) "
                        "into this file of collapsed stacks (summarise: python -m streams.bench.profile FILE)")
    parser.add_argument("--profile-idle", action="store_true", help="with --profile: sample waiting threads too")
    parser.add_argument("--profile-phase", default=None,
                        help="with --profile: the phase to sample (history, light, loyal, mixed; default mixed or movielens)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the pass-through yardstick, then the workers, and report."""
    # off a terminal rich would wrap the table at 80 columns and cut every cell
    console = Console() if sys.stdout.isatty() else Console(width=160)
    workdir = Path(tempfile.mkdtemp(prefix="streamrec-pipeline-"))
    load_before, commit = machine_load(), report.current_commit()
    broker = LocalBroker.start(log_path=workdir / "broker.log")
    bench_settings = settings.model_copy(update={"broker": broker.url})
    ensure_topics(bench_settings)
    anchor_topics = [topic for kind in args.anchors for topic in ANCHORS[kind][1:]]
    ensure_topics(bench_settings, anchor_topics)  # none of these is compacted (not the contract's)
    phases: list[Phase] = []
    workers: list[WorkerProcess] = []
    try:
        messages = _workload(args, console)
        for kind in args.anchors:
            phases.append(_anchor(kind, broker, workdir, messages["passthrough"], console))
        workers = stage.start_workers(args.workers, broker, workdir, console)
        if "items" in messages:
            info = stage.load_catalogue(broker, workers, console, items=messages["items"])
        else:
            info = stage.load_catalogue(broker, workers, console, catalogue=messages["catalogue"])
        traffic = Traffic(broker.bootstrap, settings.topic_events, settings.topic_recommendations).start()
        try:
            pids = {"worker": workers[0].process.pid, "broker": broker.process.pid, "bench": os.getpid(),
                    **{f"worker-{n}": w.process.pid for n, w in enumerate(workers[1:], start=1)}}
            phases += _worker_phases(args, traffic, messages, pids, console)
        finally:
            traffic.close()
        rss, peak = memory_bytes(workers[0].process.pid)
        result = report.result(args, settings, phases, info, rss, peak, load_before, machine_load(), commit)
        report.print_result(console, result)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))
        if args.plot:
            report.plot(result, args.plot)
            console.print(f"plot written to {args.plot}")
        return 0
    finally:
        for worker in workers:
            worker.stop()
        broker.stop()
        if args.keep:
            console.print(f"work dir kept: {workdir}")


def _workload(args: argparse.Namespace, console: Console) -> dict:
    """Every message of the run, generated up front so generation costs nothing during a measurement."""
    if args.movielens is not None:
        from ..evaluation.data import load_movielens, resolve_data_dir

        dataset = load_movielens(resolve_data_dir(args.movielens or None, Path(__file__).resolve().parents[2]))
        items, events = movielens_messages(dataset, args.limit)
        pt = [Message(m.key, m.value.replace(b'"ml-', b'"pt-', 1), "pt-" + m.event_id[3:])
              for m in events[: args.passthrough]]
        return {"items": items, "replay": events, "passthrough": pt}
    with console.status("generating the workload…"):
        catalogue = synthetic_catalogue(args.items)
        shoppers = Shoppers(catalogue)
        light = [f"light-{i}" for i in range(args.light_users)]
        loyal = [f"loyal-{i}" for i in range(args.loyal_users)]
        history = shoppers.histories(light, args.light_history, "hl") + shoppers.histories(loyal, args.loyal_history, "hy")
        order = shoppers.rng.permutation(len(history))
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
        return {
            "catalogue": catalogue,
            "history": [history[int(i)] for i in order],
            "mixed": shoppers.events(light + loyal, args.burst, "mx"),
            "light": shoppers.events(light, args.burst, "lt"),
            "loyal": shoppers.events(loyal, args.burst, "ly"),
            "passthrough": shoppers.events(light + loyal, args.passthrough, "pt"),
            "rates": rates,
            "shoppers": shoppers,
            "users": light + loyal,
        }


def _anchors(text: str) -> tuple[str, ...]:
    """--anchors: known kinds, each once, in the order given."""
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in ANCHORS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown anchor(s) {', '.join(unknown) or text!r}; choose among "
                                         f"{', '.join(ANCHORS)}")
    return kinds


def _anchor(kind: str, broker: LocalBroker, workdir: Path, messages: list[Message], console: Console) -> Phase:
    """One transport anchor's messages/s (and CPU per message) on this broker, now."""
    name, in_topic, out_topic = ANCHORS[kind]
    what = passthrough.KINDS[kind]
    process = passthrough.start(broker.url, in_topic, out_topic, workdir / name, workdir / f"{name}.log", kind=kind)
    consume_only = kind == "consume"
    # the consume-only agent's output is one report per batch: its id, how many it took and when
    traffic = Traffic(broker.bootstrap, in_topic, out_topic, keep=_batch_report if consume_only else None).start()
    try:
        with console.status(f"starting the {what}…"):
            probes = _probe_anchor(traffic, consume_only)
        cpu = CpuWindow({name: process.pid, "broker": broker.process.pid, "bench": os.getpid()})
        ids = [m.event_id for m in messages]
        with console.status(f"{what}: {len(messages):,} messages at full speed…"):
            cpu.start(time.time())
            if consume_only:
                before = set(traffic.kept)
                first_sent = time.time()
                produce_s = traffic.burst(messages)
                _wait_consumed(traffic, probes + len(messages), timeout=600, idle=20)
                batches = [v for k, v in list(traffic.kept.items()) if k not in before and v is not None]
                phase = summarise_batches(name, batches, len(messages), first_sent, produce_s)
                last_out = max((t for t, _ in batches), default=None)
            else:
                produce_s = traffic.burst(messages)
                traffic.wait_for(ids, timeout=600)
                phase = summarise(name, traffic, ids, produce_s)
                last_out = max((traffic.arrivals.at[e] for e in ids if e in traffic.arrivals.at), default=None)
            sent_at = [traffic.sent[e] for e in ids]
            mark_producer_bound(phase, min(sent_at), max(sent_at), last_out)
            phase.cpu = cpu.stop(time.time())
            phase.process = name
            cpu_cost(phase, cpu.seconds, name)
        console.print(f"{what}: {phase.sustained_per_s:,.0f} msg/s sustained, {phase.cpu_ms_per_event or 0:.3f} CPU ms "
                      f"per message ({phase.arrived:,} of {phase.sent:,} {'consumed' if consume_only else 'forwarded'})"
                      + ("  [yellow]kept pace with the bench's producer: the rate is a lower bound[/]"
                         if phase.producer_bound else ""))
        return phase
    finally:
        traffic.close()
        process.terminate()
        process.wait(timeout=30)


def _batch_report(value: bytes) -> tuple[float, int] | None:
    """(time, events) of a consume-only batch report; None for anything else."""
    try:
        body = json.loads(value)
        return float(body["t"]), int(body["n"])
    except (ValueError, KeyError, TypeError):
        return None


def _consumed(traffic: Traffic) -> int:
    return sum(v[1] for v in list(traffic.kept.values()) if v is not None)


def _probe_anchor(traffic: Traffic, consume_only: bool, timeout: float = 240.0) -> int:
    """Probe until the anchor answers (assigned and running); return how many probes were sent.

    The consume-only agent answers with a batch report; the bench then waits until it has consumed every
    probe, so that what it consumes next is the burst.
    """
    if not consume_only:
        stage.probe(traffic, lambda n: Message(b"probe", json.dumps({"event_id": f"ptprobe-{n}"}).encode(),
                                               f"ptprobe-{n}"))
        return 0
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        traffic.burst([Message(b"probe", json.dumps({"event_id": f"ptprobe-{sent}"}).encode(), f"ptprobe-{sent}")])
        sent += 1
        if _wait_consumed(traffic, 1, timeout=2.0, idle=2.0):
            _wait_consumed(traffic, sent, timeout=30.0, idle=10.0)
            return sent
    raise TimeoutError("the consume-only agent never reported a batch")


def _wait_consumed(traffic: Traffic, count: int, *, timeout: float, idle: float) -> bool:
    """Wait until the consume-only agent reported ``count`` events, or nothing new came for ``idle`` s."""
    return wait_until(lambda: _consumed(traffic), count, timeout=timeout, idle=idle) >= count


def _worker_phases(args, traffic: Traffic, messages: dict, pids: dict[str, int], console: Console) -> list[Phase]:
    phases = []

    def burst(name: str, batch: list[Message], what: str) -> Phase:
        cpu = CpuWindow(pids)
        wanted = args.profile_phase or ("movielens" if "replay" in messages else "mixed")
        profile = args.profile if name == wanted else None
        with console.status(f"{what}: {len(batch):,} events at full speed…"), \
                sampling(pids["worker"], profile, args.profile_idle):
            cpu.start(time.time())
            produce_s = traffic.burst(batch)
            traffic.wait_for([m.event_id for m in batch], timeout=3600, idle=60)
            phase = summarise(name, traffic, [m.event_id for m in batch], produce_s)
            phase.cpu = cpu.stop(time.time())
            cpu_cost(phase, cpu.seconds, "worker")
        console.print(f"{what}: {phase.sustained_per_s:,.0f} lists/s sustained, {phase.whole_per_s:,.0f}/s over the "
                      f"whole phase ({phase.arrived:,} of {phase.sent:,} lists; worker CPU {phase.cpu.get('worker', 0):.2f} "
                      f"cores, {phase.cpu_ms_per_event or 0:.2f} CPU ms per event)")
        phases.append(phase)
        return phase

    shoppers = messages.get("shoppers")
    stage.probe(traffic, (lambda n: shoppers.event("probe-user", f"probe{n}")) if shoppers
                else stage.probe_event(messages["items"][0][0]))
    if "replay" in messages:
        burst("movielens", messages["replay"], "MovieLens-100K replay")
        return phases
    burst("history", messages["history"], "building histories (light and loyal shoppers interleaved)")
    burst("light", messages["light"], f"light shoppers only (~{args.light_history} past events)")
    burst("loyal", messages["loyal"], f"loyal shoppers only (~{args.loyal_history}+ past events)")
    full = burst("mixed", messages["mixed"], "mixed shoppers")
    for n, fraction in enumerate(messages["rates"]):
        rate = max(1.0, fraction * full.sustained_per_s)
        batch = shoppers.events(messages["users"], int(rate * args.rate_seconds), f"r{n}")
        cpu = CpuWindow(pids)
        with console.status(f"offered {rate:,.0f} events/s for {args.rate_seconds:.0f} s…"):
            cpu.start(time.time())
            produce_s = traffic.paced(batch, rate)
            traffic.wait_for([m.event_id for m in batch], timeout=600, idle=30)
            phase = summarise(f"rate {fraction:g}", traffic, [m.event_id for m in batch], produce_s, rate)
            phase.cpu = cpu.stop(time.time())
            cpu_cost(phase, cpu.seconds, "worker")
        flag = "  [bold red]past capacity: a queue, not the worker[/]" if phase.past_capacity else ""
        console.print(f"offered {rate:,.0f}/s ({fraction:g}× max): event → list p50 {phase.p50_ms:.1f} ms, "
                      f"p95 {phase.p95_ms:.1f} ms, p99 {phase.p99_ms:.1f} ms{flag}")
        phases.append(phase)
    return phases
