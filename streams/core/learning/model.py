"""Score models behind the learned scorer: a linear blend, or a LightGBM LambdaRank booster.

Both answer the same two questions: the score of every candidate, and — for the listed ones — how much
each feature added to it. The contributions add up to the score exactly: for the linear model they are
w_f·x_f; for the booster they are LightGBM's per-feature SHAP values (``pred_contrib=True``) without the
bias column. The bias is the model's expected output, the same constant for every item of every list, so
the published score is the booster's raw output minus it: ranking is unchanged and no reason has to carry
a share that explains nothing (docs/results/evaluation.md, "learned ranker").
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ...errors import ImproperlyConfigured
from .features import LEARNED_FEATURES


class ScoreModel(Protocol):
    """What the learned scorer needs of a model."""

    label: str  # part of each list's model_version

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Published scores [n] of feature rows [n, F]."""

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contributions [n, F]; each row adds up to its score."""


class LinearModel:
    """score = Σ_f w_f·x_f (missing values count 0): the blend, over the learned features."""

    def __init__(self, weights: dict[str, float], label: str = "linear") -> None:
        unknown = set(weights) - set(LEARNED_FEATURES)
        if unknown:
            raise ImproperlyConfigured(f"unknown features {sorted(unknown)}; expected among {', '.join(LEARNED_FEATURES)}")
        self.weights = np.array([float(weights.get(f, 0.0)) for f in LEARNED_FEATURES])
        self.label = label

    def scores(self, x: np.ndarray) -> np.ndarray:
        """x·w."""
        return np.nan_to_num(x) @ self.weights

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """w_f·x_f per row."""
        return np.nan_to_num(x) * self.weights


class BoosterModel:
    """A LightGBM booster over LEARNED_FEATURES (a prefix of them, in order, named in the model file)."""

    def __init__(self, booster, label: str = "ranker") -> None:
        names = list(booster.feature_name())
        if names != list(LEARNED_FEATURES[: len(names)]):
            raise ImproperlyConfigured(f"the ranker model's features {names} are not streamrec's "
                                       f"({', '.join(LEARNED_FEATURES)}): refit it with `streamrec fit`")
        self.booster = booster
        self.columns = len(names)
        self.label = label
        # the expected output: TreeSHAP's bias column, one constant for the model
        probe = np.zeros((1, self.columns))
        self.bias = float(booster.predict(probe, pred_contrib=True, num_threads=1)[0, -1])

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Raw LambdaRank output minus the bias."""
        return self.booster.predict(x[:, : self.columns], raw_score=True, num_threads=1) - self.bias

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """SHAP values per feature (bias column dropped); columns past the model's are 0."""
        out = np.zeros((len(x), len(LEARNED_FEATURES)))
        if len(x):
            contrib = self.booster.predict(x[:, : self.columns], pred_contrib=True, num_threads=1)
            out[:, : self.columns] = contrib[:, :-1]
        return out

    # ---- files written by `streamrec fit --ranker FILE` ------------------------------------------
    def save(self, path: Path) -> None:
        """LightGBM's own text format (readable, loadable by any LightGBM)."""
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: Path) -> "BoosterModel":
        """A ranker model file; ImproperlyConfigured with one readable line when it is not one."""
        import lightgbm

        path = Path(path).expanduser()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ImproperlyConfigured(f"cannot read the ranker model {path}: {exc.strerror or exc}") from None
        try:
            booster = lightgbm.Booster(model_str=raw.decode("utf-8"))
        except (UnicodeDecodeError, lightgbm.basic.LightGBMError) as exc:
            raise ImproperlyConfigured(f"{path} is not a LightGBM ranker model: {str(exc).splitlines()[0][:160]}") from None
        return cls(booster, f"ranker:{path.stem}@{hashlib.sha256(raw).hexdigest()[:8]}")


def check_rows(x: np.ndarray, groups: Sequence[int]) -> None:
    """Training rows must be [n, F] with groups summing to n."""
    if x.ndim != 2 or x.shape[1] != len(LEARNED_FEATURES) or int(np.sum(groups)) != len(x):
        raise ValueError(f"expected rows [n, {len(LEARNED_FEATURES)}] and groups adding up to n, got {x.shape}")
