"""The encoder contract every text encoder implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np


class Encoder(ABC):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    #: vector dimension
    dim: int
    #: "<model name>@<hash of the weights>": stored beside every vector so two models never mix
    version: str

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array [len(texts), dim], each row L2-normalised, in input order."""
