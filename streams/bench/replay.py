"""`streamrec bench replay`: MovieLens-100K over the embedded broker through real workers — speed and quality.

The first ``--limit`` interactions of ML-100K (all of them with ``--limit 0``), prepared exactly as
`streamrec eval` prepares them (the same ``--cold-items`` held out of the log, every rating a ``view``),
are produced to the `events` topic of a fresh embedded broker, paced at ``--rate`` events/s or as fast
as the producer takes them (``--rate 0``), into ``--workers`` real worker processes that embedded the
1,682 movies from the `items` topic first. The bench's own assign-mode reader reads every list back from
`recommendations` (matched to its event by ``trigger_event_id``) and scores it with eval's protocol
(scoring.py): NDCG@10 and HR@10 against the same user's next interaction, on the test part (lists after
``--fit-fraction`` of the log), the fit part and the whole replay. It prints events/s over the whole
replay (lists read ÷ first event sent → last list read), lists read against events sent (a missing list
is reported and scored as a miss), event → list latency percentiles, and the workers' CPU per event.

``--compare`` runs the same log paced and then at full speed, each on a fresh broker and fresh workers
(a second replay into the same workers would find every event applied already), and prints full ÷
paced. ``--reference`` also replays the log in this process through `streamrec eval`'s replay
(the workers' weights, one worker, signals learnt in place): the lists the workers would publish if
the broker and the signals round trip cost nothing.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import ImproperlyConfigured
from ..local.cluster import LocalBroker, WorkerProcess
from ..runtime.kafka import ensure_topics
from ..settings import Settings
from . import stage
from .measure import cpu_cost, summarise
from .procstat import CpuWindow, machine_load, memory_bytes
from .report import commit_and_machine, current_commit, num_text, ratio_text, run_settings
from .scoring import SEGMENTS, Scores, score_lists
from .traffic import Message, Traffic
from .workload import movielens_messages

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RATE = 40.0  # events/s of a paced replay (and of the paced half of --compare)
GOAL_EVENTS_PER_S = 1500.0  # the whole ML-100K over the broker through one worker
GOAL_QUALITY_KEPT = 0.95  # full-speed NDCG@10 ÷ paced NDCG@10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the replay benchmark."""
    parser.add_argument("--movielens", metavar="DIR",
                        help="RecBole ml-100k folder (default: STREAMREC_ML100K, else ../shared/data/ml-100k)")
    parser.add_argument("--limit", type=int, default=10_000, metavar="N",
                        help="replay the first N interactions in time order (default 10,000; 0 = all of ML-100K)")
    parser.add_argument("--workers", type=int, default=1, help="streamrec worker processes (default 1)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, metavar="R",
                        help=f"offered events/s (default {DEFAULT_RATE:g}); 0 = as fast as the producer takes them")
    parser.add_argument("--full-speed", action="store_true", help="the same as --rate 0")
    parser.add_argument("--compare", action="store_true",
                        help="paced at --rate (40 if --rate is 0) and then at full speed, each on a fresh broker and "
                        "fresh workers; prints full ÷ paced")
    parser.add_argument("--cold-items", type=int, default=20, metavar="N",
                        help="items held out of the log as `streamrec eval` does (default 20; 0 = none)")
    parser.add_argument("--fit-fraction", type=float, default=0.5, metavar="F",
                        help="where the test part begins, as in `streamrec eval` (default 0.5); the workers keep their "
                        "weights, this only splits the scoring")
    parser.add_argument("--reference", action="store_true",
                        help="also replay the log in this process with eval's replay (the workers' weights, one worker, "
                        "signals in place) and print its scores beside")
    parser.add_argument("--idle", type=float, default=60.0, metavar="S",
                        help="after the last event is sent, give up on missing lists when none arrived for S seconds "
                        "(default 60)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--plot", type=Path, help="write a PNG of NDCG@10 over the replay and lists over time here")
    parser.add_argument("--keep", action="store_true", help="keep the work dirs (broker and worker logs) afterwards")
    parser.add_argument("--quiet", action="store_true", help="no progress display")


@dataclass
class Log:
    """The replayed log, prepared as `streamrec eval` prepares it."""

    data_dir: Path
    items: list  # `items` records: (item id, body)
    events: list[Message]  # `events` messages in log order
    pairs: list[tuple[str, str]]  # (user, item) of each event: what scoring needs
    cold_items: list[str]
    boundary: int  # first event index of the test part
    interactions: int  # before the hold-out
    dataset: object  # the head of ML-100K (for --reference)
    vectors: tuple | None = None  # (model version, `item-vectors` records) once a stage's workers embedded the movies


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Replay (paced, full speed or both), score what came back, report."""
    if args.limit < 0 or args.workers < 1 or args.rate < 0 or args.idle <= 0 or not 0.0 <= args.fit_fraction < 1.0:
        raise ImproperlyConfigured("streamrec bench replay: --limit >= 0, --workers >= 1, --rate >= 0, --idle > 0 and "
                                   "--fit-fraction in [0, 1)")
    if args.plot:
        from ..errors import require_extra

        require_extra("matplotlib", "streamrec bench replay's --plot")
    console = Console() if sys.stdout.isatty() else Console(width=140)
    load_before, commit = machine_load(), current_commit()
    log = load_log(args, settings)
    console.print(f"replaying {len(log.events):,} events of ML-100K ({log.interactions:,} interactions, "
                  f"{len(log.cold_items)} items held out) into {args.workers} worker(s); test part from event "
                  f"{log.boundary:,}")
    rate = 0.0 if args.full_speed else args.rate
    modes = [("paced", rate or DEFAULT_RATE), ("full speed", 0.0)] if args.compare else \
        [("full speed" if rate == 0 else "paced", rate)]
    runs = []
    for name, mode_rate in modes:
        # the first stage's workers embed the movies; a later stage gets their vectors as they are
        runs.append(replay_once(name, mode_rate, log, args, settings, console))
    reference = in_process(log, args, settings, console) if args.reference else None
    result = build_result(args, settings, log, runs, reference, load_before, commit)
    print_result(console, result)
    stage.write_json(args.json, result)
    if args.plot:
        plot(result, args.plot)
        console.print(f"plot written to {args.plot}")
    return 1 if any(r["missing"] for r in runs) else 0


def load_log(args: argparse.Namespace, settings: Settings) -> Log:
    """ML-100K's first ``--limit`` interactions, the cold items held out as eval holds them out."""
    from ..evaluation.data import load_movielens, resolve_data_dir
    from ..evaluation.replay import ReplayOptions, pick_cold_items

    given = args.movielens or (str(settings.ml100k) if settings.ml100k else None)
    data_dir = resolve_data_dir(given, REPO_ROOT)
    dataset = load_movielens(data_dir).head(args.limit or None)
    cold = pick_cold_items(dataset, ReplayOptions(cold_items=args.cold_items))
    log_data = dataset.without_items(cold) if cold else dataset
    items, events = movielens_messages(log_data)
    pairs = [(inter.user_id, inter.item_id) for inter in log_data.interactions]
    return Log(data_dir, items, events, pairs, cold, int(len(events) * args.fit_fraction), len(dataset.interactions),
               dataset)


def list_item_ids(value: bytes) -> list[str] | None:
    """The item ids of a `recommendations` message, best first (None when it is not a list)."""
    try:
        body = json.loads(value)
        return [str(item["item_id"]) for item in body["items"]]
    except (ValueError, KeyError, TypeError):
        return None


def probe_search(ts: float):
    """Probe events that touch no item (a search), so no shop-wide signal learns from them; at the log's time."""
    return lambda n: Message(b"bench-probe", json.dumps({"event_id": f"probe-{n}", "user_id": "bench-probe",
                                                         "type": "search", "query": "film", "ts": ts}).encode(),
                             f"probe-{n}")


def replay_once(name: str, rate: float, log: Log, args: argparse.Namespace, settings: Settings,
                console: Console) -> dict:
    """One replay on a fresh broker and fresh workers; its figures and scores."""
    workdir = Path(tempfile.mkdtemp(prefix="streamrec-replay-"))
    broker = LocalBroker.start(log_path=workdir / "broker.log")
    ensure_topics(settings.model_copy(update={"broker": broker.url}))
    workers: list[WorkerProcess] = []
    try:
        workers = stage.start_workers(args.workers, broker, workdir, console)
        model_version = workers[0].get_json("/health")["model_version"]
        if log.vectors and log.vectors[0] == model_version:
            info = stage.load_catalogue(broker, workers, console, vectors=log.vectors[1])
        else:
            info = stage.load_catalogue(broker, workers, console, items=log.items)
            vectors = stage.item_vectors(broker, info["items"])
            if len(vectors) >= info["items"]:  # every movie read back: a later stage can skip the encoder
                log.vectors = (model_version, vectors)
        traffic = Traffic(broker.bootstrap, settings.topic_events, settings.topic_recommendations,
                          keep=list_item_ids).start()
        try:
            with console.status("probing the workers…"):
                stage.probe(traffic, probe_search(json.loads(log.events[0].value)["ts"]))
            pids = {"worker": workers[0].process.pid, "broker": broker.process.pid,
                    **{f"worker-{n}": w.process.pid for n, w in enumerate(workers[1:], start=1)}}
            cpu = CpuWindow(pids)
            cpu.start(time.time())
            produced: dict = {}
            ids = [m.event_id for m in log.events]

            def produce() -> None:
                try:
                    produced["s"] = traffic.paced(log.events, rate) if rate else traffic.burst(log.events)
                except Exception as exc:  # noqa: BLE001 - handed to the main thread, which raises it
                    produced["error"] = exc

            producer = threading.Thread(target=produce, name="replay-producer", daemon=True)
            producer.start()
            _follow(name, rate, traffic, ids, producer, args, console)
            producer.join()
            if "error" in produced:
                raise produced["error"]
            phase = summarise(name, traffic, ids, produced.get("s", 0.0), rate or None)
            phase.cpu = cpu.stop(time.time())
            cpu_cost(phase, cpu.seconds, "worker")
            index = {m.event_id: t for t, m in enumerate(log.events)}
            lists = {index[e]: items for e, items in list(traffic.kept.items()) if e in index and items is not None}
            repeats = traffic.arrivals.repeats
        finally:
            traffic.close()
        rss, peak = memory_bytes(workers[0].process.pid)
    finally:
        for worker in workers:
            worker.stop()
        broker.stop()
        if args.keep:
            console.print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    scores = score_lists(log.pairs, lists)
    arrived_ids = set(traffic.arrivals.at)
    run = {
        "mode": name,
        "offered_per_s": rate or None,
        "events": len(ids),
        "lists": sum(1 for e in ids if e in arrived_ids),
        "missing": sum(1 for e in ids if e not in arrived_ids),
        "duplicates": repeats,
        "events_per_s_whole": round(phase.whole_per_s, 1),
        "sustained_per_s": round(phase.sustained_per_s, 1),
        "produce_s": round(phase.produce_s, 1),
        "latency_ms": {"p50": phase.p50_ms, "p95": phase.p95_ms, "p99": phase.p99_ms, "max": phase.max_ms},
        "past_capacity": phase.past_capacity if rate else None,
        "cpu_cores": phase.cpu,
        "worker_cpu_ms_per_event": phase.cpu_ms_per_event,
        "worker_rss_mb": round(rss / 2**20, 1),
        "worker_peak_rss_mb": round(peak / 2**20, 1),
        "catalogue_s": round(info["catalogue_s"], 1),
        "model_version": info["model_version"],
        "scores": {segment: scores.summary(segment, log.boundary) for segment in SEGMENTS},
        "ndcg_series": scores.ndcg_series(),
        "lists_over_time": _lists_over_time(traffic, ids),
    }
    console.print(f"{name}: {run['lists']:,} lists of {run['events']:,} events, {run['events_per_s_whole']:,.0f} events/s "
                  f"over the whole replay, test NDCG@10 {run['scores']['test']['ndcg@10']:.4f}")
    return run


def _follow(name: str, rate: float, traffic: Traffic, ids: list[str], producer: threading.Thread,
            args: argparse.Namespace, console: Console) -> None:
    """Show events sent and lists read until every list is back, or none came for ``--idle`` s after the last send."""
    n = len(ids)
    sent_at, arrived = traffic.sent, traffic.arrivals.at
    plain = not console.is_terminal and not args.quiet
    label = f"{name} ({rate:g} events/s)" if rate else name
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, disable=args.quiet or plain) as progress:
        sending = progress.add_task(f"{label}: events sent", total=n)
        reading = progress.add_task(f"{label}: lists read", total=n)
        started = last_line = time.monotonic()
        last, changed = -1, time.monotonic()
        while True:
            sent = sum(1 for e in ids if e in sent_at)
            got = sum(1 for e in ids if e in arrived)
            progress.update(sending, completed=sent)
            progress.update(reading, completed=got)
            now = time.monotonic()
            if plain and now - last_line >= 30:
                print(f"{label}: {sent:,} sent, {got:,} lists read of {n:,} in {now - started:.0f} s", flush=True)
                last_line = now
            if got >= n:
                return
            if producer.is_alive() or got != last:
                last, changed = got, now
            elif now - changed > args.idle:
                return
            time.sleep(0.5)


def _lists_over_time(traffic: Traffic, ids: list[str], points: int = 200) -> dict:
    """Events sent and lists read against seconds since the first send: the plot's progress lines."""
    sent = sorted(traffic.sent[e] for e in ids if e in traffic.sent)
    got = sorted(traffic.arrivals.at[e] for e in ids if e in traffic.arrivals.at)
    if not sent:
        return {"t": [], "sent": [], "lists": []}
    t0, t1 = sent[0], max(sent[-1], got[-1] if got else sent[-1])
    import numpy as np

    grid = np.linspace(t0, t1, points)
    return {"t": [round(float(t - t0), 2) for t in grid],
            "sent": [int(x) for x in np.searchsorted(sent, grid, side="right")],
            "lists": [int(x) for x in np.searchsorted(got, grid, side="right")]}


def in_process(log: Log, args: argparse.Namespace, settings: Settings, console: Console) -> dict:
    """The same log through `streamrec eval`'s in-process replay (streamrec and the two baselines), scored alike."""
    from encoders import load_encoder

    from ..evaluation.methods import HYBRID, ITEM_KNN, POPULARITY
    from ..evaluation.replay import ReplayOptions, replay

    options = ReplayOptions(fit_fraction=0.0, cold_items=args.cold_items, ranking=settings.ranking_options(),
                            methods=(POPULARITY, ITEM_KNN, HYBRID))
    with console.status("in-process reference: loading the encoder…"):
        encoder = load_encoder(settings.encoder_options())
    with console.status(f"in-process reference: replaying {len(log.events):,} events…"):
        result = replay(log.dataset, encoder, options)
    if result.events != len(log.events):  # the same hold-out, the same log: anything else is a bug of ours
        raise ImproperlyConfigured(f"the in-process replay saw {result.events} events, the broker replay {len(log.events)}")
    out = {}
    for method in result.methods:
        mlog = result.logs[method]
        scores = Scores(options.k, list(mlog.event_index), list(mlog.rank), [False] * len(mlog.rank))
        out[method] = {segment: scores.summary(segment, log.boundary) for segment in SEGMENTS}
    console.print(f"in-process reference: {result.seconds:.0f} s")
    return {"seconds": round(result.seconds, 1), "methods": out,
            "command": f"streamrec eval --limit {args.limit or len(log.dataset.interactions)} --fit-fraction 0 "
                       f"--cold-items {args.cold_items} --methods popularity,item-knn,streamrec"}


def build_result(args, settings: Settings, log: Log, runs: list[dict], reference: dict | None, load_before,
                 commit: str | None = None) -> dict:
    """Every figure of the bench, JSON-ready."""
    res = {
        **commit_and_machine(load_before, commit),
        "data_dir": str(log.data_dir),
        "events": len(log.events),
        "interactions": log.interactions,
        "cold_items": log.cold_items,
        "boundary": log.boundary,
        "workers": args.workers,
        **run_settings(args, settings),
        "runs": runs,
        "reference": reference,
    }
    by_mode = {r["mode"]: r for r in runs}
    if "paced" in by_mode and "full speed" in by_mode:
        paced, full = by_mode["paced"], by_mode["full speed"]
        res["compare"] = {
            "ndcg_full_over_paced": {s: _ratio(full["scores"][s]["ndcg@10"], paced["scores"][s]["ndcg@10"])
                                     for s in SEGMENTS},
            "events_per_s_full_over_paced": _ratio(full["events_per_s_whole"], paced["events_per_s_whole"]),
        }
    return res


def _ratio(a, b) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def print_result(console: Console, res: dict) -> None:
    """One table of speed, one of quality, the comparison and the goal lines."""
    speed = Table(title=f"bench replay: {res['events']:,} events of ML-100K, {res['workers']} worker(s), {res['machine']}")
    for col in ("mode", "offered/s", "events", "lists", "missing", "doubled", "events/s whole replay", "sustained/s",
                "p50 ms", "p95 ms", "p99 ms", "worker CPU ms/event", "note"):
        speed.add_column(col, justify="left" if col in ("mode", "note") else "right")
    for r in res["runs"]:
        lat = r["latency_ms"]
        note = "past capacity" if r["past_capacity"] else ("burst: latency = queue" if r["offered_per_s"] is None else "")
        speed.add_row(r["mode"], num_text(r["offered_per_s"]), f"{r['events']:,}", f"{r['lists']:,}",
                      f"[bold red]{r['missing']:,}[/]" if r["missing"] else "0", f"{r['duplicates']:,}",
                      num_text(r["events_per_s_whole"]), num_text(r["sustained_per_s"]), _ms(lat["p50"]), _ms(lat["p95"]),
                      _ms(lat["p99"]), "–" if r["worker_cpu_ms_per_event"] is None else f"{r['worker_cpu_ms_per_event']:.2f}",
                      note)
    console.print(speed)
    quality = Table(title=f"lists scored against each user's next interaction (test part: lists after event "
                          f"{res['boundary']:,}; a missing list scores as a miss)")
    for col in ("source", "segment", "lists", "missing", "NDCG@10", "HR@10"):
        quality.add_column(col, justify="left" if col in ("source", "segment") else "right")
    rows = [(f"workers, {r['mode']}", r["scores"]) for r in res["runs"]]
    if res.get("reference"):
        rows += [(f"in process: {m}", s) for m, s in res["reference"]["methods"].items()]
    for source, scores in rows:
        for segment in ("test", "fit", "full"):
            s = scores[segment]
            quality.add_row(source, segment, f"{s['lists']:,}", f"{s['missing']:,}", f"{s['ndcg@10']:.4f}",
                            f"{s['hr@10']:.4f}")
    console.print(quality)
    for r in res["runs"]:
        if r["missing"]:
            console.print(f"[bold red]{r['mode']}: {r['missing']:,} of {r['events']:,} events got no list[/]")
    if "compare" in res:
        c = res["compare"]
        kept = c["ndcg_full_over_paced"]["test"]
        met = kept is not None and kept >= GOAL_QUALITY_KEPT
        console.print(f"[bold]full speed ÷ paced: NDCG@10 {ratio_text(kept)} on the test part "
                      f"({ratio_text(c['ndcg_full_over_paced']['full'])} whole replay), events/s "
                      f"{ratio_text(c['events_per_s_full_over_paced'])}[/]  (goal ≥ {GOAL_QUALITY_KEPT:.2f}×: "
                      f"{'met' if met else 'not met'})")
    for r in res["runs"]:
        if r["offered_per_s"] is None:
            whole = res["events"] >= 90_000
            console.print(f"full speed: {r['events_per_s_whole']:,.0f} events/s over the whole replay (goal ≥ "
                          f"{GOAL_EVENTS_PER_S:,.0f} on the whole ML-100K with one worker"
                          + ("" if whole else "; this run replayed a part of it") + ")")
    if res.get("reference"):
        console.print(f"in-process reference = {res['reference']['command']} (its 'full' rows; eval's own default fits "
                      "the blend on the fit part instead of using the workers' weights)")


def plot(res: dict, path: Path) -> None:
    """Left: NDCG@10 over the replay per run (and in process); right: events sent and lists read over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for r in res["runs"]:
        series = r["ndcg_series"]
        left.plot(series["event_index"], series["ndcg"], label=f"workers, {r['mode']}")
    for r in res["runs"]:
        left.axhline(r["scores"]["test"]["ndcg@10"], xmin=0.5, linewidth=0.8, linestyle="--",
                     color=left.get_lines()[res["runs"].index(r)].get_color())
    if res.get("reference"):
        styles = iter([":", "-.", (0, (1, 3)), (0, (5, 5))])
        for method, scores in res["reference"]["methods"].items():
            left.axhline(scores["test"]["ndcg@10"], linestyle=next(styles, ":"), linewidth=0.9, color="grey",
                         label=f"in process, {method}: test {scores['test']['ndcg@10']:.3f}")
    left.axvline(res["boundary"], color="grey", linewidth=0.8, linestyle="--")
    left.set_xlabel("event (lists scored against the user's next interaction)")
    left.set_ylabel("NDCG@10 (mean per slice; dashed: test part)")
    left.legend(fontsize=8)
    left.set_title(f"{res['events']:,} events, {res['workers']} worker(s)", fontsize=10)
    for r in res["runs"]:
        over = r["lists_over_time"]
        line, = right.plot(over["t"], over["lists"], label=f"lists read, {r['mode']}")
        right.plot(over["t"], over["sent"], linestyle=":", color=line.get_color(), label=f"events sent, {r['mode']}")
    right.set_xlabel("seconds since the first event was sent")
    right.set_ylabel("count")
    right.legend(fontsize=8)
    right.set_title("events sent and lists read", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _ms(x) -> str:
    return "–" if x is None else f"{x:.0f}"
