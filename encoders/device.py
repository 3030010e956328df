"""Device quirks kept in one place: device choice, inference dtype, CPU thread setup."""
from __future__ import annotations

import torch

from .errors import EncoderConfigError
from .options import usable_cpus


def cuda_available() -> bool:
    """True when a CUDA device can be used."""
    return torch.cuda.is_available()


def resolve_device(name: str) -> torch.device:
    """Map "auto"/"cpu"/"cuda" (options.DEVICES) to a torch.device; "auto" prefers CUDA, "cuda" needs it."""
    if name == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    if name == "cuda" and not cuda_available():
        raise EncoderConfigError("device 'cuda' was asked for but CUDA is not available")
    return torch.device(name)


def inference_dtype(device: torch.device) -> torch.dtype:
    """fp32 on CPU (half is slower there and less exact); bf16 on CUDA when supported, else fp16."""
    if device.type != "cuda":
        return torch.float32
    # bf16 has fp32's range, so no overflow in attention logits; older GPUs (pre-Ampere) only do fp16 fast
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def configure_cpu_threads(num_threads: int | None) -> int:
    """Set torch's intra-op thread count for CPU inference and return it.

    Default: one thread per usable CPU. More threads than cores only adds OpenMP contention
    (measured: it slows small-batch BERT inference), and torch's own default can count CPUs the
    process is not allowed to use. torch's setting is process-wide, so an explicit value wins.
    """
    threads = num_threads if num_threads is not None else usable_cpus()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Move a padded batch to the device; on CUDA via pinned memory so the copy is asynchronous."""
    if device.type != "cuda":
        return batch
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}
