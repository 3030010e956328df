"""Rank candidates for a micro-batch of snapshots: candidates → features → weighted score → MMR → reasons.

Score(c) = Σ_f w_f · f(c) over the features (options.py); the reasons an item carries add up to it.
A ``scorer`` (core/learning: the learned ranker) replaces the blend when one is given.

Everything before the listed items is dense ids and columns. The content feature (a cosine with the
profile vector, the one column that needs a candidate's whole vector) is computed only where it can
change the list: a cosine lies in [-1, 1], so a candidate whose other features leave it below the
3k-th best even with the largest content term is out of reach whatever its content, and is skipped.
That is exact — the same top-3k, scores and list as computing every candidate's cosine.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol, Sequence

import numpy as np

from index.base import Hit, VectorIndex

from ..catalogue import Catalogue
from ..items import ItemVectors
from ..profiles import Profile
from ..signals import ItemSignals
from .basis import Capture, Snapshot, recent_items, snapshot, snapshots
from .candidates import DEFAULT_FILTER, ListFilter, Pool, Scratch, assemble, newest
from .content import ContentRows
from .diversify import mmr_batch, with_new_items
from .features import (
    BatchContext,
    CollabEntries,
    Features,
    batch_collab_entries,
    batch_context,
    collab_entries,
    feature_values,
    popularity_column,
    repurchase_column,
)
from .options import Feature, RankingOptions, RankingWeights
from .reasons import Listed, ScoredItem, batch_reasons

def _padded(values: np.ndarray, segment: np.ndarray, sizes: np.ndarray, fill: float) -> np.ndarray:
    """Flat per-segment values as a [segments, longest] matrix, ``fill`` past each segment's end."""
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    out = np.full((len(sizes), int(sizes.max())), fill)
    out[segment, np.arange(len(values)) - starts[segment]] = values
    return out


def _kth_largest(values: np.ndarray, segment: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """Per segment, its k-th largest value (its smallest when it has fewer than k)."""
    matrix = _padded(values, segment, sizes, -np.inf)
    width = matrix.shape[1]
    if k >= width:
        return np.min(np.where(np.isinf(matrix) & (matrix < 0), np.inf, matrix), axis=1)
    kth = -np.partition(-matrix, k - 1, axis=1)[:, k - 1]
    smallest = np.min(np.where(np.isinf(matrix) & (matrix < 0), np.inf, matrix), axis=1)
    return np.where(sizes >= k, kth, smallest)


def _best_per_segment(scores: np.ndarray, segment: np.ndarray, sizes: np.ndarray, m: int) -> list[np.ndarray]:
    """Per segment, the positions (within it) of its ``m`` highest scores, best first (ties: lower position
    first, as a stable sort of the segment alone would give)."""
    threshold = _kth_largest(scores, segment, sizes, m)
    keep = np.flatnonzero(scores >= threshold[segment])
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    order = keep[np.lexsort((keep, -scores[keep], segment[keep]))]
    bounds = np.searchsorted(segment[order], np.arange(len(sizes) + 1))
    return [order[a:b][:m] - starts[j] for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


class _Scored:
    """One list between the stages of a batch: scored candidates, then its order."""

    __slots__ = ("snap", "entries", "pool", "items", "columns", "scores", "is_new", "top", "order")

    def __init__(self, snap: Snapshot, entries: CollabEntries, pool: Pool, items: list[ScoredItem] | None = None):
        self.snap, self.entries, self.pool, self.items = snap, entries, pool, items


#: the most seen items a trending read over-fetches for (a longer seen set rarely hides more of the top)
_TRENDING_OVERFETCH = 1000


class Scorer(Protocol):
    """The extension point: ranks a snapshot's list in place of the weighted blend (core/learning/scorer.py)."""

    label: str

    def rank(self, ranker: "Ranker", snap: Snapshot, pool: Pool, entries: CollabEntries, k: int,
             ctx: BatchContext) -> list[ScoredItem]:
        """The top-k list of the pool, each item's reasons adding up to its score."""


class Ranker:
    """Scores, filters and diversifies candidates, over one index, catalogue, signals and item vectors."""

    def __init__(self, index: VectorIndex, catalogue: Catalogue, signals: ItemSignals, options: RankingOptions,
                 scorer: Scorer | None = None, *, vectors: ItemVectors | None = None,
                 content: ContentRows | None = None) -> None:
        if signals.ids is not catalogue.ids:
            raise ValueError("the catalogue and the signals of a ranker must share one ItemIds")
        self.index = index
        self.catalogue = catalogue
        self.signals = signals
        self.options = options
        self.scorer = scorer
        self.ids = catalogue.ids
        self.vectors = vectors if vectors is not None else ItemVectors.from_index(index, self.ids)
        self.content = content if content is not None else \
            ContentRows(self.ids, index, self.vectors, options.content_neighbours)
        self.scratch = Scratch()

    def _with(self, options: RankingOptions, scorer: Scorer | None) -> "Ranker":
        return Ranker(self.index, self.catalogue, self.signals, options, scorer, vectors=self.vectors,
                      content=self.content)

    def with_weights(self, weights: RankingWeights) -> "Ranker":
        """A ranker over the same items and signals with another blend."""
        return self._with(replace(self.options, weights=weights), self.scorer)

    def with_scorer(self, scorer: Scorer | None) -> "Ranker":
        """A ranker over the same items, signals and options with another scorer (None: the blend)."""
        return self._with(self.options, scorer)

    def with_signals(self, signals: ItemSignals) -> "Ranker":
        """A ranker over the same items with another view of the signals (one per simulated worker)."""
        return Ranker(self.index, self.catalogue, signals, self.options, self.scorer, vectors=self.vectors,
                      content=self.content)

    # ---- one profile (HTTP, tests) --------------------------------------------------------------
    def snapshot(self, profile: Profile) -> Snapshot:
        """What ranking reads of a profile now."""
        return snapshot(profile, self.ids, self.vectors, self.options)

    def snapshots(self, captures: Sequence[Capture]) -> list[Snapshot]:
        """The snapshots of a micro-batch's captured profiles, built at once."""
        return snapshots(list(captures), self.ids, self.vectors, self.options) if captures else []

    def rank(self, profile: Profile, hits: Sequence[Hit] = (), k: int | None = None,
             list_filter: ListFilter = DEFAULT_FILTER) -> list[ScoredItem]:
        """The top-``k`` list (default: options.k) for a profile, with ``hits`` as extra candidates."""
        return self.rank_ids(profile, [h.item_id for h in hits], k, list_filter)

    def rank_ids(self, profile: Profile, hit_ids: Sequence[str] = (), k: int | None = None,
                 list_filter: ListFilter = DEFAULT_FILTER) -> list[ScoredItem]:
        """:meth:`rank` from item ids."""
        return self.rank_batch([self.snapshot(profile)], k, list_filter, [list(hit_ids)])[0]

    def recent_items(self, profile: Profile) -> list[str]:
        """The user's distinct recent item ids, most recent first (the window signals pair an event with)."""
        return recent_items(profile, self.signals.options.window)

    # ---- a micro-batch ------------------------------------------------------------------------
    def rank_batch(self, snaps: Sequence[Snapshot], k: int | None = None, list_filter: ListFilter = DEFAULT_FILTER,
                   hits: Sequence[Sequence[str]] | None = None) -> list[list[ScoredItem]]:
        """The list of every snapshot, on the signals as they stand (read once for the batch)."""
        if not snaps:
            return []
        k = self.options.k if k is None else k
        ctx = batch_context(self.signals)
        # every content row the batch needs, missing ones searched in one go
        self.content.rows([int(d) for s in snaps for d in s.basis.sources.tolist()])
        texts = {q: v for s in snaps for q, v in zip(s.basis.queries, s.basis.query_vectors)}
        if texts:
            self.content.query_rows(list(texts), list(texts.values()))
        longest = max(min(len(s.seen), _TRENDING_OVERFETCH) for s in snaps)
        trend = self._trending(self.options.trending_candidates + longest, list_filter)
        entries = batch_collab_entries(list(snaps), self.signals)
        pools = [self.pool(s, k, list_filter, trend, [] if hits is None else hits[n], entries[n])[1]
                 for n, s in enumerate(snaps)]
        if self.scorer is not None:
            scored = [_Scored(s, e, p, self.scorer.rank(self, s, p, e, k, ctx)) if len(p.dense) else None
                      for s, p, e in zip(snaps, pools, entries)]
        else:
            scored = self._score_all(snaps, pools, entries, k, ctx)
            self._diversify(scored, k)
        return self._list_all(scored)

    def pool(self, snap: Snapshot, k: int, list_filter: ListFilter = DEFAULT_FILTER, trend: np.ndarray | None = None,
             hit_ids: Sequence[str] = (), entries: CollabEntries | None = None) -> tuple[CollabEntries, Pool]:
        """A snapshot's collaborative window and its admitted candidates."""
        opts = self.options
        basis = snap.basis
        entries = collab_entries(snap, self.signals) if entries is None else entries
        parts = self.content.rows(basis.sources.tolist()) + \
            (self.content.query_rows(basis.queries, basis.query_vectors) if basis.queries else [])
        parts.append(entries.ids)
        if trend is None:
            trend = self.signals.popularity.top_dense(opts.trending_candidates + min(len(snap.seen), _TRENDING_OVERFETCH))
            trend = trend[list_filter.mask(trend, self.catalogue) & self.vectors.has(trend)] if len(trend) else trend
        if len(trend):
            parts.append(self._unseen(trend, snap.seen)[: opts.trending_candidates])
        if hit_ids:
            parts.append(self.ids.lookup(hit_ids))
        if len(basis.rebuy.top):
            parts.append(basis.rebuy.top)
        pool = assemble(parts, entries, basis.shares, snap.seen, list_filter, self.catalogue, self.vectors,
                        self.scratch)
        if len(pool.dense) < k:  # a shop with no traffic yet: the newest catalogue items
            parts.append(newest(self.ids, self.signals.first_seen_of(np.arange(len(self.ids))), 5 * k))
            if list_filter.category is not None:  # few pooled items of one category: the rest of it
                code = self.catalogue.code_of(list_filter.category)
                self.catalogue.fit()
                parts.append(np.flatnonzero(self.catalogue.live & (self.catalogue.category_code == code))[: 5 * k])
            pool = assemble(parts, entries, basis.shares, snap.seen, list_filter, self.catalogue, self.vectors,
                            self.scratch)
        return entries, pool

    def _unseen(self, dense: np.ndarray, seen: np.ndarray) -> np.ndarray:
        if not len(seen):
            return dense
        self.scratch.fit(len(self.ids))
        marked = self.scratch.marked
        seen = seen[seen >= 0]
        marked[seen] = True
        out = dense[~marked[dense]]
        marked[seen] = False
        return out

    def _trending(self, count: int, list_filter: ListFilter) -> np.ndarray:
        trend = self.signals.popularity.top_dense(count)
        return trend[list_filter.mask(trend, self.catalogue) & self.vectors.has(trend)] if len(trend) else trend

    def _score_all(self, snaps: Sequence[Snapshot], pools: list[Pool], entries: list[CollabEntries], k: int,
                   ctx: BatchContext) -> list["_Scored | None"]:
        """Features and blend scores of every pool of the batch at once, and each list's best 3k candidates.

        The pools are concatenated into flat arrays (a segment id per candidate): every feature column is one
        gather for the whole batch, per-list thresholds come from one partition of a padded matrix.
        """
        opts = self.options
        out: list[_Scored | None] = [None] * len(snaps)
        live = [i for i, p in enumerate(pools) if len(p.dense)]
        if not live:
            return out
        sizes = np.array([len(pools[i].dense) for i in live])
        n_lists, m_all = len(live), int(sizes.sum())
        starts = np.concatenate(([0], np.cumsum(sizes)))
        segment = np.repeat(np.arange(n_lists), sizes)
        dense = np.concatenate([pools[i].dense for i in live])
        w = opts.weights.as_array()
        pop, counts = popularity_column(dense, self.signals, ctx)
        columns = np.zeros((len(Feature), m_all))
        if w[Feature.COLLAB]:
            columns[Feature.COLLAB] = np.concatenate([pools[i].collab for i in live])
        if w[Feature.POPULARITY]:
            columns[Feature.POPULARITY] = pop
        if w[Feature.CATEGORY]:
            columns[Feature.CATEGORY] = self._category_columns([snaps[i] for i in live], dense, segment)
        if w[Feature.FRESHNESS]:
            now = np.maximum(np.array([snaps[i].now for i in live]), ctx.clock)
            first = self.signals.first_seen_of(dense)
            age = np.nan_to_num(now[segment] - first, nan=0.0)
            fresh = np.exp2(-np.maximum(age, 0.0) / opts.freshness_half_life_seconds)
            columns[Feature.FRESHNESS] = np.where(np.isnan(first), 0.0, fresh)
        for j in (j for j, i in enumerate(live) if w[Feature.REPURCHASE] and len(snaps[i].basis.rebuy.dense)):
            now = max(snaps[live[j]].now, ctx.clock)
            a, b = starts[j], starts[j + 1]
            columns[Feature.REPURCHASE, a:b] = repurchase_column(dense[a:b], snaps[live[j]].basis.rebuy, now)
        partial = w @ columns  # content is still 0 here
        is_new = counts <= 0
        w_content = w[Feature.CONTENT]
        queries = [snaps[i].basis.query for i in live]
        has_query = np.array([q is not None for q in queries])
        scores = partial
        if w_content and has_query.any():
            need = self._content_reach(partial, abs(w_content), k, is_new, opts.new_item_slots, segment, sizes)
            need &= has_query[segment]
            scores = np.where(has_query[segment], -np.inf, partial)
            matrix = self.vectors.matrix
            for j, query in enumerate(queries):
                if query is None:
                    continue
                # one list at a time: its candidates' vectors stay in cache (a batch-wide gather of every
                # needed row was 10x slower, mostly moving hundreds of MB through memory)
                at = np.flatnonzero(need[starts[j]:starts[j + 1]]) + starts[j]
                cosines = matrix[dense[at]] @ query
                columns[Feature.CONTENT, at] = cosines
                scores[at] = partial[at] + w_content * cosines
        m = max(3 * k, k) if opts.mmr_lambda < 1.0 else k
        tops = _best_per_segment(scores, segment, sizes, m)
        for j, i in enumerate(live):
            a, b = starts[j], starts[j + 1]
            s = out[i] = _Scored(snaps[i], entries[i], pools[i])
            s.columns, s.scores, s.is_new, s.top = columns[:, a:b], scores[a:b], is_new[a:b], tops[j]
            s.order = s.top[: min(k, b - a)].tolist()
        return out

    def _category_columns(self, snaps: list[Snapshot], dense: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """Each candidate's share of its list's user's category affinity."""
        catalogue = self.catalogue
        affinity = np.zeros((len(snaps), len(catalogue.category_names)))
        for j, snap in enumerate(snaps):
            total = sum(snap.categories.values())
            if total > 0:
                for name, weight in snap.categories.items():
                    code = catalogue.code_of(name)
                    if code > 0:
                        affinity[j, code] = weight / total
        return affinity[segment, catalogue.category_code[dense]]

    def _diversify(self, scored: list["_Scored | None"], k: int) -> None:
        """Greedy MMR over every list's best candidates at once (λ = 1: by score only)."""
        lam = self.options.mmr_lambda
        todo = [s for s in scored if s is not None]
        if lam >= 1.0 or not todo:
            return
        m = max(len(s.top) for s in todo)
        relevance = np.full((len(todo), m), -np.inf)
        rows = np.zeros((len(todo), m), dtype=np.int64)
        for b, s in enumerate(todo):
            relevance[b, : len(s.top)] = s.scores[s.top]
            rows[b, : len(s.top)] = s.pool.dense[s.top]
        vectors = self.vectors.of(rows.ravel()).reshape(len(todo), m, -1)
        ks = np.array([min(k, len(s.pool.dense)) for s in todo])
        chosen = mmr_batch(relevance, vectors, ks, lam)
        for b, s in enumerate(todo):
            s.order = s.top[chosen[b, : ks[b]]].tolist()

    def _list_all(self, scored: list["_Scored | None"]) -> list[list[ScoredItem]]:
        """The new-item slots of every list, then every listed item with its reasons (one batch of reasons)."""
        opts = self.options
        todo = [s for s in scored if s is not None and s.items is None]
        lists = []
        for s in todo:
            order = s.order
            if opts.new_item_slots > 0 and order:
                order = s.order = with_new_items(order, s.scores, s.is_new, opts.new_item_slots)
            basis = s.snap.basis
            listed = s.pool.dense[order]
            # per-interaction content parts only for the listed items: they are what the reasons need
            sims, content_parts = basis.content_parts(self.vectors.of(listed))
            collab_parts, collab_sims = s.entries.parts(listed, basis.shares)
            lists.append(Listed(self.ids.name_of(listed.tolist()), s.columns[:, order].T, basis, content_parts, sims,
                                collab_parts, collab_sims))
        reasons = iter(batch_reasons(lists, opts.weights.as_array(), self.catalogue))
        for s, listed in zip(todo, lists):
            s.items = [ScoredItem(item_id=item_id, score=score, reasons=why, features=tuple(row))
                       for item_id, score, why, row in zip(listed.names, s.scores[s.order].tolist(), next(reasons),
                                                           listed.feats.tolist())]
        return [s.items if s is not None else [] for s in scored]

    @staticmethod
    def _content_reach(partial: np.ndarray, bound: float, k: int, is_new: np.ndarray, slots: int,
                       segment: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Which candidates could still reach their list's 3k best (or best new items) once their content is known."""
        low = partial - bound
        need = partial + bound >= _kth_largest(low, segment, sizes, 3 * k)[segment]
        if slots > 0 and is_new.any():
            new_low = np.where(is_new, low, -np.inf)
            need |= is_new & (partial + bound >= _kth_largest(new_low, segment, sizes, slots)[segment])
        return need

    # ---- exact feature rows (fitting, the learned ranker) -------------------------------------------
    def features(self, snap: Snapshot, dense: np.ndarray, entries: CollabEntries | None = None,
                 ctx: BatchContext | None = None) -> Features:
        """Every feature column of these candidates for this snapshot."""
        entries = collab_entries(snap, self.signals) if entries is None else entries
        ctx = batch_context(self.signals) if ctx is None else ctx
        return feature_values(dense, snap, entries, self.vectors.of(dense), self.catalogue, self.signals, ctx,
                              self.options)

    def feature_matrix(self, profile: Profile, item_ids: Sequence[str]) -> np.ndarray:
        """Feature values [n, len(Feature)] of these items for this profile (for fitting)."""
        if not item_ids:
            return np.zeros((0, len(Feature)))
        return self.features(self.snapshot(profile), self.ids.ensure_many(list(item_ids))).values
