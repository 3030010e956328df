"""Buy again: which event types exclude an item is a setting per type, and items bought before come back with the
repurchase feature and a reason that quotes the shopper's own cadence (a real exact FAISS index)."""
from dataclasses import replace

import numpy as np
import pytest
from test_ranking import DAY, event, make_world, profile_of

from streams.core.explain import explain
from streams.core.profiles import Profile, apply_event
from streams.core.ranking import Ranker, RankingWeights
from streams.core.ranking.basis import capture
from streams.core.ranking.features import repurchase_column
from streams.core.records import Event


def with_options(ranker, **changes):
    return Ranker(ranker.index, ranker.catalogue, ranker.signals, replace(ranker.options, **changes))


def orders(*rows):
    """(type, item, day) rows as events."""
    return [event(kind, item, day * DAY) for kind, item, day in rows]


@pytest.fixture
def shop():
    return make_world()


def test_profiles_remember_each_items_types_count_and_times_through_the_table(shop):
    p = profile_of(shop, *orders(("purchase", "pan-a", 0), ("view", "pan-a", 7), ("purchase", "pan-a", 21)))
    assert p.marks["pan-a"] == ("purchase|view", 3, 0.0, 21 * DAY)
    back = Profile.from_bytes(p.to_bytes())
    assert back.marks == p.marks and back.seen == p.seen
    assert back.to_dict()["seen_marks"]["pan-a"]["types"] == ["purchase", "view"]


def test_only_the_excluding_types_keep_an_item_out(shop):
    p = profile_of(shop, *orders(("purchase", "pan-a", 0), ("view", "tent-a", 1), ("purchase", "bag-a", 2),
                                  ("view", "bag-a", 3)))
    ids = shop.ids
    everything = capture(p, ids, True, shop.options)
    assert set(ids.name_of(everything.seen.tolist())) == {"pan-a", "tent-a", "bag-a"}, "the default: every type"
    views = capture(p, ids, True, replace(shop.options, exclude_types=("view",)))
    assert set(ids.name_of(views.seen.tolist())) == {"tent-a", "bag-a"}, "viewed at all: out"
    assert ids.name_of(views.rebuy.top.tolist()) == ["pan-a"]
    assert not len(capture(p, ids, False, shop.options).seen), "exclude_seen off: nothing out, as before"
    old = Profile.from_bytes(p.to_bytes())
    old.marks = {}  # a row of an earlier version: no types known
    assert len(capture(old, ids, True, replace(shop.options, exclude_types=("view",))).seen) == 3


def test_the_repurchase_feature_peaks_when_an_item_is_due_by_the_users_own_cadence(shop):
    p = profile_of(shop, *orders(("purchase", "pan-a", 0), ("purchase", "pan-a", 21), ("purchase", "pan-a", 42),
                                  ("purchase", "bag-a", 40)))
    rebuy = capture(p, shop.ids, True, replace(shop.options, exclude_types=())).rebuy
    dense = shop.ids.lookup(["pan-a", "bag-a", "tent-a"])
    due = repurchase_column(dense, rebuy, 63 * DAY)  # three weeks after the last pan: due
    early = repurchase_column(dense, rebuy, 43 * DAY)
    assert due[0] == pytest.approx(3 / 5) and early[0] < due[0]
    assert due[1] == pytest.approx(1 / 3 * 0.6), "bought once: no cadence yet"
    assert due[2] == 0.0, "never bought: no buy-again value"


def test_bought_items_come_back_with_a_buy_again_reason_that_adds_up(shop):
    ranker = with_options(shop, exclude_types=("view", "click"),
                          weights=RankingWeights(content=1.0, collab=0.5, popularity=0.1, category=0.1, freshness=0.0,
                                                 repurchase=2.0))
    p = profile_of(ranker, *orders(("purchase", "pan-a", 0), ("purchase", "pan-a", 21), ("view", "tent-a", 41),
                                    ("purchase", "pan-a", 42)))
    apply_event(p, Event("late", "u", "view", 63 * DAY, "bag-b"), ranker.index.vectors(["bag-b"])[0],
                category="Sleeping Bags", half_life=DAY)
    items = ranker.rank(p, k=4)
    listed = [i.item_id for i in items]
    assert "pan-a" in listed and "tent-a" not in listed and "bag-b" not in listed
    pan = items[listed.index("pan-a")]
    again = [r for r in pan.reasons if r["code"] == "buy_again"]
    assert again and again[0]["times"] == 3 and again[0]["every_days"] == 21.0
    assert sum(r.weight for r in pan.reasons) == pytest.approx(pan.score)
    assert explain(again) == "You order this about every 3 weeks."
    assert np.isclose(pan.features[-1] * 2.0, again[0].weight)
