"""Binary wire forms of the signals path: signal rows (published and the aggregator's table value) and
delta batches (one `signal-deltas` message per partition per micro-batch).

Why not JSON: a worker installs every published row of the shop (up to a hundred neighbours each) and an
aggregator folds thousands of deltas a second; parsing a JSON object per neighbour dominated both. Here
the numbers are packed little-endian arrays read with ``np.frombuffer`` and the ids are one NUL-separated
UTF-8 block (ids never hold control characters: records.py refuses them). Every decode checks sizes and
finiteness and raises InvalidMessage with a reason, like any other input.
"""
from __future__ import annotations

import math
import struct
from typing import NamedTuple, Sequence

import numpy as np

from ...errors import InvalidMessage

MAGIC = b"\x93S"  # never the first byte of JSON, so earlier JSON values are told apart by their first byte
PUBLISHED_ROW, TABLE_ROW, DELTAS = 1, 2, 3
VERSION = 1
_ROW_HEAD = struct.Struct("<2sBBddddIHH")
_DELTA_HEAD = struct.Struct("<2sBBII")


class DecodedRow(NamedTuple):
    item_id: str
    clock: float
    popularity: float
    first_seen: float | None
    extra: float  # published: arrival time; table: the row's scale origin (NaN: none)
    watermarks: dict[int, int]
    ids: tuple[str, ...]
    values: np.ndarray


def _none_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def encode_row(kind: int, item_id: str, clock: float, popularity: float, first_seen: float | None, extra: float,
               watermarks: dict[int, int], ids: Sequence[str], values) -> bytes:
    """One row: header, item id, watermarks, values, ids."""
    item = item_id.encode()
    values = np.asarray(values, dtype="<f8")
    marks = sorted(watermarks.items())
    head = _ROW_HEAD.pack(MAGIC, kind, VERSION, clock, popularity, _none_nan(first_seen), extra, len(values),
                          len(marks), len(item))
    parts = [head, item, np.array([p for p, _ in marks], dtype="<i4").tobytes(),
             np.array([o for _, o in marks], dtype="<i8").tobytes(), values.tobytes(), "\0".join(ids).encode()]
    return b"".join(parts)


def decode_row(raw: bytes, kind: int) -> DecodedRow:
    """Inverse of :meth:`encode_row`; InvalidMessage (bad_signal_row) for anything else."""
    reason = "bad_signal_row"
    try:
        magic, got_kind, version, clock, popularity, first_seen, extra, n, n_marks, n_item = _ROW_HEAD.unpack_from(raw)
    except (struct.error, TypeError) as exc:
        raise InvalidMessage(reason, f"not a signal row: {exc}") from None
    if magic != MAGIC or got_kind != kind or version != VERSION:
        raise InvalidMessage(reason, f"not a signal row of kind {kind} version {VERSION}")
    pos = _ROW_HEAD.size
    end_marks = pos + n_item + 12 * n_marks
    end_values = end_marks + 8 * n
    if len(raw) < end_values:
        raise InvalidMessage(reason, "truncated signal row")
    try:
        item_id = raw[pos:pos + n_item].decode()
        ids = tuple(raw[end_values:].decode().split("\0")) if n else ()
    except UnicodeDecodeError as exc:
        raise InvalidMessage(reason, f"ids are not UTF-8: {exc}") from None
    partitions = np.frombuffer(raw, "<i4", n_marks, pos + n_item)
    offsets = np.frombuffer(raw, "<i8", n_marks, pos + n_item + 4 * n_marks)
    values = np.frombuffer(raw, "<f8", n, end_marks).astype(np.float64)
    if len(ids) != n or not item_id or (n and not all(ids)):
        raise InvalidMessage(reason, f"{len(ids)} ids for {n} values")
    if not (math.isfinite(clock) and math.isfinite(popularity)) or popularity < 0 or not np.isfinite(values).all() \
            or (n and values.min() < 0):
        raise InvalidMessage(reason, "clock, popularity and values must be finite, counts not negative")
    return DecodedRow(item_id, clock, popularity, None if math.isnan(first_seen) else first_seen, extra,
                      dict(zip(partitions.tolist(), offsets.tolist())), ids, values)


class DeltaColumns(NamedTuple):
    """A batch of deltas as columns: one entry per (row item, event), its pairs flattened in order."""

    items: list[str]
    ts: np.ndarray  # float64
    popularity: np.ndarray  # float64
    arrived: np.ndarray  # float64, NaN: unknown
    partition: np.ndarray  # int32, -1: no source
    offset: np.ndarray  # int64
    pair_counts: np.ndarray  # int32: how many of the pairs belong to each entry
    neighbours: list[str]
    amounts: np.ndarray  # float64


def encode_deltas(columns: DeltaColumns) -> bytes:
    """One `signal-deltas` message."""
    n, m = len(columns.items), len(columns.neighbours)
    parts = [_DELTA_HEAD.pack(MAGIC, DELTAS, VERSION, n, m)]
    for array, dtype in ((columns.ts, "<f8"), (columns.popularity, "<f8"), (columns.arrived, "<f8"),
                         (columns.partition, "<i4"), (columns.offset, "<i8"), (columns.pair_counts, "<i4"),
                         (columns.amounts, "<f8")):
        parts.append(np.asarray(array, dtype=dtype).tobytes())
    parts.append("\0".join(columns.items + columns.neighbours).encode())
    return b"".join(parts)


def decode_delta_columns(raw: bytes) -> DeltaColumns:
    """Inverse of :func:`encode_deltas`; InvalidMessage (bad_signal_delta) for anything else."""
    reason = "bad_signal_delta"
    try:
        magic, kind, version, n, m = _DELTA_HEAD.unpack_from(raw)
    except (struct.error, TypeError) as exc:
        raise InvalidMessage(reason, f"not a delta batch: {exc}") from None
    if magic != MAGIC or kind != DELTAS or version != VERSION:
        raise InvalidMessage(reason, f"not a delta batch of version {VERSION}")
    pos = _DELTA_HEAD.size
    sizes = (("<f8", n), ("<f8", n), ("<f8", n), ("<i4", n), ("<i8", n), ("<i4", n), ("<f8", m))
    end = pos + sum(np.dtype(d).itemsize * k for d, k in sizes)
    if len(raw) < end:
        raise InvalidMessage(reason, "truncated delta batch")
    arrays = []
    for dtype, count in sizes:
        arrays.append(np.frombuffer(raw, dtype, count, pos))
        pos += np.dtype(dtype).itemsize * count
    try:
        names = raw[end:].decode().split("\0") if n + m else []
    except UnicodeDecodeError as exc:
        raise InvalidMessage(reason, f"ids are not UTF-8: {exc}") from None
    ts, popularity, arrived, partition, offset, counts, amounts = arrays
    if len(names) != n + m or not all(names) or int(counts.sum()) != m or (n and counts.min() < 0):
        raise InvalidMessage(reason, "ids and counts do not match")
    if not (np.isfinite(ts).all() and np.isfinite(popularity).all() and np.isfinite(amounts).all()):
        raise InvalidMessage(reason, "times and amounts must be finite")
    return DeltaColumns(names[:n], ts, popularity, arrived, partition, offset, counts, names[n:], amounts)
