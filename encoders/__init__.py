"""Text encoders: texts → L2-normalised float32 vectors (torch is imported only by load_encoder)."""
from __future__ import annotations

from .base import Encoder
from .options import EncoderOptions

__all__ = ["Encoder", "EncoderOptions", "load_encoder"]


def load_encoder(options: EncoderOptions) -> Encoder:
    """Build the encoder the options describe (loads the model; heavy imports happen here)."""
    from .transformer import TransformerEncoder

    return TransformerEncoder(options)
