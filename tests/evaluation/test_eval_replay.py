"""The prequential replay on a real MovieLens-100K slice with the real encoder and a real FAISS index."""
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from encoders import EncoderOptions, load_encoder
from streams.cli.main import main
from streams.evaluation import report
from streams.evaluation.data import Dataset, load_movielens
from streams.evaluation.replay import CONTENT, HYBRID, METHODS, ReplayOptions, replay

ML100K = Path(os.environ.get("STREAMREC_ML100K", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"))

SLICE = 2500
OPTIONS = ReplayOptions(fit_fraction=0.5, cold_items=20, cold_min_ratings=3, cold_max_ratings=30)  # a slice rates items rarely
pytestmark = pytest.mark.skipif(not (ML100K / "ml-100k.inter").is_file(), reason=f"no MovieLens-100K at {ML100K}")


class MemoEncoder:
    """The real encoder, remembering its last batch: both replays embed the same catalogue."""

    def __init__(self, encoder):
        self.inner = encoder
        self.version = encoder.version
        self.dim = encoder.dim
        self._memo = {}

    def encode(self, texts):
        key = tuple(texts)
        if key not in self._memo:
            self._memo[key] = self.inner.encode(texts)
        return self._memo[key]


@pytest.fixture(scope="module")
def encoder():
    return MemoEncoder(load_encoder(EncoderOptions(device="cpu")))


@pytest.fixture(scope="module")
def dataset():
    return load_movielens(ML100K)


@pytest.fixture(scope="module")
def result(dataset, encoder):
    return replay(dataset.head(SLICE), encoder, OPTIONS)


def test_every_method_is_scored_on_the_same_evaluation_points(result):
    points = {m: list(result.logs[m].event_index) for m in METHODS}
    assert all(points[m] == points[HYBRID] for m in METHODS)
    for method in METHODS:
        for segment in ("fit", "test", "full"):
            summary = result.summary(method, segment)
            assert summary["lists"] > 0
            assert 0.0 <= summary["ndcg@10"] <= summary["hr@10"] <= 1.0
            assert 0.0 < summary["coverage"] <= 1.0
    assert result.summary(HYBRID, "test")["lists"] + result.summary(HYBRID, "fit")["lists"] == len(points[HYBRID])


def test_a_list_is_scored_only_once_its_users_next_item_arrives(result, dataset):
    cold = set(result.cold_items)
    events = [i for i in dataset.head(SLICE).interactions if i.item_id not in cold]
    by_user = defaultdict(list)
    for t, inter in enumerate(events):
        by_user[inter.user_id].append(t)
    # every event but each user's last one publishes a list that gets scored; a user's last list never is
    expected = sorted(t for seq in by_user.values() for t in seq[:-1])
    assert sorted(result.logs[HYBRID].event_index) == expected
    assert result.events == len(events)
    singles = [seq[0] for seq in by_user.values() if len(seq) == 1]
    assert singles and not set(singles) & set(result.logs[HYBRID].event_index)


def test_nothing_leaks_from_the_future(result, dataset, encoder):
    """Lists published before the fit boundary of both runs are identical when the log is cut short."""
    # the same events as the long run (its held-out items' ratings removed), cut at 1,000
    kept = dataset.head(SLICE).without_items(result.cold_items)
    short = replay(Dataset(kept.items, kept.interactions[:1000]), encoder, ReplayOptions(fit_fraction=0.5, cold_items=0))
    cut = min(short.boundary, result.boundary)
    for method in METHODS:
        long_lists = dict(zip(result.logs[method].event_index, result.logs[method].shown))
        short_lists = dict(zip(short.logs[method].event_index, short.logs[method].shown))
        common = [t for t in short_lists if t < cut and t in long_lists]
        assert len(common) > 100
        assert all(short_lists[t] == long_lists[t] for t in common), method


def test_streamrec_lists_are_explained_by_the_users_history_and_latency_is_recorded(result):
    for method in (HYBRID, CONTENT):
        summary = result.summary(method, "full")
        assert summary["explained_by_history"] > 0.9
        assert 0 < summary["latency_p50_ms"] <= summary["latency_p99_ms"]
        assert len(result.logs[method].latency_ms) == result.events
    assert result.fit is not None and result.fit.pairs > 0
    assert result.fit.weights.collab > 0  # co-occurrence predicts the next movie on MovieLens


def test_held_out_items_reach_lists_through_their_text(result):
    assert len(result.cold_items) == 20
    assert result.logs[CONTENT].cold_shown + result.logs[HYBRID].cold_shown > 0


def test_json_and_plot_are_written(result, tmp_path):
    body = report.to_json(result, "streamrec eval --limit 2500", "ml-100k")
    path = report.write_json(body, tmp_path / "eval.json")
    loaded = json.loads(path.read_text())
    assert set(loaded["metrics"]["test"]) == set(METHODS)
    assert loaded["fit"]["weights"]["collab"] > 0
    assert loaded["goal"]["metric"] == "ndcg@10"
    assert loaded["cold_start"]["held_out_items"] == result.cold_items
    png = report.plot(result, tmp_path / "eval.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_reports_a_missing_data_dir_in_one_line(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"streamrec: error: no MovieLens data in {tmp_path} (expected ml-100k.inter)"
