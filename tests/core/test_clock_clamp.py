"""A producer's clock cannot move the shop-wide decay clock: rows and deltas are clamped when they are decoded."""
from __future__ import annotations

from streams.core.signals import SignalDelta, SignalOptions, SignalRow, decode_deltas, encode_deltas
from streams.core.signals.rows import PublishedRow

NOW = 1_700_000_000.0
NOT_AFTER = NOW + 3_600.0  # the reader's clock plus the allowed skew
FAR = 1.7e12  # µs read as seconds: about the year 55,000


def test_a_far_future_delta_counts_as_now_and_the_next_real_one_still_counts():
    options = SignalOptions(half_life_days=7.0)
    [forged] = decode_deltas(encode_deltas([SignalDelta("tent", FAR, 1.0, source=(0, 1))]), not_after=NOT_AFTER)
    assert forged.ts == NOT_AFTER
    row = SignalRow("tent")
    row.fold(forged, options)
    row.fold(SignalDelta("tent", NOW, 1.0, source=(0, 2)), options)
    published = row.published(options)
    assert published.clock == NOT_AFTER and 1.9 < published.popularity <= 2.0, "both count, neither is erased"


def test_a_stored_row_whose_clock_ran_ahead_is_brought_back_when_read():
    options = SignalOptions(half_life_days=7.0)
    damaged = SignalRow("tent")
    damaged.fold(SignalDelta("tent", FAR, 1.0, source=(0, 1)), options)  # written before the clamp existed
    row = SignalRow.from_bytes("tent", damaged.to_bytes(), not_after=NOT_AFTER)
    assert row.clock == NOT_AFTER and row.origin == NOT_AFTER
    row.fold(SignalDelta("tent", NOW, 1.0, source=(0, 2)), options)
    assert row.published(options).popularity > 1.9, "a real event after the damage counts again"
    seen = PublishedRow.from_bytes(damaged.published(options).to_bytes(), not_after=NOT_AFTER)
    assert seen.clock == NOT_AFTER and seen.first_seen == NOT_AFTER
