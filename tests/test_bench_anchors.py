"""The pipeline bench's transport anchors, run for real at tiny scale: a broker, the three anchor processes, a worker."""
from __future__ import annotations

import json

import pytest

from streams.cli.main import main

pytestmark = pytest.mark.integration


def test_pipeline_bench_measures_every_anchor_beside_the_worker(tmp_path, capsys):
    out = tmp_path / "pipeline.json"
    code = main(["bench", "pipeline", "--items", "300", "--light-users", "20", "--light-history", "2",
                 "--loyal-users", "2", "--loyal-history", "10", "--burst", "100", "--passthrough", "400",
                 "--rates", "0.5", "--rate-seconds", "2", "--json", str(out), "--plot", str(tmp_path / "p.png")])
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    phases = {p["name"]: p for p in res["phases"]}
    assert code == 0
    # every anchor moved every message, counted by reading its output (the consume-only one: its batch reports)
    for name in ("passthrough", "consume-only", "aiokafka"):
        assert (phases[name]["sent"], phases[name]["arrived"]) == (400, 400), name
        assert phases[name]["cpu_ms_per_event"] > 0 and phases[name]["process"] == name
    assert phases["consume-only"]["p50_ms"] is None  # a batch report cannot say which message waited how long
    h = res["headline"]
    assert set(h["anchors"]) == {"passthrough", "consume-only", "aiokafka"}
    assert h["ratio"] == pytest.approx(h["worker_events_per_s"] / h["passthrough_msgs_per_s"], rel=0.01)
    assert h["ratio_consume"] == pytest.approx(h["worker_events_per_s"] / h["consume_msgs_per_s"], rel=0.01)
    assert h["faust_over_aiokafka"] == pytest.approx(h["passthrough_msgs_per_s"] / h["aiokafka_msgs_per_s"], rel=0.01)
    assert "worker ÷ Faust consume-only" in printed and "Faust pass-through ÷ aiokafka pass-through" in printed
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_pipeline_bench_runs_with_one_anchor_only(tmp_path):
    out = tmp_path / "pipeline.json"
    assert main(["bench", "pipeline", "--anchors", "consume", "--items", "200", "--light-users", "10",
                 "--light-history", "2", "--loyal-users", "1", "--loyal-history", "5", "--burst", "50",
                 "--passthrough", "200", "--rates", "", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [p["name"] for p in res["phases"]][:1] == ["consume-only"] and res["headline"]["ratio"] is None
