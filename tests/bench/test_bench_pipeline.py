"""The pipeline bench's pieces without a broker (its figures come from commands, not tests), and a tiny hot-path run."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from streams.bench import report
from streams.bench.measure import summarise
from streams.bench.traffic import _EVENT_ID, Arrivals
from streams.bench.workload import Shoppers, synthetic_catalogue, vector_records
from streams.cli.main import main
from streams.core.records import parse_event
from streams.core.vectors import decode_record


def test_shopper_events_parse_and_carry_their_id_where_the_reader_finds_it():
    shoppers = Shoppers(synthetic_catalogue(500))
    events = shoppers.histories(["a", "b"], 30, "h") + shoppers.events(["a", "b", "c"], 50, "x")
    assert len({m.event_id for m in events}) == 110
    for m in events:
        event = parse_event(m.key, m.value)
        assert event.event_id == m.event_id and event.user_id == m.key.decode()
        assert _EVENT_ID.search(m.value).group(1).decode() == m.event_id
    listed = json.dumps({"schema_version": 1, "user_id": "a", "trigger_event_id": "h-7"}).encode()
    assert _EVENT_ID.search(listed).group(1) == b"h-7"


def test_vector_records_are_unit_vectors_of_the_given_model():
    catalogue = synthetic_catalogue(20)
    records = [decode_record(k.encode(), v) for k, v in vector_records(catalogue, "m@1", dim=16)]
    assert [r.item_id for r in records] == catalogue.item_ids
    assert all(r.model_version == "m@1" and abs(float((r.vector ** 2).sum()) - 1.0) < 1e-5 for r in records)


def _traffic(sent, arrived):
    return SimpleNamespace(sent=sent, arrivals=Arrivals(at=arrived))


def test_summarise_rates_latency_and_capacity():
    sent = {f"e{i}": 100.0 + i * 0.01 for i in range(100)}  # 100 events/s offered
    on_time = {e: t + 0.02 for e, t in sent.items()}
    phase = summarise("rate 0.5", _traffic(sent, on_time), list(sent), 1.0, offered_per_s=100.0)
    assert phase.p50_ms == pytest.approx(20.0) and phase.p99_ms == pytest.approx(20.0)
    assert phase.sustained_per_s == pytest.approx(100.0, rel=0.05) and not phase.past_capacity
    # a queue that grows: the last events wait far longer than the first
    late = {e: t + 0.02 + i * 0.02 for i, (e, t) in enumerate(sent.items())}
    assert summarise("rate 1", _traffic(sent, late), list(sent), 1.0, offered_per_s=100.0).past_capacity
    missing = dict(list(on_time.items())[:90])
    assert summarise("rate 1", _traffic(sent, missing), list(sent), 1.0, offered_per_s=100.0).past_capacity


def test_markdown_row_and_plot(tmp_path):
    sent = {f"e{i}": i * 0.001 for i in range(1000)}
    fast = summarise("passthrough", _traffic(sent, {e: t + 0.01 for e, t in sent.items()}), list(sent), 1.0)
    slow = summarise("mixed", _traffic(sent, {e: t * 2 for e, t in sent.items()}), list(sent), 1.0)
    half = summarise("rate 0.5", _traffic(sent, {e: t + 0.03 for e, t in sent.items()}), list(sent), 1.0, 500.0)
    args = SimpleNamespace(movielens=None, workers=1, items=10)
    settings = SimpleNamespace(index_kind="flat", event_batch_size=256, event_batch_within=0.02, fetch_max_wait_ms=10,
                               topic_partitions=4)
    res = report.result(args, settings, [fast, slow, half], {"items": 10, "catalogue_s": 1.0}, 2**20, 2**21,
                        (1.0, 1.0, 1.0), (2.0, 2.0, 2.0))
    assert res["headline"]["ratio"] == pytest.approx(0.5, rel=0.05)
    row = report.markdown_row(res)
    assert row.startswith("| ") and "**0.50×**" in row and "30 / 30 / 30" in row
    report.plot(res, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_hotpath_bench_runs_small(capsys):
    assert main(["bench", "hotpath", "--items", "300", "--light-users", "20", "--loyal-users", "2",
                 "--loyal-history", "30", "--events", "60", "--batch", "16"]) == 0
    out = capsys.readouterr().out
    assert "loyal / light cost" in out and "CPU µs/event" in out
