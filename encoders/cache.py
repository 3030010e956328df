"""An LRU cache in front of an encoder, for texts that repeat (shoppers' search queries).

A shop's searches repeat heavily ("running shoes", "tent"), and each miss costs a transformer pass
(~10 ms for one text on one CPU thread): in the pipeline bench the query encoder was 6% of the event
agent's time with 5% search events. Texts that are already cached cost one dict lookup.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from .base import Encoder


class CachedEncoder(Encoder):
    """``encoder`` with its last ``size`` distinct texts' vectors kept (least recently used evicted first)."""

    def __init__(self, encoder: Encoder, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError(f"cache size must be >= 1, got {size}")
        self.encoder = encoder
        self.dim = encoder.dim
        self.version = encoder.version
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = self.misses = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` in order; only the texts not cached reach the encoder, in one batch."""
        cache = self._vectors
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing)):
                cache[text] = vector
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = cache[text]
            cache.move_to_end(text)
        while len(cache) > self.size:
            cache.popitem(last=False)
        return out
