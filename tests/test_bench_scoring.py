"""The replay bench's scoring step: lists read back from the broker in, eval's scores out."""
from __future__ import annotations

import math

import pytest

from streams.bench.scoring import Scores, next_targets, score_lists

# (user, item) in log order: u1 watches a, b, c; u2 watches x, y
LOG = [("u1", "a"), ("u2", "x"), ("u1", "b"), ("u2", "y"), ("u1", "c")]


def test_each_event_points_at_the_same_users_next_event():
    assert next_targets(LOG) == [2, 3, 4, None, None]


def test_a_users_last_list_is_not_scored():
    assert score_lists(LOG, {t: ["z"] for t in range(5)}).event_index == [0, 1, 2]


def test_one_hit_at_rank_one_among_three_lists_scores_ndcg_one_third():
    assert score_lists(LOG, {0: ["b"], 1: ["q"], 2: ["q"]}).summary("full", 0)["ndcg@10"] == pytest.approx(1 / 3)


def test_the_rank_is_the_position_of_the_users_next_item():
    assert score_lists(LOG, {0: ["q", "r", "b"], 1: ["y"], 2: ["c", "b"]}).rank == [3, 1, 1]


def test_ndcg_at_rank_three_is_one_over_log2_of_four():
    scores = score_lists(LOG, {0: ["q", "r", "b"], 1: ["q"], 2: ["q"]})
    assert scores.summary("fit", 1)["ndcg@10"] == pytest.approx(1 / math.log2(4))


def test_a_target_past_the_cutoff_is_a_miss():
    assert score_lists(LOG, {0: [f"f{i}" for i in range(10)] + ["b"], 1: ["y"], 2: ["c"]}, k=10).rank[0] == 0


def test_a_missing_list_is_counted_and_scored_as_a_miss():
    summary = score_lists(LOG, {0: ["b"], 2: ["c"]}).summary("full", 0)
    assert (summary["missing"], summary["hr@10"]) == (1, pytest.approx(2 / 3))


def test_the_test_part_holds_the_lists_from_the_boundary_on():
    assert score_lists(LOG, {0: ["b"], 1: ["q"], 2: ["c"]}).summary("test", 2) == \
        {"lists": 1, "missing": 0, "hr@10": 1.0, "ndcg@10": 1.0}


def test_an_empty_segment_scores_zero_lists():
    assert score_lists(LOG, {}).summary("test", 99)["lists"] == 0


def test_unknown_segment_is_refused():
    with pytest.raises(ValueError):
        Scores(10).mask("later", 0)


def test_ndcg_series_averages_lists_per_slice():
    scores = score_lists(LOG, {0: ["b"], 1: ["q"], 2: ["c"]})
    assert scores.ndcg_series(buckets=1)["ndcg"] == [pytest.approx(2 / 3)]
