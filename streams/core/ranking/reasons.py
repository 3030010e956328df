"""Reasons: the additive parts of an item's score, each with the evidence a sentence can quote."""
from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..catalogue import Catalogue
from .basis import Basis
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
    BUY_AGAIN = "buy_again"
    OTHER = "other"
    BOOSTED = "boosted"  # a shop's boost rule added to the score (evidence: the rules)
    PINNED = "pinned"  # a shop's pin rule put the item at its position (evidence: the rule, the position)


class Reason(dict):
    """One additive contribution to an item's score, with its evidence — held in its wire form.

    The dict is exactly what the `recommendations` topic carries ({code, weight (6 decimals), **evidence}),
    so a published list serialises its reasons as they are, with no second object per reason; ``weight``
    is the exact contribution (the rounded one is only for the wire).
    """

    __slots__ = ("weight",)

    def __init__(self, code: ReasonCode, weight: float, evidence: dict[str, Any] | None = None) -> None:
        if evidence:
            super().__init__(code=code, weight=round(weight, 6), **evidence)
        else:
            super().__init__(code=code, weight=round(weight, 6))
        self.weight = weight

    @property
    def code(self) -> ReasonCode:
        return self["code"]

    @property
    def evidence(self) -> dict[str, Any]:
        """Everything but the code and the weight."""
        return {k: v for k, v in self.items() if k != "code" and k != "weight"}

    def to_dict(self) -> dict[str, Any]:
        """Wire form: {code, weight, **evidence} (this dict itself)."""
        return self

    def __repr__(self) -> str:
        return f"Reason({self.code!s}, {self.weight!r}, {self.evidence!r})"


_NEW_REASON = dict.__new__  # an empty Reason without __init__: batch_reasons fills it key by key


class ScoredItem(NamedTuple):
    """A recommended item: its score and the reasons that sum to it."""

    item_id: str
    score: float
    reasons: tuple[Reason, ...]
    features: tuple[float, ...] = ()


_CODES = {str(code): code for code in ReasonCode}


class Listed(NamedTuple):
    """One list's listed items and what their reasons are read from (rows in list order)."""

    names: list[str]
    feats: np.ndarray  # [n, len(Feature)]
    basis: Basis
    content_parts: np.ndarray  # [n, J]: a_j · cosine(item, u_j) / |p|
    similarities: np.ndarray  # [n, J]: cosine(item, u_j)
    collab_parts: np.ndarray  # [n, R]: b_i · cosine(item, recent i)
    collab_sims: np.ndarray  # [n, R]


def list_reasons(item_ids: Sequence[str], feats: np.ndarray, weights: np.ndarray, basis: Basis,
                 content_parts: np.ndarray, collab_parts: np.ndarray, collab_sims: np.ndarray,
                 similarities: np.ndarray, catalogue: Catalogue) -> list[tuple[Reason, ...]]:
    """The reasons of one list's items (see :func:`batch_reasons`)."""
    listed = Listed(list(item_ids), feats, basis, content_parts, similarities, collab_parts, collab_sims)
    return batch_reasons([listed], weights, catalogue)[0]


def batch_reasons(lists: Sequence[Listed], weights: np.ndarray, catalogue: Catalogue) -> list[list[tuple[Reason, ...]]]:
    """The reasons of every listed item of a micro-batch; each item's add up to feats · weights.

    Every candidate reason of every listed item is one cell of one matrix (the strongest content parts per
    distinct interaction, the rest of the content, one collab part per recent item, trending, category, new
    arrival), ordered by size in one sort for the whole batch; only the shown ones (≤ MAX_REASONS, the rest
    folded into "other") become Reason objects.
    """
    w = np.asarray(weights, dtype=np.float64)
    sizes = [len(x.names) for x in lists]
    m = sum(sizes)
    if not m:
        return [[] for _ in lists]
    r = max(x.collab_parts.shape[1] for x in lists)
    t = MAX_REASONS
    feats = np.concatenate([x.feats for x in lists]).astype(np.float64)
    # per list: the content parts summed per distinct interaction, and the strongest ones
    top = np.zeros((m, t), dtype=np.int64)
    top_parts = np.zeros((m, t))
    top_sims = np.zeros((m, t))
    top_ok = np.zeros((m, t), dtype=bool)
    explained = np.zeros(m)
    groups = np.zeros(m, dtype=np.int64)
    collab_parts = np.zeros((m, r))
    collab_sims = np.zeros((m, r))
    row = 0
    for x, n in zip(lists, sizes):
        if not n:
            continue
        basis = x.basis
        g = len(basis.group_first)
        collab_parts[row:row + n, : x.collab_parts.shape[1]] = x.collab_parts
        collab_sims[row:row + n, : x.collab_sims.shape[1]] = x.collab_sims
        if g and x.content_parts.shape[1]:
            parts = np.asarray(x.content_parts, dtype=np.float64)
            if g != parts.shape[1]:  # an item touched twice is one reason
                onehot = np.zeros((parts.shape[1], g))
                onehot[np.arange(parts.shape[1]), basis.groups] = 1.0
                parts = parts @ onehot
            c = min(t, g)
            best = np.argsort(-np.abs(parts), axis=1, kind="stable")[:, :c]
            rows = np.arange(n)[:, None]
            top[row:row + n, :c] = best
            top_parts[row:row + n, :c] = parts[rows, best]
            top_sims[row:row + n, :c] = x.similarities[:, basis.group_first][rows, best]
            top_ok[row:row + n, :c] = True
            explained[row:row + n] = parts.sum(axis=1)
            groups[row:row + n] = g
        row += n
    content = feats[:, Feature.CONTENT]
    has_content = (content != 0) & bool(w[Feature.CONTENT]) & (groups > 0)
    residual = content - explained
    # columns: content parts (t) · earlier activity · collab (r) · trending · category · new arrival
    cells = np.zeros((m, t + 1 + r + len(_SIGNALS)))
    shown = np.zeros(cells.shape, dtype=bool)
    cells[:, :t] = w[Feature.CONTENT] * top_parts
    shown[:, :t] = has_content[:, None] & top_ok
    cells[:, t] = w[Feature.CONTENT] * residual
    shown[:, t] = has_content & (np.abs(residual) > 1e-6)  # interactions older than the kept history
    collab_on = (feats[:, Feature.COLLAB] != 0) & bool(w[Feature.COLLAB])
    cells[:, t + 1:t + 1 + r] = w[Feature.COLLAB] * collab_parts
    shown[:, t + 1:t + 1 + r] = collab_on[:, None] & (collab_parts != 0)
    for c, f in enumerate(_SIGNALS):
        cells[:, t + 1 + r + c] = w[f] * feats[:, f]
        shown[:, t + 1 + r + c] = (feats[:, f] != 0) & bool(w[f])
    dropped_count = np.where(has_content, groups - top_ok.sum(axis=1), 0)
    dropped_weight = np.where(has_content, w[Feature.CONTENT] * (explained - top_parts.sum(axis=1)), 0.0)
    counts = shown.sum(axis=1)
    fold = counts + dropped_count > MAX_REASONS
    keep = np.where(fold, MAX_REASONS - 1, np.minimum(counts, MAX_REASONS))
    order = np.argsort(np.where(shown, -np.abs(cells), np.inf), axis=1, kind="stable")[:, :MAX_REASONS]
    totals = np.where(shown, cells, 0.0).sum(axis=1) + dropped_weight
    # to Python once: the per-item loop only reads lists
    kept = np.take_along_axis(cells, order, axis=1) * (np.arange(MAX_REASONS) < keep[:, None])
    rest = totals - kept.sum(axis=1)
    # to Python once, rounded in numpy (Python's round(x, n) costs ~0.4 µs a call): the loop only reads lists
    cells_l, wire_l = cells.tolist(), np.round(cells, 6).tolist()
    order_l, keep_l, fold_l = order.tolist(), keep.tolist(), fold.tolist()
    rest_l, rest_wire_l = rest.tolist(), np.round(rest, 6).tolist()
    top_l, sims_l = top.tolist(), np.round(top_sims, 4).tolist()
    collab_sims_l = np.round(collab_sims, 4).tolist()
    values_l = np.round(feats, 4).tolist()
    other_count = (counts + dropped_count - keep).tolist()
    titles: dict[str, str] = {}
    categories: dict[str, str] = {}

    def title(item_id: str) -> str:
        found = titles.get(item_id)
        if found is None:
            found = titles[item_id] = catalogue.title(item_id)
        return found

    def category(item_id: str) -> str:
        found = categories.get(item_id)
        if found is None:
            found = categories[item_id] = catalogue.category(item_id)
        return found

    out: list[list[tuple[Reason, ...]]] = []
    row = 0
    for x, n in zip(lists, sizes):
        basis, recent_ids = x.basis, x.basis.recent_ids
        labels: dict[int, tuple] = {}
        reasons_of_list = []
        for item_id in x.names:
            cells_i, wire_i = cells_l[row], wire_l[row]
            reasons = []
            for col in order_l[row][: keep_l[row]]:
                if col < t:
                    g = top_l[row][col]
                    label = labels.get(g)
                    if label is None:
                        found = basis.label(g)
                        label = labels[g] = (_CODES[found["code"]], found.get("item_id"), found.get("event_type"),
                                             title(found["item_id"]) if "item_id" in found else None,
                                             found.get("query"))
                    code, cited, event_type, cited_title, query = label
                    reason = _reason(code, cells_i[col], wire_i[col])
                    if code is ReasonCode.SIMILAR_TO_ITEM:
                        reason["item_id"] = cited
                        reason["event_type"] = event_type
                        reason["title"] = cited_title
                        reason["similarity"] = sims_l[row][col]
                    else:
                        reason["query"] = query
                elif col == t:
                    reason = _reason(ReasonCode.EARLIER_ACTIVITY, cells_i[col], wire_i[col])
                elif col <= t + r:
                    recent_id = recent_ids[col - t - 1]
                    reason = _reason(ReasonCode.CO_INTERACTED, cells_i[col], wire_i[col])
                    reason["item_id"] = recent_id
                    reason["title"] = title(recent_id)
                    reason["cooccurrence"] = collab_sims_l[row][col - t - 1]  # the cosine the collab feature summed
                else:
                    kind = col - t - 1 - r
                    value = values_l[row][_SIGNALS[kind]]
                    if kind == 0:
                        reason = _reason(ReasonCode.TRENDING, cells_i[col], wire_i[col])
                        reason["popularity"] = value
                        reason["category"] = category(item_id)
                    elif kind == 1:
                        reason = _reason(ReasonCode.CATEGORY_AFFINITY, cells_i[col], wire_i[col])
                        reason["category"] = category(item_id)
                        reason["affinity"] = value
                    elif kind == 2:
                        reason = _reason(ReasonCode.NEW_ARRIVAL, cells_i[col], wire_i[col])
                        reason["freshness"] = value
                    else:
                        reason = _reason(ReasonCode.BUY_AGAIN, cells_i[col], wire_i[col])
                        reason.update(_buy_again(basis, item_id, value))
                reasons.append(reason)
            if fold_l[row]:
                reason = _reason(ReasonCode.OTHER, rest_l[row], rest_wire_l[row])
                reason["count"] = other_count[row]
                reasons.append(reason)
            reasons_of_list.append(tuple(reasons))
            row += 1
        out.append(reasons_of_list)
    return out


def _reason(code: ReasonCode, weight: float, wire: float) -> "Reason":
    """A Reason built in place (the shown reasons of a batch: ~50 a list; see Reason)."""
    reason = _NEW_REASON(Reason)
    reason["code"] = code
    reason["weight"] = wire
    reason.weight = weight
    return reason


_SIGNALS = (Feature.POPULARITY, Feature.CATEGORY, Feature.FRESHNESS, Feature.REPURCHASE)


def _buy_again(basis: Basis, item_id: str, value: float) -> dict[str, Any]:
    """The evidence of a buy-again reason: how often the user took the item and their cadence (days; None: once)."""
    times, first, last = basis.rebuy.marks.get(item_id, (1, 0.0, 0.0))
    every = (last - first) / (times - 1) / 86_400.0 if times >= 2 else None
    return {"item_id": item_id, "times": int(times), "every_days": None if every is None or every < 1 else round(every, 1),
            "repurchase": value}


def cited_items(reasons: Sequence[Reason]) -> set[str]:
    """Item ids that a list of reasons presents as the user's own interactions."""
    return {
        r["item_id"]
        for r in reasons
        if r["code"] in (ReasonCode.SIMILAR_TO_ITEM, ReasonCode.CO_INTERACTED) and "item_id" in r
    }
