"""Rank candidates for one profile: candidates → features → weighted score → MMR → reasons.

Score(c) = Σ_f w_f · f(c) over the features (options.py); the reasons an item carries add up to it.
A ``scorer`` (core/learning: the learned ranker) replaces the blend when one is given.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol, Sequence

import numpy as np

from index.base import Hit, VectorIndex

from ..catalogue import Catalogue
from ..profiles import Profile
from ..signals import ItemSignals
from .candidates import DEFAULT_FILTER, ListFilter, candidates
from .collab import CollabWindow, collab_window
from .diversify import mmr, with_new_items
from .features import build_basis, feature_matrix, recent_items
from .options import Feature, RankingOptions, RankingWeights
from .reasons import ScoredItem, list_reasons


class Scorer(Protocol):
    """The extension point: ranks a profile's list in place of the weighted blend (core/learning/scorer.py)."""

    label: str

    def rank(self, ranker: "Ranker", profile: Profile, hit_ids: Sequence[str], k: int,
             list_filter: ListFilter) -> list[ScoredItem]:
        """The top-k list, each item's reasons adding up to its score."""


class Ranker:
    """Scores, filters and diversifies candidates for a profile, over one index, catalogue and signals."""

    def __init__(self, index: VectorIndex, catalogue: Catalogue, signals: ItemSignals, options: RankingOptions,
                 scorer: Scorer | None = None) -> None:
        self.index = index
        self.catalogue = catalogue
        self.signals = signals
        self.options = options
        self.scorer = scorer

    def with_weights(self, weights: RankingWeights) -> "Ranker":
        """A ranker over the same index, catalogue and signals with another blend."""
        return Ranker(self.index, self.catalogue, self.signals, replace(self.options, weights=weights), self.scorer)

    def with_scorer(self, scorer: Scorer | None) -> "Ranker":
        """A ranker over the same index, catalogue, signals and options with another scorer (None: the blend)."""
        return Ranker(self.index, self.catalogue, self.signals, self.options, scorer)

    def rank(self, profile: Profile, hits: Sequence[Hit], k: int | None = None,
             list_filter: ListFilter = DEFAULT_FILTER) -> list[ScoredItem]:
        """The top-``k`` list (default: options.k) for a profile, given its FAISS hits, under ``list_filter``."""
        return self.rank_ids(profile, [h.item_id for h in hits], k, list_filter)

    def rank_ids(self, profile: Profile, hit_ids: Sequence[str], k: int | None = None,
                 list_filter: ListFilter = DEFAULT_FILTER) -> list[ScoredItem]:
        """:meth:`rank` from the ids of the FAISS hits (what a batched search gives)."""
        k = self.options.k if k is None else k
        if self.scorer is not None:
            return self.scorer.rank(self, profile, hit_ids, k, list_filter)
        opts = self.options
        window, item_ids = self.pool(profile, hit_ids, k, list_filter)
        if not item_ids:
            return []
        basis = build_basis(profile, self.index, opts)
        vectors = self.index.vectors(item_ids)
        weights = opts.weights.as_array()
        f = feature_matrix(profile, basis, item_ids, vectors, window, self.catalogue, self.signals, opts, weights)
        feats = f.values
        scores = feats @ weights
        order = mmr(scores, vectors, k, opts.mmr_lambda)
        if opts.new_item_slots > 0 and order:
            order = with_new_items(order, scores, f.popularity <= 0, opts.new_item_slots)
        # per-interaction content parts only for the listed items: they are what the reasons need
        sims, content_parts = basis.content_parts(vectors[order])
        listed = [item_ids[i] for i in order]
        reasons = list_reasons(listed, feats[order], weights, basis, content_parts, f.collab_parts[order],
                               f.collab_sims[order], sims, self.catalogue)
        return [ScoredItem(item_id=item_id, score=score, reasons=why, features=tuple(row))
                for item_id, score, why, row in zip(listed, scores[order].tolist(), reasons, feats[order].tolist())]

    def pool(self, profile: Profile, hit_ids: Sequence[str], k: int,
             list_filter: ListFilter = DEFAULT_FILTER) -> tuple[CollabWindow, list[str]]:
        """The profile's collaborative window and its admitted candidates (the window is read once per
        profile: candidates and the collab features both need it)."""
        window = collab_window(profile, self.signals, self.options.collab_window)
        return window, candidates(profile, hit_ids, window, k, self.index, self.catalogue, self.signals,
                                  self.options, list_filter)

    def feature_matrix(self, profile: Profile, item_ids: Sequence[str]) -> np.ndarray:
        """Feature values [n, len(Feature)] of these items for this profile (for fitting)."""
        if not item_ids:
            return np.zeros((0, len(Feature)))
        basis = build_basis(profile, self.index, self.options)
        window = collab_window(profile, self.signals, self.options.collab_window)
        return feature_matrix(profile, basis, item_ids, self.index.vectors(item_ids), window, self.catalogue,
                              self.signals, self.options).values

    def recent_items(self, profile: Profile) -> list[str]:
        """The user's distinct recent item ids, most recent first (the collaborative window)."""
        return recent_items(profile, self.options.collab_window)
