"""The exact index (IndexIDMap2 over IndexFlatIP), and the id-mapped base the other kinds extend.

The base owns everything the kinds share: input validation, the string ↔ int64 id map, turning
faiss results into Hits, and the on-disk layout (``index.faiss`` + ``ids.json`` + ``meta.json``).
Instances are not thread-safe: one worker task mutates and searches its own index.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import ClassVar, Iterable, Sequence

import faiss
import numpy as np

from .base import Hit, VectorIndex
from .errors import SnapshotError
from .gpu import GpuMirror, resolve_use_gpu
from .ids import IdMap
from .options import IndexOptions

INDEX_FILE = "index.faiss"
IDS_FILE = "ids.json"
META_FILE = "meta.json"
FORMAT = 1


def check_item_ids(item_ids: Sequence[str]) -> list[str]:
    """The ids as a list; ValueError unless every one is a non-empty str."""
    if isinstance(item_ids, (str, bytes)):  # a lone string would be iterated character by character
        raise ValueError("item_ids must be a sequence of strings, not a single string")
    ids = list(item_ids)
    for item_id in ids:
        if not isinstance(item_id, str) or not item_id:
            raise ValueError(f"item ids must be non-empty strings, got {item_id!r}")
    return ids


def check_matrix(x: np.ndarray, dim: int, what: str, rows: int | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float32 [n, dim] array; ValueError for any other shape or dtype."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{what} must be a numpy array, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D [n, {dim}], got shape {x.shape} (use x[None, :] for one row)")
    if x.shape[1] != dim:
        raise ValueError(f"{what} must have {dim} columns, got shape {x.shape}")
    if rows is not None and x.shape[0] != rows:
        raise ValueError(f"{what} has {x.shape[0]} rows for {rows} item ids")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{what} must be floating point (float32), got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():  # one NaN stored would poison every search that touches it
        raise ValueError(f"{what} contain NaN or infinite values")
    return x


def check_k(k: int) -> int:
    """``k`` as an int >= 1; ValueError otherwise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def last_wins(item_ids: list[str], x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Collapse repeated ids in one batch to their last row, as if upserted one after another."""
    last = {item_id: row for row, item_id in enumerate(item_ids)}
    if len(last) == len(item_ids):
        return item_ids, x
    return list(last), x[list(last.values())]


class IdMappedIndex(VectorIndex):
    """A VectorIndex over one faiss index keyed by the int64 ids of an IdMap."""

    kind: ClassVar[str]

    def __init__(self, dim: int, options: IndexOptions, faiss_index: faiss.Index, ids: IdMap | None = None) -> None:
        self.dim = dim
        self.options = options
        self.faiss_index = faiss_index
        self.ids = ids if ids is not None else IdMap()

    # -- the VectorIndex contract ------------------------------------------------------------
    def upsert(self, item_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of these ids (vectors: float32 [n, dim])."""
        ids = check_item_ids(item_ids)
        x = check_matrix(vectors, self.dim, "vectors", rows=len(ids))
        if ids:
            self._upsert(*last_wins(ids, x))

    def delete(self, item_ids: Sequence[str]) -> int:
        """Remove these ids; unknown ids are ignored. Return how many were removed."""
        ids = [i for i in dict.fromkeys(check_item_ids(item_ids)) if i in self.ids]
        return self._delete(ids) if ids else 0

    def search(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """Top-k hits per query row, best first; fewer than k when fewer items are live."""
        q = check_matrix(queries, self.dim, "queries")
        k = min(check_k(k), len(self.ids))
        if k == 0 or q.shape[0] == 0:
            return [[] for _ in range(q.shape[0])]
        scores, labels = self._search(q, k)
        return self._hits(scores, labels, k)

    def present(self, item_ids: Iterable[str]) -> list[str]:
        """The live ones among ``item_ids``, in their order (filtered in C: ranking checks thousands)."""
        return self.ids.present(item_ids)

    def search_rows(self, queries: np.ndarray, limits: Sequence[int]) -> list[tuple[list[str], np.ndarray]]:
        """Per row its top ``limits[i]`` hits as (item ids, scores): one faiss search, ids mapped in C."""
        q = check_matrix(queries, self.dim, "queries", rows=len(limits))
        k = min(max((check_k(n) for n in limits), default=1), len(self.ids))
        if k == 0 or q.shape[0] == 0:
            return [([], np.zeros(0, dtype=np.float32)) for _ in range(q.shape[0])]
        scores, labels = self._search(q, k)
        out = []
        for row_scores, row_labels, n in zip(scores, labels, limits):
            ids = self.ids.item_ids(row_labels.tolist())  # -1 padding and freed ids come back as None
            keep = [i for i, item_id in enumerate(ids) if item_id is not None][:n] if None in ids else range(min(n, k))
            out.append(([ids[i] for i in keep], row_scores[list(keep)]))
        return out

    def vectors(self, item_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of these ids, float32 [n, dim]; KeyError for an unknown id."""
        ints = self.ids.ints(check_item_ids(item_ids))
        if len(ints) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._reconstruct(ints)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.ids

    # -- hooks the kinds implement --------------------------------------------------------------
    def _upsert(self, item_ids: list[str], x: np.ndarray) -> None:
        raise NotImplementedError

    def _delete(self, item_ids: list[str]) -> int:
        raise NotImplementedError

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.faiss_index.search(q, k)

    def _reconstruct(self, ints: np.ndarray) -> np.ndarray:
        return self.faiss_index.reconstruct_batch(ints)

    def _stored_count(self) -> int:
        """How many vectors the faiss index should hold for the id map (checked on load)."""
        return len(self.ids)

    def _extra_meta(self) -> dict:
        return {}

    def _restore_extra(self, meta: dict, directory: Path) -> None:
        """Restore kind-specific state saved by ``save`` (tombstones, training state)."""

    # -- results and persistence ---------------------------------------------------------------
    def _hits(self, scores: np.ndarray, labels: np.ndarray, k: int) -> list[list[Hit]]:
        out: list[list[Hit]] = []
        for row_scores, row_labels in zip(scores.tolist(), labels.tolist()):
            hits: list[Hit] = []
            for score, label in zip(row_scores, row_labels):
                # -1 pads rows faiss could not fill; a freed int id maps to None (deleted or replaced).
                item_id = self.ids.item_id(label) if label >= 0 else None
                if item_id is not None:
                    hits.append(Hit(item_id, float(score)))
                    if len(hits) == k:
                        break
            out.append(hits)
        return out

    def _faiss_to_save(self) -> faiss.Index:
        return self.faiss_index

    def save(self, directory: Path) -> None:
        """Write the faiss index, the id map and meta.json into an existing directory."""
        directory = Path(directory)
        faiss.write_index(self._faiss_to_save(), str(directory / INDEX_FILE))
        self.ids.save(directory / IDS_FILE)
        meta = {"format": FORMAT, "kind": self.kind, "dim": self.dim, "count": len(self),
                "options": self.options.to_dict(), **self._extra_meta()}
        (directory / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, options: IndexOptions | None = None) -> "IdMappedIndex":
        """Read an index written by ``save``; ``options`` overrides the saved tunables (same kind)."""
        directory = Path(directory)
        meta = read_meta(directory)
        if meta["kind"] != cls.kind:
            raise SnapshotError(f"{directory} holds a {meta['kind']!r} index, not {cls.kind!r}")
        try:
            saved = IndexOptions.from_dict(meta["options"])
            faiss_index = faiss.read_index(str(directory / INDEX_FILE))
        except (KeyError, TypeError, RuntimeError) as exc:  # faiss raises RuntimeError on bad files
            raise SnapshotError(f"cannot read index in {directory}: {exc}") from exc
        # A saved "always"/"never" GPU choice belongs to the machine that saved it, not to this one.
        options = options or replace(saved, use_gpu="auto")
        index = cls(int(meta["dim"]), options, faiss_index, IdMap.load(directory / IDS_FILE))
        index._restore_extra(meta, directory)
        if faiss_index.d != index.dim or faiss_index.ntotal != index._stored_count():
            raise SnapshotError(f"index in {directory} is inconsistent: {faiss_index.ntotal} vectors of dim "
                                f"{faiss_index.d} for {len(index.ids)} ids of dim {index.dim}")
        return index


def read_meta(directory: Path) -> dict:
    """meta.json of a saved index; SnapshotError when missing, malformed or of another format."""
    path = Path(directory) / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"cannot read {path}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "kind" not in meta or "dim" not in meta:
        raise SnapshotError(f"{path} is not an index meta file of format {FORMAT}")
    return meta


class FlatIndex(IdMappedIndex):
    """Exact inner-product search over every vector (IndexIDMap2 over IndexFlatIP)."""

    kind = "flat"

    def __init__(self, dim: int, options: IndexOptions, faiss_index: faiss.Index | None = None,
                 ids: IdMap | None = None) -> None:
        super().__init__(dim, options, faiss_index or options.to_faiss_index(dim, "flat"), ids)
        # Search on the GPU when there is one; the CPU index stays the source of truth (see gpu.py).
        self._gpu = GpuMirror() if resolve_use_gpu(options.use_gpu) else None

    def _upsert(self, item_ids: list[str], x: np.ndarray) -> None:
        existing = [self.ids.get(i) for i in item_ids if i in self.ids]
        if existing:
            # Replacement: drop the old rows first. This compacts the flat storage and rebuilds
            # IDMap2's reverse map, O(n) per call, so callers should batch their upserts.
            self.faiss_index.remove_ids(np.asarray(existing, dtype=np.int64))
        # The same item keeps its int id: a replaced row is gone before the new one is added, so a
        # search can never see the old vector under that id.
        ints = np.fromiter((self.ids.ensure(i) for i in item_ids), dtype=np.int64, count=len(item_ids))
        self.faiss_index.add_with_ids(x, ints)
        if self._gpu is not None:
            self._gpu.added(x, ints, removed=bool(existing))

    def _delete(self, item_ids: list[str]) -> int:
        ints = np.asarray([self.ids.free(i) for i in item_ids], dtype=np.int64)
        removed = self.faiss_index.remove_ids(ints)
        if self._gpu is not None:
            self._gpu.invalidate()
        return int(removed)

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._gpu is not None:
            return self._gpu.search(self.faiss_index, q, k)
        return self.faiss_index.search(q, k)
