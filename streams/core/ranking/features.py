"""Feature columns of candidates (dense item ids) for one snapshot, and the per-interaction parts behind them.

Content and collaborative features are sums over the user's interactions, so each splits exactly into
one part per interaction; those parts, times the feature's weight, are the reasons an item carries.
Every column is a gather over arrays indexed by dense id: no Python step per candidate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..catalogue import Catalogue
from ..signals import ItemSignals
from .basis import Rebuy, Snapshot
from .options import Feature, RankingOptions

_EMPTY_IDS = np.zeros(0, dtype=np.int64)


class CollabEntries(NamedTuple):
    """The collaborative window of a snapshot, flat: one entry per (recent item, neighbour)."""

    ids: np.ndarray  # neighbour dense ids (int64)
    cosines: np.ndarray  # co-occurrence cosine of the neighbour with the recent item
    column: np.ndarray  # which recent item (index into basis.recent)

    def parts(self, listed: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(b_j · cosine, cosine) of listed candidates with each recent item: [len(listed), len(shares)] each."""
        sims = np.zeros((len(listed), len(shares)))
        if len(self.ids) and len(listed):
            order = np.argsort(listed, kind="stable")
            at = np.searchsorted(listed[order], self.ids)
            at = np.minimum(at, len(listed) - 1)
            hit = listed[order][at] == self.ids
            sims[order[at[hit]], self.column[hit]] = self.cosines[hit]
        return sims * shares, sims


def collab_entries(snapshot: Snapshot, signals: ItemSignals) -> CollabEntries:
    """Every neighbour of each recent item with its cosine, read from the rows as they count now."""
    return batch_collab_entries([snapshot], signals)[0]


def batch_collab_entries(snaps: list[Snapshot], signals: ItemSignals) -> list[CollabEntries]:
    """:func:`collab_entries` of every snapshot of a micro-batch, from one concatenation of rows."""
    recent = [s.basis.recent_dense for s in snaps]
    flat = np.concatenate(recent) if recent else _EMPTY_IDS
    if not len(flat):
        return [CollabEntries(_EMPTY_IDS, np.zeros(0), _EMPTY_IDS) for _ in snaps]
    row = signals.row
    rows = [row(r) for r in flat.tolist()]
    lengths = np.fromiter((len(r.ids) for r in rows), np.int64, len(rows))
    ids = np.concatenate([r.ids for r in rows])
    raw = np.concatenate([r.raw for r in rows])
    pair = np.repeat(np.arange(len(flat)), lengths)
    column = np.concatenate([np.arange(len(r)) for r in recent])[pair]
    segment = np.repeat(np.arange(len(snaps)), [len(r) for r in recent])[pair]
    pop = signals.popularity.raw_of(ids)
    own = signals.popularity.raw_of(flat)[pair]
    keep = (pop > 0) & (own > 0)
    cosines = raw[keep] / np.sqrt(own[keep] * pop[keep])
    ids, column, segment = ids[keep], column[keep], segment[keep]
    starts = np.searchsorted(segment, np.arange(len(snaps) + 1))
    return [CollabEntries(ids[a:b], cosines[a:b], column[a:b]) for a, b in zip(starts[:-1], starts[1:])]


@dataclass
class BatchContext:
    """What every list of a micro-batch reads the same way (computed once per batch)."""

    peak: float  # popularity normaliser: log1p(max(peak count, floor))
    scale: float  # the signals' decay scale now
    clock: float  # the signals' clock


def batch_context(signals: ItemSignals) -> BatchContext:
    """Read the shared parts of the signals once."""
    scale = signals.decay.scale()
    peak = max(signals.popularity.max_raw() / scale, signals.options.popularity_floor)
    return BatchContext(float(np.log1p(peak)) if peak > 0 else 0.0, scale, signals.decay.clock)


def popularity_column(dense: np.ndarray, signals: ItemSignals, ctx: BatchContext) -> tuple[np.ndarray, np.ndarray]:
    """(log-scaled popularity in [0, 1], decayed counts) of candidates."""
    counts = signals.popularity.raw_of(dense) / ctx.scale
    if ctx.peak <= 0:
        return np.zeros(len(dense)), counts
    return np.log1p(counts) / ctx.peak, counts


def category_column(dense: np.ndarray, snapshot: Snapshot, catalogue: Catalogue) -> np.ndarray:
    """The user's share of affinity for each candidate's category."""
    categories = snapshot.categories
    total = sum(categories.values())
    if total <= 0:
        return np.zeros(len(dense))
    by_code = np.zeros(len(catalogue.category_names))
    for name, weight in categories.items():
        code = catalogue.code_of(name)
        if code > 0:
            by_code[code] = weight / total
    return by_code[catalogue.category_code[dense]]


def freshness_column(dense: np.ndarray, snapshot: Snapshot, signals: ItemSignals, ctx: BatchContext,
                     options: RankingOptions) -> np.ndarray:
    """1 for an item that entered just now, halving every freshness half-life; 0 when unknown."""
    first = signals.first_seen_of(dense)
    age = max(snapshot.now, ctx.clock) - first
    fresh = np.exp2(-np.maximum(np.nan_to_num(age, nan=0.0), 0.0) / options.freshness_half_life_seconds)
    return np.where(np.isnan(first), 0.0, fresh)


DAY = 86_400.0


def repurchase_column(dense: np.ndarray, rebuy: Rebuy, now: float) -> np.ndarray:
    """How strongly each candidate is a buy-again item: (times / (times + 2)) × how due it is by the user's cadence.

    The cadence is the mean gap between the user's first and latest take ((last − first) / (times − 1)); an
    item is most due when the time since the latest take equals it, less so the further the ratio is from 1
    (a log-normal bump). An item taken once (no cadence yet) counts 0.6 of due. 0 for items not in ``rebuy``.
    """
    out = np.zeros(len(dense))
    if not len(rebuy.dense) or not len(dense):
        return out
    at = np.minimum(np.searchsorted(rebuy.dense, dense), len(rebuy.dense) - 1)
    hit = rebuy.dense[at] == dense
    at = at[hit]
    times, last = rebuy.times[at], rebuy.last[at]
    cadence = (last - rebuy.first[at]) / np.maximum(times - 1.0, 1.0)
    known = (times >= 2) & (cadence >= DAY)
    ratio = np.clip(np.maximum(now - last, 0.0) / np.where(known, cadence, DAY), 0.1, 10.0)
    due = np.where(known, np.exp(-0.25 * np.log(ratio) ** 2), 0.6)
    out[hit] = times / (times + 2.0) * due
    return out


class Features(NamedTuple):
    """Feature values of candidates, and the collab parts the reasons need."""

    values: np.ndarray  # [n, len(Feature)]
    collab_parts: np.ndarray  # [n, len(basis.recent)]: b_j · cosine with recent item j
    collab_sims: np.ndarray  # [n, len(basis.recent)]: the cosines themselves (reason evidence)
    popularity: np.ndarray  # [n] decayed interaction counts (0: nobody touched the item yet)


def feature_values(dense: np.ndarray, snapshot: Snapshot, entries: CollabEntries, vectors: np.ndarray,
                   catalogue: Catalogue, signals: ItemSignals, ctx: BatchContext, options: RankingOptions) -> Features:
    """Every feature column, exactly, for these candidates (fitting, the learned ranker, tests)."""
    values = np.zeros((len(dense), len(Feature)))
    basis = snapshot.basis
    if basis.query is not None and len(dense):
        values[:, Feature.CONTENT] = vectors @ basis.query
    parts, sims = entries.parts(dense, basis.shares)
    values[:, Feature.COLLAB] = parts.sum(axis=1)
    values[:, Feature.POPULARITY], counts = popularity_column(dense, signals, ctx)
    values[:, Feature.CATEGORY] = category_column(dense, snapshot, catalogue)
    values[:, Feature.FRESHNESS] = freshness_column(dense, snapshot, signals, ctx, options)
    values[:, Feature.REPURCHASE] = repurchase_column(dense, basis.rebuy, max(snapshot.now, ctx.clock))
    return Features(values, parts, sims, counts)
