"""Crash and restart: the index comes back from its snapshot plus `item-vectors`, nothing is re-encoded.

On tansu the worker's data dir is kept across the restart (../shared/notes/tansu.md: a changelog restore
from a wiped dir can lose the last update of a partition there; on Apache Kafka it is whole).
"""
from __future__ import annotations

import base64
import json
import time
import urllib.error

import numpy as np
import pytest

from support import metric

from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

ITEMS = catalogue(per_category=2)  # 40 products


def searches(worker, ids):
    return {i: [h["item_id"] for h in worker.get_json(f"/search?item_id={i}&k=5")["hits"]] for i in ids}


def test_sigkill_restart_keeps_index_without_reencoding(kafka, topics, workers, tmp_path):
    data_dir = tmp_path / "worker"
    env = {"STREAMREC_SNAPSHOT_INTERVAL": "1"}
    first = workers.loaded(topics, ITEMS, data_dir, **env)
    assert metric(first, "streamrec_encoder_texts_total") == len(ITEMS)
    probe = [i["item_id"] for i in ITEMS[::7]]
    before = searches(first, probe)
    manifest = data_dir / "index-snapshot" / "manifest.json"
    wait_for(lambda: manifest.exists() and json.loads(manifest.read_text())["count"] == len(ITEMS), what="snapshot", timeout=90)
    time.sleep(2.5)  # past Faust's 1 s commit interval: the items' offsets are committed

    first.kill()  # SIGKILL: no shutdown snapshot, no final commit
    late = [{**ITEMS[0], "item_id": f"late-{n}", "title": f"Late arrival {n}"} for n in range(3)]
    publish(kafka.bootstrap, topics.items, [(i["item_id"], i) for i in late])

    second = workers.start(topics, data_dir, **env)
    second.wait_ready(timeout=180)
    wait_for(lambda: second.get_json("/health")["index_items"] == len(ITEMS) + len(late), what="catch-up", timeout=90)
    after = searches(second, probe)
    for item_id, hits in after.items():  # same neighbours in the same order, the late arrivals aside
        old = [h for h in hits if not h.startswith("late-")]
        assert old == before[item_id][: len(old)]
    assert metric(second, "streamrec_encoder_texts_total") == len(late), "only the new items were encoded"
    second.stop()


def test_vectors_of_another_model_are_refused(kafka, topics, workers):
    worker = workers.start(topics)
    worker.wait_ready(timeout=180)
    count = worker.get_json("/health")["index_items"]
    alien = {"item_id": "alien", "model_version": "other-model@deadbeef0000", "dim": 384,
             "vector": base64.b64encode(np.ones(384, dtype=np.float32).tobytes()).decode(),
             "meta": {"item_id": "alien", "title": "Alien", "category": "", "price": None, "in_stock": True, "published_at": 0.0}}
    publish(kafka.bootstrap, topics.item_vectors, [("alien", alien)])
    letters = read_topic(kafka.bootstrap, topics.dead_letters, timeout=30, idle=5)
    assert any(l["value"]["reason"] == "model_version_mismatch" and l["key"] == "alien" for l in letters)
    assert worker.get_json("/health")["index_items"] == count
    with pytest.raises(urllib.error.HTTPError) as err:
        worker.get_json("/search?item_id=alien")
    assert err.value.code == 404
