"""Ranking and explanations on a real exact FAISS index with hand-made vectors: reasons are the score."""
from dataclasses import replace

import numpy as np
import pytest

from index import IndexOptions, build_index
from streams.core.catalogue import Catalogue, ItemMeta
from streams.core.explain import explain, integrity_violations
from streams.core.profiles import Profile, apply_event
from streams.core.ranking import FEATURES, Ranker, RankingOptions, RankingWeights
from streams.core.recommender import Recommender
from streams.core.records import Event
from streams.core.signals import DeltaCollector, ItemSignals, SignalOptions

DIM = 8
DAY = 86400.0


def vec(*pairs):
    v = np.zeros(DIM, dtype=np.float32)
    for i, x in pairs:
        v[i] = x
    return v / np.linalg.norm(v)


# id → (vector, category, in stock)
ITEMS = {
    "tent-a": (vec((0, 1.0)), "Tents", True),
    "tent-b": (vec((0, 1.0), (1, 0.2)), "Tents", True),
    "tent-c": (vec((0, 1.0), (1, 0.25)), "Tents", True),
    "tent-sold-out": (vec((0, 1.0), (1, 0.1)), "Tents", False),
    "bag-a": (vec((2, 1.0)), "Sleeping Bags", True),
    "bag-b": (vec((2, 1.0), (0, 0.3)), "Sleeping Bags", True),
    "pan-a": (vec((5, 1.0)), "Cookware", True),
    "pan-b": (vec((5, 1.0), (6, 0.2)), "Cookware", True),
}


def make_world():
    index = build_index(IndexOptions(kind="flat"), DIM)
    ids = list(ITEMS)
    index.upsert(ids, np.stack([ITEMS[i][0] for i in ids]))
    catalogue = Catalogue()
    for i, (_, cat, stock) in ITEMS.items():
        catalogue.put(ItemMeta(i, title=i.replace("-", " ").title(), category=cat, in_stock=stock))
    signals = ItemSignals(ids=catalogue.ids)
    options = RankingOptions(k=4, mmr_lambda=1.0, half_life_seconds=DAY, weights=RankingWeights(content=1.0, collab=0.5, popularity=0.1, category=0.1, freshness=0.0))
    return Ranker(index, catalogue, signals, options)


@pytest.fixture
def world():
    return make_world()


def event(etype, item=None, ts=0.0, user="u", query=None, eid=None):
    return Event(eid or f"{user}-{etype}-{item}-{ts}", user, etype, ts, item, query)


def profile_of(ranker, *events):
    p = Profile("u")
    for e in events:
        apply_event(p, e, ranker.index.vectors([e.item_id])[0], category=ranker.catalogue.category(e.item_id), half_life=DAY)
    return p


def test_reasons_sum_to_score_and_content_splits_per_interaction(world):
    p = profile_of(world, event("view", "tent-a", 0.0), event("purchase", "bag-a", 3600.0))
    hits = world.index.search(p.query_vector()[None, :], 10)[0]
    ranked = world.rank(p, hits)
    assert ranked, "a profile with history gets a list"
    for item in ranked:
        assert sum(r.weight for r in item.reasons) == pytest.approx(item.score, abs=1e-6)
    # the content score of a candidate is Σ_j a_j (c·u_j) / ||p||, one reason per history item
    top = ranked[0]
    c = world.index.vectors([top.item_id])[0]
    a = p.touch_weights(p.updated_at, DAY)
    expected = {item_id: a_j * float(c @ world.index.vectors([item_id])[0]) / np.linalg.norm(p.vector)
                for item_id, a_j in zip(["tent-a", "bag-a"], a)}
    got = {r.evidence["item_id"]: r.weight for r in top.reasons if r.code == "similar_to_item"}
    for item_id, weight in got.items():
        assert weight == pytest.approx(expected[item_id], rel=1e-5)


def test_filters_seen_out_of_stock_and_deleted(world):
    p = profile_of(world, event("view", "tent-a"))
    world.index.delete(["tent-c"])
    world.catalogue.remove("tent-c")
    ids = [i.item_id for i in world.rank(p, world.index.search(p.query_vector()[None, :], 10)[0])]
    assert "tent-a" not in ids and "tent-sold-out" not in ids and "tent-c" not in ids
    assert ids[0] == "tent-b"
    keep_seen = Ranker(world.index, world.catalogue, world.signals, replace(world.options, exclude_seen=False))
    assert "tent-a" in [i.item_id for i in keep_seen.rank(p, world.index.search(p.query_vector()[None, :], 10)[0])]


def test_collaborative_reason_names_the_item_the_user_touched(world):
    # other shoppers went pan-a → bag-b; our user views pan-a
    for user in ("x", "y", "z"):
        world.signals.observe("pan-a", [], 0.0)
        world.signals.observe("bag-b", ["pan-a"], 1.0)
    p = profile_of(world, event("view", "pan-a", 2.0))
    world.signals.observe("pan-a", [], 2.0)
    ranked = world.rank(p, world.index.search(p.query_vector()[None, :], 10)[0])
    bag = next(i for i in ranked if i.item_id == "bag-b")
    co = [r for r in bag.reasons if r.code == "co_interacted"]
    assert co and co[0].evidence["item_id"] == "pan-a" and co[0].evidence["title"] == "Pan A"
    text = explain(bag.reasons)
    assert "Pan A" in text
    assert integrity_violations(bag.reasons, p) == set()


def test_mmr_trades_a_near_duplicate_for_diversity(world):
    p = profile_of(world, event("purchase", "tent-a"), event("view", "bag-a"))
    hits = world.index.search(p.query_vector()[None, :], 10)[0]
    plain = [i.item_id for i in world.rank(p, hits)]
    diverse_ranker = Ranker(world.index, world.catalogue, world.signals, replace(world.options, mmr_lambda=0.3))
    diverse = [i.item_id for i in diverse_ranker.rank(p, hits)]
    assert plain[:2] == ["tent-b", "tent-c"]  # two near-identical tents lead on relevance alone
    assert diverse[0] == "tent-b" and diverse[1] != "tent-c"


def test_feature_matrix_matches_ranked_features(world):
    p = profile_of(world, event("click", "bag-a"))
    ranked = world.rank(p, world.index.search(p.query_vector()[None, :], 10)[0])
    m = world.feature_matrix(p, [i.item_id for i in ranked])
    assert m.shape == (len(ranked), len(FEATURES))
    np.testing.assert_allclose(m, [i.features for i in ranked])


def test_batch_of_one_users_events_gives_one_list_per_event_in_order(world):
    rec = Recommender(world, encoder=None, model_version="test@0")
    events = [event("view", "tent-a", 1.0, eid="e1"), event("view", "tent-b", 2.0, eid="e2"), event("view", "x-unknown", 3.0, eid="e3")]
    outcomes = rec.process(events, {})
    assert [o.recommendation.trigger_event_id for o in outcomes] == ["e1", "e2", "e3"]
    first, second = outcomes[0].recommendation.item_ids, outcomes[1].recommendation.item_ids
    assert "tent-b" in first and "tent-b" not in second  # each list reflects its event and nothing later
    assert outcomes[-1].profile.seen == ["tent-a", "tent-b", "x-unknown"]
    assert all(not o.violations for o in outcomes)


def test_cold_user_gets_trending_with_reason(world):
    for i in range(3):
        world.signals.observe("pan-b", [], float(i))
    rec = Recommender(world, encoder=None, model_version="test@0").recommend(Profile("new-user"))
    assert rec.cold_start and rec.item_ids[0] == "pan-b"
    assert rec.items[0].reasons[0].code == "trending"
    assert "Trending in Cookware" in rec.explanations[0]


def test_one_micro_batch_equals_one_event_at_a_time():
    """The batch ranker is an optimisation only: on the same shop-wide signals, ranking a micro-batch at once
    publishes the lists and reasons that ranking its events one by one publishes."""
    events = [event("view", "tent-a", 1.0, "u1", eid="1"), event("view", "bag-a", 2.0, "u2", eid="2"),
              event("click", "bag-b", 3.0, "u1", eid="3"), event("view", "tent-a", 4.0, "u2", eid="4"),
              event("purchase", "pan-a", 5.0, "u1", eid="5"), event("search", None, 6.0, "u2", eid="6")]

    def world_with_signals():
        world = make_world()
        for n, (item, previous) in enumerate([("pan-a", []), ("bag-b", ["pan-a"]), ("tent-b", ["bag-b", "pan-a"]),
                                              ("pan-b", ["tent-a"])]):
            world.signals.observe(item, previous, float(n))
        return world

    frozen = DeltaCollector(SignalOptions())  # the view does not learn: both paths see the same signals
    batched = Recommender(world_with_signals(), None, "m").process(events, {}, signals=frozen)
    single = Recommender(world_with_signals(), None, "m")
    profiles, one_by_one = {}, []
    for e in events:
        (outcome,) = single.process([e], profiles, signals=frozen)
        profiles[e.user_id] = outcome.profile
        one_by_one.append(outcome)
    for a, b in zip(batched, one_by_one):
        assert a.recommendation.to_message()["items"] == b.recommendation.to_message()["items"]


def test_a_list_reflects_its_own_event_and_no_later_one_while_signals_learn_after_the_batch(world):
    rec = Recommender(world, encoder=None, model_version="test@0")
    before = world.signals.popularity.get("tent-b")
    outcomes = rec.process([event("view", "tent-a", 1.0, eid="a"), event("view", "tent-b", 2.0, eid="b")], {})
    assert "tent-b" in outcomes[0].recommendation.item_ids and "tent-b" not in outcomes[1].recommendation.item_ids
    assert before == 0.0 and world.signals.popularity.get("tent-b") == 1.0  # learnt once the batch is ranked


def test_the_wire_message_holds_plain_json_types(world):
    """orjson (and Faust's web.json, which uses it when installed) refuse numpy scalars: none may leak out."""
    import orjson

    p = profile_of(world, event("view", "tent-a", 0.0), event("purchase", "bag-a", 3600.0))
    world.signals.observe("bag-b", ["tent-a"], 1.0)
    rec = Recommender(world, None, "m@1").recommend(p)
    assert rec.items
    orjson.loads(orjson.dumps(rec.to_message()))
