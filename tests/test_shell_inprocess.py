"""The shell's pure-ish pieces in process (bytewax style): a few input records, the function, assertions.

The subprocess tests reach these through a real broker; here each runs on its own, in milliseconds.
"""
import asyncio
import base64
import json
from dataclasses import dataclass

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from encoders import load_encoder
from index import IndexOptions
from streams.core.catalogue import ItemMeta
from streams.core.deadletters import dead_letter
from streams.core.state import ItemState
from streams.core.vectors import VectorRecord, decode_record, encode_record
from streams.errors import InvalidMessage
from streams.metrics import Metrics
from streams.runtime.agents import items as item_agent
from streams.runtime.app import Topics
from streams.runtime.components import Components
from streams.settings import Settings

DIM = 4


@dataclass
class Message:
    key: bytes | None
    value: bytes | None
    topic: str = "items"
    partition: int = 0
    offset: int = 0
    timestamp: float = 1_700_000_000.0


@dataclass
class StreamEvent:
    message: Message


class Sink:
    """Stands where a Faust topic stands: collects what the handler sends."""

    def __init__(self):
        self.sent: list[tuple[bytes | None, bytes | None]] = []

    async def send(self, key=None, value=None):
        self.sent.append((key, value))


def unit(*values):
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


# ---- vector record codec ---------------------------------------------------------------------------
def test_vector_record_round_trip_and_delete():
    meta = ItemMeta("i1", "Tent", "Tents", 99.5, False, 12.0)
    back = decode_record(b"i1", encode_record(VectorRecord("i1", "m@1", unit(1, 2, 3, 4), meta)))
    assert back.item_id == "i1" and back.model_version == "m@1" and back.meta == meta
    assert np.array_equal(back.vector, unit(1, 2, 3, 4))
    gone = decode_record(b"i1", encode_record(VectorRecord("i1", "m@1", None, None)))
    assert gone.deleted and gone.item_id == "i1"
    assert decode_record(b"i2", None).deleted  # a compaction tombstone


def test_a_newer_workers_extra_fields_are_ignored():
    body = json.loads(encode_record(VectorRecord("i1", "m@1", unit(1, 0, 0, 0), ItemMeta("i1", "Tent"))))
    body["meta"]["brand_colour"] = "teal"  # a field a newer worker added
    body["embedding_norm"] = 1.0
    body["schema_version"] = 2
    record = decode_record(b"i1", json.dumps(body).encode())
    assert record.meta == ItemMeta("i1", "Tent") and record.vector is not None


@pytest.mark.parametrize("value, reason", [
    (b"\xff\xfe", "bad_vector_record"),
    (b"[1, 2]", "bad_vector_record"),
    (b'{"item_id": "i", "model_version": "m", "dim": 2, "vector": "AAAA"}', "bad_vector"),
    (b'{"item_id": "i", "model_version": "m", "dim": 1, "vector": "not base64!"}', "bad_vector_record"),
    (b'{"item_id": "i", "model_version": "m", "dim": 1, "vector": "AADAfw=="}', "bad_vector"),  # NaN
    (b'{"item_id": "i", "model_version": "m", "dim": 1, "vector": "AACAPw==", "meta": {"in_stock": "yes"}}',
     "bad_vector_record"),
    (b'{"model_version": "m", "deleted": true}', "bad_vector_record"),
])
def test_vector_record_rejections_carry_a_reason(value, reason):
    with pytest.raises(InvalidMessage) as err:
        decode_record(b"i", value)
    assert err.value.reason == reason


# ---- dead letters ----------------------------------------------------------------------------------
def test_dead_letter_keeps_the_exact_bytes_and_says_why():
    raw = b"\xff not utf-8"
    letter = json.loads(dead_letter(source_topic="events", partition=2, offset=7, key=b"u1", value=raw,
                                    reason="invalid_json", detail="bad byte"))
    assert letter["source_topic"] == "events" and (letter["partition"], letter["offset"]) == (2, 7)
    assert letter["reason"] == "invalid_json" and letter["detail"] == "bad byte" and letter["key"] == "u1"
    assert letter["value"] is None and base64.b64decode(letter["value_base64"]) == raw
    text = json.loads(dead_letter(source_topic="items", partition=0, offset=0, key=None, value=b'{"a": 1}',
                                  reason="missing_title"))
    assert text["value"] == '{"a": 1}' and text["key"] is None


# ---- ItemState.apply -------------------------------------------------------------------------------
def new_state(model_version="m@1"):
    return ItemState.open_empty(model_version=model_version, dim=DIM, index_options=IndexOptions(kind="flat"))


def test_item_state_applies_in_order_and_tracks_offsets():
    state = new_state()
    up = lambda i, v: VectorRecord(i, "m@1", v, ItemMeta(i, i.upper(), "C", published_at=5.0))  # noqa: E731
    upserted, deleted, rejected = state.apply([
        ("iv:0", 0, up("a", unit(1, 0, 0, 0))),
        ("iv:0", 1, up("b", unit(0, 1, 0, 0))),
        ("iv:1", 0, VectorRecord("a", "m@1", None, None)),  # deleted after its upsert in the same batch
        ("iv:1", 1, up("c", unit(0, 0, 1, 0))),
        ("iv:0", 2, VectorRecord("d", "other@9", unit(0, 0, 0, 1), ItemMeta("d", "D"))),
    ])
    assert (upserted, deleted) == (2, 1) and [r.item_id for _, _, r in rejected] == ["d"]
    assert "a" not in state.index and "b" in state.index and "c" in state.index and "d" not in state.index
    assert "a" not in state.catalogue and state.catalogue.title("b") == "B"
    assert state.offsets == {"iv:0": 3, "iv:1": 2}
    assert state.signals.first_seen["b"] == 5.0


# ---- the item agent's batch handler ----------------------------------------------------------------
@pytest.fixture(scope="module")
def encoder():
    return load_encoder(Settings().encoder_options())


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


def test_a_dead_letter_fits_in_one_message_however_large_the_refused_one():
    huge = b'{"item_id": "x", "title": "' + b"t" * 3_000_000 + b'"}'
    letter = json.loads(dead_letter(source_topic="items", partition=0, offset=1, key=b"x", value=huge,
                                    reason="too_long", detail="title has 3000000 characters"))
    assert len(json.dumps(letter)) < 1_000_000
    assert letter["truncated"] and letter["size"] == len(huge) and letter["value"] is None
    assert huge.startswith(base64.b64decode(letter["value_base64"]))
