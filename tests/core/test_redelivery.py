"""Each event changes a profile and the shop-wide signals once, whatever Kafka redelivers (the pure core)."""
from dataclasses import replace

from test_ranking import event, make_world

from streams.core.recommender import Recommender
from streams.core.signals import DeltaCollector, SignalAggregator


def run(recommender, events, profiles, aggregator):
    collector = DeltaCollector(recommender.ranker.signals.options)
    outcomes = recommender.process(events, profiles, signals=collector)
    for outcome in outcomes:
        profiles[outcome.profile.user_id] = outcome.profile
    return outcomes, collector.deltas, aggregator.fold(collector.deltas)


def test_a_redelivered_event_changes_nothing_but_gets_its_list_and_resends_its_deltas():
    world = make_world()
    recommender = Recommender(world, None, "m@1")
    profiles, aggregator = {}, SignalAggregator(world.signals.options)
    first = [replace(event("view", "tent-a", 0.0, eid="e1"), source=(2, 10)),
             replace(event("view", "bag-a", 5.0, eid="e2"), source=(2, 11))]
    outcomes, deltas, rows = run(recommender, first, profiles, aggregator)
    assert not any(o.duplicate for o in outcomes) and profiles["u"].events == 2
    assert {r.item_id for r in rows} == {"tent-a", "bag-a"}
    tent_row = dict(aggregator.rows["tent-a"].neighbours_raw)
    # the crash came before the offsets were committed: the same two messages again, then a new one
    again = first + [replace(event("click", "pan-a", 9.0, eid="e3"), source=(2, 12))]
    outcomes, deltas_again, rows = run(recommender, again, profiles, aggregator)
    assert [o.duplicate for o in outcomes] == [True, True, False]
    assert all(o.recommendation.items for o in outcomes), "a duplicate still gets its list"
    assert profiles["u"].events == 3 and [a.event_id for a in profiles["u"].applied] == ["e1", "e2", "e3"]
    assert deltas_again[: len(deltas)] == deltas, "the redelivered events resend the same deltas, in order"
    assert aggregator.rows["bag-a"].popularity_raw == 1.0 and aggregator.rows["tent-a"].popularity_raw == 1.0
    assert aggregator.rows["tent-a"].neighbours_raw["bag-a"] == tent_row["bag-a"], "folded once"


def test_a_producer_retry_is_a_duplicate_that_sends_nothing():
    world = make_world()
    recommender = Recommender(world, None, "m@1")
    profiles, aggregator = {}, SignalAggregator(world.signals.options)
    view = event("view", "tent-a", 0.0, eid="e1")
    run(recommender, [replace(view, source=(0, 3))], profiles, aggregator)
    before = profiles["u"].to_bytes()
    outcomes, deltas, _ = run(recommender, [replace(view, source=(0, 4))], profiles, aggregator)  # sent twice
    assert outcomes[0].duplicate and deltas == [] and profiles["u"].to_bytes() == before
