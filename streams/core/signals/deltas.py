"""Signal deltas: what one event teaches the shop-wide signals, keyed by the item that owns each part.

An interaction with item X after the user's previous items p_0, p_1, … (most recent first) adds 1 to X's
popularity and position_decay**k to the pair (X, p_k): times ``forward`` in p_k's row (X came after p_k) and
times ``backward`` in X's row (p_k came before X); with both 1 the rows are plain co-occurrence. Each
part is a delta keyed by the item whose row it changes, so the aggregator that owns that item folds it
(one writer per key). A delta carries the event's source position (events partition, offset): the
aggregator folds each source offset once per row, so a redelivered event is recognised and dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np
import orjson

from ...errors import InvalidMessage
from . import codec
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


def pairs_of(item_id: str, previous: Sequence[str], options: SignalOptions) -> tuple[list[str], list[float]]:
    """The pairing rule, the one place it is written: which of the user's previous items (most recent first) an
    interaction with ``item_id`` pairs with, and how strongly (``position_decay``**position, within ``window``)."""
    others: list[str] = []
    amounts: list[float] = []
    seen = {item_id}
    decay = options.position_decay
    for pos, other in enumerate(previous[: options.window]):
        if other in seen:
            continue
        seen.add(other)
        others.append(other)
        amounts.append(decay**pos)
    return others, amounts


def split_pair(amount: float, options: SignalOptions) -> tuple[float, float]:
    """(what X's own row learns, what the earlier item's row learns) of a pair of strength ``amount``."""
    return amount * options.backward, amount * options.forward


def deltas_for(item_id: str, previous: Sequence[str], ts: float, options: SignalOptions, *, weight: float = 1.0,
               source: tuple[int, int] | None = None, arrived: float | None = None) -> list[SignalDelta]:
    """The deltas of one interaction with ``item_id``; ``previous`` are the user's earlier items, most recent first."""
    others, amounts = pairs_of(item_id, previous, options)
    split = [split_pair(amount, options) for amount in amounts]
    own = {other: back for other, (back, _) in zip(others, split) if back}
    return [SignalDelta(item_id, ts, weight, own, source, arrived)] + [
        SignalDelta(other, ts, 0.0, {item_id: fwd}, source, arrived) for other, (_, fwd) in zip(others, split) if fwd]


class DeltaCollector:
    """A signal sink that keeps the deltas of a micro-batch (to publish them) instead of applying them."""

    def __init__(self, options: SignalOptions) -> None:
        self.options = options
        self.deltas: list[SignalDelta] = []

    def observe(self, item_id: str, previous: Sequence[str], ts: float, weight: float = 1.0, *,
                source: tuple[int, int] | None = None, arrived: float | None = None) -> None:
        """Collect one interaction's deltas."""
        self.deltas.extend(deltas_for(item_id, previous, ts, self.options, weight=weight, source=source,
                                      arrived=arrived))

    def by_partition(self, partition_of: Callable[[str], int]) -> dict[int, list[SignalDelta]]:
        """The collected deltas grouped by the `signal-deltas` partition of the item whose row they change
        (``partition_of``: the producer's partitioner), in collection order: one message per partition."""
        grouped: dict[int, list[SignalDelta]] = {}
        for delta in self.deltas:
            grouped.setdefault(partition_of(delta.item_id), []).append(delta)
        return grouped


def to_columns(deltas: Sequence[SignalDelta]) -> codec.DeltaColumns:
    """Deltas as the columns of one binary `signal-deltas` message."""
    n = len(deltas)
    return codec.DeltaColumns(
        [d.item_id for d in deltas],
        np.fromiter((d.ts for d in deltas), np.float64, n),
        np.fromiter((d.popularity for d in deltas), np.float64, n),
        np.fromiter((math.nan if d.arrived is None else d.arrived for d in deltas), np.float64, n),
        np.fromiter((-1 if d.source is None else d.source[0] for d in deltas), np.int32, n),
        np.fromiter((-1 if d.source is None else d.source[1] for d in deltas), np.int64, n),
        np.fromiter((len(d.pairs) for d in deltas), np.int32, n),
        [k for d in deltas for k in d.pairs],
        np.fromiter((v for d in deltas for v in d.pairs.values()), np.float64),
    )


def encode_deltas(deltas: Sequence[SignalDelta]) -> bytes:
    """One binary `signal-deltas` message holding these deltas, in order."""
    return codec.encode_deltas(to_columns(deltas))


def decode_deltas(value: bytes | None, *, not_after: float | None = None) -> list[SignalDelta]:
    """Parse a `signal-deltas` message (binary, or the JSON of earlier versions); InvalidMessage for anything else.

    ``not_after`` clamps the event times (the reader's clock plus the allowed skew): a delta from a producer
    whose clock ran far ahead counts as now, and cannot move a row's decay clock into the future."""
    deltas = _decode(value)
    if not_after is not None and any(d.ts > not_after for d in deltas):
        deltas = [d if d.ts <= not_after else replace(d, ts=not_after) for d in deltas]
    return deltas


def _decode(value: bytes | None) -> list[SignalDelta]:
    if value is not None and value[:1] != b"{":
        return _from_columns(codec.decode_delta_columns(value))
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


def _from_columns(columns: codec.DeltaColumns) -> list[SignalDelta]:
    out = []
    start = 0
    neighbours, amounts = columns.neighbours, columns.amounts.tolist()
    for item_id, ts, pop, arrived, partition, offset, count in zip(
            columns.items, columns.ts.tolist(), columns.popularity.tolist(), columns.arrived.tolist(),
            columns.partition.tolist(), columns.offset.tolist(), columns.pair_counts.tolist()):
        end = start + count
        pairs = dict(zip(neighbours[start:end], amounts[start:end]))
        start = end
        out.append(SignalDelta(item_id, ts, pop, pairs, None if partition < 0 else (partition, offset),
                               None if math.isnan(arrived) else arrived))
    return out


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
