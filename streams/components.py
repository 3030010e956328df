"""What a worker is made of, built once at start-up and handed to the agents and views."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from encoders.base import Encoder

from .app import Topics
from .metrics import Metrics
from .recommender import Recommender
from .settings import Settings
from .state import ItemState


@dataclass
class Components:
    """The worker's parts; agents read what they need from here instead of taking 20 arguments."""

    settings: Settings
    app: Any  # StreamrecApp
    topics: Topics
    profiles: Any  # faust Table: user_id → Profile bytes
    encoder: Encoder
    state: ItemState
    recommender: Recommender
    metrics: Metrics
    status: dict[str, Any] = field(default_factory=lambda: {"vectors_caught_up": False})
