"""An item's signal row as its one owner (the aggregator) keeps it: popularity, co-occurrence, first seen.

Values decay with the half-life on the row's own clock (the latest event time folded into it). They are
stored scaled by 2**((clock - origin) / half_life) and divided by that scale when read, so a fold is
one multiply-add whatever the row's size (the same trick as decay.DecayedCounts). A delta counts at its
event time (a late one adds what is left of it now), so a row does not depend on the order its deltas
arrive in: two runs that fold the same deltas hold the same row, crash or no crash.

Both the aggregator's table value and the published row are binary (``codec.py``): numbers as packed
arrays, ids as one NUL-separated UTF-8 block. A published row carries the row's watermarks, so a worker
that counted its own deltas early (read your own writes) knows which of them the row already holds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import orjson

from ...errors import InvalidMessage
from . import codec
from .deltas import SignalDelta
from .options import SignalOptions

_REBASE_AT = 600.0  # log2 of the scale at which stored values are rebased (float64 tops out near 2**1023)


@dataclass
class SignalRow:
    """The aggregate of one item, with the source offsets already folded into it."""

    item_id: str
    clock: float = 0.0
    origin: float | None = None
    popularity_raw: float = 0.0
    neighbours_raw: dict[str, float] = field(default_factory=dict)
    first_seen: float | None = None
    watermarks: dict[int, int] = field(default_factory=dict)  # events partition → highest offset folded
    arrived: float | None = None  # earliest event arrival folded since the row was last published

    def fold(self, delta: SignalDelta, options: SignalOptions) -> bool:
        """Fold one delta in; False (and no change) when its source offset was folded before."""
        if delta.source is not None:
            partition, offset = delta.source
            if offset <= self.watermarks.get(partition, -1):
                return False
            self.watermarks[partition] = offset
        if self.origin is None:
            self.origin = self.clock = delta.ts
        elif delta.ts > self.clock:
            self.clock = delta.ts
        half_life = options.half_life_seconds
        exponent = (self.clock - self.origin) / half_life
        if exponent > _REBASE_AT:
            shrink = 2.0 ** -exponent
            self.popularity_raw *= shrink
            self.neighbours_raw = {k: v * shrink for k, v in self.neighbours_raw.items()}
            self.origin = self.clock
        scale = 2.0 ** ((delta.ts - self.origin) / half_life)
        self.popularity_raw += delta.popularity * scale
        row = self.neighbours_raw
        for other, amount in delta.pairs.items():
            row[other] = row.get(other, 0.0) + amount * scale
        if len(row) > options.max_neighbours:
            # prune the weakest fifth at once so pruning is amortised, not per insert
            keep = sorted(row.items(), key=lambda kv: kv[1], reverse=True)[: int(options.max_neighbours * 0.8)]
            self.neighbours_raw = dict(keep)
        if delta.popularity > 0 or delta.pairs:
            self.first_seen = delta.ts if self.first_seen is None else min(self.first_seen, delta.ts)
        if delta.arrived is not None:
            self.arrived = delta.arrived if self.arrived is None else min(self.arrived, delta.arrived)
        return True

    def _scale(self, options: SignalOptions) -> float:
        return 1.0 if self.origin is None else 2.0 ** ((self.clock - self.origin) / options.half_life_seconds)

    def published(self, options: SignalOptions, neighbours: int | None = None) -> "PublishedRow":
        """The row as every ranking worker sees it: values at the row's clock, the top ``neighbours`` kept."""
        scale = self._scale(options)
        top = self.neighbours_raw.items()
        if neighbours is not None and len(self.neighbours_raw) > neighbours:
            top = sorted(top, key=lambda kv: kv[1], reverse=True)[:neighbours]
        ids = tuple(k for k, _ in top)
        values = np.fromiter((v for _, v in top), dtype=np.float64, count=len(ids)) / scale
        return PublishedRow(self.item_id, self.clock, self.popularity_raw / scale, ids, values, self.first_seen,
                            self.arrived, dict(self.watermarks))

    # ---- the aggregator's table value (its changelog restores it exactly) ---------------------------
    def to_bytes(self) -> bytes:
        """Serialise for the aggregator's RocksDB-backed table."""
        return codec.encode_row(codec.TABLE_ROW, self.item_id, self.clock, self.popularity_raw, self.first_seen,
                                math.nan if self.origin is None else self.origin, self.watermarks,
                                list(self.neighbours_raw), list(self.neighbours_raw.values()))

    @classmethod
    def from_bytes(cls, item_id: str, raw: bytes, *, not_after: float | None = None) -> "SignalRow":
        """Inverse of :meth:`to_bytes` (also reads the JSON rows of earlier versions); ``not_after`` clamps the
        row's clocks (a far-future time folded in before cannot hold the row's decay clock in the future)."""
        row = cls._decode(item_id, raw)
        if not_after is not None:
            row.clock = min(row.clock, not_after)
            row.origin = None if row.origin is None else min(row.origin, not_after)
            row.first_seen = None if row.first_seen is None else min(row.first_seen, not_after)
        return row

    @classmethod
    def _decode(cls, item_id: str, raw: bytes) -> "SignalRow":
        if raw[:1] == b"{":
            body = orjson.loads(raw)
            return cls(item_id, body["c"], body["o"], body["p"], body["n"], body["f"],
                       {int(k): v for k, v in body["w"].items()})
        decoded = codec.decode_row(raw, codec.TABLE_ROW)
        return cls(item_id, decoded.clock, None if math.isnan(decoded.extra) else decoded.extra, decoded.popularity,
                   dict(zip(decoded.ids, decoded.values.tolist())), decoded.first_seen, decoded.watermarks)


@dataclass(frozen=True)
class PublishedRow:
    """An item's signals at ``clock``, on the compacted signals topic; every ranking worker keeps them all."""

    item_id: str
    clock: float
    popularity: float
    neighbour_ids: tuple[str, ...]
    neighbour_values: np.ndarray  # co-occurrence with each kept neighbour, at ``clock`` (float64)
    first_seen: float | None = None
    arrived: float | None = None  # earliest event arrival behind this version (freshness metric)
    watermarks: dict[int, int] = field(default_factory=dict)  # events partition → highest offset folded

    @property
    def neighbours(self) -> dict[str, float]:
        """Neighbour → co-occurrence at ``clock``."""
        return dict(zip(self.neighbour_ids, self.neighbour_values.tolist()))

    def to_bytes(self) -> bytes:
        """The `signals` topic value."""
        return codec.encode_row(codec.PUBLISHED_ROW, self.item_id, self.clock, self.popularity, self.first_seen,
                                math.nan if self.arrived is None else self.arrived, self.watermarks,
                                self.neighbour_ids, self.neighbour_values)

    @classmethod
    def from_bytes(cls, value: bytes, *, not_after: float | None = None) -> "PublishedRow":
        """Parse a `signals` topic value (binary, or the JSON of earlier versions); InvalidMessage for anything else.
        ``not_after`` clamps the row's clock and first-seen time (see SignalRow.from_bytes)."""
        row = cls._decode(value)
        if not_after is not None and (row.clock > not_after or (row.first_seen or 0.0) > not_after):
            row = replace(row, clock=min(row.clock, not_after),
                          first_seen=None if row.first_seen is None else min(row.first_seen, not_after))
        return row

    @classmethod
    def _decode(cls, value: bytes) -> "PublishedRow":
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise InvalidMessage("bad_signal_row", "a signal row must be bytes")
        if value[:1] == b"{":
            return _from_json(value)
        decoded = codec.decode_row(value, codec.PUBLISHED_ROW)
        return cls(decoded.item_id, decoded.clock, decoded.popularity, decoded.ids, decoded.values,
                   decoded.first_seen, None if math.isnan(decoded.extra) else decoded.extra, decoded.watermarks)


def _from_json(value: bytes) -> PublishedRow:
    try:
        body: Any = orjson.loads(value)
        neighbours = {str(k): float(v) for k, v in body["neighbours"].items()}
        row = PublishedRow(str(body["item_id"]), float(body["clock"]), float(body["popularity"]),
                           tuple(neighbours), np.fromiter(neighbours.values(), np.float64, len(neighbours)),
                           None if body.get("first_seen") is None else float(body["first_seen"]),
                           None if body.get("arrived") is None else float(body["arrived"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidMessage("bad_signal_row", str(exc)[:200]) from None
    if not (math.isfinite(row.clock) and math.isfinite(row.popularity)):
        raise InvalidMessage("bad_signal_row", "clock and popularity must be finite")
    if not np.isfinite(row.neighbour_values).all():
        raise InvalidMessage("bad_signal_row", "neighbour values must be finite")
    return row
