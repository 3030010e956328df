"""What a ranker is configured with: the feature columns, their blend weights, and list options."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ImproperlyConfigured

#: the blend shipped with the package (fitted by `streamrec eval`; docs/results/evaluation.md)
PACKAGED_WEIGHTS = Path(__file__).with_name("default_weights.json")


class Feature(IntEnum):
    """Columns of the feature matrix, in order; the blend has one weight per feature."""

    CONTENT = 0  # cosine of the candidate with the profile vector
    COLLAB = 1  # co-occurrence with the user's recent items
    POPULARITY = 2  # log-scaled decayed popularity
    CATEGORY = 3  # the user's affinity for the candidate's category
    FRESHNESS = 4  # how recently the item entered the catalogue
    REPURCHASE = 5  # buy again: how often the user took the item, and how due it is by their own cadence

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
    repurchase: float = 1.0  # only items the user may get again (``exclude_types``) have this feature

    def as_array(self) -> np.ndarray:
        """Weights in Feature order."""
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float64)

    def __getitem__(self, feature: Feature) -> float:
        return getattr(self, feature.field)

    @classmethod
    def from_file(cls, path: Path = PACKAGED_WEIGHTS) -> "RankingWeights":
        """Load weights saved as {"weights": {feature: value}} (unknown features are ignored)."""
        return cls.from_json(Path(path).read_bytes())

    @classmethod
    def from_json(cls, raw: bytes) -> "RankingWeights":
        """Weights from the bytes of a weights file; ValueError when they are not one."""
        data = json.loads(raw)
        weights = data.get("weights") if isinstance(data, dict) else None
        if not isinstance(weights, dict) or not any(f in weights for f in FEATURES):
            raise ValueError(f'expected {{"weights": {{feature: number}}}} with features among {", ".join(FEATURES)}')
        values = {f: weights[f] for f in FEATURES if f in weights}
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
            raise ValueError("every weight must be a number")
        return cls(**{f: float(v) for f, v in values.items()})

    @classmethod
    def default(cls) -> "RankingWeights":
        """The packaged fitted weights, or the hand-set ones if no fit was shipped."""
        return cls.from_file() if PACKAGED_WEIGHTS.exists() else cls()


@dataclass(frozen=True)
class RankingOptions:
    """How lists are built. The defaults here are the only ones: settings and the replay start from them."""

    k: int = 10
    # content candidates: the nearest items by text of the user's last ``content_sources`` items and of their
    # last searches, ``content_neighbours`` each (ranking/content.py)
    content_sources: int = 5
    content_neighbours: int = 20
    collab_window: int = 10  # recent items whose co-occurrence neighbours become candidates
    trending_candidates: int = 50
    mmr_lambda: float = 0.85  # 1.0 = pure relevance; lower trades relevance for diversity
    # Brand-new items have no collaborative or popularity signal, so a blend fitted on interactions
    # never lets them in; this many last slots go to the best-scored candidates nobody has touched yet.
    new_item_slots: int = 1
    exclude_seen: bool = True
    # event types that keep an item out of the user's later lists (None: every type, as exclude_seen says);
    # items touched only by other types come back, with the repurchase feature (a shop of consumables
    # leaves purchase out: what a customer bought is offered again when it is due)
    exclude_types: tuple[str, ...] | None = None
    rebuy_candidates: int = 30  # the user's most taken items admitted as buy-again candidates
    half_life_seconds: float = 7 * 86400.0  # profile decay (must match the profile updates)
    freshness_half_life_seconds: float = 3 * 86400.0
    weights: RankingWeights = field(default_factory=RankingWeights.default)
    weights_label: str = "weights:packaged"  # which blend this is; part of each list's model_version

    def to_dict(self) -> dict[str, Any]:
        """Options as plain values (recorded in evaluation output)."""
        return asdict(self)


def load_weights(path: Path | None) -> tuple[RankingWeights, str]:
    """The blend in ``path`` (None: the packaged fit) and a label naming it: ``weights:<file stem>@<sha256[:8]>``.

    Raises ImproperlyConfigured with one readable line when the file is missing or is not a weights file.
    """
    source = PACKAGED_WEIGHTS if path is None else Path(path).expanduser()
    if path is None and not source.exists():
        return RankingWeights(), "weights:hand-set"
    try:
        raw = source.read_bytes()
        weights = RankingWeights.from_json(raw)
    except OSError as exc:
        raise ImproperlyConfigured(f"cannot read the weights file {source}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ImproperlyConfigured(f"{source} is not a weights file: {exc}") from None
    name = "packaged" if path is None else source.stem
    return weights, f"weights:{name}@{hashlib.sha256(raw).hexdigest()[:8]}"
