"""Consumer-group timings and standbys: Apache Kafka's own defaults on Kafka (and in Compose, with the recovery
consistency check on), the short ones only on the embedded broker, and a standby worker that takes over the
partitions of a worker killed with SIGKILL, with every profile as it was."""
from __future__ import annotations

from itertools import count
from pathlib import Path

import pytest
import yaml
from kafka.partitioner.default import murmur2

from streams.local.broker import EMBEDDED_CLUSTER_ID
from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue
from streams.runtime.app import create_app
from streams.runtime.kafka import resolve_broker_kind
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PARTITIONS = 4


# -- which timings a worker uses ------------------------------------------------------------------------------------

def test_kafka_gets_its_own_defaults_and_the_embedded_broker_its_short_ones(tmp_path):
    kafka = resolve_broker_kind(Settings(data_dir=tmp_path), "kJ3x9Qz-Tq2nS1YbC0pLwA")
    embedded = resolve_broker_kind(Settings(data_dir=tmp_path), EMBEDDED_CLUSTER_ID)
    assert (kafka.broker_kind, embedded.broker_kind) == ("kafka", "embedded")
    assert kafka.group_timings() == (300.0, 45.0, 3.0) and kafka.fetch_wait_ms() == 500 and kafka.consistency_check()
    assert embedded.group_timings() == (5.0, 10.0, 1.0) and not embedded.consistency_check()
    assert resolve_broker_kind(Settings(data_dir=tmp_path), "tansu_cluster").broker_kind == "embedded"
    # an explicit kind or value wins over detection and defaults
    told = resolve_broker_kind(Settings(data_dir=tmp_path, broker_kind="kafka", session_timeout=20), EMBEDDED_CLUSTER_ID)
    assert told.broker_kind == "kafka" and told.group_timings() == (300.0, 20.0, 3.0)

    app, _, _ = create_app(kafka)
    conf = app.conf
    assert (conf.broker_rebalance_timeout, conf.broker_session_timeout, conf.broker_heartbeat_interval) == (300, 45, 3)
    assert conf.recovery_consistency_check and conf.table_standby_replicas == 1


def test_compose_runs_workers_with_kafka_timings_a_standby_and_the_consistency_check():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = {k: str(v) for k, v in compose["x-streamrec-env"].items()}
    assert env["STREAMREC_BROKER_KIND"] == "kafka"
    assert env["STREAMREC_RECOVERY_CONSISTENCY_CHECK"] == "true"
    assert int(env["STREAMREC_STANDBY_REPLICAS"]) >= 1
    settings = Settings(**{k[len("STREAMREC_"):].lower(): v for k, v in env.items()
                           if k in ("STREAMREC_BROKER_KIND", "STREAMREC_RECOVERY_CONSISTENCY_CHECK",
                                    "STREAMREC_STANDBY_REPLICAS")})
    assert settings.consistency_check() and settings.group_timings() == (300.0, 45.0, 3.0)
    for name, service in compose["services"].items():
        if service.get("image", "").startswith("streamrec") or "worker" in name:
            environment = service.get("environment", {})
            assert "STREAMREC_RECOVERY_CONSISTENCY_CHECK" not in environment or \
                str(environment["STREAMREC_RECOVERY_CONSISTENCY_CHECK"]) == "true", name


# -- a standby takes over ------------------------------------------------------------------------------------------

ITEMS = catalogue(per_category=2)


def users_on(partitions: set[int], prefix: str, n: int) -> list[str]:
    names = (f"{prefix}-{i}" for i in count())
    return [u for u, _ in zip((u for u in names if (murmur2(u.encode()) & 0x7FFFFFFF) % PARTITIONS in partitions),
                              range(n))]


def stores(worker) -> set[str]:
    """The table partitions a worker keeps a RocksDB store of (active or standby)."""
    return {p.name.removesuffix(".db") for p in worker.data_dir.glob("faust/**/tables/*.db")}


@pytest.mark.integration
def test_a_standby_takes_over_a_killed_workers_partitions_with_its_profiles(broker, start_worker):
    a, b = start_worker(), start_worker()
    a.wait_ready(timeout=240)
    b.wait_ready(timeout=240)
    publish(broker.bootstrap, "items", [(i["item_id"], i) for i in ITEMS])
    wait_for(lambda: all(w.get_json("/health")["index_items"] == len(ITEMS) for w in (a, b)), timeout=240,
             what="the catalogue indexed on both")
    def split():
        x, y = a.get_json("/health"), b.get_json("/health")
        return x["ready"] and y["ready"] and x["events_partitions"] and y["events_partitions"] and (x, y)

    ha, hb = wait_for(split, timeout=240, what="a split")
    a_parts, b_parts = set(ha["events_partitions"]), set(hb["events_partitions"])
    assert a_parts and b_parts and not a_parts & b_parts
    users = users_on(a_parts, "standby", 6)
    events = [(u, {"event_id": f"{u}-e{n}", "user_id": u, "type": "view", "item_id": ITEMS[(k * 3 + n) % len(ITEMS)]["item_id"]})
              for k, u in enumerate(users) for n in range(3)]
    publish(broker.bootstrap, "events", events)
    wait_for(lambda: {r["value"]["trigger_event_id"] for r in read_topic(broker.bootstrap, "recommendations",
                                                                         timeout=30, idle=3)} >= {e["event_id"] for _, e in events},
             timeout=120, what="every event's list")
    before = {u: a.get_json(f"/users/{u}/profile") for u in users}
    assert all(len(p["applied_events"]) == 3 for p in before.values())
    # B keeps standby copies of A's profile partitions, fed from the changelog while A lives
    wait_for(lambda: {f"profiles-{p}" for p in a_parts} <= stores(b), timeout=60, what="standby stores on B")

    a.kill()
    wait_for(lambda: (h := b.get_json("/health"))["ready"] and set(h["events_partitions"]) == set(range(PARTITIONS)),
             timeout=180, what="B owning every partition")
    for user in users:
        after = b.get_json(f"/users/{user}/profile")
        assert after["applied_events"] == before[user]["applied_events"], user
        assert after["history"] == before[user]["history"], user
    last = {"event_id": "after-takeover", "user_id": users[0], "type": "click", "item_id": ITEMS[0]["item_id"]}
    publish(broker.bootstrap, "events", [(users[0], last)])
    wait_for(lambda: [r for r in read_topic(broker.bootstrap, "recommendations", timeout=30, idle=3)
                      if r["value"]["trigger_event_id"] == "after-takeover"], timeout=120, what="B's list after the kill")
    assert len(b.get_json(f"/users/{users[0]}/profile")["applied_events"]) == 4
