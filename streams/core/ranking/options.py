"""What a ranker is configured with: the feature columns, their blend weights, and list options."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

#: the blend shipped with the package (fitted by `streamrec eval`; docs/evaluation.md)
PACKAGED_WEIGHTS = Path(__file__).with_name("default_weights.json")


class Feature(IntEnum):
    """Columns of the feature matrix, in order; the blend has one weight per feature."""

    CONTENT = 0  # cosine of the candidate with the profile vector
    COLLAB = 1  # co-occurrence with the user's recent items
    POPULARITY = 2  # log-scaled decayed popularity
    CATEGORY = 3  # the user's affinity for the candidate's category
    FRESHNESS = 4  # how recently the item entered the catalogue

    @property
    def field(self) -> str:
        """The feature's name (the RankingWeights field and the key in weights files)."""
        return self.name.lower()


FEATURES = tuple(f.field for f in Feature)


@dataclass(frozen=True)
class RankingWeights:
    """One weight per feature (the blend fitted by `streamrec eval`)."""

    content: float = 1.0
    collab: float = 1.0
    popularity: float = 0.15
    category: float = 0.1
    freshness: float = 0.05

    def as_array(self) -> np.ndarray:
        """Weights in Feature order."""
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float64)

    def __getitem__(self, feature: Feature) -> float:
        return getattr(self, feature.field)

    @classmethod
    def from_file(cls, path: Path = PACKAGED_WEIGHTS) -> "RankingWeights":
        """Load weights saved as {"weights": {feature: value}} (unknown features are ignored)."""
        data = json.loads(Path(path).read_text())
        return cls(**{f: float(v) for f, v in data["weights"].items() if f in FEATURES})

    @classmethod
    def default(cls) -> "RankingWeights":
        """The packaged fitted weights, or the hand-set ones if no fit was shipped."""
        return cls.from_file() if PACKAGED_WEIGHTS.exists() else cls()


@dataclass(frozen=True)
class RankingOptions:
    """How lists are built. The defaults here are the only ones: settings and the replay start from them."""

    k: int = 10
    content_candidates: int = 100  # FAISS hits per profile, before filtering
    collab_window: int = 10  # recent items whose co-occurrence neighbours become candidates
    trending_candidates: int = 50
    mmr_lambda: float = 0.85  # 1.0 = pure relevance; lower trades relevance for diversity
    # Brand-new items have no collaborative or popularity signal, so a blend fitted on interactions
    # never lets them in; this many last slots go to the best-scored candidates nobody has touched yet.
    new_item_slots: int = 1
    exclude_seen: bool = True
    half_life_seconds: float = 7 * 86400.0  # profile decay (must match the profile updates)
    freshness_half_life_seconds: float = 3 * 86400.0
    weights: RankingWeights = field(default_factory=RankingWeights.default)

    def to_dict(self) -> dict[str, Any]:
        """Options as plain values (recorded in evaluation output)."""
        return asdict(self)
