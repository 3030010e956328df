"""Reasons of a learned score: each feature's exact contribution, handed to the evidence behind it.

A contribution φ_f goes to the user's own items and searches when the feature is made of them: the
content column splits over the interactions in proportion to |part_j| (each part's share of the tuned
cosine; interactions older than the kept history are one "earlier activity" share), collab over the
recent items in proportion to their co-occurrence, the last-item columns name the last item, and the
neighbour-age column names the recent item the candidate co-occurs with. Popularity and trend become
"trending", category affinity and freshness/age theirs; a feature with no evidence to name (e.g. "no
co-occurrence at all" pulling a score down, or the user's activity level) goes to "other". Every share
is a part of φ_f, so the reasons add up to the score exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ranking.reasons import MAX_REASONS, Reason, ReasonCode
from .features import Context, LearnedFeature

F = LearnedFeature


def learned_reasons(item_id: str, phi: np.ndarray, x: np.ndarray, ctx: Context, parts: np.ndarray, sims: np.ndarray,
                    collab_row: np.ndarray, source: int, catalogue, signals) -> tuple[Reason, ...]:
    """The reasons of one listed item; their weights add up to phi.sum().

    ``parts`` and ``sims``: the content part of each distinct interaction and the tuned cosine with it
    (features.content_parts). Only the strongest MAX_REASONS content shares become Reason objects; the
    rest go to "other" (they could not be listed anyway), which keeps the cost flat in the history length.
    """
    out: dict[tuple, list] = {}  # (code, item or query) → [weight, evidence]

    def give(code: ReasonCode, weight: float, key: Any = None, evidence: dict | None = None) -> None:
        if weight == 0:
            return
        slot = out.setdefault((code, key), [0.0, evidence or {}])
        slot[0] += weight

    def other(weight: float, feature: LearnedFeature) -> None:
        give(ReasonCode.OTHER, weight, None, {})

    basis = ctx.basis
    dropped = 0
    # content: over the distinct interactions (an item touched twice is one reason), plus earlier activity
    phi_c = float(phi[F.CONTENT])
    if phi_c:
        residual = float(x[F.CONTENT]) - float(parts.sum())
        shares = np.abs(np.append(parts, residual if abs(residual) > 1e-6 else 0.0))
        total = float(shares.sum())
        if total <= 0:
            other(phi_c, F.CONTENT)
        else:
            top = np.argsort(-shares[:-1], kind="stable")[:MAX_REASONS]
            top = top[shares[top] > 0]
            rest = phi_c * (float(shares[:-1].sum()) - float(shares[top].sum())) / total
            dropped = int((shares[:-1] > 0).sum()) - len(top)
            for g in top.tolist():
                label = basis.label(g)
                code = ReasonCode(label["code"])
                evidence = {k: v for k, v in label.items() if k != "code"}
                if code == ReasonCode.SIMILAR_TO_ITEM:
                    evidence["title"] = catalogue.title(label["item_id"])
                    evidence["similarity"] = round(float(sims[g]), 4)
                give(code, phi_c * float(shares[g]) / total, label.get("item_id") or label.get("query"), evidence)
            if rest:
                give(ReasonCode.OTHER, rest)
            give(ReasonCode.EARLIER_ACTIVITY, phi_c * float(shares[-1]) / total)
    # collab: over the recent items by their co-occurrence with the candidate
    phi_co = float(phi[F.COLLAB])
    total = float(collab_row.sum()) if len(collab_row) else 0.0
    if phi_co and total > 0:
        for (recent_id, _, _), part in zip(basis.recent, collab_row):
            if part > 0:
                give(ReasonCode.CO_INTERACTED, phi_co * float(part) / total, recent_id, _co(recent_id, item_id, catalogue, signals))
    else:
        other(phi_co, F.COLLAB)
    last = ctx.last
    if last is not None:
        touch = next((t for t in reversed(basis.history) if t.item_id == last), None)
        evidence = {"item_id": last, "event_type": touch.type if touch is not None else "view",
                    "title": catalogue.title(last), "similarity": round(float(x[F.CONTENT_LAST]), 4)}
        give(ReasonCode.SIMILAR_TO_ITEM, float(phi[F.CONTENT_LAST]), last, evidence)
    else:
        other(float(phi[F.CONTENT_LAST]), F.CONTENT_LAST)
    if last is not None and x[F.COLLAB_LAST] > 0:
        give(ReasonCode.CO_INTERACTED, float(phi[F.COLLAB_LAST]), last, _co(last, item_id, catalogue, signals))
    else:
        other(float(phi[F.COLLAB_LAST]), F.COLLAB_LAST)
    if source >= 0:
        recent_id = basis.recent[source][0]
        give(ReasonCode.CO_INTERACTED, float(phi[F.NEIGHBOUR_AGE]), recent_id, _co(recent_id, item_id, catalogue, signals))
    else:
        other(float(phi[F.NEIGHBOUR_AGE]), F.NEIGHBOUR_AGE)
    popularity = float(x[F.POPULARITY])
    give(ReasonCode.TRENDING, float(phi[F.POPULARITY] + phi[F.TREND]), None,
         {"popularity": round(popularity, 4), "category": catalogue.category(item_id)})
    give(ReasonCode.CATEGORY_AFFINITY, float(phi[F.CATEGORY]), None,
         {"category": catalogue.category(item_id), "affinity": round(float(x[F.CATEGORY]), 4)})
    give(ReasonCode.NEW_ARRIVAL, float(phi[F.FRESHNESS] + phi[F.AGE]), None, {"freshness": round(float(x[F.FRESHNESS]), 4)})
    other(float(phi[F.ACTIVITY]), F.ACTIVITY)
    reasons = [Reason(code, weight, evidence) for (code, _), (weight, evidence) in out.items()
               if code != ReasonCode.OTHER]
    rest = sum(w for (code, _), (w, _) in out.items() if code == ReasonCode.OTHER)
    return fold(reasons, rest, dropped)


def _co(recent_id: str, item_id: str, catalogue, signals) -> dict[str, Any]:
    return {"item_id": recent_id, "title": catalogue.title(recent_id),
            "cooccurrence": round(signals.similarity(recent_id, item_id), 4)}


def fold(reasons: list[Reason], rest: float, dropped: int = 0) -> tuple[Reason, ...]:
    """The strongest reasons first; beyond MAX_REASONS (and what had no evidence, and ``dropped`` content
    parts already in ``rest``) one "other" reason."""
    reasons.sort(key=lambda r: abs(r.weight), reverse=True)
    count = dropped
    if len(reasons) + (1 if rest else 0) > MAX_REASONS:
        keep = MAX_REASONS - 1
        rest += sum(r.weight for r in reasons[keep:])
        count += len(reasons) - keep
        reasons = reasons[:keep]
    if rest:
        reasons.append(Reason(ReasonCode.OTHER, rest, {"count": count} if count else {}))
    return tuple(reasons)
