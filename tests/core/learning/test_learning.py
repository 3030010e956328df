"""The learning core with real parts: torch training, a real FAISS index, a real LightGBM LambdaRank booster.

Tiny data, few steps: what is checked is behaviour (versions, publication, exact reasons), not quality;
quality is `streamrec eval`'s job (docs/results/evaluation.md).
"""
import lightgbm
import numpy as np
import pytest

from index import IndexOptions, build_index
from streams.core.catalogue import Catalogue, ItemMeta
from streams.core.explain import explain, integrity_violations
from streams.core.learning.adapter import Adapter
from streams.core.learning.features import LEARNED_FEATURES, LearnedFeature
from streams.core.learning.model import BoosterModel, LinearModel
from streams.core.learning.options import TrainerOptions
from streams.core.learning.pairs import Pair, pairs_from_deltas, pairs_of
from streams.core.learning.scorer import LearnedScorer
from streams.core.learning.space import TunedIndex
from streams.core.learning.training import AdapterTrainer, VectorTable
from streams.core.learning.trend import PopularityTrend
from streams.core.ranking import Ranker, RankingOptions, RankingWeights, ReasonCode
from streams.core.ranking.candidates import DEFAULT_FILTER
from streams.core.recommender import Recommender
from streams.core.records import Event
from streams.core.signals import DeltaCollector, ItemSignals, SignalOptions
from streams.errors import ImproperlyConfigured, InvalidMessage

DIM = 16
GROUPS = 4  # items of one group are what shoppers take together; their texts say nothing of it


def flat(dim=DIM):
    return build_index(IndexOptions(kind="flat"), dim)


def catalogue_vectors(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return [f"i{j}" for j in range(n)], x / np.linalg.norm(x, axis=1, keepdims=True)


def group_pairs(ids, rng, count):
    """Pairs of items of the same group (i mod GROUPS)."""
    out = []
    for _ in range(count):
        g = rng.integers(GROUPS)
        members = [i for n, i in enumerate(ids) if n % GROUPS == g]
        a, b = rng.choice(members, 2, replace=False)
        out.append(Pair(str(a), str(b), 1.0))
    return out


# ---- adapter and tuned index ------------------------------------------------------------------
def test_adapter_bytes_round_trip_and_bad_bytes_are_invalid_messages():
    rng = np.random.default_rng(1)
    adapter = Adapter(rng.normal(size=(DIM, DIM)).astype(np.float32), 3, "enc@1", 0.5, 100)
    back = Adapter.from_bytes(adapter.to_bytes())
    assert np.array_equal(back.weight, adapter.weight) and back.model_version == adapter.model_version
    assert back.model_version.startswith("enc@1+adapter-3@")
    for bad in (None, b"not json", b'{"format": "other"}', adapter.to_bytes().replace(b'"shape":[16,16]', b'"shape":[16,15]')):
        with pytest.raises(InvalidMessage):
            Adapter.from_bytes(bad)


def test_a_tuned_index_switches_to_a_version_only_with_every_item_in_it():
    ids, x = catalogue_vectors()
    base = flat()
    base.upsert(ids, x)
    tuned = TunedIndex(base, flat, Adapter.identity(DIM, "enc@1"))
    assert np.allclose(tuned.tuned(ids[:3]), x[:3], atol=1e-6)  # version 0 is the frozen space
    rng = np.random.default_rng(2)
    new = Adapter(rng.normal(size=(DIM, DIM)).astype(np.float32), 1, "enc@1")
    snapshot = tuned.snapshot()
    space = tuned.build(new, *snapshot)
    # items arrive and leave while the new version is built: the running version serves them meanwhile
    extra = rng.normal(size=(1, DIM)).astype(np.float32)
    extra /= np.linalg.norm(extra)
    tuned.upsert(["late"], extra)
    tuned.delete(["i0"])
    assert tuned.adapter.version == 0 and "late" in tuned.space.index
    tuned.install(space)
    assert tuned.adapter.version == 1 and tuned.model_version == new.model_version
    assert len(tuned.space.index) == len(base) == len(ids)  # 40 - i0 + late
    assert np.allclose(tuned.tuned(["late"]), new.embed(extra), atol=1e-6)
    assert "i0" not in tuned.space.index
    # frozen vectors for profiles, tuned search for a frozen-space query: W·q, normalised
    assert np.allclose(tuned.vectors(["i1"]), x[1:2])
    hits = tuned.search(x[1:2], 3)[0]
    assert hits[0].item_id == "i1"
    expected = new.embed(x[1:2]) @ new.embed(x[1:2]).T
    assert hits[0].score == pytest.approx(float(expected[0, 0]), abs=1e-5)


def searched_vectors(tuned):
    """Every vector of the searched space, by id."""
    ids = list(tuned.space.index.ids)
    return dict(zip(ids, tuned.space.index.vectors(ids)))


def test_the_searched_index_never_mixes_two_adapter_versions():
    ids, x = catalogue_vectors()
    base = flat()
    base.upsert(ids, x)
    rng = np.random.default_rng(9)
    old = Adapter(np.eye(DIM, dtype=np.float32) + 0.1 * rng.normal(size=(DIM, DIM)).astype(np.float32), 1, "enc@1")
    new = Adapter(np.eye(DIM, dtype=np.float32) + 0.1 * rng.normal(size=(DIM, DIM)).astype(np.float32), 2, "enc@1")
    tuned = TunedIndex(base, flat, old)
    frozen = dict(zip(ids, x))

    def of_version(adapter):
        got = searched_vectors(tuned)
        assert set(got) == set(base.ids)  # every item has a vector of the searched version
        return all(np.allclose(v, adapter.embed(frozen[i][None, :])[0], atol=1e-5) for i, v in got.items())

    assert of_version(old)
    space = tuned.build(new, *tuned.snapshot())
    # while the new version is built, items change: the searched index stays all-old, the new one catches up
    late = rng.normal(size=(3, DIM)).astype(np.float32)
    late /= np.linalg.norm(late, axis=1, keepdims=True)
    tuned.upsert(["late-0", "late-1", "i5"], late)
    frozen.update({"late-0": late[0], "late-1": late[1], "i5": late[2]})
    assert of_version(old) and tuned.model_version == old.model_version
    tuned.install(space)
    assert of_version(new) and tuned.model_version == new.model_version
    assert not np.allclose(old.embed(x[:1]), new.embed(x[:1]), atol=1e-3)  # the two versions differ
    # a list names the version its vectors came from, and a ranker reads one space per list
    recommender, _ = world(LearnedScorer(LinearModel({"content": 1.0})), adapter=new)
    assert recommender.ranker.index.model_version == new.model_version


def test_install_refuses_a_version_that_misses_items():
    ids, x = catalogue_vectors()
    base = flat()
    base.upsert(ids, x)
    tuned = TunedIndex(base, flat, Adapter.identity(DIM, "enc@1"))
    new = Adapter.identity(DIM, "enc@1")
    space = tuned.build(new, ids[:10], x[:10])  # built from a partial copy and no journal to catch up
    tuned._journal = None
    with pytest.raises(RuntimeError, match="holds 10 items"):
        tuned.install(space)
    assert tuned.adapter.version == 0


# ---- training -------------------------------------------------------------------------------
def trainer_for(ids, x, **options):
    table = VectorTable(DIM)
    table.put(ids, x)
    opts = TrainerOptions(batch_size=32, min_update_pairs=200, validation_every=5, validation_pairs=400,
                          device="cpu", **options)
    return AdapterTrainer(table, "enc@1", opts)


def test_training_on_co_interactions_publishes_versions_that_bring_pairs_together():
    ids, x = catalogue_vectors()
    rng = np.random.default_rng(3)
    trainer = trainer_for(ids, x, learning_rate=0.01)
    published = []
    for _ in range(4):
        trainer.add(group_pairs(ids, rng, 400))
        assert trainer.ready()
        result = trainer.update()
        assert result.steps > 0
        if result.published is not None:
            published.append(result.published)
            assert result.val_loss <= result.running_val_loss
    assert [a.version for a in published] == list(range(1, len(published) + 1)) and published
    adapter = published[-1]
    z = adapter.embed(x)
    same = np.mean([z[i] @ z[j] for i in range(40) for j in range(40) if i != j and i % GROUPS == j % GROUPS])
    other = np.mean([z[i] @ z[j] for i in range(40) for j in range(40) if i % GROUPS != j % GROUPS])
    assert same > other + 0.2  # the frozen vectors are random: only training can have done this
    assert trainer.pairs_seen == 1600


def test_training_lowers_the_contrastive_loss_of_held_out_co_interaction_pairs():
    ids, x = catalogue_vectors()
    rng = np.random.default_rng(8)
    trainer = trainer_for(ids, x, learning_rate=0.01)
    trainer.add(group_pairs(ids, rng, 400))
    first = trainer.update()
    frozen = first.running_val_loss  # the identity's loss on the held-out pairs (never trained on)
    for _ in range(2):
        trainer.add(group_pairs(ids, rng, 400))
        trainer.update()
    with trainer.lock:
        val = trainer.val
        held_out = (val.a[: len(val)].copy(), val.b[: len(val)].copy(), val.w[: len(val)].copy())
    import torch

    with torch.no_grad():
        x_t = trainer._vectors()
        identity = trainer.validation_loss(torch.eye(DIM), x_t, held_out)
        tuned = trainer.validation_loss(torch.tensor(trainer.running.weight), x_t, held_out)
    assert trainer.running.version >= 1
    assert tuned < 0.8 * identity and first.val_loss < frozen
    assert trainer.running.val_loss < frozen


def test_an_update_worse_than_the_running_adapter_is_not_published():
    ids, x = catalogue_vectors()
    rng = np.random.default_rng(4)
    trainer = trainer_for(ids, x, learning_rate=0.01)
    trainer.add(group_pairs(ids, rng, 400))
    good = trainer.update().published
    assert good is not None
    # a learning rate far too high wrecks the next update: its validation loss rises, so it is dropped
    trainer.options = TrainerOptions(**{**trainer.options.__dict__, "learning_rate": 50.0})
    trainer.optimizer = type(trainer.optimizer)([trainer.weight], lr=50.0)
    trainer.add(group_pairs(ids, rng, 400))
    result = trainer.update()
    assert result.val_loss > result.running_val_loss
    assert result.published is None
    assert trainer.running is good  # training goes on from the running weights
    assert np.allclose(trainer.weight.detach().numpy(), good.weight)


def test_pairs_come_once_per_interaction_from_the_deltas():
    collector = DeltaCollector(SignalOptions())
    collector.observe("x", ["a", "b", "a", "c"], 10.0)
    pairs = pairs_from_deltas(collector.deltas, min_weight=0.0)
    assert [(p.item_id, p.other) for p in pairs] == [("x", "a"), ("x", "b"), ("x", "c")]
    assert pairs == pairs_of("x", ["a", "b", "a", "c"], 0.85, 20, min_weight=0.0)
    assert [p.weight for p in pairs] == pytest.approx([1.0, 0.85, 0.85**3])


# ---- the learned ranker: exact contributions -----------------------------------------------
def world(scorer=None, adapter=None):
    ids, x = catalogue_vectors()
    base = flat()
    base.upsert(ids, x)
    index = TunedIndex(base, flat, adapter or Adapter.identity(DIM, "enc@1"))
    catalogue = Catalogue()
    for n, i in enumerate(ids):
        catalogue.put(ItemMeta(i, title=f"Item {n}", category=f"c{n % 3}"))
    signals = ItemSignals(ids=catalogue.ids)
    options = RankingOptions(k=5, half_life_seconds=7 * 86400.0, weights=RankingWeights())
    ranker = Ranker(index, catalogue, signals, options, scorer)
    return Recommender(ranker, None, "test", clock=lambda: 0.0), ids


def history(recommender, ids, rng, users=30, events=12):
    """Shoppers who stay within one group; the ranker's signals learn from them."""
    profiles = {}
    t = 1_000_000.0
    for u in range(users):
        g = u % GROUPS
        for e in range(events):
            t += 60
            item = str(rng.choice([i for n, i in enumerate(ids) if n % GROUPS == g]))
            [out] = recommender.process([Event(f"e{u}-{e}", f"u{u}", "view", t, item)], profiles)
            profiles[f"u{u}"] = out.profile
    return profiles


def trained_booster(recommender, profiles, ids, rng):
    """A real LambdaRank booster on rows of the learned features (next item = a same-group item)."""
    scorer = recommender.ranker.scorer
    rows, labels, groups = [], [], []
    for user, profile in profiles.items():
        g = int(user[1:]) % GROUPS
        positive = [i for n, i in enumerate(ids) if n % GROUPS == g][0]
        negatives = [str(i) for i in rng.choice([i for n, i in enumerate(ids) if n % GROUPS != g], 8, replace=False)]
        x = scorer.rows(recommender.ranker, profile, [positive] + negatives)
        rows.append(x)
        labels += [1] + [0] * len(negatives)
        groups.append(len(x))
    data = lightgbm.Dataset(np.concatenate(rows), np.array(labels, dtype=float), group=groups,
                            feature_name=list(LEARNED_FEATURES))
    params = {"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbosity": -1,
              "num_threads": 1, "deterministic": True, "force_row_wise": True}
    return BoosterModel(lightgbm.train(params, data, 20), "ranker:test@0")


@pytest.fixture(scope="module")
def learned():
    rng = np.random.default_rng(5)
    recommender, ids = world(LearnedScorer(LinearModel({"content": 1.0, "collab": 1.0}), PopularityTrend(30 * 86400.0)))
    profiles = history(recommender, ids, rng)
    booster = trained_booster(recommender, profiles, ids, rng)
    ranker = recommender.ranker
    recommender = recommender.with_ranker(ranker.with_scorer(ranker.scorer.with_model(booster)))
    return recommender, profiles, booster


def test_learned_reasons_add_up_to_the_score_which_is_the_boosters_output_minus_its_bias(learned):
    recommender, profiles, booster = learned
    checked = 0
    for profile in list(profiles.values())[:10]:
        rec = recommender.recommend(profile)
        assert len(rec.items) == 5
        x = np.array([item.features for item in rec.items])
        raw = booster.booster.predict(x, raw_score=True)
        for item, r in zip(rec.items, raw):
            assert sum(reason.weight for reason in item.reasons) == pytest.approx(item.score, abs=1e-9)
            assert item.score == pytest.approx(r - booster.bias, abs=1e-9)
            checked += 1
        assert not integrity_violations([r for i in rec.items for r in i.reasons], profile)
        assert all(explain(i.reasons) for i in rec.items)
    assert checked == 50
    # the bias is the model's expected output: TreeSHAP puts the same value in every row's last column
    contrib = booster.booster.predict(x, pred_contrib=True)
    assert np.allclose(contrib[:, -1], booster.bias)


def test_lightgbm_pred_contrib_per_feature_sums_to_the_published_score(learned):
    recommender, profiles, booster = learned
    profile = next(iter(profiles.values()))
    ranker = recommender.ranker
    pool = ranker.scorer.candidates(ranker, profile, [], 5, DEFAULT_FILTER)
    x = ranker.scorer.rows(ranker, profile, pool)
    contrib = booster.booster.predict(x, pred_contrib=True)  # TreeSHAP: one column per feature, then the bias
    assert contrib.shape == (len(pool), len(LEARNED_FEATURES) + 1)
    assert np.allclose(contrib.sum(axis=1), booster.booster.predict(x, raw_score=True), atol=1e-9)
    phi = booster.contributions(x)
    assert np.allclose(phi, contrib[:, :-1]) and np.allclose(phi.sum(axis=1), booster.scores(x), atol=1e-9)
    assert np.abs(phi).sum() > 0  # the model uses its features: the check is not 0 == 0


def test_the_content_reason_names_the_users_item_the_tuned_similarity_points_at():
    rng = np.random.default_rng(6)
    ids, x = catalogue_vectors()
    trainer = trainer_for(ids, x, learning_rate=0.01)
    for _ in range(3):
        trainer.add(group_pairs(ids, rng, 400))
        trainer.update()
    recommender, _ = world(LearnedScorer(LinearModel({"content": 1.0})), adapter=trainer.running)
    profiles = history(recommender, ids, rng, users=4, events=6)
    profile = profiles["u1"]
    rec = recommender.recommend(profile)
    tuned = recommender.ranker.index
    touched = [t.item_id for t in profile.history]
    for item in rec.items:
        assert sum(r.weight for r in item.reasons) == pytest.approx(item.score, abs=1e-9)
        top = max((r for r in item.reasons if r.code == ReasonCode.SIMILAR_TO_ITEM), key=lambda r: r.weight)
        # the strongest content reason is the touched item with the largest tuned content part
        a = tuned.adapter
        cand = tuned.tuned([item.item_id])[0]
        parts = {i: float(cand @ a.project(tuned.vectors([i]))[0]) * sum(
            w for t, w in zip(profile.history, profile.touch_weights(profile.updated_at, 7 * 86400.0)) if t.item_id == i)
            for i in set(touched)}
        assert top.evidence["item_id"] == max(parts, key=lambda i: abs(parts[i]))


def test_a_linear_model_over_learned_features_is_the_blend_and_its_reasons_add_up():
    rng = np.random.default_rng(7)
    recommender, ids = world(LearnedScorer(LinearModel({"content": 1.0, "collab": 1.0, "popularity": 0.15})))
    profiles = history(recommender, ids, rng, users=8)
    for profile in profiles.values():
        for item in recommender.recommend(profile).items:
            f = item.features
            assert item.score == pytest.approx(f[LearnedFeature.CONTENT] + f[LearnedFeature.COLLAB]
                                               + 0.15 * f[LearnedFeature.POPULARITY], abs=1e-9)
            assert sum(r.weight for r in item.reasons) == pytest.approx(item.score, abs=1e-9)


def test_a_model_file_that_is_not_a_ranker_is_one_readable_error(tmp_path, learned):
    _, _, booster = learned
    good = tmp_path / "ranker.txt"
    booster.save(good)
    loaded = BoosterModel.load(good)
    assert loaded.label.startswith("ranker:ranker@") and loaded.bias == pytest.approx(booster.bias)
    bad = tmp_path / "weights.json"
    bad.write_text('{"weights": {"content": 1}}')
    with pytest.raises(ImproperlyConfigured, match="is not a LightGBM ranker model"):
        BoosterModel.load(bad)
    with pytest.raises(ImproperlyConfigured, match="cannot read the ranker model"):
        BoosterModel.load(tmp_path / "missing.txt")
    other = lightgbm.train({"objective": "regression", "verbosity": -1, "num_threads": 1},
                           lightgbm.Dataset(np.random.default_rng(0).normal(size=(50, 2)), np.arange(50.0),
                                            feature_name=["price", "stock"]), 2)
    with pytest.raises(ImproperlyConfigured, match="not streamrec's"):
        BoosterModel(other)


def test_the_trend_reads_interest_picking_up():
    trend = PopularityTrend(30 * 86400.0)
    popularity = ItemSignals().popularity
    day = 86400.0
    for t in range(20):  # "old": steady, one a day for 20 days; "new": ten in the last hour
        popularity.add("old", 1.0, t * day)
        trend.note("old", popularity.get("old"), t * day)
    for m in range(10):
        popularity.add("new", 1.0, 19 * day + m * 60)
        trend.note("new", popularity.get("new"), 19 * day + m * 60)
    old, new = trend.scores(["old", "new"], popularity)
    assert new > old


# ---- the windowed item-kNN baselines of the evaluation table --------------------------------
def test_a_windowed_item_knn_counts_only_close_pairs_and_keeps_the_strongest_neighbours():
    from streams.evaluation.knn import KNNOptions, WindowedItemKNN

    knn = WindowedItemKNN("w", ["a", "b", "c", "d"], k=2, options=KNNOptions(window=1, neighbours=1, last=1))
    for item in ("a", "b", "c"):
        knn.step("u", item)
    for item in ("b", "c"):
        knn.step("w", item)
    pos = {i: n for n, i in enumerate(knn.space.item_ids)}
    assert knn.co[pos["a"], pos["c"]] == 0  # two apart: outside a window of 1
    assert knn.co[pos["b"], pos["c"]] == 2 and knn.co[pos["a"], pos["b"]] == 1
    scores = knn.scores([pos["b"]])
    assert scores[pos["c"]] == pytest.approx(1.0) and scores[pos["a"]] == 0  # one neighbour kept: the strongest
    assert knn.step("v", "b")[0] == "c"


def test_the_ranker_fit_learns_from_shuffled_groups_and_early_stopping_keeps_a_real_model():
    from streams.evaluation.learning import RankerFitOptions, RankerGroups, fit_ranker

    rng = np.random.default_rng(10)
    groups = RankerGroups()
    for _ in range(200):  # the next item (first row) has the stronger collab; the rest is noise
        x = rng.normal(size=(12, len(LEARNED_FEATURES)))
        x[0, LearnedFeature.COLLAB] += 2.0
        groups.add(x)
    fit = fit_ranker(groups, RankerFitOptions(trees=40, min_data_in_leaf=20, early_stopping=10, threads=1))
    # groups come with the positive first; the fit shuffles them, so early stopping judges a real ranking
    assert fit.trees > 1 and fit.valid_ndcg is not None
    held_out = [rng.normal(size=(12, len(LEARNED_FEATURES))) for _ in range(50)]
    for x in held_out:
        x[0, LearnedFeature.COLLAB] += 2.0
    top = [int(np.argmax(fit.model.scores(x))) == 0 for x in held_out]
    assert np.mean(top) > 0.6
