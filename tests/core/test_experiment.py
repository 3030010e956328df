"""A/B arms: a deterministic split by hash, per-arm blends, lists marked with their arm, batches unchanged."""
from collections import Counter

import pytest

from streams.core.arms import ArmedRecommender
from streams.core.experiment import Experiment
from streams.core.recommender import Recommender
from streams.core.records import Event
from streams.core.signals import DeltaCollector, SignalOptions
from streams.errors import ImproperlyConfigured
from test_ranking import make_world

EXPERIMENT = Experiment.from_object({"name": "pop-test", "arms": [
    {"name": "control", "share": 1}, {"name": "popular", "share": 3, "weights": {"popularity": 5.0}, "blend": True}]})


def test_the_split_is_a_pure_function_of_the_name_and_the_user_and_follows_the_shares():
    users = [f"u{n}" for n in range(4000)]
    arms = [EXPERIMENT.arm_of(u).name for u in users]
    assert arms == [EXPERIMENT.arm_of(u).name for u in users], "the same shopper, the same arm"
    share = Counter(arms)["popular"] / len(users)
    assert 0.72 < share < 0.78
    renamed = Experiment("other-name", EXPERIMENT.arms)
    assert sum(a != renamed.arm_of(u).name for u, a in zip(users, arms)) > 1000, "a new name reshuffles"


@pytest.mark.parametrize("bad", [{"name": "x", "arms": [{"name": "a"}]}, {"arms": []},
                                 {"name": "x", "arms": [{"name": "a"}, {"name": "a"}]},
                                 {"name": "x", "arms": [{"name": "a"}, {"name": "b", "share": 0}]},
                                 {"name": "x", "arms": [{"name": "a"}, {"name": "b", "weights": {"colour": 1}}]}])
def test_a_malformed_experiment_is_a_configuration_error(bad):
    with pytest.raises(ImproperlyConfigured):
        Experiment.from_object(bad)


def test_each_list_comes_from_its_arm_in_event_order_with_signals_in_event_order():
    users = {arm: next(f"s{n}" for n in range(100) if EXPERIMENT.arm_of(f"s{n}").name == arm)
             for arm in ("control", "popular")}
    events = [Event(f"e{n}", users[arm], "view", float(n), item, source=(0, n))
              for n, (arm, item) in enumerate([("control", "tent-a"), ("popular", "bag-a"), ("control", "bag-b"),
                                               ("popular", "tent-b")])]
    world = make_world()
    base = Recommender(world, None, "m@1")
    armed, sink = ArmedRecommender(EXPERIMENT), DeltaCollector(SignalOptions())
    outcomes = armed.process(base, events, {}, signals=sink)
    assert [o.event.event_id for o in outcomes] == ["e0", "e1", "e2", "e3"]
    assert [o.recommendation.arm for o in outcomes] == ["control", "popular", "control", "popular"]
    message = outcomes[1].recommendation.to_message()
    assert message["arm"] == "popular" and message["model_version"] == "m@1/arm:popular"
    assert message["list_id"].startswith("l-") and message["list_id"] != outcomes[3].recommendation.to_message()["list_id"]
    assert [d.source for d in sink.deltas] == sorted(d.source for d in sink.deltas), "deltas in event order"

    control = Recommender(make_world(), None, "m@1").process([events[0]], {})[0]
    assert outcomes[0].recommendation.items == control.recommendation.items, "the control arm ranks as the base"
    assert armed.recommend(base, outcomes[1].profile).arm == "popular"


def test_an_impression_names_its_list_and_any_event_may_cite_one():
    from streams.core.records import event_from_object
    from streams.errors import InvalidMessage

    shown = event_from_object({"user_id": "u", "type": "impression", "from_list": "l-1", "ts": 1.0})
    assert (shown.type, shown.from_list, shown.item_id) == ("impression", "l-1", None)
    click = event_from_object({"user_id": "u", "type": "click", "item_id": "p1", "from_list": "l-1", "ts": 1.0})
    assert click.from_list == "l-1" and event_from_object(
        {"user_id": "u", "type": "click", "item_id": "p1", "ts": 1.0}).from_list is None
    for bad, reason in [({"user_id": "u", "type": "impression"}, "missing_from_list"),
                        ({"user_id": "u", "type": "view", "item_id": "p1", "from_list": ""}, "missing_from_list")]:
        with pytest.raises(InvalidMessage) as err:
            event_from_object(bad)
        assert err.value.reason == reason
