"""Mean pooling over the attention mask, then L2 normalisation (sentence-transformers' recipe)."""
from __future__ import annotations

import json
from pathlib import Path

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


#: sentence-transformers pooling flags (1_Pooling/config.json); streamrec computes only the mean
_POOLING_MODES = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weighted mean",
    "pooling_mode_lasttoken": "last token",
}
#: modules after the transformer that streamrec reproduces (Normalize: it L2-normalises anyway)
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")


def check_mean_pooling(model_dir: Path) -> str:
    """Read how the model folder says it pools; return "mean", or raise EncoderConfigError in one line.

    A sentence-transformers folder declares its modules in modules.json and its pooling in the Pooling
    module's config.json. streamrec mean-pools the last hidden state and L2-normalises, which reproduces
    only mean-pooled models without further layers (e.g. a Dense projection). A plain Hugging Face folder
    declares no pooling: it is mean-pooled, which is streamrec's documented choice for it ("declared: none").
    """
    from .errors import EncoderConfigError

    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return "mean (none declared)"
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        kinds = [(str(m.get("type", "")).rsplit(".", 1)[-1], str(m.get("path", ""))) for m in modules]
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise EncoderConfigError(f"{modules_file} is not a sentence-transformers modules list: {exc}") from None
    other = [kind for kind, _ in kinds if kind not in _SUPPORTED_MODULES]
    if other:
        raise EncoderConfigError(f"model {model_dir} has modules streamrec does not apply ({', '.join(other)}); "
                                 "use a model that is a transformer with mean pooling only")
    pooling = [path for kind, path in kinds if kind == "Pooling"]
    if not pooling:
        raise EncoderConfigError(f"model {model_dir} declares no Pooling module in modules.json; "
                                 "streamrec needs a mean-pooled model")
    config_file = model_dir / pooling[0] / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EncoderConfigError(f"cannot read the pooling config {config_file}: {exc}") from None
    modes = [name for flag, name in _POOLING_MODES.items() if config.get(flag)]
    mode = config.get("pooling_mode")  # newer sentence-transformers write the mode by name too
    if isinstance(mode, str) and mode != "mean":
        modes.append(mode)
    if modes or not (config.get("pooling_mode_mean_tokens") or mode == "mean"):
        found = ", ".join(dict.fromkeys(modes)) or "none"
        raise EncoderConfigError(f"model {model_dir} pools with {found}, not mean pooling; streamrec mean-pools "
                                 "(its vectors would not match the model's): choose a mean-pooled model")
    return "mean"
