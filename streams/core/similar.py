"""Items like this one, for a product page: behaviour (co-occurrence) and text (the index) blended, with reasons.

Both sources are columns over dense item ids: the co-occurrence row of the item (cosines, pairs below the
minimum count left out: one or two shoppers' pair could tell who they are) and its nearest neighbours in the
vector index. The blend is ``behaviour · cos_co + text · cos_text``; the item itself and items the filter
refuses (out of stock, deleted, excluded, another category) never appear.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .ranking import ListFilter, Reason, ReasonCode
from .signals.view import ItemSignals
from .state import ItemState


@dataclass(frozen=True)
class SimilarOptions:
    """How the two sources blend and how many text neighbours are searched."""

    behaviour: float = 1.0  # weight of the co-occurrence cosine
    text: float = 0.6  # weight of the text (embedding) cosine
    min_pair_count: float = 5.0  # a behaviour pair counts from this many (decayed) co-occurrences
    text_pool: int = 200  # text neighbours searched before filtering


class UnknownItem(KeyError):
    """Neither the index nor the signals know the item."""


def served_neighbours(signals: ItemSignals, item_id: str, min_count: float) -> tuple[np.ndarray, np.ndarray]:
    """An item's co-occurrence neighbours (dense ids, cosines) whose pair holds at least ``min_count``
    (time-decayed) co-occurrences, strongest first.

    The view gives cosines, count(a, b) / sqrt(popularity(a) · popularity(b)); the pair's count is the cosine
    times that root.
    """
    dense = signals.ids.get(item_id)
    if dense < 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    ids, cosines = signals.cosines(dense)
    if not len(ids):
        return ids, cosines
    popularity = signals.popularity
    raw = popularity.raw_of(np.concatenate([[dense], ids]))
    counts = cosines * np.sqrt(raw[0] * raw[1:]) / popularity.decay.scale()
    keep = counts >= min_count * (1 - 1e-9)
    ids, cosines = ids[keep], cosines[keep]
    order = np.argsort(-cosines, kind="stable")
    return ids[order], cosines[order]


def similar_items(state: ItemState, item_id: str, k: int, options: SimilarOptions = SimilarOptions(),
                  list_filter: ListFilter = ListFilter()) -> list[dict[str, Any]]:
    """Up to ``k`` items like ``item_id``, best first: {item_id, title, score, reasons, explanation}.

    UnknownItem when neither the index nor the signals know ``item_id``.
    """
    in_index = item_id in state.index
    co_ids, co_sims = served_neighbours(state.signals, item_id, options.min_pair_count)
    if not in_index and not len(co_ids) and item_id not in state.catalogue:
        raise UnknownItem(item_id)
    if in_index and len(state.index) > 1:
        names, text_sims = state.index.search_rows(state.index.vectors([item_id]),
                                                   [min(options.text_pool, len(state.index))])[0]
        text_ids = state.ids.lookup(names)
        known = text_ids >= 0
        text_ids, text_sims = text_ids[known], np.asarray(text_sims, dtype=np.float64)[known]
    else:
        text_ids, text_sims = np.zeros(0, dtype=np.int64), np.zeros(0)
    pool = np.union1d(co_ids, text_ids).astype(np.int64)
    state.catalogue.fit()
    own = state.ids.get(item_id)
    keep = (pool != own) & (pool < len(state.catalogue.live))
    pool = pool[keep]
    if not len(pool):
        return []
    pool = pool[list_filter.mask(pool, state.catalogue)]
    behaviour = _column(pool, co_ids, co_sims)
    text = _column(pool, text_ids, text_sims)
    score = options.behaviour * behaviour + options.text * np.clip(text, 0.0, None)
    order = np.lexsort((pool, -score))[:k]
    anchor = state.catalogue.title(item_id)
    names = state.ids.name_of(pool[order].tolist())
    return [_listed(name, float(score[i]), float(behaviour[i]), float(text[i]), item_id, anchor, options, state)
            for name, i in zip(names, order.tolist())]


def _column(pool: np.ndarray, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` of ``ids`` laid over ``pool`` (0 where an id of the pool has none)."""
    out = np.zeros(len(pool))
    if len(ids):
        order = np.argsort(ids)
        at = np.searchsorted(ids[order], pool)
        at = np.minimum(at, len(ids) - 1)
        hit = ids[order][at] == pool
        out[hit] = values[order][at[hit]]
    return out


def _listed(name: str, score: float, behaviour: float, text: float, anchor_id: str, anchor: str,
            options: SimilarOptions, state: ItemState) -> dict[str, Any]:
    reasons = []
    if behaviour > 0:
        reasons.append(Reason(ReasonCode.CO_INTERACTED, options.behaviour * behaviour,
                              {"item_id": anchor_id, "title": anchor, "similarity": round(behaviour, 6)}))
    if text > 0:
        reasons.append(Reason(ReasonCode.SIMILAR_TO_ITEM, options.text * text,
                              {"item_id": anchor_id, "title": anchor, "similarity": round(text, 6)}))
    reasons.sort(key=lambda r: -r.weight)
    return {"item_id": name, "title": state.catalogue.title(name), "score": round(score, 6),
            "reasons": reasons, "explanation": _sentence(reasons)}


def _sentence(reasons: list[Reason]) -> str:
    phrases = [f"Shoppers who viewed “{r['title']}” also viewed this" if r.code == ReasonCode.CO_INTERACTED
               else f"Described like “{r['title']}”" for r in reasons]
    if not phrases:
        return "From our catalogue."
    return (phrases[0] if len(phrases) == 1 else f"{phrases[0]}, and {phrases[1][:1].lower()}{phrases[1][1:]}") + "."
