"""Ranking: candidates → features → blend → MMR → reasons (one small module each)."""
from __future__ import annotations

from .options import FEATURES, PACKAGED_WEIGHTS, Feature, RankingOptions, RankingWeights
from .ranker import Ranker
from .reasons import MAX_REASONS, Reason, ReasonCode, ScoredItem, cited_items

__all__ = ["FEATURES", "PACKAGED_WEIGHTS", "Feature", "RankingOptions", "RankingWeights", "Ranker", "MAX_REASONS",
           "Reason", "ReasonCode", "ScoredItem", "cited_items"]
