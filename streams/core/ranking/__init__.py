"""Ranking: candidates → features → blend → MMR → reasons (one small module each)."""
from __future__ import annotations

from .candidates import ListFilter
from .options import FEATURES, PACKAGED_WEIGHTS, Feature, RankingOptions, RankingWeights, load_weights
from .ranker import Ranker
from .reasons import MAX_REASONS, Reason, ReasonCode, ScoredItem, cited_items

__all__ = ["ListFilter", "FEATURES", "PACKAGED_WEIGHTS", "Feature", "RankingOptions", "RankingWeights", "load_weights", "Ranker", "MAX_REASONS",
           "Reason", "ReasonCode", "ScoredItem", "cited_items"]
