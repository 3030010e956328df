"""The learned scorer: what the Ranker calls instead of its weighted blend when one is configured.

Same pipeline as the blend — candidates, features, score, MMR, new-item slots, reasons — with the learned
features in the tuned space and a ScoreModel (LightGBM LambdaRank, or a linear blend) for the score.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..profiles import Profile
from ..ranking.diversify import mmr, with_new_items
from ..ranking.reasons import ScoredItem
from .features import compute, content_parts, context, tuned_vectors
from .model import ScoreModel
from .reasons import learned_reasons
from .trend import PopularityTrend


class LearnedScorer:
    """Ranks a profile's candidates with ``model`` over the learned features (Ranker's scorer extension point)."""

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

    def rank(self, ranker, profile: Profile, hit_ids: Sequence[str], k: int, list_filter) -> list[ScoredItem]:
        """The top-``k`` list; every item's reasons add up to its score."""
        opts = ranker.options
        window, item_ids = ranker.pool(profile, hit_ids, k, list_filter)
        if not item_ids:
            return []
        ctx = context(profile, ranker, window)
        vectors = tuned_vectors(ranker.index, item_ids)
        x, collab_parts, source = compute(profile, ctx, item_ids, vectors, ranker, self.trend)
        scores = self.model.scores(x)
        # MMR trades relevance for diversity on a 0..1 scale, whatever the model's score scale is: the spread
        # of the 3k best it chooses from (over the whole pool, one low outlier squeezed them all near 1 and
        # let diversity decide the list)
        top = np.sort(scores)[::-1][: 3 * k]
        spread = float(top[0] - top[-1]) if len(top) else 0.0
        order = mmr(np.clip((scores - top[-1]) / spread, 0.0, None) if spread > 0 else np.zeros_like(scores),
                    vectors, k, opts.mmr_lambda)
        if opts.new_item_slots > 0 and order:
            is_new = ranker.signals.popularity.get_many(item_ids) <= 0
            order = with_new_items(order, scores, is_new, opts.new_item_slots)
        phi = self.model.contributions(x[order])
        parts, sims = content_parts(ctx, vectors[order], ranker.index)
        return [
            ScoredItem(item_id=item_ids[i], score=float(scores[i]),
                       reasons=learned_reasons(item_ids[i], phi[row], x[i], ctx, parts[row], sims[row],
                                               collab_parts[i], int(source[i]), ranker.catalogue, ranker.signals),
                       features=tuple(float(v) for v in x[i]))
            for row, i in enumerate(order)
        ]

    def rows(self, ranker, profile: Profile, item_ids: Sequence[str]) -> np.ndarray:
        """Learned feature rows of these items for this profile (training data for `streamrec fit`)."""
        ctx = context(profile, ranker)
        return compute(profile, ctx, item_ids, tuned_vectors(ranker.index, item_ids), ranker, self.trend)[0]

    def candidates(self, ranker, profile: Profile, hit_ids: Sequence[str], k: int, list_filter) -> list[str]:
        """The candidate pool the scorer would rank (the learned ranker's training negatives come from it)."""
        return ranker.pool(profile, hit_ids, k, list_filter)[1]
