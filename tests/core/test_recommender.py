"""The Recommender over a small world: page filters shape the list, history events change state without a list."""
from dataclasses import replace

from test_ranking import event, make_world

from streams.core.ranking import ListFilter
from streams.core.recommender import Recommender


def test_filters_shape_the_list():
    world = make_world()
    rec = Recommender(world, encoder=None, model_version="m")
    (outcome,) = rec.process([event("view", "tent-a", 1.0)], {})
    profile = outcome.profile
    default = rec.recommend(profile, 4).item_ids
    assert "tent-sold-out" not in default and "tent-a" not in default
    only_bags = rec.recommend(profile, 4, ListFilter(category="Sleeping Bags")).item_ids
    assert set(only_bags) == {"bag-a", "bag-b"}  # filled from the category even beyond the candidate pool
    assert "tent-b" not in rec.recommend(profile, 4, ListFilter(exclude=frozenset({"tent-b"}))).item_ids
    with_sold_out = rec.recommend(profile, 8, ListFilter(category="Tents", in_stock_only=False)).item_ids
    assert "tent-sold-out" in with_sold_out and "tent-a" not in with_sold_out  # seen stays excluded


def test_history_events_change_state_but_get_no_list():
    world = make_world()
    rec = Recommender(world, encoder=None, model_version="m")
    history = [replace(event("view", "tent-a", 1.0, eid="h1"), backfill=True),
               replace(event("view", "bag-a", 2.0, eid="h2"), backfill=True)]
    outcomes = rec.process(history + [event("view", "pan-a", 3.0, eid="live")], {})
    assert [o.recommendation is None for o in outcomes] == [True, True, False]
    assert outcomes[-1].profile.seen == ["tent-a", "bag-a", "pan-a"]
    assert world.signals.popularity.get("tent-a") > 0  # signals learned from history too
