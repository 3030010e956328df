"""What a worker is made of, built once at start-up and handed to the agents and views."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from encoders.base import Encoder

from ..core.recommender import Recommender
from ..core.state import ItemState
from ..metrics import Metrics
from ..settings import Settings
from .app import Topics


@dataclass
class Status:
    """What the worker has reached since start-up (read by /health)."""

    vectors_caught_up: bool = False  # the index holds every vector on `item-vectors` as of start-up
    signals_caught_up: bool = False  # the view holds every row on the signals topic as of start-up

    @property
    def caught_up(self) -> bool:
        """Both followed topics read to their end once."""
        return self.vectors_caught_up and self.signals_caught_up


@dataclass
class Components:
    """The worker's parts; agents read what they need from here instead of taking 20 arguments."""

    settings: Settings
    app: Any  # faust.App
    topics: Topics
    profiles: Any  # faust Table: user_id → Profile bytes
    signal_rows: Any  # faust Table: item_id → SignalRow bytes (the aggregator's rows)
    encoder: Encoder
    state: ItemState
    recommender: Recommender
    metrics: Metrics
    status: Status = field(default_factory=Status)
    learning: Any = None  # runtime.learning.Learning: tuned space, learned scorer, trend (None in bare tests)
    trainer: Any = None  # agents.trainer.TrainerState on a trainer (role `trainer`)
    # DELETE /users/{id} waits here (request id → future) until the event agent has applied its control message
    forget_waiters: dict[str, Any] = field(default_factory=dict)
    lists: Any = None  # BatchSender for `recommendations` (batchsend.py), made by worker.build
    deltas: Any = None  # BatchSender for `signal-deltas`
    profile_cache: Any = None  # profilecache.ProfileCache: the hot profiles, decoded
    signal_sender: Any = None  # BatchSender for the signals topic (the aggregator's rows)
    experiment: Any = None  # core.arms.ArmedRecommender when STREAMREC_EXPERIMENT names an experiment
    stalls: Any = None  # stalls.StallWatch: partitions with records and no progress (read by /ready)
