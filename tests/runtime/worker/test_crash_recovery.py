"""A worker SIGKILLed in the middle of a replay comes back by itself and ends exactly where a run without
the crash ends: the same profiles, the same shop-wide signals, the same final lists (real broker, real
worker processes; the data dir is kept across the restart, as ../shared/notes/tansu.md requires).

The two runs go side by side on the session's broker, each on topics and a consumer group of its own."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import TopicNames, load_catalogue, new_topics

from streams.local.cluster import LocalBroker, WorkerProcess, follow_topic, publish, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=5)  # 100 products
USERS = [f"shopper-{n}" for n in range(150)]
START = 1_767_225_600.0


def replay_log(n_events: int = 2400, seed: int = 5) -> list[dict]:
    """Shoppers browsing within their favourite categories, all events within minutes (ids and times given)."""
    rng = random.Random(seed)
    by_category: dict[str, list[str]] = {}
    for item in ITEMS:
        by_category.setdefault(item["category"], []).append(item["item_id"])
    taste = {u: rng.sample(sorted(by_category), 2) for u in USERS}
    events = []
    for n in range(n_events):
        user = rng.choice(USERS)
        item = rng.choice(by_category[rng.choice(taste[user])])
        etype = rng.choices(["view", "click", "add_to_cart", "purchase"], [70, 20, 7, 3])[0]
        events.append({"event_id": f"e{n}", "user_id": user, "type": etype, "item_id": item, "ts": START + n * 0.05})
    return events


def run(broker: LocalBroker, topics: TopicNames, data_dir, events: list[dict], crash_after: int | None) -> dict:
    workers: list[WorkerProcess] = []
    try:
        worker = WorkerProcess.start(broker.url, data_dir, env=topics.env)
        workers.append(worker)
        worker.wait_ready(timeout=180)
        load_catalogue(broker, topics, worker, ITEMS)
        publish(broker.bootstrap, topics.events, [(e["user_id"], e) for e in events])
        triggers: set[str] = set()
        lists = follow_topic(broker.bootstrap, topics.recommendations, timeout=600)
        for record in lists:
            triggers.add(record["value"]["trigger_event_id"])
            if crash_after is not None and len(triggers) == crash_after:
                worker.kill()  # SIGKILL: no snapshot, no commit, no goodbye
                worker = WorkerProcess.start(broker.url, data_dir, env=topics.env,
                                             log_path=data_dir / "worker-restarted.log")
                workers.append(worker)
            if len(triggers) == len(events):
                break
        assert len(triggers) == len(events), f"every event got its list ({len(triggers)} of {len(events)})"
        worker.wait_ready(timeout=180)
        # the lists are all out; the last signal rows follow within a tick or two
        wait_for(lambda: settled(worker), timeout=60, what="signals settled")
        return snapshot_of(worker)
    finally:
        for w in workers:
            w.stop()


def settled(worker: WorkerProcess) -> bool:
    first = worker.get_json("/items/p00000/signals")
    import time

    time.sleep(1.0)
    return worker.get_json("/items/p00000/signals") == first


def snapshot_of(worker: WorkerProcess) -> dict:
    return {
        "profiles": {u: worker.get_json(f"/users/{u}/profile") for u in USERS},
        "signals": {i["item_id"]: worker.get_json(f"/items/{i['item_id']}/signals?k=1000") for i in ITEMS},
        "lists": {u: [i["item_id"] for i in worker.get_json(f"/recommendations/{u}")["items"]] for u in USERS},
    }


@pytest.mark.timeout(1800)  # two full runs; minutes on a quiet machine, far more on a loaded one
def test_a_sigkilled_worker_ends_where_a_crash_free_run_ends(kafka, tmp_path):
    events = replay_log()
    with ThreadPoolExecutor(2) as pool:
        clean_run = pool.submit(run, kafka, new_topics(), tmp_path / "clean", events, None)
        crashed_run = pool.submit(run, kafka, new_topics(), tmp_path / "crashed", events, len(events) // 3)
        clean, crashed = clean_run.result(), crashed_run.result()
    for user in USERS:
        a, b = clean["profiles"][user], crashed["profiles"][user]
        assert b["events"] == a["events"], f"{user}: each event applied once"
        assert b["applied_events"] == a["applied_events"]
        assert b["history"] == a["history"] and b["seen"] == a["seen"]
        assert b["categories"] == pytest.approx(a["categories"], rel=1e-9)
        # float32 components of a unit vector folded from dozens of events: a few ulps of 1.0 (1.2e-7 each)
        # apart when a restored profile re-enters the sum (seen once: 1.2e-6), so 1e-5 absolute
        assert b["vector"] == pytest.approx(a["vector"], rel=1e-5, abs=1e-5)
    for item_id, a in clean["signals"].items():
        b = crashed["signals"][item_id]
        assert b["popularity"] == pytest.approx(a["popularity"], rel=1e-9), item_id
        assert {n["item_id"]: n["cooccurrence"] for n in b["neighbours"]} == pytest.approx(
            {n["item_id"]: n["cooccurrence"] for n in a["neighbours"]}, rel=1e-9), item_id
    assert crashed["lists"] == clean["lists"]
