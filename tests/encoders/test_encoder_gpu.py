"""The CUDA path of TransformerEncoder: half precision, vectors close to the CPU's (skipped without a GPU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from encoders import EncoderOptions, load_encoder
from encoders.bench import product_texts

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)"),
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Product texts of mixed length, plus one past max_length and an empty one."""
    return product_texts(600) + ["Vela ergonomic office chair. " * 80, ""]


@pytest.fixture(scope="module")
def cpu_vectors(texts, encoder) -> np.ndarray:
    """fp32 reference vectors from the CPU path (the session's encoder)."""
    return encoder.encode(texts)


def test_cuda_runs_in_half_precision_close_to_cpu(texts, cpu_vectors):
    # batch 16 → chunks of 512 texts, so the 602 texts also go through the prefetching pipeline
    encoder = load_encoder(EncoderOptions(device="cuda", batch_size=16))
    assert encoder.device.type == "cuda"
    assert encoder.model.dtype in (torch.bfloat16, torch.float16)
    vectors = encoder.encode(texts)
    assert vectors.shape == cpu_vectors.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosine = np.sum(vectors * cpu_vectors, axis=1)
    assert cosine.min() > 0.99, f"worst cosine to the CPU vector: {cosine.min():.4f}"


def test_auto_picks_cuda_and_batch_order_does_not_matter(texts):
    encoder = load_encoder(EncoderOptions(device="auto"))
    assert encoder.device.type == "cuda"
    forward = encoder.encode(texts)
    backward = encoder.encode(texts[::-1])[::-1]
    assert np.sum(forward * backward, axis=1).min() > 0.995
