"""Mean pooling over the attention mask, then L2 normalisation (sentence-transformers' recipe)."""
from __future__ import annotations

import torch


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average token vectors [b, t, d] over the tokens whose mask is 1 → [b, d] (fp32)."""
    # accumulate in fp32: half-precision sums over 128 tokens lose ~3 significant digits
    mask = attention_mask.unsqueeze(-1).to(torch.float32)
    summed = (hidden.to(torch.float32) * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # an all-padding row yields zeros, not NaN
    return summed / counts


def l2_normalise(vectors: torch.Tensor) -> torch.Tensor:
    """Scale each row to unit L2 norm (a zero row stays zero)."""
    return torch.nn.functional.normalize(vectors, p=2.0, dim=-1, eps=1e-12)
