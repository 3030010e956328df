"""DecayedCounts' cached top-k/max against a full sort of every value, under adds, deletes and ties."""
from __future__ import annotations

import random

import pytest

from streams.core.decay import DecayedCounts


def full_sort_top(counts: DecayedCounts, n: int, exclude=()) -> list[tuple[str, float]]:
    skip = set(exclude)
    scale = counts._scale()
    ranked = sorted(counts._values.items(), key=lambda kv: kv[1], reverse=True)  # stable: ties by insertion
    return [(k, v / scale) for k, v in ranked if k not in skip][:n]


@pytest.mark.parametrize("seed", range(12))
def test_cached_top_and_max_equal_a_full_sort(seed, monkeypatch):
    rng = random.Random(seed)
    monkeypatch.setattr(DecayedCounts, "_MIN_LEADERS", rng.choice([2, 4, 8, 256]))
    counts = DecayedCounts(half_life_seconds=100.0)
    ts = 0.0
    keys = rng.choice([5, 50, 500])
    for step in range(2000):
        key = f"item-{rng.randrange(keys)}"
        if rng.random() < 0.05:
            counts.discard(key)
        else:
            ts += rng.choice([0, 0, 1, 5])
            counts.add(key, rng.choice([1, 1, 2, 4, 8]), ts)  # small integer weights: many exact ties
        if step % 5 == 0:
            n = rng.choice([1, 3, 10, 40])
            exclude = [f"item-{rng.randrange(50)}" for _ in range(rng.choice([0, 3]))]
            assert counts.top(n, exclude) == full_sort_top(counts, n, exclude)
            assert counts.max() == max(counts._values.values(), default=0.0) / counts._scale()


def test_top_survives_a_rebase_and_a_snapshot():
    counts = DecayedCounts(half_life_seconds=1.0)
    for n in range(10):
        counts.add(f"item-{n}", n + 1, ts=float(n))
    counts.add("item-0", 1.0, ts=700.0)  # past the rebase point: everything else decays to ~0
    assert counts.top(1)[0][0] == "item-0"
    restored = DecayedCounts.from_state(counts.to_state())
    assert restored.top(3) == full_sort_top(restored, 3)
