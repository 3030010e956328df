"""Signal aggregator: owns item partitions of `signal-deltas`, folds each delta into its item's row once,
and publishes the changed rows to the compacted signals topic once per tick (one micro-batch).

One writer per item (the partition's owner), so no increment is lost; the row keeps, per events
partition, the highest source offset it folded, so a delta read again after a crash changes nothing.
Rows changed by a batch are published at its end, before the batch is acknowledged: a crash before
publishing redelivers the batch, whose deltas are then duplicates, and the rows are published again.
The folding is the core's SignalAggregator, over this partition's rows of the aggregator's table.
"""
from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Iterator

from ...core.signals import SignalAggregator, SignalRow, decode_deltas
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..delivery import deliver
from ..faust_compat import bind_event


def register(c: Components) -> None:
    """Attach the aggregator agent to the app (roles `all` and `ranker`)."""
    settings = c.settings

    @c.app.agent(c.topics.signal_deltas, name="streamrec.signals")
    async def aggregate(stream):
        async for batch in stream.take_events(settings.signal_batch_size, within=settings.signal_tick):
            await deliver(c, "signal-deltas", batch, handle_batch)


@dataclass(frozen=True)
class StoredRow:
    """A stored row that could not be read, in the shape a dead letter takes (where it lives, its bytes)."""

    topic: str
    partition: int
    key: bytes
    value: bytes
    offset: int | None = None
    headers: tuple = ()


class TableRows(MutableMapping):
    """The aggregator's table as a mapping of SignalRows, bound to one `signal-deltas` partition's event.

    A stored row that cannot be decoded is noted in ``unreadable`` (for the dead letters) and the item
    starts afresh: one damaged row must not stop its partition's deltas.
    """

    def __init__(self, table: Any, fevent: Any, not_after: float | None = None) -> None:
        self.table = table
        self.not_after = not_after  # rows' clocks are clamped to it when read
        self.fevent = fevent  # the table partition of a key is the partition its deltas arrive on
        self.unreadable: list[tuple[StoredRow, str]] = []

    def __getitem__(self, item_id: str) -> SignalRow:
        bind_event(self.fevent)
        raw = self.table.get(item_id)
        if raw is None:
            raise KeyError(item_id)
        try:
            return SignalRow.from_bytes(item_id, raw, not_after=self.not_after)
        except Exception as exc:
            row = StoredRow(f"{getattr(self.table, 'name', 'signal-rows')} table", self.fevent.message.partition,
                            item_id.encode(), bytes(raw))
            self.unreadable.append((row, f"{type(exc).__name__}: {exc}"[:200]))
            raise KeyError(item_id) from exc

    def __setitem__(self, item_id: str, row: SignalRow) -> None:
        bind_event(self.fevent)
        self.table[item_id] = row.to_bytes()

    def __delitem__(self, item_id: str) -> None:
        bind_event(self.fevent)
        del self.table[item_id]

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the aggregator's rows are read by key")

    def __len__(self) -> int:
        raise TypeError("the aggregator's rows are read by key")


async def handle_batch(c: Components, batch) -> None:
    """Fold a tick's deltas into their rows, per partition; store and publish the changed rows."""
    options = c.state.signals.options
    not_after = time.time() + c.settings.max_clock_skew  # this worker's clock: no row or delta runs ahead of it
    by_partition: dict[int, list] = {}
    for fevent in batch:
        by_partition.setdefault(fevent.message.partition, []).append(fevent)
    published = []
    for fevents in by_partition.values():
        deltas = []
        for fevent in fevents:
            try:
                deltas += decode_deltas(fevent.message.value, not_after=not_after)
            except InvalidMessage as exc:
                await send_dead_letter(c, "signal-deltas", fevent.message, exc.reason, exc.detail)
            except Exception as exc:  # a decoder bug costs this message only
                await send_dead_letter(c, "signal-deltas", fevent.message, "bad_deltas",
                                       f"{type(exc).__name__}: {exc}"[:200])
        if deltas:
            rows = TableRows(c.signal_rows, fevents[-1], not_after)
            published += SignalAggregator(options, c.settings.signal_neighbours, rows).fold(deltas)
            for row, detail in rows.unreadable:
                await send_dead_letter(c, "signal-rows", row, "unreadable_row", detail)
    if published:
        await c.signal_sender.send([(row.item_id.encode(), row.to_bytes()) for row in published])
        c.metrics.signal_rows_published.inc(len(published))
