"""`streamrec bench freshness`: time from an item's publish on `items` to a search returning it, under event load."""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.error
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track

from ..local import sample
from ..local.cluster import LocalBroker, WorkerProcess, producer, publish, wait_for
from ..settings import Settings
from .report import embedded_fetch_wait_ms


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the freshness benchmark."""
    parser.add_argument("--items", type=int, default=200, help="new items to time (default 200)")
    parser.add_argument("--catalogue", type=int, default=20, help="products per category preloaded (×20; default 20)")
    parser.add_argument("--event-rate", type=float, default=200.0, help="background events per second (default 200)")
    parser.add_argument("--users", type=int, default=20000,
                        help="distinct shoppers behind the background events (default 20000)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between new items (default 0.1)")
    parser.add_argument("--encoder-process", action="store_true",
                        help="embed items in a worker process of their own (role encoder, own consumer group) "
                             "beside a ranker (role ranker), instead of one worker with role all")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--plot", type=Path, help="write a latency histogram PNG here")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start broker + worker, load a catalogue, drive events, publish new items one by one and time them."""
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="streamrec-fresh-"))
    broker = LocalBroker.start(log_path=workdir / "broker.log")
    quiet = {"STREAMREC_LOG_LEVEL": "warning"}
    if args.encoder_process:
        # the item path in a process of its own: items never queue behind a backlog of events
        encoder = WorkerProcess.start(broker.url, workdir / "encoder", env={
            **quiet, "STREAMREC_ROLE": "encoder", "STREAMREC_APP_ID": "streamrec-encoder"})
        worker = WorkerProcess.start(broker.url, workdir / "worker", env={**quiet, "STREAMREC_ROLE": "ranker"})
        processes = [encoder, worker]
    else:
        worker = WorkerProcess.start(broker.url, workdir / "worker", env=quiet)
        processes = [worker]
    stop = threading.Event()
    try:
        with console.status("starting the worker…"):
            for process in processes:
                process.wait_ready(timeout=180)
        items = sample.catalogue(per_category=args.catalogue)
        publish(broker.bootstrap, "items", [(i["item_id"], i) for i in items])
        with console.status(f"indexing {len(items)} products…"):
            wait_for(lambda: worker.get_json("/health")["index_items"] >= len(items), timeout=300,
                     what="the catalogue to be indexed")
        events_sent = [0]
        load = threading.Thread(target=_event_load, daemon=True,
                                args=(broker.bootstrap, items, args.event_rate, args.users, stop, events_sent))
        load.start()
        latencies = []
        prod = producer(broker.bootstrap, linger_ms=0)
        template = items[0]
        for n in track(range(args.items), description="timing new items", console=console):
            item = {**template, "item_id": f"fresh-{n}", "title": f"{template['title']} edition {n}"}
            sent = time.time()
            prod.send("items", key=item["item_id"].encode(), value=json.dumps(item).encode())
            prod.flush()
            latencies.append(_wait_searchable(worker, item["item_id"]) - sent)
            time.sleep(args.interval)
        stop.set()
        load.join(timeout=5)
        prod.close()
        figures = _figures(latencies, args, settings)
        figures.update(_worker_load(worker, events_sent[0]))
        console.print(f"new item searchable after publish: p50 {figures['p50_ms']:.1f} ms, "
                      f"p99 {figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms "
                      f"(n={len(latencies)}, {args.event_rate:.0f} events/s from {args.users} shoppers in the background, "
                      f"fetch wait {figures['fetch_max_wait_ms']} ms)")
        console.print(f"event load: {figures['events_sent']} sent, {figures['events_ranked']} ranked by the end, "
                      f"mean event → list {figures['event_to_list_mean_ms']:.1f} ms"
                      + ("" if figures["kept_up"] else "  [bold red]the worker fell behind: the load is past its capacity[/]"))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2))
        if args.plot:
            _plot(latencies, args.plot)
        return 0
    finally:
        stop.set()
        for process in processes:
            process.stop()
        broker.stop()


def _worker_load(worker: WorkerProcess, sent: int) -> dict:
    """Did the worker keep up with the background events? Read from its own /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    time.sleep(1.0)  # let the last micro-batch finish
    latency = next(f for f in text_string_to_metric_families(worker.get_text("/metrics"))
                   if f.name == "streamrec_event_to_recommendation_seconds")
    totals = {s.name: s.value for s in latency.samples if s.name.endswith(("_sum", "_count"))}
    ranked = int(totals["streamrec_event_to_recommendation_seconds_count"])
    mean = totals["streamrec_event_to_recommendation_seconds_sum"] / max(1, ranked)
    return {"events_sent": sent, "events_ranked": ranked, "event_to_list_mean_ms": mean * 1000.0,
            "kept_up": ranked >= 0.99 * sent}


def _event_load(bootstrap: str, items: list[dict], rate: float, users: int, stop: threading.Event,
                sent: list[int]) -> None:
    prod = producer(bootstrap)
    rng = np.random.default_rng(0)
    n = 0
    started = time.monotonic()
    while not stop.is_set():
        item = items[int(rng.integers(len(items)))]
        user = f"load-{int(rng.integers(users))}"
        prod.send("events", key=user.encode(), value=json.dumps(
            {"user_id": user, "type": "view", "item_id": item["item_id"]}).encode())
        n += 1
        sent[0] = n
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    prod.close()


def _wait_searchable(worker: WorkerProcess, item_id: str, timeout: float = 30.0) -> float:
    """Poll a real FAISS search seeded with the item until it returns the item (every 10 ms).

    Faster polling would itself load the worker's event loop; 10 ms bounds the timing error at +10 ms.
    A worker past its capacity may not answer a poll within 2 s: that poll counts as "not yet". After
    ``timeout`` seconds the time then is returned (the figure is a lower bound, and the run is past capacity).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            hits = worker.get_json(f"/search?item_id={item_id}&k=1", timeout=2)["hits"]
            if hits and hits[0]["item_id"] == item_id:
                return time.time()
        except (urllib.error.URLError, TimeoutError, OSError):  # 404 until indexed; a busy worker times out
            pass
        time.sleep(0.01)
    return time.time()


def _figures(latencies: list[float], args, settings: Settings) -> dict:
    """Latency figures and the settings the bench's worker ran with (it inherits this process's STREAMREC_*)."""
    ms = np.asarray(latencies) * 1000.0
    return {
        "n": len(ms), "users": args.users, "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()), "mean_ms": float(ms.mean()), "event_rate": args.event_rate,
        "fetch_max_wait_ms": embedded_fetch_wait_ms(settings), "item_batch_within_s": settings.item_batch_within,
        "encoder_process": bool(getattr(args, "encoder_process", False)),
    }


def _plot(latencies: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ms = np.asarray(latencies) * 1000.0
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(ms, bins=40)
    for q, style in ((50, "--"), (99, ":")):
        ax.axvline(np.percentile(ms, q), linestyle=style, color="k", label=f"p{q} {np.percentile(ms, q):.0f} ms")
    ax.set_xlabel("publish on `items` → returned by search (ms)")
    ax.set_ylabel("items")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
