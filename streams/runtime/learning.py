"""The learning parts of a worker, wired from the settings: tuned space, learned scorer, popularity trend.

- STREAMREC_ADAPTER: the worker's index becomes a TunedIndex (frozen vectors kept for profiles and
  snapshots, tuned ones searched); it starts as the identity and follows the adapters topic.
- STREAMREC_RANKER_MODEL: the LightGBM ranker of `streamrec fit --ranker` scores the lists. Without it,
  a worker in the tuned space ranks with the blend's weights over the same learned features (the blend
  itself, with tuned content).
"""
from __future__ import annotations

from dataclasses import dataclass

from index import build_index

from ..core.learning.adapter import Adapter
from ..core.learning.features import LEARNED_FEATURES
from ..core.learning.model import BoosterModel, LinearModel
from ..core.learning.scorer import LearnedScorer
from ..core.learning.space import TunedIndex
from ..core.learning.trend import PopularityTrend
from ..core.ranking import FEATURES, RankingOptions
from ..core.state import ItemState
from ..settings import Settings


@dataclass
class Learning:
    """What the worker learns with; all None when neither setting is on (the blend, frozen vectors)."""

    tuned: TunedIndex | None = None
    scorer: LearnedScorer | None = None
    trend: PopularityTrend | None = None
    label: str = ""  # the blend's weights label, or the ranker model's

    def model_version(self, encoder_version: str) -> str:
        """Each list's model_version: the vectors searched (encoder, adapter) and what scored them."""
        vectors = self.tuned.model_version if self.tuned is not None else encoder_version
        return f"{vectors}/{self.label}"


def wire(settings: Settings, state: ItemState, encoder_version: str, ranking: RankingOptions) -> Learning:
    """Load the ranker model (a bad file stops start-up with one line) and wrap the index when adapting."""
    if settings.ranker_model is None and not settings.adapter:
        return Learning(label=ranking.weights_label)
    trend = PopularityTrend(state.signals.options.half_life_seconds)
    if settings.ranker_model is not None:
        model = BoosterModel.load(settings.ranker_model)
    else:
        weights = dict(zip(FEATURES, ranking.weights.as_array()))
        model = LinearModel({f: w for f, w in weights.items() if f in LEARNED_FEATURES}, ranking.weights_label)
    tuned = None
    if settings.adapter:
        options = settings.index_options()
        tuned = TunedIndex(state.index, lambda dim: build_index(options, dim, settings.index_expected_items),
                           Adapter.identity(state.index.dim, encoder_version))
        state.index = tuned  # the item-vectors follower's upserts reach both spaces; snapshots keep the frozen one
    return Learning(tuned, LearnedScorer(model, trend), trend, model.label)
