"""Fit the ranking blend: a pairwise logistic ranker over Ranker.feature_matrix features, weights kept ≥ 0.

Each training point is one published list and the user's next item: the target's feature row must
outscore each negative's row (items sampled from the unseen catalogue, optionally the other items shown). Minimising
log(1 + exp(-w·(f_target - f_negative))) learns a weight per feature; the weights are bounded to w ≥ 0
so that every reason an item carries still adds to its score with the sign its explanation claims. The
minimiser is scipy's L-BFGS-B, which takes the bounds itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from ..core.ranking import FEATURES, RankingWeights
from ..errors import ImproperlyConfigured


@dataclass(frozen=True)
class FitOptions:
    """How the blend is learned."""

    sampled_negatives: int = 20  # random unseen catalogue items per list
    # The items actually shown outscore the next item on every feature (that is why they were shown),
    # so with them as negatives a no-intercept logistic fit collapses to w = 0; off by default.
    shown_negatives: bool = False
    l2: float = 1e-4  # ridge on the standardised weights: keeps a feature that never helps near 0
    iterations: int = 400  # L-BFGS-B iterations at most
    max_pairs: int = 400_000  # pairs kept (uniformly sampled) so the fit stays seconds, not minutes
    seed: int = 0

    def weights(self, values: np.ndarray) -> RankingWeights:
        """RankingWeights from a FEATURES-ordered array, scaled so the largest weight is 1."""
        values = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
        peak = float(values.max()) if values.size else 0.0
        if peak <= 0:
            raise ImproperlyConfigured("the fit found no feature that ranks the next item higher")
        # ranking only depends on ratios; a fixed scale keeps MMR's relevance/diversity trade-off stable
        return RankingWeights(**{f: round(float(v / peak), 4) for f, v in zip(FEATURES, values)})


class PairSet:
    """Training pairs collected during the replay: target rows minus negative rows."""

    def __init__(self) -> None:
        self._diffs: list[np.ndarray] = []
        self.lists = 0

    def add(self, features: np.ndarray) -> None:
        """Add one list's feature matrix: row 0 is the user's next item, the others are negatives."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(FEATURES):
            raise ValueError(f"expected features [n, {len(FEATURES)}], got {features.shape}")
        if len(features) < 2:
            return
        self._diffs.append(features[0] - features[1:])
        self.lists += 1

    def matrix(self) -> np.ndarray:
        """All pairs as one [pairs, features] array."""
        if not self._diffs:
            return np.zeros((0, len(FEATURES)))
        return np.concatenate(self._diffs)

    def __len__(self) -> int:
        return sum(len(d) for d in self._diffs)


@dataclass(frozen=True)
class FitResult:
    """The learned weights and how well they separate the training pairs."""

    weights: RankingWeights
    lists: int
    pairs: int
    loss: float
    pair_accuracy: float  # share of pairs where the target outscores the negative

    def to_dict(self) -> dict:
        """Plain values for the JSON report."""
        return {"weights": {f: getattr(self.weights, f) for f in FEATURES}, "lists": self.lists,
                "pairs": self.pairs, "loss": round(self.loss, 6), "pair_accuracy": round(self.pair_accuracy, 4)}


def fit_weights(pairs: PairSet, options: FitOptions = FitOptions()) -> FitResult:
    """Minimise the pairwise logistic loss (plus the ridge) over w ≥ 0 with L-BFGS-B."""
    diffs = pairs.matrix()
    if len(diffs) == 0:
        raise ImproperlyConfigured("no training pairs: the fit part of the replay scored no list")
    rng = np.random.default_rng(options.seed)
    if len(diffs) > options.max_pairs:
        diffs = diffs[rng.choice(len(diffs), options.max_pairs, replace=False)]
    # standardised features: the ridge then weighs every feature alike, whatever its spread (collab ≪ content)
    scale = diffs.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    x = diffs / scale

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = x @ w
        loss = float(np.mean(np.logaddexp(0.0, -margin))) + options.l2 * float(w @ w)
        # d/dw log(1 + e^{-m}) = -x · sigmoid(-m)
        gradient = -(x * expit(-margin)[:, None]).mean(axis=0) + 2.0 * options.l2 * w
        return loss, gradient

    fitted = minimize(loss_and_gradient, np.full(x.shape[1], 0.1), jac=True, method="L-BFGS-B",
                      bounds=[(0.0, None)] * x.shape[1], options={"maxiter": options.iterations})
    w = fitted.x
    margin = x @ w
    loss = float(np.mean(np.logaddexp(0.0, -margin)))
    accuracy = float(np.mean(margin > 0))
    return FitResult(options.weights(w / scale), pairs.lists, len(diffs), loss, accuracy)
