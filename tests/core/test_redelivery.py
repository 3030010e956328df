"""Each event changes a profile and the shop-wide signals once, whatever Kafka redelivers (the pure core)."""
from dataclasses import replace

import msgspec

from test_ranking import event, make_world

from streams.core.profiles import Profile
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


def test_a_user_with_more_events_than_the_id_window_redelivered_from_the_start_changes_nothing():
    world = make_world()
    recommender = Recommender(world, None, "m@1")
    profiles, aggregator = {}, SignalAggregator(world.signals.options)
    items = ["tent-a", "bag-a", "pan-a"]
    history = [replace(event("view", items[n % 3], float(n), eid=f"e{n}"), source=(1, 100 + n)) for n in range(300)]
    run(recommender, history, profiles, aggregator)
    before = profiles["u"].to_bytes()
    assert "e0" not in profiles["u"].applied_ids, "the first ids fell out of the id window"
    # expired group offsets reset to the earliest: the whole partition again
    outcomes, _, rows = run(recommender, history, profiles, aggregator)
    assert all(o.duplicate for o in outcomes) and rows == []
    assert profiles["u"].to_bytes() == before and profiles["u"].events == 300


def test_the_offset_marks_survive_the_row_and_older_rows_without_them_still_decode():
    world = make_world()
    recommender = Recommender(world, None, "m@1")
    profiles, aggregator = {}, SignalAggregator(world.signals.options)
    run(recommender, [replace(event("view", "tent-a", 0.0, eid="e1"), source=(3, 7))], profiles, aggregator)
    back = Profile.from_bytes(profiles["u"].to_bytes())
    assert back.offset_marks == {3: 7} and back.applied_entry("other", (3, 5)) is not None
    assert back.applied_entry("other", (3, 8)) is None and back.applied_entry("other", (2, 1)) is None
    old = msgspec.msgpack.encode(msgspec.msgpack.decode(profiles["u"].to_bytes())[:-2])  # a row written before marks
    assert Profile.from_bytes(old).offset_marks == {} and Profile.from_bytes(old).events == 1


def test_a_flood_of_unknown_item_ids_makes_no_signal_rows():
    world = make_world()
    recommender = Recommender(world, None, "m@1")
    profiles, aggregator = {}, SignalAggregator(world.signals.options)
    flood = [replace(event("view", f"ghost-{n}", float(n), eid=f"g{n}"), source=(0, n)) for n in range(500)]
    outcomes, deltas, rows = run(recommender, flood + [replace(event("view", "tent-a", 600.0, eid="t"), source=(0, 500))],
                                 profiles, aggregator)
    assert len(outcomes) == 501 and all(o.recommendation is not None for o in outcomes), "every event gets its list"
    assert {d.item_id for d in deltas} == {"tent-a"} and [r.item_id for r in rows] == ["tent-a"]
    assert len(profiles["u"].seen) == 501 and len(profiles["u"].seen) <= 1000, "the profile stays bounded by SEEN_LIMIT"
