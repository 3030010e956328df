"""The `item-vectors` record codec: round trips, tombstones, a newer worker's extra fields, rejections with reasons."""
import json

import numpy as np
import pytest
from support import unit

from streams.core.catalogue import ItemMeta
from streams.core.vectors import VectorRecord, decode_record, encode_record
from streams.errors import InvalidMessage


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
