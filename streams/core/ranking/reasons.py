"""Reasons: the additive parts of an item's score, each with the evidence a sentence can quote."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Sequence

import numpy as np

from ..catalogue import Catalogue
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


_CODES = {str(code): code for code in ReasonCode}


def list_reasons(item_ids: Sequence[str], feats: np.ndarray, weights: np.ndarray, basis: Basis,
                 content_parts: np.ndarray, collab_parts: np.ndarray, collab_sims: np.ndarray,
                 similarities: np.ndarray, catalogue: Catalogue) -> list[tuple[Reason, ...]]:
    """The reasons of each listed item (rows of the matrices, in list order); each item's add up to feats · weights.

    The content parts of all listed items are summed per distinct interaction and ranked in one go
    (matrices of listed items × interactions), so the per-item Python work is only building the few
    Reason objects that are shown.
    """
    w = weights.tolist()
    rows = feats.tolist()
    w_content = w[Feature.CONTENT]
    groups = len(basis.group_labels)
    content = [row[Feature.CONTENT] for row in rows]
    if w_content and any(content) and groups:
        # one part per distinct interaction (an item touched twice is one reason)
        onehot = np.zeros((len(basis.groups), groups))
        onehot[np.arange(len(basis.groups)), basis.groups] = 1.0
        parts = np.asarray(content_parts, dtype=np.float64) @ onehot
        explained = parts.sum(axis=1).tolist()
        # only the strongest parts can be listed (the rest fold into "other"), so only they get a
        # Reason object; this keeps explanation cost flat in the history length
        top = np.argsort(-np.abs(parts), axis=1, kind="stable")[:, :MAX_REASONS]
        top_parts = np.take_along_axis(parts, top, axis=1)
        top_sims = similarities[:, basis.group_first][np.arange(len(rows))[:, None], top]
        top, top_parts, top_sims = top.tolist(), top_parts.tolist(), top_sims.tolist()
    else:
        explained = [0.0] * len(rows)
        top = top_parts = top_sims = [[] for _ in rows]
    out = []
    w_collab, w_pop, w_cat, w_fresh = w[Feature.COLLAB], w[Feature.POPULARITY], w[Feature.CATEGORY], w[Feature.FRESHNESS]
    for n, (item_id, row) in enumerate(zip(item_ids, rows)):
        # (weight, code, what the evidence is built from): only the reasons that are shown become objects
        entries: list[tuple[float, ReasonCode | None, Any]] = []
        dropped_weight, dropped_count = 0.0, 0
        if row[Feature.CONTENT] and w_content:
            entries += [(w_content * part, None, (g, similarity))
                        for g, part, similarity in zip(top[n], top_parts[n], top_sims[n])]
            dropped_count = groups - len(top[n])
            dropped_weight = w_content * (explained[n] - sum(top_parts[n]))
            residual = row[Feature.CONTENT] - explained[n]
            if abs(residual) > 1e-6:  # interactions older than the kept history still shape the vector
                entries.append((w_content * residual, ReasonCode.EARLIER_ACTIVITY, None))
        if row[Feature.COLLAB] and w_collab:
            entries += [(w_collab * part, ReasonCode.CO_INTERACTED, (recent_id, cosine))
                        for (recent_id, _, _), part, cosine in zip(basis.recent, collab_parts[n].tolist(),
                                                                   collab_sims[n].tolist()) if part]
        if row[Feature.POPULARITY] and w_pop:
            entries.append((w_pop * row[Feature.POPULARITY], ReasonCode.TRENDING, row[Feature.POPULARITY]))
        if row[Feature.CATEGORY] and w_cat:
            entries.append((w_cat * row[Feature.CATEGORY], ReasonCode.CATEGORY_AFFINITY, row[Feature.CATEGORY]))
        if row[Feature.FRESHNESS] and w_fresh:
            entries.append((w_fresh * row[Feature.FRESHNESS], ReasonCode.NEW_ARRIVAL, row[Feature.FRESHNESS]))
        out.append(_fold_rest(entries, dropped_weight, dropped_count, item_id, basis, catalogue))
    return out


def _fold_rest(entries: list, dropped_weight: float, dropped_count: int, item_id: str, basis: Basis,
               catalogue: Catalogue) -> tuple[Reason, ...]:
    """The strongest reasons first; beyond MAX_REASONS the rest become one "other" reason (same total)."""
    entries.sort(key=lambda e: abs(e[0]), reverse=True)
    other = None
    if len(entries) + dropped_count > MAX_REASONS:
        rest = sum(e[0] for e in entries[MAX_REASONS - 1:]) + dropped_weight
        count = len(entries) - MAX_REASONS + 1 + dropped_count
        entries = entries[: MAX_REASONS - 1]
        other = Reason(ReasonCode.OTHER, rest, {"count": count})
    reasons = [_reason(weight, code, data, item_id, basis, catalogue) for weight, code, data in entries]
    return tuple(reasons) if other is None else (*reasons, other)


def _reason(weight: float, code: ReasonCode | None, data: Any, item_id: str, basis: Basis,
            catalogue: Catalogue) -> Reason:
    """One shown reason with its evidence (code None: a content part, whose code its label carries)."""
    if code is None:
        g, similarity = data
        label = basis.group_labels[g]
        evidence = {k: v for k, v in label.items() if k != "code"}
        code = _CODES[label["code"]]
        if code is ReasonCode.SIMILAR_TO_ITEM:
            evidence["title"] = catalogue.title(label["item_id"])
            evidence["similarity"] = round(similarity, 4)
        return Reason(code, weight, evidence)
    if code is ReasonCode.CO_INTERACTED:
        recent_id, cosine = data
        # the cosine the collab feature summed
        return Reason(code, weight, {"item_id": recent_id, "title": catalogue.title(recent_id),
                                     "cooccurrence": round(cosine, 4)})
    if code is ReasonCode.TRENDING:
        return Reason(code, weight, {"popularity": round(data, 4), "category": catalogue.category(item_id)})
    if code is ReasonCode.CATEGORY_AFFINITY:
        return Reason(code, weight, {"category": catalogue.category(item_id), "affinity": round(data, 4)})
    if code is ReasonCode.NEW_ARRIVAL:
        return Reason(code, weight, {"freshness": round(data, 4)})
    return Reason(code, weight, {})


def cited_items(reasons: Sequence[Reason]) -> set[str]:
    """Item ids that a list of reasons presents as the user's own interactions."""
    return {
        r.evidence["item_id"]
        for r in reasons
        if r.code in (ReasonCode.SIMILAR_TO_ITEM, ReasonCode.CO_INTERACTED) and "item_id" in r.evidence
    }
