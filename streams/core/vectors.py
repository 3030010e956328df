"""The `item-vectors` record: an item's embedding, encoded once and shared by every worker.

The record is a versioned wire schema, not a dump of an in-memory class: ``schema_version`` says which
shape it has, and a reader ignores fields it does not know, so a newer worker's extra metadata never
makes an older worker dead-letter the record.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidMessage
from .catalogue import ItemMeta
from .records import checked_id, checked_text

SCHEMA_VERSION = 1
_META_FIELDS = ("item_id", "title", "category", "price", "in_stock", "published_at", "facets")


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
    body: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "item_id": record.item_id,
                            "model_version": record.model_version}
    if record.vector is None:
        body["deleted"] = True
    else:
        body["dim"] = int(record.vector.shape[0])
        body["vector"] = base64.b64encode(np.asarray(record.vector, dtype=np.float32).tobytes()).decode()
        body["meta"] = meta_to_wire(record.meta) if record.meta else None
    return json.dumps(body, separators=(",", ":")).encode()


def decode_record(key: bytes | None, value: bytes | None) -> VectorRecord:
    """Parse an `item-vectors` message (a null value is a compaction tombstone: a delete).

    Any input gives a record or one InvalidMessage with a reason, never another exception.
    """
    if value is None:
        if not key:
            raise InvalidMessage("tombstone_without_key")
        return VectorRecord(key.decode("utf-8", "replace"), "", None, None)
    try:
        body = json.loads(value)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidMessage("bad_vector_record", f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise InvalidMessage("bad_vector_record", "expected a JSON object")
    item_id = body.get("item_id")
    if not isinstance(item_id, str) or not item_id:
        raise InvalidMessage("bad_vector_record", "item_id must be a non-empty string")
    checked_id(item_id, "item_id")  # an internal topic is read like input: its text reaches shoppers
    model_version = body.get("model_version", "")
    if not isinstance(model_version, str):
        raise InvalidMessage("bad_vector_record", "model_version must be a string")
    if body.get("deleted"):
        return VectorRecord(item_id, model_version, None, None)
    dim, encoded = body.get("dim"), body.get("vector")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1 or not isinstance(encoded, str):
        raise InvalidMessage("bad_vector_record", "an upsert needs an integer dim and a base64 vector")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidMessage("bad_vector_record", f"vector is not base64: {exc}") from None
    if len(raw) != dim * 4:
        raise InvalidMessage("bad_vector", f"dim {dim} but {len(raw) / 4:g} values")
    vector = np.frombuffer(raw, dtype=np.float32).copy()
    if not np.all(np.isfinite(vector)):
        raise InvalidMessage("bad_vector", "vector has NaN or infinite values")
    meta = body.get("meta")
    return VectorRecord(item_id, model_version, vector, None if meta is None else meta_from_wire(meta, item_id))


def meta_to_wire(meta: ItemMeta) -> dict[str, Any]:
    """The metadata part of the record."""
    body = {name: getattr(meta, name) for name in _META_FIELDS}
    body["facets"] = {name: list(values) for name, values in meta.facets.items()}
    return body


def meta_from_wire(data: Any, item_id: str) -> ItemMeta:
    """ItemMeta from the record's metadata: known fields checked, unknown ones ignored."""
    if not isinstance(data, dict):
        raise InvalidMessage("bad_vector_record", "meta must be an object")
    title, category = data.get("title", ""), data.get("category", "")
    price, in_stock, published_at = data.get("price"), data.get("in_stock", True), data.get("published_at", 0.0)
    if not isinstance(title, str) or not isinstance(category, str):
        raise InvalidMessage("bad_vector_record", "meta title and category must be strings")
    checked_text(title, "meta title")
    checked_text(category, "meta category")
    if price is not None and not _finite_number(price):
        raise InvalidMessage("bad_vector_record", "meta price must be a number")
    if not isinstance(in_stock, bool):
        raise InvalidMessage("bad_vector_record", "meta in_stock must be true or false")
    if not _finite_number(published_at):
        raise InvalidMessage("bad_vector_record", "meta published_at must be a number")
    facets = data.get("facets") or {}
    if not isinstance(facets, dict) or not all(isinstance(v, list) and all(isinstance(t, str) for t in v)
                                               for v in facets.values()):
        raise InvalidMessage("bad_vector_record", "meta facets must map names to lists of strings")
    return ItemMeta(item_id, title, category, None if price is None else float(price), in_stock, float(published_at),
                    {str(name): tuple(values) for name, values in facets.items()})


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
