"""Feature columns of candidates for one profile, and the per-interaction parts that become reasons.

Content and collaborative features are sums over the user's interactions, so each splits exactly into
one part per interaction; those parts, times the feature's weight, are the reasons an item carries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Sequence

import numpy as np

from index.base import VectorIndex

from ..catalogue import Catalogue
from ..profiles import Profile
from ..signals import ItemSignals
from .collab import CollabWindow, collab_columns, recent_items
from .options import Feature, RankingOptions

__all__ = ["Basis", "Features", "build_basis", "feature_matrix", "recent_items"]


@dataclass
class Basis:
    """The profile's parts that candidates are compared with (computed once per profile)."""

    query: np.ndarray | None  # normalised profile vector
    norm: float
    labels: list[dict[str, Any]]  # one per content basis vector: what the user did
    vectors: np.ndarray | None  # [J, dim]
    weights: np.ndarray  # a_j
    recent: list[tuple[str, float, dict[str, Any]]]  # collab: (item_id, b_i, label)
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # label → distinct interaction
    group_labels: list[dict[str, Any]] = field(default_factory=list)  # one label per distinct interaction
    group_first: list[int] = field(default_factory=list)  # first label index of each group

    def content_parts(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cosines [n, J], content contributions [n, J]) of these candidate vectors, per basis vector."""
        if self.vectors is None or not len(vectors):
            empty = np.zeros((len(vectors), 0))
            return empty, empty
        sims = vectors @ self.vectors.T
        parts = sims * (self.weights / self.norm) if self.norm > 0 else np.zeros_like(sims)
        return sims, parts


def build_basis(profile: Profile, index: VectorIndex, options: RankingOptions) -> Basis:
    """The content basis (one vector per weighted interaction) and the collaborative window of a profile."""
    now = profile.updated_at
    a = profile.touch_weights(now, options.half_life_seconds)
    labels: list[dict[str, Any]] = []
    vecs: list[np.ndarray] = []
    weights: list[float] = []
    known = [t.item_id for t in profile.history if t.item_id and t.item_id in index]
    item_vecs = dict(zip(known, index.vectors(known))) if known else {}
    for touch, aj in zip(profile.history, a):
        if touch.weight <= 0:
            continue
        if touch.query is not None and touch.query in profile.query_vectors:
            vecs.append(np.asarray(profile.query_vectors[touch.query], dtype=np.float32))
            labels.append({"code": "matches_search", "query": touch.query})
        elif touch.item_id in item_vecs:
            vecs.append(item_vecs[touch.item_id])
            labels.append({"code": "similar_to_item", "item_id": touch.item_id, "event_type": touch.type})
        else:
            continue
        weights.append(aj)
    query = profile.query_vector()
    norm = float(np.linalg.norm(profile.vector)) if query is not None else 0.0
    recent_ids = recent_items(profile, options.collab_window)
    decayed: dict[str, float] = {}
    for touch, aj in zip(profile.history, a):
        if touch.item_id in recent_ids:
            decayed[touch.item_id] = decayed.get(touch.item_id, 0.0) + max(aj, 1e-9)
    total = sum(decayed.values()) or 1.0
    recent = [(i, decayed[i] / total, {"item_id": i}) for i in recent_ids]
    group_of: dict[tuple, int] = {}
    groups: list[int] = []
    group_labels: list[dict[str, Any]] = []
    group_first: list[int] = []
    for j, label in enumerate(labels):
        key = (label["code"], label.get("item_id"), label.get("query"))
        if key not in group_of:
            group_of[key] = len(group_labels)
            group_labels.append(label)
            group_first.append(j)
        groups.append(group_of[key])
    return Basis(
        groups=np.asarray(groups, dtype=np.int64),
        group_labels=group_labels,
        group_first=group_first,
        query=query,
        norm=norm,
        labels=labels,
        vectors=np.stack(vecs) if vecs else None,
        weights=np.asarray(weights, dtype=np.float32),
        recent=recent,
    )


@dataclass(frozen=True)
class Features:
    """Feature values of candidates, and the collab parts the reasons need."""

    values: np.ndarray  # [n, len(Feature)]
    collab_parts: np.ndarray  # [n, len(basis.recent)]: b_j · cosine with recent item j
    collab_sims: np.ndarray  # [n, len(basis.recent)]: the cosines themselves (reason evidence)
    popularity: np.ndarray  # [n] decayed interaction counts (0: nobody touched the item yet)


def feature_matrix(profile: Profile, basis: Basis, item_ids: Sequence[str], vectors: np.ndarray,
                   window: CollabWindow, catalogue: Catalogue, signals: ItemSignals,
                   options: RankingOptions, weights: np.ndarray | None = None) -> Features:
    """Feature values [n, len(Feature)] and the per-recent-item parts of collab [n, len(basis.recent)].

    A feature whose weight is 0 is left at 0: it cannot move the score, and skipping it keeps
    content-only ranking cheap. Every column is read for all candidates at once (C-level map over
    the signals' dicts, numpy arithmetic): per-candidate Python steps made ranking cost grow with the pool.
    """
    n = len(item_ids)
    need = np.ones(len(Feature), dtype=bool) if weights is None else weights != 0
    feats = np.zeros((n, len(Feature)))
    if basis.query is not None and need[Feature.CONTENT]:
        feats[:, Feature.CONTENT] = vectors @ basis.query
    recent_ids = [r for r, _, _ in basis.recent]
    sims = np.zeros((n, len(recent_ids)))
    if recent_ids and need[Feature.COLLAB]:
        sims = collab_columns(window, item_ids, recent_ids)
    b = np.array([share for _, share, _ in basis.recent], dtype=np.float64)
    collab_parts = sims * b
    if recent_ids and need[Feature.COLLAB]:
        feats[:, Feature.COLLAB] = collab_parts.sum(axis=1)
    popularity = signals.popularity.get_many(item_ids)
    if need[Feature.POPULARITY]:
        feats[:, Feature.POPULARITY] = signals.popularity_scores(item_ids)
    total_affinity = sum(profile.categories.values())
    if total_affinity > 0 and need[Feature.CATEGORY]:
        affinity = map(profile.categories.get, catalogue.categories(item_ids), repeat(0.0))
        feats[:, Feature.CATEGORY] = np.fromiter(affinity, dtype=np.float64, count=n) / total_affinity
    if need[Feature.FRESHNESS] and n:
        now = max(profile.updated_at, signals.popularity.clock)
        first = np.fromiter(map(signals.first_seen.get, item_ids, repeat(np.nan)), dtype=np.float64, count=n)
        age = now - first  # NaN for items without a first-seen time: they get 0 (no np.errstate: it costs more)
        fresh = np.where(age <= 0, 1.0, np.power(0.5, age / options.freshness_half_life_seconds))
        feats[:, Feature.FRESHNESS] = np.where(np.isnan(first), 0.0, fresh)
    return Features(feats, collab_parts, sims, popularity)
