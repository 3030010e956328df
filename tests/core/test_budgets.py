"""Byte budgets at their limits: a profile row sheds its oldest memory to fit, delta messages split to fit."""
from __future__ import annotations

import numpy as np
import pytest

from streams.core.budgets import OverBudget, fit_profile, split_within
from streams.core.profiles import STORED_QUERY_CHARS, Profile, apply_event
from streams.core.records import Event
from streams.core.signals import SignalDelta, decode_deltas, encode_deltas
from streams.settings import Settings


def heavy_profile() -> Profile:
    """A shopper at every per-field limit: 50 searches of 10,000 characters, 1,000 seen ids of 256 characters."""
    profile = Profile("u" * 256)
    rng = np.random.default_rng(0)
    for n in range(1000):
        item = f"{n:04d}" + "i" * 252
        apply_event(profile, Event(f"v{n}" + "e" * 200, profile.user_id, "view", 1_700_000_000.0 + n,
                                   item_id=item), rng.standard_normal(384).astype(np.float32), half_life=86_400.0)
    for n in range(50):
        query = f"{n:02d}" + "q" * 9_998
        apply_event(profile, Event(f"s{n}", profile.user_id, "search", 1_700_010_000.0 + n, query=query),
                    rng.standard_normal(384).astype(np.float32), half_life=86_400.0)
    return profile


def test_a_profile_at_every_field_limit_fits_the_default_row_budget_keeping_its_newest_memory():
    budget = Settings().max_profile_bytes
    profile = heavy_profile()
    assert all(len(q) == STORED_QUERY_CHARS for q in profile.query_vectors), "search texts are kept short"
    raw = fit_profile(profile, budget)
    assert len(raw) <= budget
    back = Profile.from_bytes(raw)
    assert back.seen[-1].startswith("0999") and back.history[-1].event_id == "s49", "the newest memory stays"
    assert back.query_vectors and all(t.query in back.query_vectors for t in back.history if t.query)


def test_a_row_within_its_budget_is_left_as_it_is_and_an_impossible_budget_is_refused():
    profile = Profile("alice")
    apply_event(profile, Event("e1", "alice", "view", 1_700_000_000.0, item_id="tent"),
                np.ones(4, dtype=np.float32), half_life=86_400.0)
    raw = profile.to_bytes()
    assert fit_profile(profile, len(raw)) == raw, "exactly at the limit: unchanged"
    with pytest.raises(OverBudget, match="over its budget"):
        fit_profile(profile, 10)


def test_delta_messages_split_so_each_fits_and_together_they_hold_every_delta():
    deltas = [SignalDelta(f"item-{n}", 1_700_000_000.0 + n, 1.0, {f"other-{m}": 0.5 for m in range(20)}, (0, n))
              for n in range(400)]
    budget = 16_384
    messages = list(split_within(deltas, encode_deltas, budget))
    assert len(messages) > 1 and all(len(m) <= budget for m in messages)
    assert [d.source for m in messages for d in decode_deltas(m)] == [d.source for d in deltas]
