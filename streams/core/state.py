"""A worker's in-memory item state — index, catalogue, signals — and its snapshots in the data dir."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import numpy as np

from index import IndexOptions, VectorIndex, build_index, read_snapshot, write_snapshot
from index.errors import SnapshotError
from index.snapshot import quarantine_snapshot

from .catalogue import Catalogue
from .items import ItemIds, ItemVectors
from .signals import ItemSignals, SignalOptions
from .vectors import VectorRecord

log = logging.getLogger(__name__)


class ItemState:
    """Everything a worker knows about items, and the `item-vectors` offsets it reflects.

    The catalogue, the signals and the item vectors share one ItemIds: a dense id names the same item in
    every column. ``content`` (the ranker's content rows, when a ranker is built over this state) learns of
    every newly indexed item.
    """

    def __init__(self, index: VectorIndex, catalogue: Catalogue, signals: ItemSignals, model_version: str,
                 offsets: dict[str, int] | None = None) -> None:
        if signals.ids is not catalogue.ids:
            raise ValueError("the catalogue and the signals must share one ItemIds")
        self.index = index
        self.catalogue = catalogue
        self.signals = signals
        self.ids: ItemIds = catalogue.ids
        self.vectors = ItemVectors.from_index(index, self.ids)
        self.content = None  # ranking.content.ContentRows, set when a ranker is built over this state
        # whether new items get their content rows at once (once caught up: a start-up's bulk of items gets
        # them lazily, when ranking first needs them)
        self.eager_content = False
        self.model_version = model_version
        self.offsets: dict[str, int] = dict(offsets or {})  # "topic:partition" → next offset to read

    @classmethod
    def open_empty(cls, *, model_version: str, dim: int, index_options: IndexOptions,
                   expected_items: int = 0, signal_options: SignalOptions = SignalOptions()) -> "ItemState":
        """A state with an empty index, catalogue and signals."""
        ids = ItemIds()
        return cls(build_index(index_options, dim, expected_items=expected_items), Catalogue(ids),
                   ItemSignals(signal_options, ids), model_version)

    @classmethod
    def open(cls, data_dir: Path, *, model_version: str, dim: int, index_options: IndexOptions,
             expected_items: int = 0, signal_options: SignalOptions = SignalOptions()) -> "ItemState":
        """Load the latest snapshot from ``data_dir``, or start empty; never mixes two models' vectors.

        A snapshot that fails its checks (a file missing, truncated or failing its checksum) is moved aside
        and the state starts empty, with no offsets: the followers rebuild it from the topics' beginning.
        """
        try:
            snapshot = read_snapshot(data_dir, expected_model_version=model_version, options=index_options)
        except SnapshotError as exc:
            moved = quarantine_snapshot(data_dir)
            log.error("the index snapshot is damaged (%s); moved it to %s and rebuilding the index from the "
                      "topics", exc, moved)
            snapshot = None
        if snapshot is None:
            return cls.open_empty(model_version=model_version, dim=dim, index_options=index_options,
                                  expected_items=expected_items, signal_options=signal_options)
        extra = snapshot.extra or {}
        log.info("loaded index snapshot: %d items, offsets %s", len(snapshot.index), snapshot.offsets)
        ids = ItemIds()
        signals = ItemSignals(signal_options, ids)
        if "signals" in extra:
            signals = ItemSignals.from_state(extra["signals"], ids, options=signal_options)
        return cls(snapshot.index, Catalogue.from_state(extra.get("catalogue", []), ids), signals, model_version,
                   snapshot.offsets)

    def apply(self, records: Iterable[tuple[str, int, VectorRecord]]) -> tuple[int, int, list[tuple[str, int, VectorRecord]]]:
        """Apply ("topic:partition", offset, record) triples in order, with one index call each way.

        Returns (upserted, deleted, rejected): records of another model are rejected, never indexed.
        """
        upserts: dict[str, VectorRecord] = {}
        deletes: set[str] = set()
        rejected: list[tuple[str, int, VectorRecord]] = []
        for position, offset, record in records:
            self.offsets[position] = offset + 1
            if record.deleted:
                upserts.pop(record.item_id, None)
                deletes.add(record.item_id)
                continue
            if record.model_version != self.model_version:
                rejected.append((position, offset, record))
                continue
            deletes.discard(record.item_id)
            upserts[record.item_id] = record
        if deletes:
            self.index.delete(list(deletes))
            self.vectors.drop(list(deletes))
            for item_id in deletes:
                self.catalogue.remove(item_id)
                self.signals.forget(item_id)
        if upserts:
            ids = list(upserts)
            matrix = np.stack([upserts[i].vector for i in ids])
            self.index.upsert(ids, matrix)
            dense = self.vectors.put(ids, matrix)
            for item_id, record in upserts.items():
                if record.meta is not None:
                    self.catalogue.put(record.meta)
                    self.signals.note_item(item_id, record.meta.published_at)
            if self.content is not None and self.eager_content:
                self.content.added(dense)
        return len(upserts), len(deletes), rejected

    def snapshot(self, data_dir: Path) -> Path:
        """Write index, id map, catalogue, signals and offsets atomically into ``data_dir``."""
        return write_snapshot(
            data_dir,
            self.index,
            model_version=self.model_version,
            offsets=self.offsets,
            extra={"catalogue": self.catalogue.to_state(), "signals": self.signals.to_state()},
        )
