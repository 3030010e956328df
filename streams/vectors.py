"""The `item-vectors` record: an item's embedding, encoded once and shared by every worker."""
from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass

import numpy as np

from .catalogue import ItemMeta
from .errors import InvalidMessage


@dataclass(frozen=True)
class VectorRecord:
    """An upsert (vector + metadata) or, when ``vector`` is None, a delete."""

    item_id: str
    model_version: str
    vector: np.ndarray | None
    meta: ItemMeta | None

    @property
    def deleted(self) -> bool:
        """True for a removal."""
        return self.vector is None


def encode_record(record: VectorRecord) -> bytes:
    """JSON bytes for the compacted `item-vectors` topic (vector as base64 float32)."""
    body = {"item_id": record.item_id, "model_version": record.model_version}
    if record.vector is None:
        body["deleted"] = True
    else:
        body["dim"] = int(record.vector.shape[0])
        body["vector"] = base64.b64encode(np.asarray(record.vector, dtype=np.float32).tobytes()).decode()
        body["meta"] = asdict(record.meta) if record.meta else None
    return json.dumps(body, separators=(",", ":")).encode()


def decode_record(key: bytes | None, value: bytes | None) -> VectorRecord:
    """Parse an `item-vectors` message (a null value is a compaction tombstone: a delete)."""
    if value is None:
        if not key:
            raise InvalidMessage("tombstone_without_key")
        return VectorRecord(key.decode("utf-8", "replace"), "", None, None)
    try:
        body = json.loads(value)
        if body.get("deleted"):
            return VectorRecord(body["item_id"], body.get("model_version", ""), None, None)
        vector = np.frombuffer(base64.b64decode(body["vector"]), dtype=np.float32).copy()
        if vector.shape[0] != body["dim"]:
            raise InvalidMessage("bad_vector", f"dim {body['dim']} but {vector.shape[0]} values")
        meta = ItemMeta(**body["meta"]) if body.get("meta") else None
        return VectorRecord(body["item_id"], body["model_version"], vector, meta)
    except InvalidMessage:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidMessage("bad_vector_record", str(exc)[:200]) from None
