"""Signal aggregator: owns item partitions of `signal-deltas`, folds each delta into its item's row once,
and publishes the changed rows to the compacted signals topic once per tick (one micro-batch).

One writer per item (the partition's owner), so no increment is lost; the row keeps, per events
partition, the highest source offset it folded, so a delta read again after a crash changes nothing.
Rows touched by a batch are published at its end, before the batch is acknowledged: a crash before
publishing redelivers the batch, whose deltas are then duplicates, and the rows are published again.
"""
from __future__ import annotations

from ...core.signals import SignalRow, decode_deltas
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..faust_compat import bind_event


def register(c: Components) -> None:
    """Attach the aggregator agent to the app (roles `all` and `ranker`)."""
    settings = c.settings

    @c.app.agent(c.topics.signal_deltas, name="streamrec.signals")
    async def aggregate(stream):
        async for batch in stream.take_events(settings.signal_batch_size, within=settings.signal_tick):
            await handle_batch(c, batch)


async def handle_batch(c: Components, batch) -> None:
    """Fold a tick's deltas into their rows, store the rows, publish the changed ones."""
    options = c.state.signals.options
    rows: dict[str, SignalRow] = {}
    last_event = {}
    for fevent in batch:
        message = fevent.message
        try:
            deltas = decode_deltas(message.value)
        except InvalidMessage as exc:
            await send_dead_letter(c, "signal-deltas", message, exc.reason, exc.detail)
            continue
        for delta in deltas:
            row = rows.get(delta.item_id)
            if row is None:
                bind_event(fevent)  # the table partition of this key is the message's partition
                raw = c.signal_rows.get(delta.item_id)
                row = rows[delta.item_id] = SignalRow.from_bytes(delta.item_id, raw) if raw else SignalRow(delta.item_id)
            row.fold(delta, options)
            last_event[delta.item_id] = fevent
    for item_id, row in rows.items():
        bind_event(last_event[item_id])
        c.signal_rows[item_id] = row.to_bytes()
        published = row.published(options, c.settings.signal_neighbours)
        await c.topics.signals.send(key=item_id.encode(), value=published.to_bytes())
    c.metrics.signal_rows_published.inc(len(rows))
