"""Reasons: the additive parts of an item's score, each with the evidence a sentence can quote."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Sequence

import numpy as np

from ..catalogue import Catalogue
from ..signals import ItemSignals
from .features import Basis
from .options import Feature

MAX_REASONS = 5  # reasons listed per item; the remainder is folded into one "other" reason


class ReasonCode(StrEnum):
    """The wire contract's reason codes (ranking produces them, explain words them)."""

    SIMILAR_TO_ITEM = "similar_to_item"
    MATCHES_SEARCH = "matches_search"
    CO_INTERACTED = "co_interacted"
    TRENDING = "trending"
    CATEGORY_AFFINITY = "category_affinity"
    NEW_ARRIVAL = "new_arrival"
    EARLIER_ACTIVITY = "earlier_activity"
    OTHER = "other"


@dataclass(frozen=True)
class Reason:
    """One additive contribution to an item's score, with its evidence."""

    code: ReasonCode
    weight: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Wire form: {code, weight, **evidence}."""
        return {"code": str(self.code), "weight": round(float(self.weight), 6), **self.evidence}


@dataclass(frozen=True)
class ScoredItem:
    """A recommended item: its score and the reasons that sum to it."""

    item_id: str
    score: float
    reasons: tuple[Reason, ...]
    features: tuple[float, ...] = ()


def build_reasons(item_id: str, feats: np.ndarray, weights: np.ndarray, basis: Basis, content_row: np.ndarray,
                  collab_row: np.ndarray, similarities: np.ndarray, catalogue: Catalogue,
                  signals: ItemSignals) -> tuple[Reason, ...]:
    """The reasons of one listed item; their weights add up to feats · weights."""
    reasons: list[Reason] = []
    dropped_weight, dropped_count = 0.0, 0
    w_content = weights[Feature.CONTENT]
    if feats[Feature.CONTENT] and w_content:
        # one part per distinct interaction (an item touched twice is one reason), summed with bincount
        parts = np.bincount(basis.groups, weights=content_row, minlength=len(basis.group_labels))
        explained = float(parts.sum())
        # only the strongest parts can be listed (the rest fold into "other"), so only they get a
        # Reason object; this keeps explanation cost flat in the history length
        top = np.argsort(-np.abs(parts), kind="stable")[:MAX_REASONS]
        keep = np.zeros(len(parts), dtype=bool)
        keep[top] = True
        for g in top:
            label = basis.group_labels[g]
            code = ReasonCode(label["code"])
            evidence = {k: v for k, v in label.items() if k != "code"}
            if code == ReasonCode.SIMILAR_TO_ITEM:
                evidence["title"] = catalogue.title(label["item_id"])
                evidence["similarity"] = round(float(similarities[basis.group_first[g]]), 4)
            reasons.append(Reason(code, w_content * float(parts[g]), evidence))
        dropped_count = int((~keep).sum())
        dropped_weight = w_content * float(parts[~keep].sum())
        residual = feats[Feature.CONTENT] - explained
        if abs(residual) > 1e-6:  # interactions older than the kept history still shape the vector
            reasons.append(Reason(ReasonCode.EARLIER_ACTIVITY, w_content * residual, {}))
    w_collab = weights[Feature.COLLAB]
    if feats[Feature.COLLAB] and w_collab:
        for (recent_id, _, _), part in zip(basis.recent, collab_row):
            if part:
                reasons.append(Reason(ReasonCode.CO_INTERACTED, w_collab * float(part), {
                    "item_id": recent_id,
                    "title": catalogue.title(recent_id),
                    "cooccurrence": round(signals.similarity(recent_id, item_id), 4),
                }))
    popularity, w_pop = feats[Feature.POPULARITY], weights[Feature.POPULARITY]
    if popularity and w_pop:
        reasons.append(Reason(ReasonCode.TRENDING, w_pop * popularity, {
            "popularity": round(float(popularity), 4), "category": catalogue.category(item_id)}))
    affinity, w_cat = feats[Feature.CATEGORY], weights[Feature.CATEGORY]
    if affinity and w_cat:
        reasons.append(Reason(ReasonCode.CATEGORY_AFFINITY, w_cat * affinity, {
            "category": catalogue.category(item_id), "affinity": round(float(affinity), 4)}))
    freshness, w_fresh = feats[Feature.FRESHNESS], weights[Feature.FRESHNESS]
    if freshness and w_fresh:
        reasons.append(Reason(ReasonCode.NEW_ARRIVAL, w_fresh * freshness, {"freshness": round(float(freshness), 4)}))
    return _fold_rest(reasons, dropped_weight, dropped_count)


def _fold_rest(reasons: list[Reason], dropped_weight: float, dropped_count: int) -> tuple[Reason, ...]:
    """The strongest reasons first; beyond MAX_REASONS the rest become one "other" reason (same total)."""
    reasons.sort(key=lambda r: abs(r.weight), reverse=True)
    if len(reasons) + dropped_count > MAX_REASONS:
        rest = sum(r.weight for r in reasons[MAX_REASONS - 1:]) + dropped_weight
        count = len(reasons) - MAX_REASONS + 1 + dropped_count
        reasons = reasons[: MAX_REASONS - 1] + [Reason(ReasonCode.OTHER, rest, {"count": count})]
    return tuple(reasons)


def cited_items(reasons: Sequence[Reason]) -> set[str]:
    """Item ids that a list of reasons presents as the user's own interactions."""
    return {
        r.evidence["item_id"]
        for r in reasons
        if r.code in (ReasonCode.SIMILAR_TO_ITEM, ReasonCode.CO_INTERACTED) and "item_id" in r.evidence
    }
