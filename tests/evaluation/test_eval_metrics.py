"""Evaluation metrics against hand-computed cases, the MovieLens loader, baselines and the blend fit."""
import math

import numpy as np
import pytest

from streams.core.ranking import FEATURES
from streams.errors import ImproperlyConfigured
from streams.evaluation import metrics
from streams.evaluation.baselines import ItemKNNBaseline, PopularityBaseline
from streams.evaluation.data import load_movielens, movie_item
from streams.evaluation.fit import FitOptions, PairSet, fit_weights

LIST = ["a", "b", "c", "d", "e"]


def ranks(lists_and_targets, k):
    return [metrics.rank_of(ranked, target, k) or 0 for ranked, target in lists_and_targets]


def test_rank_hit_rate_ndcg_and_reciprocal_rank_for_a_known_rank():
    assert metrics.rank_of(LIST, "c") == 3
    assert list(metrics.hits(ranks([(LIST, "c")], 3))) == [1.0]
    assert list(metrics.hits(ranks([(LIST, "c")], 2))) == [0.0]
    assert metrics.ndcg(ranks([(LIST, "a"), (LIST, "c"), (LIST, "b")], 5)) == pytest.approx(
        [1.0, 0.5, 1 / math.log2(3)])  # 1/log2(rank+1)
    assert metrics.reciprocal_rank(ranks([(LIST, "d")], 5)) == pytest.approx([0.25])
    assert list(metrics.reciprocal_rank(ranks([(LIST, "e")], 4))) == [0.0]  # beyond the cutoff


def test_absent_target_and_empty_lists_score_zero():
    for fn in (metrics.hits, metrics.ndcg, metrics.reciprocal_rank):
        assert list(fn(ranks([(LIST, "zzz"), ([], "a")], 10))) == [0.0, 0.0]
        assert len(fn([])) == 0
    assert metrics.rank_of([], "a") is None
    assert metrics.mean([]) == 0.0
    assert metrics.share([]) is None
    assert metrics.percentile([], 50) is None


def test_mean_over_lists_is_the_mrr():
    lists = [(["x", "t"], "t"), (["t"], "t"), (["x"], "t")]
    assert metrics.reciprocal_rank(ranks(lists, 10)).mean() == pytest.approx((0.5 + 1 + 0) / 3)


def test_coverage_counts_distinct_items_over_the_catalogue():
    assert metrics.coverage([["a", "b"], ["b", "c"], []], catalogue_size=10) == pytest.approx(0.3)
    assert metrics.coverage([], catalogue_size=10) == 0.0
    assert metrics.coverage([["a"]], catalogue_size=0) == 0.0


def test_percentile_interpolates_and_share_counts_true():
    assert metrics.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert metrics.percentile([5.0], 99) == 5.0
    assert metrics.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 100) == 11
    with pytest.raises(ValueError):
        metrics.percentile([1.0], 101)
    assert metrics.share([True, False, True, True]) == pytest.approx(0.75)


def test_history_cited_needs_an_item_the_user_touched():
    assert metrics.history_cited({"a", "q"}, ["q", "r"])
    assert not metrics.history_cited({"a"}, ["q", "r"])
    assert not metrics.history_cited(set(), ["q"])


def test_popularity_uses_only_the_past_and_excludes_seen():
    pop = PopularityBaseline(["1", "2", "3", "4"], k=2)
    assert pop.step("u", "1") == ["2", "3"]  # zeros tie: catalogue order, own item excluded
    pop.step("v", "3")
    pop.step("w", "3")
    assert pop.step("v", "2") == ["1", "4"]  # 3 is v's own; 1 has one count; 4 none
    assert pop.step("x", "4") == ["3", "1"]


def test_item_knn_scores_by_cosine_co_occurrence_over_the_whole_history():
    knn = ItemKNNBaseline(["a", "b", "c", "d"], k=3)
    knn.step("u1", "a")
    knn.step("u1", "b")  # co(a,b)=1
    knn.step("u2", "a")
    knn.step("u2", "c")  # co(a,c)=1; counts a=2, b=1, c=1
    scores = knn.scores([knn.space.position["a"]])
    assert scores[knn.space.position["b"]] == pytest.approx(1 / math.sqrt(2))
    assert scores[knn.space.position["c"]] == pytest.approx(1 / math.sqrt(2))
    assert scores[knn.space.position["d"]] == 0.0
    assert knn.step("u3", "b") == ["a", "c", "d"]  # a co-occurs with b; c, d do not


def test_movielens_loader_reads_recbole_files_in_time_order(tmp_path):
    (tmp_path / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "1\tToy Story\t1995\tAnimation Children's Comedy\n2\tHeat\t1995\tAction Crime Thriller\n")
    (tmp_path / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "7\t2\t5\t200\n7\t1\t3\t100\n8\t1\t4\t200\n")
    data = load_movielens(tmp_path)
    assert [(i.user_id, i.item_id, i.ts) for i in data.interactions] == [("7", "1", 100.0), ("7", "2", 200.0), ("8", "1", 200.0)]
    assert data.items[0].category == "Animation" and "1995" in data.items[0].text()
    assert data.interactions[1].to_event("graded").type == "add_to_cart"
    assert data.interactions[0].to_event("view").type == "view"
    assert len(data.head(1).interactions) == 1


def test_missing_data_dir_is_a_configuration_error(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="no MovieLens data in .* \\(expected ml-100k.inter\\)"):
        load_movielens(tmp_path)


def test_movie_item_without_genres_or_year():
    item = movie_item("9", "Unknown", "", "")
    assert item.category == "" and item.attributes == {}


def test_fit_learns_the_feature_that_separates_the_next_item():
    rng = np.random.default_rng(1)
    pairs = PairSet()
    for _ in range(300):
        rows = rng.random((6, len(FEATURES)))
        rows[0, 1] += 0.5  # the next item is always stronger on collab; the rest is noise
        pairs.add(rows)
    result = fit_weights(pairs, FitOptions(iterations=300))
    assert result.weights.collab == 1.0  # scaled so the largest is 1
    assert max(result.weights.content, result.weights.popularity, result.weights.category) < 0.3
    assert result.pair_accuracy > 0.8 and result.pairs == 1500


def test_fit_without_pairs_is_an_error():
    with pytest.raises(ImproperlyConfigured):
        fit_weights(PairSet())
