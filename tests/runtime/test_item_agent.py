"""The item agent's batch handler in process, with the real encoder: good items embedded once, the rest dead-lettered.

The real workers (tests/runtime/worker) reach it through a broker; here it runs on its own, in milliseconds.
"""
import asyncio
import json

import numpy as np
from prometheus_client import CollectorRegistry
from support import Message, Sink, StreamEvent

from index import IndexOptions
from streams.core.state import ItemState
from streams.core.vectors import decode_record
from streams.metrics import Metrics
from streams.runtime.agents import items as item_agent
from streams.runtime.app import Topics
from streams.runtime.components import Components
from streams.settings import Settings


def components(encoder):
    topics = Topics(items=None, events=None, recommendations=Sink(), dead_letters=Sink(), item_vectors=Sink(),
                    signal_deltas=Sink(), signals=Sink())
    state = ItemState.open_empty(model_version=encoder.version, dim=encoder.dim, index_options=IndexOptions(kind="flat"))
    return Components(settings=Settings(), app=None, topics=topics, profiles={}, signal_rows={}, encoder=encoder, state=state,
                      recommender=None, metrics=Metrics(CollectorRegistry()))


def test_item_batch_embeds_good_items_once_and_dead_letters_the_rest(encoder):
    c = components(encoder)
    tent = {"item_id": "t1", "title": "Two-person tent", "category": "Tents"}
    batch = [StreamEvent(Message(b"t1", json.dumps({**tent, "title": "old title"}).encode(), offset=0)),
             StreamEvent(Message(b"x", b"{not json", offset=1)),
             StreamEvent(Message(b"t1", json.dumps(tent).encode(), offset=2)),  # the last change of an id wins
             StreamEvent(Message(b"gone", None, offset=3)),
             StreamEvent(Message(b"p1", json.dumps({"item_id": "p1", "title": "Cast iron pan"}).encode(), offset=4))]
    asyncio.run(item_agent.handle_batch(c, batch))
    records = [decode_record(k, v) for k, v in c.topics.item_vectors.sent]
    assert [(r.item_id, r.deleted) for r in records] == [("t1", False), ("p1", False), ("gone", True)]
    assert records[0].meta.title == "Two-person tent" and records[0].model_version == encoder.version
    assert np.allclose(records[0].vector, encoder.encode(["Two-person tent. Tents"])[0], atol=1e-5)
    [(key, value)] = c.topics.dead_letters.sent
    letter = json.loads(value)
    assert key == b"x" and letter["reason"] == "invalid_json" and letter["offset"] == 1
    assert c.metrics.registry.get_sample_value("streamrec_encoder_texts_total") == 2
