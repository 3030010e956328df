"""`streamrec bench broker`: the embedded broker alone; its figures must be what it measured."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from streams.bench.broker import Sample, summarise

REPO = Path(__file__).resolve().parents[1]


def test_summary_fits_broker_cpu_against_stored_batches_and_finds_where_readers_fell_behind():
    samples = [Sample(t=10.0 * n, batches_per_partition=1000 * n, records_sent=400 * n, lag=5 if n < 4 else 5000,
                      p50_ms=5.0, p99_ms=9.0, broker_cores=0.1 + 0.05 * n, broker_rss_mb=30.0, load1=1.0)
               for n in range(1, 6)]
    summary = summarise(samples, SimpleNamespace(rate=400.0, topics=1))
    assert summary["cores_per_10k_batches_per_partition"] == pytest.approx(0.5)
    assert summary["fell_behind_at_batches_per_partition"] == 4000 and summary["fell_behind_at_s"] == 40.0
    assert (summary["first_cores"], summary["last_cores"]) == pytest.approx((0.15, 0.35))


@pytest.mark.integration
def test_the_probe_measures_one_fetch_against_a_real_embedded_broker(tmp_path):
    out = tmp_path / "probe.json"
    run = subprocess.run([sys.executable, "-m", "streams.cli.main", "bench", "broker", "--probe", "3000",
                          "--json", str(out)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    [row] = json.loads(out.read_text())["probe"]
    assert row["batches"] == 3000 and row["all_fetches_delivered"]
    assert row["cpu_ms_per_fetch"] > 0 and row["us_per_batch"] > 0
    assert row["delivered"]["100"], "a 3,000-batch partition is listed well within 100 ms"
    assert "3,000 batches: one fetch" in run.stdout
