"""Collaborative signals: co-occurrence cosine against a hand computation, decay, pruning, state round trip."""
import math
from dataclasses import replace

import pytest

from streams.core.signals import ItemSignals, SignalOptions

DAY = 86400.0


def test_cooccurrence_cosine_by_hand():
    s = ItemSignals(SignalOptions(half_life_days=1e6, position_decay=0.5, window=3))
    # user 1: a then b; user 2: a then c then b
    s.observe("a", [], 0.0)
    s.observe("b", ["a"], 1.0)
    s.observe("a", [], 2.0)
    s.observe("c", ["a"], 3.0)
    s.observe("b", ["c", "a"], 4.0)
    # co(a,b) = 1 (user 1, adjacent) + 0.5 (user 2, one step back); counts a=2, b=2
    assert s.similarity("a", "b") == pytest.approx(1.5 / math.sqrt(2 * 2), rel=1e-6)
    assert s.similarity("b", "a") == pytest.approx(s.similarity("a", "b"))
    assert s.similarity("b", "c") == pytest.approx(1.0 / math.sqrt(2 * 1), rel=1e-6)
    assert s.neighbours("a") == pytest.approx({"b": s.similarity("a", "b"), "c": s.similarity("a", "c")})
    assert s.similarity("a", "zzz") == 0.0


def test_transition_rows_are_directional_and_position_decayed():
    s = ItemSignals(SignalOptions(half_life_days=1e6, position_decay=0.5, window=3, forward=1.0, backward=0.25))
    s.observe("a", [], 0.0)
    s.observe("b", ["a"], 1.0)
    s.observe("c", ["b", "a"], 2.0)
    # a's row: b came right after it (1.0), c one step later (0.5); c's row: b and a came before it (× 0.25)
    assert s.similarity("a", "b") == pytest.approx(1.0)
    assert s.similarity("b", "a") == pytest.approx(0.25)
    assert s.similarity("a", "c") == pytest.approx(0.5)
    assert s.similarity("c", "a") == pytest.approx(0.125)
    assert s.similarity("b", "c") == pytest.approx(1.0) and s.similarity("c", "b") == pytest.approx(0.25)


def test_decay_is_shared_so_cosine_does_not_drift_with_time():
    s = ItemSignals(SignalOptions(half_life_days=1.0))
    s.observe("a", [], 0.0)
    s.observe("b", ["a"], 0.0)
    before = s.similarity("a", "b")
    s.observe("z", [], 3 * DAY)  # only the clock moves for a and b
    assert s.similarity("a", "b") == pytest.approx(before)
    assert s.popularity.get("a") == pytest.approx(0.125)


def test_trending_popularity_and_forget():
    s = ItemSignals(SignalOptions(popularity_floor=0.0))
    for i in range(5):
        s.observe("hot", [], float(i))
    s.observe("cold", ["hot"], 5.0)
    assert [i for i, _ in s.trending(2)] == ["hot", "cold"]
    assert s.popularity_score("hot") == pytest.approx(1.0)
    assert 0 < s.popularity_score("cold") < 1
    s.forget("hot")
    assert s.similarity("cold", "hot") == 0.0 and "hot" not in dict(s.trending(5))


def test_neighbours_are_pruned_to_the_strongest():
    s = ItemSignals(SignalOptions(max_neighbours=10, window=1))
    s.observe("hub", [], 0.0)
    for i in range(30):
        for _ in range(i + 1):  # neighbour n{i} co-occurs i+1 times
            s.observe(f"n{i}", ["hub"], 0.0)
    kept = s.neighbours("hub")
    assert len(kept) <= 10 and "n29" in kept and "n0" not in kept


def test_state_roundtrip():
    s = ItemSignals()
    s.observe("a", [], 0.0)
    s.observe("b", ["a"], 100.0)
    s.note_item("new", 50.0)
    r = ItemSignals.from_state(s.to_state())
    assert r.similarity("a", "b") == pytest.approx(s.similarity("a", "b"))
    assert r.first_seen == s.first_seen and r.popularity.get("b") == pytest.approx(s.popularity.get("b"))


def test_one_view_in_a_new_shop_is_not_peak_popularity():
    s = ItemSignals(SignalOptions(popularity_floor=20.0))
    s.observe("viewed-once", [], 0.0)
    assert s.popularity_score("viewed-once") == pytest.approx(math.log1p(1.0) / math.log1p(20.0))
    for i in range(40):  # past the floor, the busiest item is the reference again
        s.observe("busy", [], float(i))
    assert s.popularity_score("busy") == pytest.approx(1.0, abs=1e-6)
    assert s.popularity_scores(["viewed-once", "busy"]) == pytest.approx(
        [s.popularity_score("viewed-once"), s.popularity_score("busy")])


# ---- shop-wide signals: deltas → aggregator → published rows → every worker's view -------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from streams.core.signals import (  # noqa: E402
    DeltaCollector,
    PublishedRow,
    SignalAggregator,
    SignalRow,
    decode_deltas,
    encode_deltas,
)

INTERACTIONS = st.lists(st.tuples(st.sampled_from("uvw"), st.sampled_from("abcdefg"), st.floats(0, 2 * DAY)),
                        min_size=1, max_size=40)


def replay_both_ways(interactions, options, partitions=2):
    """The same in-order log learnt in place (one process) and through the distributed path (wire codecs included)."""
    local, shared = ItemSignals(options), ItemSignals(options)
    aggregator = SignalAggregator(options)
    history: dict[str, list[str]] = {}
    clock = 0.0
    for offset, (user, item, dt) in enumerate(interactions):
        clock += dt  # event times in order, as in a prequential replay
        previous = [i for i in reversed(history.get(user, [])) if i != item]
        previous = list(dict.fromkeys(previous))
        local.observe(item, previous, clock)
        collector = DeltaCollector(options)
        collector.observe(item, previous, clock, source=(hash(user) % partitions, offset))
        wire = [d for ds in collector.by_partition(lambda key: ord(key[0]) % partitions).values()
                for d in decode_deltas(encode_deltas(ds))]
        for row in aggregator.fold(wire):
            shared.apply_row(PublishedRow.from_bytes(row.to_bytes()))
        history.setdefault(user, []).append(item)
    return local, shared


@settings(max_examples=60, deadline=None)
@given(INTERACTIONS)
def test_the_distributed_path_learns_what_one_process_learns(interactions):
    options = SignalOptions(half_life_days=1.0, window=3)
    local, shared = replay_both_ways(interactions, options)
    items = "abcdefg"
    for a in items:
        assert shared.popularity.get(a) == pytest.approx(local.popularity.get(a), rel=1e-9, abs=1e-12)
        assert shared.first_seen.get(a) == local.first_seen.get(a)
        for b in items:
            assert shared.similarity(a, b) == pytest.approx(local.similarity(a, b), rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(INTERACTIONS)
def test_transition_rows_travel_through_the_aggregator_exactly(interactions):
    options = SignalOptions(half_life_days=1.0, window=3, forward=1.0, backward=0.5)
    local, shared = replay_both_ways(interactions, options)
    for a in "abcdefg":
        for b in "abcdefg":
            assert shared.similarity(a, b) == pytest.approx(local.similarity(a, b), rel=1e-9, abs=1e-12)


def test_a_redelivered_delta_is_folded_once():
    options = SignalOptions()
    collector = DeltaCollector(options)
    collector.observe("b", ["a"], 10.0, source=(3, 41))
    aggregator = SignalAggregator(options)
    first = aggregator.fold(collector.deltas)
    again = aggregator.fold(collector.deltas)  # the same event read again after a crash
    assert {r.item_id for r in first} == {"a", "b"} and again == []
    assert aggregator.rows["b"].popularity_raw == 1.0 and aggregator.rows["a"].neighbours_raw == {"b": 1.0}
    row = aggregator.rows["b"]
    assert SignalRow.from_bytes("b", row.to_bytes()) == row  # the table value restores exactly
    later = DeltaCollector(options)
    later.observe("b", [], 11.0, source=(3, 42))
    assert [r.item_id for r in aggregator.fold(later.deltas)] == ["b"]


@settings(max_examples=60, deadline=None)
@given(INTERACTIONS, st.randoms(use_true_random=False))
def test_rows_do_not_depend_on_the_order_deltas_arrive_in(interactions, rng):
    """Two workers, or a replay after a crash, fold the same deltas in another order: the rows are the same."""
    options = SignalOptions(half_life_days=1.0, window=3)
    collector = DeltaCollector(options)
    history: dict[str, list[str]] = {}
    for offset, (user, item, ts) in enumerate(interactions):  # event times in any order
        previous = list(dict.fromkeys(i for i in reversed(history.get(user, [])) if i != item))
        collector.observe(item, previous, ts, source=(0, offset))
        history.setdefault(user, []).append(item)
    shuffled = list(collector.deltas)
    rng.shuffle(shuffled)
    views = []
    for deltas in (collector.deltas, shuffled):
        aggregator = SignalAggregator(options)
        view = ItemSignals(options)
        for row in aggregator.fold([replace(d, source=None) for d in deltas]):
            view.apply_row(row)
        views.append(view)
    for a in "abcdefg":
        assert views[1].popularity.get(a) == pytest.approx(views[0].popularity.get(a), rel=1e-9, abs=1e-12)
        for b in "abcdefg":
            assert views[1].similarity(a, b) == pytest.approx(views[0].similarity(a, b), rel=1e-9, abs=1e-12)


def test_installed_rows_are_packed_and_behave_like_learned_ones():
    options = SignalOptions(half_life_days=1.0, window=3)
    local, shared = replay_both_ways([("u", "a", 1.0), ("u", "b", 1.0), ("v", "a", 1.0), ("v", "c", 1.0)], options)
    assert all(r.installed and r.pos is None for r in shared._rows.values())  # compact arrays, nothing learnt in place
    assert shared.neighbours("a") == pytest.approx(local.neighbours("a"))
    ids, sims = shared.neighbour_arrays("a")
    assert dict(zip(ids, sims)) == pytest.approx(local.neighbours("a"))
    assert ItemSignals.from_state(shared.to_state()).neighbours("a") == pytest.approx(local.neighbours("a"))
    # learning in place on top of an installed row, and forgetting an item, work on packed rows too
    for view in (local, shared):
        view.observe("a", ["b"], 3.0 + 4.0)
        view.forget("c")
    assert shared.neighbours("a") == pytest.approx(local.neighbours("a")) and "c" not in shared.neighbours("a")
    assert shared.neighbours("b") == pytest.approx(local.neighbours("b"))
