"""A published adapter: a linear map of the frozen text vectors into a behaviour-tuned space.

Why linear: a profile vector is the decayed sum Σ a_j·u_j of its items' frozen vectors, so the tuned
query W·p = Σ a_j·W·u_j is exactly the profile the tuned vectors would have built — profiles stay in the
encoder's space and survive every adapter update, the content score still splits into one exact part per
interaction, and re-embedding the catalogue after an update is one matrix product (``embed``).
The map starts as the identity (version 0 is the frozen space) and training moves it from there.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import numpy as np
import orjson

from ...errors import InvalidMessage

FORMAT = "streamrec-adapter/1"


@dataclass(frozen=True)
class Adapter:
    """W [dim, dim] and where it came from; ``model_version`` names it in every list and index."""

    weight: np.ndarray  # float32 [dim_out, dim_in]
    version: int  # 0 = identity; the trainer counts its published updates
    base_version: str  # the encoder whose vectors it maps (vectors of another encoder are refused)
    val_loss: float = float("nan")  # validation loss when it was published
    pairs: int = 0  # co-interaction pairs trained on so far

    @classmethod
    def identity(cls, dim: int, base_version: str) -> "Adapter":
        """The frozen space itself."""
        return cls(np.eye(dim, dtype=np.float32), 0, base_version)

    @property
    def dim(self) -> int:
        """Dimension of the tuned vectors."""
        return int(self.weight.shape[0])

    @property
    def digest(self) -> str:
        """sha256 of the weights (8 hex digits): two adapters with the same version number are told apart."""
        return hashlib.sha256(np.ascontiguousarray(self.weight, dtype=np.float32).tobytes()).hexdigest()[:8]

    @property
    def model_version(self) -> str:
        """The version of the tuned vectors: the encoder's, plus this adapter."""
        return f"{self.base_version}+adapter-{self.version}@{self.digest}"

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """W·u for each row (not normalised: the content parts of a profile need the raw map)."""
        return np.asarray(vectors, dtype=np.float32) @ self.weight.T

    def embed(self, vectors: np.ndarray) -> np.ndarray:
        """Tuned, L2-normalised vectors of frozen ones [n, dim_in] → [n, dim_out] (one matrix product)."""
        out = self.project(vectors)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    # ---- the `streamrec-adapters` topic value ------------------------------------------------------
    def to_bytes(self) -> bytes:
        """JSON with the weights as base64 float32 (1.5 MB hex-free for 384×384)."""
        w = np.ascontiguousarray(self.weight, dtype=np.float32)
        return orjson.dumps({"format": FORMAT, "version": self.version, "base_version": self.base_version,
                             "shape": list(w.shape), "val_loss": self.val_loss, "pairs": self.pairs,
                             "weight": base64.b64encode(w.tobytes()).decode()}, option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> "Adapter":
        """Parse an adapter message; InvalidMessage (never another exception) for anything else."""
        try:
            body = orjson.loads(raw) if raw is not None else None
            if not isinstance(body, dict) or body.get("format") != FORMAT:
                raise ValueError(f"expected an object with format {FORMAT}")
            rows, cols = (int(x) for x in body["shape"])
            weight = np.frombuffer(base64.b64decode(body["weight"], validate=True), dtype=np.float32)
            if rows < 1 or cols < 1 or weight.size != rows * cols:
                raise ValueError(f"shape {rows}x{cols} does not match {weight.size} values")
            if not np.all(np.isfinite(weight)):
                raise ValueError("weights must be finite")
            val_loss = body.get("val_loss")
            return cls(weight.reshape(rows, cols).copy(), int(body["version"]), str(body["base_version"]),
                       float("nan") if val_loss is None else float(val_loss), int(body.get("pairs", 0)))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("bad_adapter", str(exc)[:200]) from None
