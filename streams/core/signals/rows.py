"""An item's signal row as its one owner (the aggregator) keeps it: popularity, co-occurrence, first seen.

Values decay with the half-life on the row's own clock (the latest event time folded into it). They are
stored scaled by 2**((clock - origin) / half_life) and divided by that scale when read, so a fold is
one multiply-add whatever the row's size (the same trick as decay.DecayedCounts). A delta counts at its
event time (a late one adds what is left of it now), so a row does not depend on the order its deltas
arrive in: two runs that fold the same deltas hold the same row, crash or no crash.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...errors import InvalidMessage
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
        return PublishedRow(self.item_id, self.clock, self.popularity_raw / scale, {k: v / scale for k, v in top},
                            self.first_seen, self.arrived)

    # ---- the aggregator's table value (its changelog restores it exactly) ---------------------------
    def to_bytes(self) -> bytes:
        """Serialise for the aggregator's RocksDB-backed table."""
        return orjson.dumps({"c": self.clock, "o": self.origin, "p": self.popularity_raw, "n": self.neighbours_raw,
                             "f": self.first_seen, "w": {str(k): v for k, v in self.watermarks.items()}})

    @classmethod
    def from_bytes(cls, item_id: str, raw: bytes) -> "SignalRow":
        """Inverse of :meth:`to_bytes`."""
        body = orjson.loads(raw)
        return cls(item_id, body["c"], body["o"], body["p"], body["n"], body["f"],
                   {int(k): v for k, v in body["w"].items()})


@dataclass(frozen=True)
class PublishedRow:
    """An item's signals at ``clock``, on the compacted signals topic; every ranking worker keeps them all."""

    item_id: str
    clock: float
    popularity: float
    neighbours: dict[str, float]  # co-occurrence with each kept neighbour, at ``clock``
    first_seen: float | None = None
    arrived: float | None = None  # earliest event arrival behind this version (freshness metric)

    def to_bytes(self) -> bytes:
        """The `signals` topic value."""
        return orjson.dumps({"item_id": self.item_id, "clock": self.clock, "popularity": self.popularity,
                             "neighbours": self.neighbours, "first_seen": self.first_seen, "arrived": self.arrived})

    @classmethod
    def from_bytes(cls, value: bytes) -> "PublishedRow":
        """Parse a `signals` topic value; InvalidMessage for anything else."""
        try:
            body: Any = orjson.loads(value)
            row = cls(str(body["item_id"]), float(body["clock"]), float(body["popularity"]),
                      {str(k): float(v) for k, v in body["neighbours"].items()},
                      None if body.get("first_seen") is None else float(body["first_seen"]),
                      None if body.get("arrived") is None else float(body["arrived"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidMessage("bad_signal_row", str(exc)[:200]) from None
        if not (math.isfinite(row.clock) and math.isfinite(row.popularity)):
            raise InvalidMessage("bad_signal_row", "clock and popularity must be finite")
        return row
