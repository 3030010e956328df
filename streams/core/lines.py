"""Records in the wire contract's shape from JSON lines or CSV (files or stdin): `produce`, `import` and `eval` read them."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import IO, Any, Iterator

#: columns whose CSV text becomes a number when it looks like one
_NUMERIC_COLUMNS = ("price", "ts")
#: columns whose CSV text becomes a boolean (the wire contract wants true/false, not "true")
_BOOLEAN_COLUMNS = ("in_stock", "deleted")
_BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def file_format(name: str, given: str | None = None) -> str:
    """The input format: the one given, else csv for *.csv names, else jsonl."""
    return given or ("csv" if name.lower().endswith(".csv") else "jsonl")


def count_records(path: Path, fmt: str) -> int:
    """How many messages the file holds (for the progress bar)."""
    with open(path, "rb") as handle:
        return sum(1 for _ in messages(handle, fmt, None))


def messages(stream: IO[bytes], fmt: str, key_field: str | None) -> Iterator[tuple[bytes | None, bytes]]:
    """(key, value) pairs from a binary stream of JSON lines or CSV."""
    if fmt == "csv":
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        for row in csv.DictReader(text):
            record = csv_record(row)
            yield _key(record, key_field), json.dumps(record, ensure_ascii=False).encode()
        return
    for line in stream:
        value = line.rstrip(b"\r\n")
        if not value.strip():
            continue  # blank lines separate nothing: they are not messages
        yield _key(_try_json(value), key_field), value


def csv_record(row: dict[str | None, Any]) -> dict[str, Any]:
    """One CSV row as a wire-contract JSON object (numbers, booleans, attributes object)."""
    record: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell is None:
            continue  # cells beyond the header row have no name
        column = column.strip()
        cell = cell.strip()
        if cell == "":
            continue  # an empty cell means "not given", so the contract's default applies
        record[column] = _convert(column, cell)
    return record


def _convert(column: str, cell: str) -> Any:
    if column in _NUMERIC_COLUMNS:
        if _INT.fullmatch(cell):
            return int(cell)
        if _FLOAT.fullmatch(cell):
            return float(cell)
    if column in _BOOLEAN_COLUMNS and cell.lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[cell.lower()]
    if column == "attributes" and cell.startswith("{"):
        try:
            return json.loads(cell)
        except ValueError:
            return cell  # the worker rejects it with a reason; we don't guess
    return cell


def _try_json(value: bytes) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return None


def _key(record: Any, key_field: str | None) -> bytes | None:
    if key_field is None or not isinstance(record, dict):
        return None
    key = record.get(key_field)
    if key is None or isinstance(key, (dict, list)):
        return None
    return str(key).encode()
