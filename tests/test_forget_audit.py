"""Forget that finishes the job, checked with the real CLI's audit against a real worker on the embedded broker.

The embedded broker never compacts, so the audit reports what compaction will remove, and the test checks the
parts compaction needs: a tombstone as the last record of the user's key on `recommendations` and on the
profiles' changelog, and nothing of the user in the signal rows, vectors or deltas. After compaction nothing of
the user is left in profiles, changelogs, recommendations or published signal rows.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from streams.local.cluster import publish, read_topic, wait_for
from streams.local.sample import catalogue

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
ITEMS = catalogue(per_category=2)
SECRET = "size 52 maternity swimsuit"


def cli(broker, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STREAMREC_BROKER": broker.url, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "streams.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=REPO)


def audit(broker, user: str) -> tuple[int, dict]:
    out = cli(broker, "forget", "--audit", user, "--json", "--idle", "1.5")
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


def metric(worker, name: str) -> float:
    line = next((l for l in worker.get_text("/metrics").splitlines() if l.startswith(name + " ")), None)
    return float(line.split()[1]) if line else 0.0


def last_record(broker, topic: str, keys: set[str]) -> dict:
    return [r for r in read_topic(broker.bootstrap, topic, timeout=60, idle=2) if r["key"] in keys][-1]


def test_after_a_forget_compaction_leaves_nothing_of_the_user(broker, start_worker):
    worker = start_worker(STREAMREC_LOG_LEVEL="warning")
    worker.wait_ready(timeout=180)
    publish(broker.bootstrap, "items", [(i["item_id"], i) for i in ITEMS])
    wait_for(lambda: worker.get_json("/health")["index_items"] == len(ITEMS), what="catalogue indexed", timeout=120)
    events = []
    for user in ("fiona", "gus", "hana"):
        query = SECRET if user != "hana" else "trail running shoes"
        events += [(user, {"event_id": f"{user}-1", "user_id": user, "type": "search", "query": query}),
                   (user, {"event_id": f"{user}-2", "user_id": user, "type": "view", "item_id": ITEMS[0]["item_id"]}),
                   (user, {"event_id": f"{user}-3", "user_id": user, "type": "view", "item_id": ITEMS[3]["item_id"]})]
    publish(broker.bootstrap, "events", events)
    wait_for(lambda: len([r for r in read_topic(broker.bootstrap, "recommendations", timeout=30, idle=2)
                          if r["key"] in ("fiona", "gus", "hana")]) == 9, what="every event's list", timeout=120)

    code, before = audit(broker, "fiona")
    topics = {t["topic"]: t for t in before["topics"]}
    assert code == 1 and before["kept_after_compaction"] >= 2, "a shopper not yet forgotten is found"
    assert topics["recommendations"]["kept"] == 1 and topics["streamrec-profiles-changelog"]["kept"] == 1

    # forget fiona over HTTP (admin scope) and gus with the CLI's control message on Kafka
    request = urllib.request.Request(worker.web_url + "/users/fiona", method="DELETE", headers=worker.headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["profile_removed"] is True
    out = cli(broker, "forget", "gus")
    assert out.returncode == 0 and "forget of 'gus' published" in out.stdout, out.stderr
    wait_for(lambda: metric(worker, "streamrec_users_forgotten_total") == 2, what="both forgotten")

    for user in ("fiona", "gus"):
        code, after = audit(broker, user)
        topics = {t["topic"]: t for t in after["topics"]}
        assert code == 0 and after["kept_after_compaction"] == 0, after
        for name in ("recommendations", "streamrec-profiles-changelog"):
            assert topics[name]["compacted"] and topics[name]["tombstone"] == 1, (user, topics[name])
            assert topics[name]["removed by compaction"] >= 1
        assert last_record(broker, "recommendations", {user})["raw"] is None
        assert last_record(broker, "streamrec-profiles-changelog", {user, json.dumps(user)})["raw"] is None
        for name in ("streamrec-signals", "streamrec-signal-rows-changelog", "item-vectors", "streamrec-signal-deltas"):
            assert topics[name]["names_user"] == 0, (user, name, topics[name])
        assert topics["events"]["until retention"] == 4, "the raw events (and the forget) are the shop's to expire"

    # what compaction keeps of the lists and profiles holds nothing of theirs, their search included
    for topic in ("recommendations", "streamrec-profiles-changelog"):
        latest = {}
        for r in read_topic(broker.bootstrap, topic, timeout=60, idle=2):
            latest[(r["partition"], r["key"])] = r["raw"]
        kept = b"".join(v for v in latest.values() if v is not None)
        assert b"fiona" not in kept and b"gus" not in kept and SECRET.encode() not in kept.replace(b"\\", b"")
        assert b"hana" in kept, "the shopper nobody forgot keeps her lists and profile"

    text = cli(broker, "forget", "--audit", "fiona", "--idle", "1.5").stdout
    assert "after compaction nothing that names 'fiona' is left" in text

    log = worker.log_path.read_text()  # at log level warning the audit lines are still written
    assert 'audit forget_requested user_id="fiona" by="local@127.0.0.1"' in log
    assert 'audit forget_applied user_id="fiona" profile_removed=true' in log
    assert 'audit forget_applied user_id="gus" profile_removed=true' in log
