"""What ranking needs of one profile at one moment, read from it once: a per-event snapshot.

A micro-batch folds each event into its user's profile and takes a snapshot right after, so every list
is ranked on its own user's history up to and including its event; the batch is then ranked at once from
the snapshots (no profile copies).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..items import ItemIds, ItemVectors
from ..profiles import Profile, Touch
from .options import RankingOptions


class Rebuy(NamedTuple):
    """The items a user may get again (touched, never by an excluding type): what the repurchase feature reads."""

    dense: np.ndarray  # int64, ascending
    times: np.ndarray  # [n] how often the user took each
    first: np.ndarray  # [n] first and …
    last: np.ndarray  # … latest time
    top: np.ndarray  # dense ids of the most taken ones (ties: the latest), the buy-again candidates
    marks: dict[str, tuple[int, float, float]]  # item id → (times, first, last): the reasons' evidence


_NO_REBUY = Rebuy(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), {})


def rebuy_of(profile: Profile, ids: ItemIds, exclude_types: tuple[str, ...], candidates: int) -> tuple[np.ndarray, Rebuy]:
    """(dense ids of the excluded seen items, the rest as buy-again items) under a per-type exclusion."""
    excluding = set(exclude_types)
    marks = profile.marks
    kept: dict[str, tuple[int, float, float]] = {}
    excluded = []
    for item_id in profile.seen_ids:
        mark = marks.get(item_id)
        if mark is None or not mark[0] or excluding.intersection(mark[0].split("|")):
            excluded.append(item_id)  # unknown types (rows of earlier versions) stay excluded, as before
        else:
            kept[item_id] = mark[1:]
    if not kept:
        return ids.lookup(excluded), _NO_REBUY
    dense = ids.lookup(list(kept))
    rows = np.array(list(kept.values()), dtype=np.float64).reshape(-1, 3)
    known = dense >= 0
    dense, rows = dense[known], rows[known]
    order = np.argsort(dense, kind="stable")
    best = np.lexsort((-rows[:, 2], -rows[:, 0]))[:candidates]
    return ids.lookup(excluded), Rebuy(dense[order], rows[order, 0], rows[order, 1], rows[order, 2], dense[best], kept)


@dataclass
class Basis:
    """A profile's parts that candidates are compared with, and its collaborative window.

    Content: one row per weighted interaction j of the kept history (an item with a vector, or a search),
    its vector u_j and decayed weight a_j; rows of the same item or query form one group (one reason).
    Collaborative: the distinct recent items, most recent first, with their share b_i of the decayed weight.
    """

    query: np.ndarray | None  # normalised profile vector
    norm: float
    history: list[Touch]  # the kept history as it stood (labels are read from it)
    entries: np.ndarray  # [J] history index of each basis row
    vectors: np.ndarray | None  # [J, dim]
    weights: np.ndarray  # [J] a_j
    groups: np.ndarray  # [J] group of each row
    group_first: np.ndarray  # [G] the first row of each group
    recent_dense: np.ndarray  # [R] dense ids of the distinct recent items, most recent first
    recent_ids: list[str]
    shares: np.ndarray  # [R] b_i
    sources: np.ndarray  # dense ids of the items whose content rows are candidates
    queries: list[str]  # the searches whose rows are content candidates
    query_vectors: list[np.ndarray]
    rebuy: Rebuy = _NO_REBUY  # what the user may get again (per-type exclusion only)

    def label(self, group: int) -> dict[str, Any]:
        """What the user did, for a group: {code, item_id, event_type} or {code, query}."""
        touch = self.history[int(self.entries[self.group_first[group]])]
        if touch.query is not None:
            return {"code": "matches_search", "query": touch.query}
        return {"code": "similar_to_item", "item_id": touch.item_id, "event_type": touch.type}

    @property
    def group_labels(self) -> list[dict[str, Any]]:
        """One label per group."""
        return [self.label(g) for g in range(len(self.group_first))]

    @property
    def labels(self) -> list[dict[str, Any]]:
        """One label per basis row."""
        return [self.label(g) for g in self.groups.tolist()]

    @property
    def recent(self) -> list[tuple[str, float, dict[str, Any]]]:
        """(item_id, b_i, label) of each recent item, most recent first."""
        return [(i, b, {"item_id": i}) for i, b in zip(self.recent_ids, self.shares.tolist())]

    def content_parts(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cosines [n, J], content contributions [n, J]) of these candidate vectors, per basis vector."""
        if self.vectors is None or not len(vectors):
            empty = np.zeros((len(vectors), 0))
            return empty, empty
        sims = vectors @ self.vectors.T
        parts = sims * (self.weights / self.norm) if self.norm > 0 else np.zeros_like(sims)
        return sims, parts


@dataclass
class Snapshot:
    """One event's view of its user's profile: what ranking and explanations read."""

    user_id: str
    now: float  # the profile's clock
    events: int
    basis: Basis
    seen: np.ndarray  # dense ids of the seen items (int64)
    categories: dict[str, float]  # decayed category affinity
    cold: bool


def recent_items(profile: Profile, window: int) -> list[str]:
    """The user's distinct recent item ids, most recent first."""
    out: dict[str, None] = {}
    for touch in reversed(profile.history):
        if touch.item_id and touch.item_id not in out:
            out[touch.item_id] = None
            if len(out) == window:
                break
    return list(out)


class Capture(NamedTuple):
    """A profile as it stood right after one event of a micro-batch: what its snapshot is built from."""

    user_id: str
    now: float
    events: int
    history: list[Touch]
    vector: np.ndarray | None
    query_vectors: dict[str, np.ndarray]
    seen: np.ndarray
    categories: dict[str, float]
    rebuy: Rebuy = _NO_REBUY


def capture(profile: Profile, ids: ItemIds, exclude_seen: bool = True, options: RankingOptions | None = None) -> Capture:
    """The profile's state now, without copying more than the small mutable parts.

    With ``options.exclude_types`` set, only items an excluding type touched are excluded; the rest are the
    profile's buy-again items.
    """
    rebuy = _NO_REBUY
    if not exclude_seen:
        seen = _NO_IDS
    elif options is None or options.exclude_types is None:
        seen = profile.seen_dense(ids)
    else:
        seen, rebuy = rebuy_of(profile, ids, options.exclude_types, options.rebuy_candidates)
    return Capture(profile.user_id, profile.updated_at, profile.events, list(profile.history), profile.vector,
                   dict(profile.query_vectors) if profile.query_vectors else profile.query_vectors,
                   seen, dict(profile.categories), rebuy)


_NO_IDS = np.zeros(0, dtype=np.int64)


def _first_in_segments(segment: np.ndarray, keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of equal keys within each segment, numbered per segment by first occurrence.

    Returns (local group of each row, global index of the first row of each group, segment of each group).
    """
    combined = segment.astype(np.int64) * size + keys
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # groups by first occurrence: segment-major, rows ascending
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    group_segment = segment[first[order]]
    starts = np.searchsorted(group_segment, np.arange(segment.max() + 1 if len(segment) else 0))
    local = rank[inverse] - starts[segment]
    return local, first[order], group_segment


def build_bases(captures: list[Capture], ids: ItemIds, vectors: ItemVectors, options: RankingOptions) -> list[Basis]:
    """The content basis and collaborative window of every capture of a micro-batch, computed as whole-batch arrays."""
    b = len(captures)
    lengths = np.fromiter((len(c.history) for c in captures), np.int64, b)
    touches = [t for c in captures for t in c.history]
    n = len(touches)
    segment = np.repeat(np.arange(b), lengths)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    ts = np.fromiter((t.ts for t in touches), np.float64, n)
    base = np.fromiter((t.weight for t in touches), np.float64, n)
    now = np.fromiter((c.now for c in captures), np.float64, b)
    a = base * np.exp2(-np.maximum(now[segment] - ts, 0.0) / options.half_life_seconds)
    dense = ids.lookup([t.item_id or "" for t in touches])
    # searches with a vector (rare: a Python pass over them only)
    query_rows = [j for j, t in enumerate(touches) if t.query is not None and t.query in captures[segment[j]].query_vectors]
    is_query = np.zeros(n, dtype=bool)
    is_query[query_rows] = True
    has = (dense >= 0) & vectors.has(np.maximum(dense, 0)) & ~is_query
    entries = np.flatnonzero((base > 0) & (is_query | has))
    entry_segment = segment[entries]
    keys = np.maximum(dense[entries], 0) + 0  # items: their dense id; searches: below, after the ids
    basis_vectors = vectors.of(np.maximum(dense[entries], 0)) if len(entries) else np.zeros((0, vectors.dim), np.float32)
    if query_rows:
        texts: dict[str, int] = {}
        position = {j: row for row, j in enumerate(entries.tolist())}
        for j in query_rows:
            row = position.get(j)
            if row is not None:
                text = touches[j].query
                basis_vectors[row] = captures[segment[j]].query_vectors[text]
                keys[row] = len(ids) + texts.setdefault(text, len(texts))
    size = len(ids) + len(query_rows) + 1
    groups, group_first, group_segment = (_first_in_segments(entry_segment, keys, size) if len(entries) else
                                          (_NO_IDS, _NO_IDS, _NO_IDS))
    entry_starts = np.searchsorted(entry_segment, np.arange(b + 1))
    group_starts = np.searchsorted(group_segment, np.arange(b + 1))
    # the collaborative window: distinct recent items (most recent first) and their decayed weight share
    items = np.flatnonzero(dense >= 0)
    stride = len(ids) + 1
    item_key = segment[items].astype(np.int64) * stride + dense[items]
    # the most recent touch of each (segment, item), then in recency order within each segment
    _, last = np.unique(item_key[::-1], return_index=True)
    latest = items[::-1][last]
    latest = latest[np.lexsort((-latest, segment[latest]))]
    latest_segment = segment[latest]
    rank = np.arange(len(latest)) - np.searchsorted(latest_segment, latest_segment)
    window = max(options.collab_window, options.content_sources)
    kept = latest[rank < window]
    kept_starts = np.searchsorted(segment[kept], np.arange(b + 1))
    # shares: Σ max(a_j, 1e-9) over every touch of a kept item
    kept_key = segment[kept].astype(np.int64) * stride + dense[kept]
    sorter = np.argsort(kept_key)
    decayed = np.zeros(len(kept))
    if len(kept):
        at = np.minimum(np.searchsorted(kept_key[sorter], item_key), len(kept) - 1)
        hit = kept_key[sorter][at] == item_key
        decayed = np.bincount(sorter[at[hit]], weights=np.maximum(a[items][hit], 1e-9), minlength=len(kept))
    out = []
    for i, c in enumerate(captures):
        e0, e1 = entry_starts[i], entry_starts[i + 1]
        g0, g1 = group_starts[i], group_starts[i + 1]
        k0, k1 = kept_starts[i], kept_starts[i + 1]
        recent = dense[kept[k0:k1]]
        collab = recent[: options.collab_window]
        shares = decayed[k0:k0 + len(collab)]
        total = shares.sum()
        shares = shares / total if total else shares
        sources = recent[: options.content_sources]
        sources = sources[vectors.has(sources)] if len(sources) else sources
        vector = c.vector
        norm = float(np.linalg.norm(vector)) if vector is not None and np.any(vector) else 0.0
        query = (vector / norm).astype(np.float32) if norm > 0 else None
        texts_i = list(dict.fromkeys(t.query for t in reversed(c.history) if t.query and t.query in c.query_vectors))
        texts_i = texts_i[: options.content_sources]
        local_entries = entries[e0:e1] - offsets[i]
        out.append(Basis(query, norm if query is not None else 0.0, c.history, local_entries,
                         basis_vectors[e0:e1] if e1 > e0 else None, a[entries[e0:e1]], groups[e0:e1],
                         group_first[g0:g1] - e0, collab, ids.name_of(collab.tolist()), shares, sources, texts_i,
                         [c.query_vectors[t] for t in texts_i], c.rebuy))
    return out


def build_basis(profile: Profile, ids: ItemIds, vectors: ItemVectors, options: RankingOptions) -> Basis:
    """The content basis and the collaborative window of one profile (a batch of one)."""
    return build_bases([capture(profile, ids, False)], ids, vectors, options)[0]


def snapshots(captures: list[Capture], ids: ItemIds, vectors: ItemVectors, options: RankingOptions) -> list[Snapshot]:
    """The snapshot of every capture of a micro-batch."""
    bases = build_bases(captures, ids, vectors, options)
    return [Snapshot(c.user_id, c.now, c.events, basis, c.seen, c.categories, c.vector is None or not np.any(c.vector))
            for c, basis in zip(captures, bases)]


def snapshot(profile: Profile, ids: ItemIds, vectors: ItemVectors, options: RankingOptions) -> Snapshot:
    """What ranking reads of ``profile`` as it stands now."""
    return snapshots([capture(profile, ids, options.exclude_seen, options)], ids, vectors, options)[0]
