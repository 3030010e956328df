"""TransformerEncoder: a local BERT-family Hugging Face model whose pooling is the mean, mean-pooled and L2-normalised."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from .base import Encoder
from .batching import chunk_ranges, length_sorted_batches, prefetched
from .device import configure_cpu_threads, inference_dtype, resolve_device, to_device
from .errors import EncoderConfigError
from .options import EncoderOptions
from .pooling import check_mean_pooling, l2_normalise, mean_pool

#: texts per tokenisation chunk on CUDA: big enough that sorting by length still packs batches
#: well, small enough that tokenising the next chunk hides behind the GPU working on this one
CUDA_CHUNK_BATCHES = 32
HASH_BLOCK = 1 << 20


def weight_files(model_dir: Path) -> list[Path]:
    """The weight files of a model folder (safetensors preferred, sharded ones included)."""
    for pattern in ("model*.safetensors", "pytorch_model*.bin"):
        files = sorted(p for p in model_dir.glob(pattern) if p.is_file())
        if files:
            return files
    raise EncoderConfigError(f"model path {model_dir} has no weight file (model.safetensors or pytorch_model.bin)")


def weights_digest(model_dir: Path, chars: int = 12) -> str:
    """First `chars` hex digits of the sha256 over the model's weight file(s)."""
    digest = hashlib.sha256()
    for path in weight_files(model_dir):
        with path.open("rb") as f:
            while block := f.read(HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()[:chars]


def load_tokenizer(model_dir: Path) -> PreTrainedTokenizerBase:
    """The model's tokenizer from the local folder only (fast/Rust one when the folder has it)."""
    try:
        return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True, use_fast=True)
    except (OSError, ValueError) as exc:
        raise EncoderConfigError(f"cannot load a tokenizer from {model_dir}: {exc}") from exc


def load_model(model_dir: Path, device: torch.device) -> PreTrainedModel:
    """The model from the local folder only, in eval mode, on `device` in its inference dtype."""
    # transformers draws a progress bar per load: noise in worker logs and between the CLI's own progress
    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EncoderConfigError(f"cannot load a model from {model_dir}: {exc}") from exc
    return model.to(device=device, dtype=inference_dtype(device)).eval()


class TransformerEncoder(Encoder):
    """Encodes texts with a local Hugging Face encoder model (mean pooling, unit-length rows)."""

    def __init__(self, options: EncoderOptions) -> None:
        model_dir = options.resolved_model_path()
        self.pooling = check_mean_pooling(model_dir)  # before loading: a model pooled otherwise is refused
        self.options = options
        self.device = resolve_device(options.device)
        if self.device.type == "cpu":  # before the first forward pass, so it already runs on the final OpenMP pool
            configure_cpu_threads(options.num_threads)
        self.tokenizer = load_tokenizer(model_dir)
        self.model = load_model(model_dir, self.device)
        self.dim: int = int(self.model.config.hidden_size)
        self.version: str = f"{options.model_name()}@{weights_digest(model_dir)}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 [len(texts), dim], rows L2-normalised, in input order."""
        if isinstance(texts, str):  # a bare str is a Sequence[str] of characters: almost surely a bug
            raise TypeError("encode() takes a sequence of texts, not a single str")
        texts = list(texts)
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"encode() takes str texts, got {type(bad).__name__}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            vectors = self._encode_all(texts)
        return vectors

    def _encode_all(self, texts: list[str]) -> np.ndarray:
        """Tokenise and run the model; on CUDA chunk-wise with the next chunk tokenised meanwhile."""
        chunk = self.options.batch_size * CUDA_CHUNK_BATCHES
        if self.device.type == "cuda" and len(texts) > chunk:
            return self._encode_pipelined(texts, chunk).cpu().numpy()
        # CPU: tokenising costs ~2% of the model time; a helper thread would only steal the model's cores
        return self._run(self._tokenise(texts)).cpu().numpy()

    def _encode_pipelined(self, texts: list[str], chunk: int) -> torch.Tensor:
        """Vectors for texts in chunks, tokenising chunk k+1 in a thread while the GPU runs chunk k."""
        ranges = chunk_ranges(len(texts), chunk)
        encoded = prefetched(ranges, lambda r: self._tokenise(texts[r.start:r.stop]))
        # kernel launches are asynchronous and outputs stay on the device until the caller's single
        # copy back, so the CPU runs ahead (padding, tokenising) while the GPU computes
        return torch.cat([self._run(enc) for enc in encoded])

    def _tokenise(self, texts: list[str]) -> dict[str, list[list[int]]]:
        """Token ids for all texts at once, truncated to max_length, unpadded (lengths differ)."""
        enc = self.tokenizer(texts, truncation=True, max_length=self.options.max_length, padding=False)
        return dict(enc)

    def _run(self, enc: dict[str, list[list[int]]]) -> torch.Tensor:
        """Vectors [n, dim] (fp32, on the device) for tokenised texts, in their order."""
        lengths = [len(ids) for ids in enc["input_ids"]]
        out = torch.empty((len(lengths), self.dim), dtype=torch.float32, device=self.device)
        for idx in length_sorted_batches(lengths, self.options.batch_size):
            features = {key: [values[i] for i in idx] for key, values in enc.items()}
            # dynamic padding: only up to the longest text of this batch. On CPU the model is GEMM-bound
            # (measured ~75% of the time in addmm), so every pad token is wasted work: sorting by *token*
            # length wastes ~6% on pads at batch 64 on product texts, sentence-transformers' sort by
            # *character* length ~15%, which is where our CPU lead comes from
            batch = to_device(dict(self.tokenizer.pad(features, return_tensors="pt")), self.device)
            hidden = self.model(**batch).last_hidden_state
            out[torch.from_numpy(idx).to(self.device)] = l2_normalise(mean_pool(hidden, batch["attention_mask"]))
        return out
