"""String item id ↔ int64 FAISS id, allocated monotonically and saved with the index."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import SnapshotError

FORMAT = 1


class IdMap:
    """Bidirectional map of live item ids to int64 ids; a freed int id is never handed out again.

    Never reusing an int id means a search result computed against an older state (or a
    tombstoned HNSW node) can never be mistaken for whatever item was added since.
    """

    def __init__(self, next_id: int = 0, pairs: Iterable[tuple[str, int]] = ()) -> None:
        self._to_int: dict[str, int] = {}
        self._to_str: dict[int, str] = {}
        for item_id, int_id in pairs:
            self._to_int[item_id] = int(int_id)
            self._to_str[int(int_id)] = item_id
        if len(self._to_str) != len(self._to_int):
            raise ValueError("id map has two item ids on one int id")
        top = max(self._to_str, default=-1)
        if next_id <= top:
            raise ValueError(f"id map next_id {next_id} is not above its largest int id {top}")
        self.next_id = next_id

    def __len__(self) -> int:
        return len(self._to_int)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._to_int

    def __iter__(self) -> Iterator[str]:
        return iter(self._to_int)

    def get(self, item_id: str) -> int | None:
        """The int id of a live item id, or None."""
        return self._to_int.get(item_id)

    def ints(self, item_ids: Sequence[str]) -> np.ndarray:
        """Int ids (int64 array) of live item ids; KeyError names the first unknown one."""
        try:  # the lookups run in C (map over dict.__getitem__): ranking asks for thousands per event
            return np.fromiter(map(self._to_int.__getitem__, item_ids), dtype=np.int64, count=len(item_ids))
        except (KeyError, TypeError):
            pass  # find the culprit the slow way, for the error message
        out = np.empty(len(item_ids), dtype=np.int64)
        for i, item_id in enumerate(item_ids):
            try:
                out[i] = self._to_int[item_id]
            except (KeyError, TypeError):
                raise KeyError(item_id) from None
        return out

    def present(self, item_ids: Iterable[str]) -> list[str]:
        """The live ones among ``item_ids``, in their order (filtered in C)."""
        return list(filter(self._to_int.__contains__, item_ids))

    def item_ids(self, ints: Sequence[int]) -> list[str | None]:
        """The item id behind each int id (None where freed), looked up in C."""
        return list(map(self._to_str.get, ints))

    def item_id(self, int_id: int) -> str | None:
        """The item id behind an int id, or None when it is freed (or was never given out)."""
        return self._to_str.get(int(int_id))

    def assign(self, item_id: str) -> int:
        """Give ``item_id`` a fresh int id (freeing its old one, if any) and return it."""
        self.free(item_id)
        int_id = self.next_id
        self.next_id += 1
        self._to_int[item_id] = int_id
        self._to_str[int_id] = item_id
        return int_id

    def ensure(self, item_id: str) -> int:
        """The item's int id, assigning a fresh one when it has none."""
        found = self._to_int.get(item_id)
        return found if found is not None else self.assign(item_id)

    def free(self, item_id: str) -> int | None:
        """Forget ``item_id``; return the int id it had (now retired for good), or None."""
        int_id = self._to_int.pop(item_id, None)
        if int_id is not None:
            del self._to_str[int_id]
        return int_id

    def to_state(self) -> dict:
        """A JSON-ready dict: format, next_id, and the live ids as two parallel lists."""
        return {"format": FORMAT, "next_id": self.next_id,
                "item_ids": list(self._to_int), "int_ids": list(self._to_int.values())}

    @classmethod
    def from_state(cls, state: dict) -> "IdMap":
        """An IdMap back from ``to_state``; SnapshotError when the state is malformed."""
        try:
            if state["format"] != FORMAT:
                raise SnapshotError(f"id map format {state['format']!r} is not supported (expected {FORMAT})")
            item_ids, int_ids = state["item_ids"], state["int_ids"]
            if len(item_ids) != len(int_ids):
                raise SnapshotError("id map lists differ in length")
            return cls(int(state["next_id"]), zip(item_ids, int_ids))
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"malformed id map: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write the map as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_state(), separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "IdMap":
        """Read a map written by ``save``; SnapshotError when missing or malformed."""
        try:
            state = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"cannot read id map {path}: {exc}") from exc
        return cls.from_state(state)
