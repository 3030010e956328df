"""Records read from streamrec's own topics are checked like input: an `item-vectors` record whose dimension is not
the index's, or whose title would show a shopper bidirectional formatting, is a dead letter, never an index write
(in process: the vector follower's batch handler with a real index, its sends collected)."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import numpy as np
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from index import IndexOptions
from streams.core.catalogue import ItemMeta
from streams.core.state import ItemState
from streams.core.vectors import VectorRecord, encode_record
from streams.metrics import Metrics
from streams.runtime.agents import vectors as vector_follower
from streams.runtime.app import Topics
from streams.runtime.components import Components
from streams.settings import Settings

DIM = 4
MODEL = "m@1"


@dataclass
class Message:
    key: bytes | None
    value: bytes | None
    offset: int
    topic: str = "item-vectors"
    partition: int = 0
    headers: tuple = ()


class Sink:
    def __init__(self):
        self.sent = []

    async def send(self, key=None, value=None):
        self.sent.append((key, value))


def record(item_id: str, vector, title: str = "Tent") -> bytes:
    return encode_record(VectorRecord(item_id, MODEL, np.asarray(vector, dtype=np.float32), ItemMeta(item_id, title)))


def follower_parts() -> tuple[Components, ItemState, Sink]:
    """A follower's parts: a real empty index and signals view; the topics it writes to are sinks."""
    state = ItemState.open_empty(model_version=MODEL, dim=DIM, index_options=IndexOptions(kind="flat"))
    letters = Sink()
    topics = Topics(items=None, events=None, recommendations=Sink(), dead_letters=letters, item_vectors=Sink(),
                    signal_deltas=Sink(), signals=Sink())
    c = Components(settings=Settings(), app=None, topics=topics, profiles={}, signal_rows={}, encoder=None,
                   state=state, recommender=None, metrics=Metrics(CollectorRegistry()))
    return c, state, letters


def test_a_vector_of_another_dimension_or_an_unsafe_title_is_dead_lettered():
    c, state, letters = follower_parts()
    messages = [Message(b"good", record("good", [1, 0, 0, 0]), 0),
                Message(b"short", record("short", [1, 0, 0]), 1),
                Message(b"long", record("long", [1, 0, 0, 0, 0, 0, 0, 0]), 2),
                Message(b"bidi", record("bidi", [0, 1, 0, 0], title="Tent \u202eeslaf"), 3),
                Message(b"also-good", record("also-good", [0, 0, 1, 0], title="Size S<M"), 4)]
    asyncio.run(vector_follower._apply(c, {TopicPartition("item-vectors", 0): messages}))
    assert "good" in state.index and "also-good" in state.index and len(state.index) == 2
    assert state.catalogue.title("also-good") == "Size S<M"
    reasons = {key.decode(): json.loads(value)["reason"] for key, value in letters.sent}
    assert reasons == {"short": "dim_mismatch", "long": "dim_mismatch", "bidi": "bad_field"}
    details = [json.loads(value)["detail"] for _, value in letters.sent]
    assert any(d.startswith("3 values") and "holds 4" in d for d in details)
    assert any(d.startswith("8 values") and "holds 4" in d for d in details)


def test_a_signal_follower_installs_each_items_latest_row_and_dead_letters_a_bad_one():
    from streams.core.signals import PublishedRow
    from streams.runtime.agents import signals as signal_follower

    c, state, letters = follower_parts()

    def row(item: str, popularity: float, neighbours: dict[str, float]) -> bytes:
        return PublishedRow(item, 1_700_000_000.0, popularity, tuple(neighbours),
                            np.asarray(list(neighbours.values()), dtype=np.float64)).to_bytes()

    messages = [Message(b"a", row("a", 1.0, {"b": 1.0}), 0, topic="signals"),
                Message(b"b", row("b", 1.0, {"a": 1.0}), 1, topic="signals"),
                Message(b"a", row("a", 3.0, {"b": 2.0, "c": 1.0}), 2, topic="signals"),
                Message(b"c", b"\x00not a row", 3, topic="signals")]
    asyncio.run(signal_follower.apply(c, {TopicPartition("signals", 0): messages}))
    signals = state.signals
    a = signals.row(signals.ids.get("a"))
    assert sorted(signals.ids.name_of(a.ids.tolist())) == ["b", "c"] and sorted(a.raw.tolist()) == [1.0, 2.0]
    assert signals.popularity_scores(["a", "b"]).tolist()[0] > signals.popularity_scores(["a", "b"]).tolist()[1]
    assert [json.loads(v)["reason"] for _, v in letters.sent] == ["bad_signal_row"]
    assert state.offsets["signals:0"] == 4
