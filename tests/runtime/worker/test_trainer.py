"""The trainer role beside a real worker: it learns from the shop's co-interactions, publishes an adapter
version, and the worker switches to it; lists name the version they were ranked with, never two at once."""
from __future__ import annotations

import pytest

from support import load_catalogue

from streams.cli.demo import TRAINER_ENV
from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue, sessions

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=3)


def test_the_trainer_publishes_an_adapter_and_the_worker_switches_to_it(kafka, topics, workers):
    worker = workers.start(topics, STREAMREC_ADAPTER="true")
    # the trainer runs in a consumer group of its own: the worker's app id + "-trainer"
    trainer = workers.start(topics, **{k: v for k, v in TRAINER_ENV.items() if k != "STREAMREC_APP_ID"})
    worker.wait_ready(timeout=180)
    trainer.wait_ready(timeout=180)
    assert worker.get_json("/health")["adapter_version"] == 0  # the frozen space until the trainer publishes
    load_catalogue(kafka, topics, worker, ITEMS)
    events = sessions(ITEMS, users_per_persona=3, start_ts=1_700_000_000.0)
    publish(kafka.bootstrap, topics.events, [(e["user_id"], e) for e in events])
    health = wait_for(lambda: (h := worker.get_json("/health"))["adapter_version"] > 0 and h, timeout=120,
                      what="the worker to switch to a published adapter")
    assert "+adapter-" in health["lists_model_version"]
    learned = trainer.get_json("/health")
    assert learned["role"] == "trainer" and learned["adapter_version"] >= health["adapter_version"]
    assert learned["adapter_pairs"] > 0
    # a list ranked after the switch names the new version; every list names exactly one version
    user = events[0]["user_id"]
    publish(kafka.bootstrap, topics.events, [(user, {"event_id": "after-switch", "user_id": user, "type": "view",
                                                 "item_id": ITEMS[0]["item_id"]})])
    lists = [r["value"] for r in read_topic(kafka.bootstrap, topics.recommendations, timeout=60, idle=5)]
    versions = {rec["model_version"] for rec in lists}
    assert all(v.count("+adapter-") <= 1 for v in versions)
    [after] = [rec for rec in lists if rec["trigger_event_id"] == "after-switch"]
    assert "+adapter-" in after["model_version"] and after["items"]
    for item in after["items"]:
        assert sum(r["weight"] for r in item["reasons"]) == pytest.approx(item["score"], abs=1e-5)
