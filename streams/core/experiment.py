"""A/B experiments: shoppers split into arms by a hash of their id, each arm ranking with its own settings.

An experiment file is JSON: ``{"name": "fresh-blend", "arms": [{"name": "control", "share": 50},
{"name": "fresh", "share": 50, "weights": {"freshness": 0.3}, "blend": true}]}``. ``share`` is relative;
``weights`` (features not named keep the base blend's) replaces the blend of that arm; ``blend: true`` ranks
with the blend even where a learned ranker is configured. A shopper's arm is
``blake2b(experiment name, user id)`` placed on the shares: the same shopper is in the same arm on every
worker and after every restart, and renaming the experiment reshuffles everyone.

Every list carries its arm (``arm``) and the arm is part of its ``model_version``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Sequence

from ..errors import ImproperlyConfigured, read_json_file
from .ranking import RankingWeights
from .ranking.options import FEATURES

MAX_ARMS = 20


@dataclass(frozen=True)
class Arm:
    """One arm: its name, its share of the shoppers, and what it ranks with."""

    name: str
    share: float
    weights: dict[str, float] | None = None  # features replaced in the base blend
    blend: bool = False  # the blend even where a learned ranker is configured

    def weights_over(self, base: RankingWeights) -> RankingWeights:
        return replace(base, **self.weights) if self.weights else base


@dataclass(frozen=True)
class Experiment:
    """Named arms; :meth:`arm_of` is a pure function of the name and the shopper's id."""

    name: str
    arms: tuple[Arm, ...]

    def arm_of(self, user_id: str) -> Arm:
        """The shopper's arm: their hash's place on the cumulative shares."""
        digest = hashlib.blake2b(f"{self.name}\x00{user_id}".encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64 * sum(a.share for a in self.arms)
        for arm in self.arms:
            if point < arm.share:
                return arm
            point -= arm.share
        return self.arms[-1]

    @classmethod
    def from_file(cls, path: Path) -> "Experiment":
        """Read and check an experiment file; a mistake is an ImproperlyConfigured in one line."""
        return cls.from_object(read_json_file(path, "experiment"), str(path))

    @classmethod
    def from_object(cls, data: Any, source: str = "experiment") -> "Experiment":
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
            raise ImproperlyConfigured(f'{source}: expected {{"name": ..., "arms": [...]}}')
        raw = data.get("arms")
        if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_ARMS:
            raise ImproperlyConfigured(f"{source}: an experiment has 2 to {MAX_ARMS} arms")
        arms = tuple(_arm(entry, f"{source}: arm {n}") for n, entry in enumerate(raw, 1))
        if len({a.name for a in arms}) != len(arms):
            raise ImproperlyConfigured(f"{source}: arm names must differ")
        return cls(data["name"], arms)


def _arm(entry: Any, where: str) -> Arm:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise ImproperlyConfigured(f"{where}: needs a name")
    share = entry.get("share", 1)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or share <= 0:
        raise ImproperlyConfigured(f"{where} ({entry['name']}): share must be a positive number")
    weights = entry.get("weights")
    if weights is not None:
        known = {f.name for f in fields(RankingWeights)}
        if not isinstance(weights, dict) or not weights or not set(weights) <= known or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in weights.values()):
            raise ImproperlyConfigured(f"{where} ({entry['name']}): weights maps features ({', '.join(FEATURES)}) "
                                       "to numbers")
        weights = {k: float(v) for k, v in weights.items()}
    blend = entry.get("blend", False)
    if not isinstance(blend, bool):
        raise ImproperlyConfigured(f"{where} ({entry['name']}): blend must be true or false")
    return Arm(entry["name"], float(share), weights, blend)


def split(items: Sequence[Any], keys: Sequence[str], experiment: Experiment) -> dict[str, list[int]]:
    """Positions of ``items`` per arm name (by each item's key), in order."""
    groups: dict[str, list[int]] = {}
    for n, key in enumerate(keys):
        groups.setdefault(experiment.arm_of(key).name, []).append(n)
    return groups
