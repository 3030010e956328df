"""Shop-wide collaborative signals: deltas (what an event teaches), rows (one owner per item), the view.

Flow across workers: each ranking worker turns its events into deltas keyed by item → the aggregator that
owns the item folds them into its row exactly once → the row is published → every ranking worker applies
it to its view. In one process (the replay, tests) the view learns in place with ``observe``.
"""
from __future__ import annotations

from .aggregator import SignalAggregator
from .deltas import DeltaCollector, SignalDelta, decode_deltas, deltas_for, encode_deltas
from .options import SignalOptions
from .rows import PublishedRow, SignalRow
from .view import ItemSignals

__all__ = ["DeltaCollector", "ItemSignals", "PublishedRow", "SignalAggregator", "SignalDelta", "SignalOptions",
           "SignalRow", "decode_deltas", "deltas_for", "encode_deltas"]
