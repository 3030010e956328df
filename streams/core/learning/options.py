"""Options of the adapter trainer (torch-free, so settings can read the defaults without importing torch)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainerOptions:
    """How the adapter learns."""

    batch_size: int = 512
    learning_rate: float = 2e-3
    temperature: float = 0.05
    weight_decay: float = 1e-3  # L2 of (W - I): the pull back to the frozen space
    passes: float = 2.0  # training samples per new pair
    max_steps: int = 200  # per update, whatever arrived (a backlog is sampled, not trained exhaustively)
    buffer: int = 300_000  # recent training pairs kept to sample from
    validation_every: int = 10  # every n-th pair is held out
    validation_pairs: int = 4096  # the most recent held-out pairs that decide publication
    min_update_pairs: int = 2000  # an update waits for at least this many new training pairs
    device: str = "auto"  # one of encoders.options.DEVICES; auto: CUDA when present, else CPU
    seed: int = 0
