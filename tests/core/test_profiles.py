"""Profile maths: type weights, time decay, history bounds, serialisation."""
import numpy as np
import pytest

from streams.core.decay import DecayedCounts, decay_factor
from streams.core.profiles import HISTORY_LIMIT, Profile, apply_event
from streams.core.records import Event

DAY = 86400.0


def ev(etype, item=None, ts=0.0, query=None):
    return Event(event_id=f"{etype}-{item}-{ts}", user_id="u", type=etype, ts=ts, item_id=item, query=query)


def unit(i, dim=4):
    v = np.zeros(dim, dtype=np.float32)
    v[i] = 1.0
    return v


def test_vector_is_type_weighted_and_decayed_sum():
    p = Profile("u")
    apply_event(p, ev("view", "a", ts=0.0), unit(0), category="A", half_life=DAY)
    apply_event(p, ev("purchase", "b", ts=DAY), unit(1), category="B", half_life=DAY)
    # the view has halved after one half-life; purchase weighs 8, view 1
    np.testing.assert_allclose(p.vector, [0.5, 8.0, 0, 0], rtol=1e-6)
    assert p.categories == pytest.approx({"A": 0.5, "B": 8.0})
    assert p.touch_weights(DAY, DAY) == pytest.approx([0.5, 8.0])
    np.testing.assert_allclose(np.linalg.norm(p.query_vector()), 1.0, rtol=1e-6)
    assert p.seen == ["a", "b"] and p.events == 2


def test_purchase_outweighs_add_to_cart_outweighs_click_outweighs_view():
    weights = {}
    for i, etype in enumerate(["view", "click", "add_to_cart", "purchase"]):
        p = Profile("u")
        apply_event(p, ev(etype, "x"), unit(0), half_life=DAY)
        weights[etype] = float(p.vector[0])
    assert weights["purchase"] > weights["add_to_cart"] > weights["click"] > weights["view"] > 0


def test_out_of_order_event_is_not_decayed_backwards():
    p = Profile("u")
    apply_event(p, ev("view", "a", ts=10 * DAY), unit(0), half_life=DAY)
    apply_event(p, ev("view", "b", ts=DAY), unit(1), half_life=DAY)
    np.testing.assert_allclose(p.vector, [1, 1, 0, 0])
    assert p.updated_at == 10 * DAY


def test_unknown_item_counts_in_history_but_not_vector():
    p = Profile("u")
    apply_event(p, ev("view", "ghost"), None, half_life=DAY)
    assert p.is_cold and p.seen == ["ghost"] and p.history[0].weight == 0.0


def test_search_keeps_query_vector_and_history_is_bounded():
    p = Profile("u")
    apply_event(p, ev("search", query="red shoes"), unit(2), half_life=DAY)
    assert "red shoes" in p.query_vectors
    for i in range(HISTORY_LIMIT + 5):
        apply_event(p, ev("view", f"i{i}", ts=i), unit(i % 4), half_life=DAY)
    assert len(p.history) == HISTORY_LIMIT
    assert p.query_vectors == {}  # the search fell out of the history, its vector goes too
    assert p.seen[-1] == f"i{HISTORY_LIMIT + 4}"


def test_roundtrip_bytes_and_copy_independence():
    p = Profile("u")
    apply_event(p, ev("search", query="tent"), unit(1), half_life=DAY)
    apply_event(p, ev("click", "a", ts=5.0), unit(0), category="C", half_life=DAY)
    q = Profile.from_bytes(p.to_bytes())
    assert q.history == p.history and q.seen == p.seen and q.categories == p.categories
    np.testing.assert_array_equal(q.vector, p.vector)
    c = p.copy()
    apply_event(c, ev("view", "b", ts=6.0), unit(2), half_life=DAY)
    assert "b" not in p.seen and p.vector[2] == 0


def test_decayed_counts_lazy_scaling_matches_eager():
    counts = DecayedCounts(half_life_seconds=10.0)
    counts.add("a", 1.0, 0.0)
    counts.add("b", 1.0, 10.0)
    counts.add("a", 1.0, 20.0)
    assert counts.get("a") == pytest.approx(1.0 + decay_factor(20.0, 10.0))
    assert counts.get("b") == pytest.approx(0.5)
    assert [k for k, _ in counts.top(2)] == ["a", "b"]
    # far in the future the stored values are rebased instead of overflowing
    counts.add("c", 1.0, 10.0 * 2000)
    assert counts.get("c") == pytest.approx(1.0) and counts.get("a") == 0.0
    restored = DecayedCounts.from_state(counts.to_state())
    assert restored.get("c") == pytest.approx(1.0)
