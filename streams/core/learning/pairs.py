"""Co-interaction pairs, the adapter's training data, from the shop-wide signal deltas.

An interaction with X after the user's previous items p_0, p_1, … produces one delta keyed by X that
carries popularity and every pair (X, p_k) with weight position_decay**k, plus one delta per p_k with the
same pair mirrored. Only the first kind is read (popularity > 0), so each pair is trained on once; pairs
weaker than ``min_weight`` (items far back in the window) are dropped, which keeps training cheap.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

from ..signals import SignalDelta, SignalOptions
from ..signals.deltas import pairs_of as signal_pairs


class Pair(NamedTuple):
    """Two items one shopper touched close together; ``weight`` is how close (1 = one after the other)."""

    item_id: str
    other: str
    weight: float


def pairs_from_deltas(deltas: Iterable[SignalDelta], min_weight: float = 0.2) -> list[Pair]:
    """The pairs of the interactions behind these deltas (each pair once), strongest-first per event."""
    out: list[Pair] = []
    for delta in deltas:
        if delta.popularity <= 0:  # a mirrored part of another item's interaction
            continue
        out.extend(Pair(delta.item_id, other, w) for other, w in delta.pairs.items() if w >= min_weight)
    return out


def pairs_of(item_id: str, previous: Iterable[str], decay: float, window: int, min_weight: float = 0.2) -> list[Pair]:
    """The pairs of one interaction straight from the user's previous items (in-process replays): the
    signals' pairing rule (signals.deltas.pairs_of), keeping the pairs of at least ``min_weight``."""
    others, amounts = signal_pairs(item_id, list(previous), SignalOptions(window=window, position_decay=decay))
    return [Pair(item_id, other, w) for other, w in zip(others, amounts) if w >= min_weight]
