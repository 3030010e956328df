"""Signal deltas: what one event teaches the shop-wide signals, keyed by the item that owns each part.

An interaction with item X after the user's previous items p_0, p_1, … (most recent first) adds 1 to X's
popularity and position_decay**k to the co-occurrence of (X, p_k) — in X's row and in p_k's row. Each
part is a delta keyed by the item whose row it changes, so the aggregator that owns that item folds it
(one writer per key). A delta carries the event's source position (events partition, offset): the
aggregator folds each source offset once per row, so a redelivered event is recognised and dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import orjson

from ...errors import InvalidMessage
from .options import SignalOptions


@dataclass(frozen=True)
class SignalDelta:
    """One event's change to one item's row."""

    item_id: str
    ts: float  # event time
    popularity: float = 0.0
    pairs: dict[str, float] = field(default_factory=dict)  # neighbour → co-occurrence increment
    source: tuple[int, int] | None = None  # (events partition, offset): the idempotence tag
    arrived: float | None = None  # wall-clock arrival of the event at a ranking worker (freshness metric)


def deltas_for(item_id: str, previous: Sequence[str], ts: float, options: SignalOptions, *, weight: float = 1.0,
               source: tuple[int, int] | None = None, arrived: float | None = None) -> list[SignalDelta]:
    """The deltas of one interaction with ``item_id``; ``previous`` are the user's earlier items, most recent first."""
    own: dict[str, float] = {}
    out: list[SignalDelta] = []
    for pos, other in enumerate(previous[: options.window]):
        if other == item_id or other in own:
            continue
        amount = options.position_decay**pos
        own[other] = amount
        out.append(SignalDelta(other, ts, 0.0, {item_id: amount}, source, arrived))
    return [SignalDelta(item_id, ts, weight, own, source, arrived)] + out


class DeltaCollector:
    """A signal sink that keeps the deltas of a micro-batch (to publish them) instead of applying them."""

    def __init__(self, options: SignalOptions) -> None:
        self.options = options
        self.deltas: list[SignalDelta] = []

    def observe(self, item_id: str, previous: Sequence[str], ts: float, *, source: tuple[int, int] | None = None,
                arrived: float | None = None) -> None:
        """Collect one interaction's deltas."""
        self.deltas.extend(deltas_for(item_id, previous, ts, self.options, source=source, arrived=arrived))

    def by_item(self) -> dict[str, list[SignalDelta]]:
        """The collected deltas grouped by the item whose row they change, in collection order."""
        grouped: dict[str, list[SignalDelta]] = {}
        for delta in self.deltas:
            grouped.setdefault(delta.item_id, []).append(delta)
        return grouped


def encode_deltas(item_id: str, deltas: Sequence[SignalDelta]) -> bytes:
    """One `signal-deltas` message: every delta of a micro-batch for one item, in order."""
    return orjson.dumps({"item_id": item_id, "entries": [
        {"t": d.ts, "w": d.popularity, "n": d.pairs, "s": list(d.source) if d.source else None, "a": d.arrived}
        for d in deltas]})


def decode_deltas(value: bytes | None) -> list[SignalDelta]:
    """Parse a `signal-deltas` message; InvalidMessage for anything else."""
    try:
        body = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage("bad_signal_delta", str(exc)[:200]) from None
    if not isinstance(body, dict) or not isinstance(body.get("item_id"), str) or not isinstance(body.get("entries"), list):
        raise InvalidMessage("bad_signal_delta", "expected {item_id, entries: [...]}")
    item_id = body["item_id"]
    try:
        return [_entry(item_id, e) for e in body["entries"]]
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InvalidMessage("bad_signal_delta", f"malformed entry: {exc}") from None


def _entry(item_id: str, e: Any) -> SignalDelta:
    if not isinstance(e, dict):
        raise TypeError("an entry must be an object")
    source = e.get("s")
    pairs = e.get("n") or {}
    if not isinstance(pairs, dict):
        raise TypeError("n must be an object")
    delta = SignalDelta(item_id, float(e["t"]), float(e.get("w") or 0.0), {str(k): float(v) for k, v in pairs.items()},
                        None if source is None else (int(source[0]), int(source[1])),
                        None if e.get("a") is None else float(e["a"]))
    if not all(math.isfinite(x) for x in (delta.ts, delta.popularity, *delta.pairs.values())):
        raise ValueError("times and amounts must be finite")
    return delta
