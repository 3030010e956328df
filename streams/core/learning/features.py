"""The learned ranker's feature columns: the blend's five, in the tuned space, plus what helps a ranker.

Each column is computed for every candidate of one profile at once (numpy). Missing values are NaN
(LightGBM treats them as missing, and a linear model as 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Sequence

import numpy as np

from ..profiles import Profile
from ..ranking.collab import CollabWindow, collab_window
from ..ranking.features import Basis, build_basis, feature_matrix
from ..ranking.options import Feature
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
#: the blend's columns that the learned ranker computes with the blend's own code
_BLEND_COLUMNS = np.array([False, True, True, True, True])  # content is recomputed in the tuned space


@dataclass
class Context:
    """What one profile's candidates are compared with, in the space being searched."""

    basis: Basis  # the blend's basis: labels, decayed weights a_j, groups, the collaborative window
    weight: np.ndarray | None  # the running adapter's W (None: the frozen space)
    tuned_norm: float  # ‖W·p‖
    query: np.ndarray | None  # W·p / ‖W·p‖
    window: CollabWindow  # the recent items' co-occurrence neighbours (arrays)
    maps: dict[str, dict[str, float]]  # the same as dicts: recent item → neighbour → cosine
    last: str | None  # the user's most recent item
    last_vector: np.ndarray | None  # its tuned vector
    touched_at: dict[str, float]  # recent item → when the user last touched it
    now: float


def tuned_vectors(index, item_ids: Sequence[str]) -> np.ndarray:
    """The vectors candidates are scored with: tuned under an adapter, else the index's own."""
    return index.tuned(item_ids) if isinstance(index, TunedIndex) else index.vectors(item_ids)


def context(profile: Profile, ranker, window: CollabWindow | None = None) -> Context:
    """The profile's basis mapped through the running adapter (identity without one)."""
    opts = ranker.options
    index = ranker.index
    basis = build_basis(profile, index, opts)
    window = collab_window(profile, ranker.signals, opts.collab_window) if window is None else window
    adapter = index.adapter if isinstance(index, TunedIndex) else None
    query, norm = basis.query, basis.norm
    if adapter is not None and profile.vector is not None:
        # one projection per profile: the basis itself is never mapped (content_parts maps the few candidates back)
        projected = adapter.project(profile.vector[None, :])[0]
        norm = float(np.linalg.norm(projected))
        query = (projected / norm).astype(np.float32) if norm > 0 else None
    touched_at: dict[str, float] = {}
    for touch in profile.history:
        if touch.item_id:
            touched_at[touch.item_id] = touch.ts
    last = basis.recent[0][0] if basis.recent else None
    last_vector = tuned_vectors(index, [last])[0] if last is not None and last in index else None
    return Context(basis, None if adapter is None else adapter.weight, norm, query, window, window.neighbours(), last, last_vector, touched_at,
                   max(profile.updated_at, ranker.signals.popularity.clock))


def compute(profile: Profile, ctx: Context, item_ids: Sequence[str], vectors: np.ndarray, ranker,
            trend: PopularityTrend | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features [n, F], collab parts [n, len(recent)], index into recent of each NEIGHBOUR_AGE source, -1 none)."""
    n = len(item_ids)
    x = np.zeros((n, len(LearnedFeature)))
    # the blend's collab, popularity, category and freshness, by the blend's own code (content skipped)
    blend = feature_matrix(profile, ctx.basis, item_ids, vectors, ctx.window, ranker.catalogue, ranker.signals,
                           ranker.options, _BLEND_COLUMNS.astype(float))
    collab_parts = blend.collab_parts
    for f in (Feature.COLLAB, Feature.POPULARITY, Feature.CATEGORY, Feature.FRESHNESS):
        x[:, f] = blend.values[:, f]
    if ctx.query is not None:
        x[:, LearnedFeature.CONTENT] = vectors @ ctx.query
    if ctx.last_vector is not None:
        x[:, LearnedFeature.CONTENT_LAST] = vectors @ ctx.last_vector
    position = {item_id: row for row, item_id in enumerate(item_ids)}
    if ctx.last is not None:
        for other, sim in ctx.maps.get(ctx.last, {}).items():
            row = position.get(other)
            if row is not None:
                x[row, LearnedFeature.COLLAB_LAST] = sim
    # the most recent of the user's items that each candidate co-occurs with, and how long ago it was
    source = np.full(n, -1, dtype=np.int64)
    age = np.full(n, np.nan)
    for j, (recent_id, _, _) in enumerate(ctx.basis.recent):  # most recent first
        seconds = math.log1p(max(0.0, ctx.now - ctx.touched_at.get(recent_id, ctx.now)))
        for other in ctx.maps.get(recent_id, {}):
            row = position.get(other)
            if row is not None and source[row] < 0:
                source[row] = j
                age[row] = seconds
    x[:, LearnedFeature.NEIGHBOUR_AGE] = age
    first_seen = ranker.signals.first_seen
    x[:, LearnedFeature.AGE] = [math.log1p(max(0.0, ctx.now - first_seen[i])) if i in first_seen else np.nan
                                for i in item_ids]
    if trend is not None:
        x[:, LearnedFeature.TREND] = trend.scores(item_ids, ranker.signals.popularity)
    x[:, LearnedFeature.ACTIVITY] = math.log1p(profile.events)
    return x, collab_parts, source


def content_parts(ctx: Context, vectors: np.ndarray, index) -> tuple[np.ndarray, np.ndarray]:
    """(content part of each distinct interaction [n, G], tuned cosine with it [n, G]) of these candidates.

    The parts add up to CONTENT (less what interactions older than the kept history contribute): with
    tuned candidate vectors t_i and W the adapter, t_i · W·u_j = (t_i·W) · u_j, so the candidates are mapped
    back (n × d²) rather than every interaction of the history forward (J × d², hundreds of rows).
    """
    basis = ctx.basis
    n, groups = len(vectors), len(basis.group_labels)
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
        cols = [g for g, label in enumerate(basis.group_labels) if label.get("item_id") in index]
        if cols:
            items = tuned_vectors(index, [basis.group_labels[g]["item_id"] for g in cols])
            sims[:, cols] = vectors @ items.T
    return parts @ onehot, sims
