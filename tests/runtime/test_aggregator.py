"""The signal aggregator's batch handler, called directly with stand-ins for Faust's events and its table."""
from __future__ import annotations

import asyncio
import json

from prometheus_client import CollectorRegistry
from support import Journal, Message, StreamEvent

from index import IndexOptions
from streams.core.signals import SignalDelta, SignalRow, encode_deltas
from streams.core.signals.rows import PublishedRow
from streams.core.state import ItemState
from streams.metrics import Metrics
from streams.runtime.agents import aggregator
from streams.runtime.app import Topics
from streams.runtime.components import Components
from streams.settings import Settings


def parts(journal: Journal, rows: dict) -> Components:
    settings = Settings()
    topics = Topics(items=None, events=None, recommendations=None, dead_letters=journal.topic("dead-letters"),
                    item_vectors=None, signal_deltas=None, signals=None)
    c = Components(settings, None, topics, profiles={}, signal_rows=rows, encoder=None,
                   state=ItemState.open_empty(model_version="m", dim=4, index_options=IndexOptions(kind="flat")),
                   recommender=None,
                   metrics=Metrics(CollectorRegistry()))
    c.signal_sender = journal.batches("signals")
    return c


def deltas_message(offset: int, *deltas: SignalDelta) -> StreamEvent:
    return StreamEvent(Message(None, encode_deltas(list(deltas)), topic="signal-deltas", partition=1, offset=offset))


def test_an_unreadable_stored_row_is_dead_lettered_and_the_deltas_still_fold():
    journal = Journal()
    rows = {"tent": b"\x00not a row", "bag": SignalRow("bag").to_bytes()}
    c = parts(journal, rows)
    batch = [deltas_message(0, SignalDelta("tent", 1_700_000_000.0, 1.0, source=(0, 5)),
                            SignalDelta("bag", 1_700_000_000.0, 1.0, source=(0, 6))),
             StreamEvent(Message(None, b"\xffgarbage", topic="signal-deltas", partition=1, offset=1))]
    asyncio.run(aggregator.handle_batch(c, batch))
    letters = sorted((json.loads(v)["reason"], json.loads(v)["key"]) for _, v in journal.sent("dead-letters"))
    assert letters[1] == ("unreadable_row", "tent") and letters[0][1] is None, letters
    published = {PublishedRow.from_bytes(value).item_id for _, value in journal.sent("signals")}
    assert published == {"tent", "bag"}, "the damaged row started afresh, the others folded as ever"
    assert SignalRow.from_bytes("tent", rows["tent"]).popularity_raw > 0
