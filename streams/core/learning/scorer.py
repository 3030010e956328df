"""The learned scorer: what the Ranker calls instead of its weighted blend when one is configured.

Same pipeline as the blend — candidates, features, score, MMR, new-item slots, reasons — with the learned
features in the tuned space and a ScoreModel (LightGBM LambdaRank, or a linear blend) for the score.
"""
from __future__ import annotations

import numpy as np

from ..ranking.basis import Snapshot
from ..ranking.candidates import Pool
from ..ranking.diversify import best, mmr_batch, with_new_items
from ..ranking.features import BatchContext, CollabEntries, batch_context
from ..ranking.options import Feature
from ..ranking.reasons import ScoredItem
from .features import compute, content_parts, context, tuned_vectors
from .model import ScoreModel
from .reasons import learned_reasons
from .trend import PopularityTrend


class LearnedScorer:
    """Ranks a snapshot's candidates with ``model`` over the learned features (Ranker's scorer extension point)."""

    def __init__(self, model: ScoreModel, trend: PopularityTrend | None = None) -> None:
        self.model = model
        self.trend = trend

    @property
    def label(self) -> str:
        """Names the model in each list's model_version."""
        return self.model.label

    def with_model(self, model: ScoreModel) -> "LearnedScorer":
        """The same scorer (and trend readings) with another model."""
        return LearnedScorer(model, self.trend)

    def rank(self, ranker, snap: Snapshot, pool: Pool, entries: CollabEntries, k: int,
             batch: BatchContext) -> list[ScoredItem]:
        """The top-``k`` list; every item's reasons add up to its score."""
        opts = ranker.options
        ctx = context(snap, ranker, entries)
        vectors = tuned_vectors(ranker, pool.dense)
        x, counts, source = compute(snap, ctx, pool, vectors, ranker, batch, self.trend)
        scores = self.model.scores(x)
        # MMR trades relevance for diversity on a 0..1 scale, whatever the model's score scale is: the spread
        # of the 3k best it chooses from (over the whole pool, one low outlier squeezed them all near 1 and
        # let diversity decide the list)
        top = best(scores, max(3 * k, k))
        spread = float(scores[top[0]] - scores[top[-1]]) if len(top) else 0.0
        relevance = np.clip((scores[top] - scores[top[-1]]) / spread, 0.0, None) if spread > 0 else np.zeros(len(top))
        if opts.mmr_lambda < 1.0:
            chosen = mmr_batch(relevance[None, :], vectors[top][None, :, :], np.array([min(k, len(top))]),
                               opts.mmr_lambda)[0]
            order = top[chosen].tolist()
        else:
            order = top[:k].tolist()
        if opts.new_item_slots > 0 and order:
            order = with_new_items(order, scores, counts <= 0, opts.new_item_slots)
        phi = self.model.contributions(x[order])
        parts, sims = content_parts(ctx, vectors[order], ranker)
        collab_parts, _ = entries.parts(pool.dense[order], snap.basis.shares)
        names = ranker.ids.name_of(pool.dense[order].tolist())
        return [
            ScoredItem(item_id=name, score=float(scores[i]),
                       reasons=learned_reasons(name, phi[row], x[i], ctx, parts[row], sims[row], collab_parts[row],
                                               int(source[i]), ranker.catalogue, ranker.signals),
                       features=tuple(float(v) for v in x[i]))
            for row, (i, name) in enumerate(zip(order, names))
        ]

    def rows(self, ranker, profile, item_ids) -> np.ndarray:
        """Learned feature rows of these items for this profile (training data for `streamrec fit`)."""
        snap = ranker.snapshot(profile)
        dense = ranker.ids.ensure_many(list(item_ids))
        entries, _ = ranker.pool(snap, ranker.options.k)
        features = ranker.features(snap, dense, entries)
        pool = Pool(dense, features.values[:, Feature.COLLAB])
        ctx = context(snap, ranker, entries)
        return compute(snap, ctx, pool, tuned_vectors(ranker, dense), ranker, batch_context(ranker.signals),
                       self.trend)[0]

    def candidates(self, ranker, profile, hit_ids, k: int, list_filter) -> list[str]:
        """The candidate pool the scorer would rank (the learned ranker's training negatives come from it)."""
        _, pool = ranker.pool(ranker.snapshot(profile), k, list_filter, hit_ids=hit_ids)
        return ranker.ids.name_of(pool.dense.tolist())
