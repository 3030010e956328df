"""The learned ranker's feature columns: the blend's five, in the tuned space, plus what helps a ranker.

Each column is computed for every candidate of one profile at once (numpy). Missing values are NaN
(LightGBM treats them as missing, and a linear model as 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ..ranking.basis import Basis, Snapshot
from ..ranking.candidates import Pool
from ..ranking.features import (
    BatchContext,
    CollabEntries,
    category_column,
    collab_entries,
    freshness_column,
    popularity_column,
)
from .space import TunedIndex
from .trend import PopularityTrend


class LearnedFeature(IntEnum):
    """Columns of the learned ranker's feature matrix, in order (a model file names them)."""

    CONTENT = 0  # cosine with the profile in the tuned space (the frozen one without an adapter)
    COLLAB = 1  # co-occurrence with the user's recent items (the blend's)
    POPULARITY = 2
    CATEGORY = 3
    FRESHNESS = 4
    CONTENT_LAST = 5  # cosine with the user's last item (tuned)
    COLLAB_LAST = 6  # co-occurrence cosine with the user's last item
    NEIGHBOUR_AGE = 7  # log1p seconds since the user touched the most recent item this one co-occurs with
    AGE = 8  # log1p seconds since the item first appeared
    TREND = 9  # short-term over long-term popularity (log ratio)
    ACTIVITY = 10  # log1p of the user's events

    @property
    def field(self) -> str:
        """Column name (in model files and reports)."""
        return self.name.lower()


LEARNED_FEATURES = tuple(f.field for f in LearnedFeature)
@dataclass
class Context:
    """What one snapshot's candidates are compared with, in the space being searched."""

    basis: Basis  # the blend's basis: labels, decayed weights a_j, groups, the collaborative window
    weight: np.ndarray | None  # the running adapter's W (None: the frozen space)
    tuned_norm: float  # ‖W·p‖
    query: np.ndarray | None  # W·p / ‖W·p‖
    entries: CollabEntries  # the recent items' co-occurrence neighbours
    last: str | None  # the user's most recent item
    last_vector: np.ndarray | None  # its tuned vector
    touched_at: np.ndarray  # [R] when the user last touched each recent item
    now: float
    events: int


def tuned_vectors(ranker, dense: np.ndarray) -> np.ndarray:
    """The vectors candidates are scored with: tuned under an adapter, else the frozen ones."""
    index = ranker.index
    if isinstance(index, TunedIndex) and len(dense):
        return index.tuned(ranker.ids.name_of(dense.tolist()))  # the tuned space's own copy (no projection)
    return ranker.vectors.of(dense)


def context(snap: Snapshot, ranker, entries: CollabEntries | None = None) -> Context:
    """The snapshot's basis mapped through the running adapter (identity without one)."""
    basis = snap.basis
    entries = collab_entries(snap, ranker.signals) if entries is None else entries
    index = ranker.index
    adapter = index.adapter if isinstance(index, TunedIndex) else None
    query, norm = basis.query, basis.norm
    if adapter is not None and query is not None:
        # one projection per profile: the basis itself is never mapped (content_parts maps the few candidates back)
        projected = adapter.project((query * norm)[None, :])[0]
        norm = float(np.linalg.norm(projected))
        query = (projected / norm).astype(np.float32) if norm > 0 else None
    touched: dict[str, float] = {}
    for touch in basis.history:
        if touch.item_id:
            touched[touch.item_id] = touch.ts
    touched_at = np.array([touched.get(i, snap.now) for i in basis.recent_ids])
    last = basis.recent_ids[0] if basis.recent_ids else None
    last_vector = None
    if last is not None and ranker.vectors.has(basis.recent_dense[:1])[0]:
        last_vector = tuned_vectors(ranker, basis.recent_dense[:1])[0]
    return Context(basis, None if adapter is None else adapter.weight, norm, query, entries, last, last_vector,
                   touched_at, max(snap.now, ranker.signals.decay.clock), snap.events)


def compute(snap: Snapshot, ctx: Context, pool: Pool, vectors: np.ndarray, ranker, batch: BatchContext,
            trend: PopularityTrend | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features [n, F], collab parts [n, len(recent)] of nothing yet (see parts), index into recent of each
    NEIGHBOUR_AGE source, -1 none)."""
    dense = pool.dense
    n = len(dense)
    x = np.zeros((n, len(LearnedFeature)))
    x[:, LearnedFeature.COLLAB] = pool.collab
    x[:, LearnedFeature.POPULARITY], counts = popularity_column(dense, ranker.signals, batch)
    x[:, LearnedFeature.CATEGORY] = category_column(dense, snap, ranker.catalogue)
    x[:, LearnedFeature.FRESHNESS] = freshness_column(dense, snap, ranker.signals, batch, ranker.options)
    if ctx.query is not None:
        x[:, LearnedFeature.CONTENT] = vectors @ ctx.query
    if ctx.last_vector is not None:
        x[:, LearnedFeature.CONTENT_LAST] = vectors @ ctx.last_vector
    # the first (most recent) recent item each candidate co-occurs with: its cosine with the last item, and
    # how long ago the user touched it
    entries = ctx.entries
    source = np.full(n, -1, dtype=np.int64)
    age = np.full(n, np.nan)
    if len(entries.ids):
        order = np.argsort(dense, kind="stable")
        at = np.minimum(np.searchsorted(dense[order], entries.ids), n - 1)
        hit = dense[order][at] == entries.ids
        rows, columns, cosines = order[at[hit]], entries.column[hit], entries.cosines[hit]
        last = columns == 0
        x[rows[last], LearnedFeature.COLLAB_LAST] = cosines[last]
        # entries come in recent-item order: the first entry of a row is its most recent source
        firsts = np.unique(rows, return_index=True)[1]
        source[rows[firsts]] = columns[firsts]
        seconds = np.log1p(np.maximum(0.0, ctx.now - ctx.touched_at))
        age[rows[firsts]] = seconds[columns[firsts]]
    x[:, LearnedFeature.NEIGHBOUR_AGE] = age
    first_seen = ranker.signals.first_seen_of(dense)
    x[:, LearnedFeature.AGE] = np.log1p(np.maximum(0.0, ctx.now - first_seen))  # NaN stays NaN: unknown
    if trend is not None:
        x[:, LearnedFeature.TREND] = trend.scores(ranker.ids.name_of(dense.tolist()), ranker.signals.popularity)
    x[:, LearnedFeature.ACTIVITY] = math.log1p(ctx.events)
    return x, counts, source


def content_parts(ctx: Context, vectors: np.ndarray, ranker) -> tuple[np.ndarray, np.ndarray]:
    """(content part of each distinct interaction [n, G], tuned cosine with it [n, G]) of these candidates.

    The parts add up to CONTENT (less what interactions older than the kept history contribute): with
    tuned candidate vectors t_i and W the adapter, t_i · W·u_j = (t_i·W) · u_j, so the candidates are mapped
    back (n × d²) rather than every interaction of the history forward (J × d², hundreds of rows).
    """
    basis = ctx.basis
    n, groups = len(vectors), len(basis.group_first)
    if basis.vectors is None or not n or not groups:
        return np.zeros((n, groups)), np.zeros((n, groups))
    back = vectors @ ctx.weight if ctx.weight is not None else vectors
    raw = back @ basis.vectors.T  # [n, J]: t_i · W·u_j
    parts = raw * (basis.weights / ctx.tuned_norm) if ctx.tuned_norm > 0 else np.zeros_like(raw)
    onehot = np.zeros((len(basis.groups), groups))
    onehot[np.arange(len(basis.groups)), basis.groups] = 1.0
    # similarity evidence: the tuned cosine with each distinct item the user touched (its tuned vector)
    if ctx.weight is None:
        sims = raw[:, basis.group_first]
    else:
        sims = np.zeros((n, groups))
        labels = basis.group_labels
        cols = [g for g, label in enumerate(labels) if "item_id" in label]  # one label per group
        if cols:
            items = tuned_vectors(ranker, ranker.ids.lookup([labels[g]["item_id"] for g in cols]))
            sims[:, cols] = vectors @ items.T
    return parts @ onehot, sims
