"""The incremental adapter trainer: contrastive loss with in-batch negatives on co-interaction pairs.

For a batch of pairs (a_i, b_i), the tuned vectors z = normalise(W·u) of every a_i must be closer to its
own b_i than to the other b_j of the batch (InfoNCE, both directions, weighted by pair closeness). W starts
at the identity and weight decay pulls it back there, so an item no one has touched yet — known only by
its text — lands where similar texts' shoppers went, not somewhere arbitrary.

Every ``validation_every``-th pair is held out (never trained on). An update trains on the pairs that
arrived since the last one (``passes`` times over, sampled from a buffer of recent pairs), then compares
its validation loss with the running adapter's on the same held-out pairs: a worse update is not
published, and training goes back to the running weights.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from encoders.device import resolve_device

from .adapter import Adapter
from .options import TrainerOptions
from .pairs import Pair


class VectorTable:
    """item id → row of frozen vectors (the trainer's copy of the catalogue)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rows: dict[str, int] = {}
        self._data = np.zeros((1024, dim), dtype=np.float32)
        self.version = 0  # bumps on every change, so a device copy knows when to refresh

    def put(self, item_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace vectors."""
        vectors = np.asarray(vectors, dtype=np.float32)
        for item_id, vector in zip(item_ids, vectors):
            row = self.rows.get(item_id)
            if row is None:
                row = self.rows[item_id] = len(self.rows)
                if row >= len(self._data):
                    self._data = np.concatenate([self._data, np.zeros_like(self._data)])
            self._data[row] = vector
        self.version += 1

    @property
    def matrix(self) -> np.ndarray:
        """[items, dim] in row order."""
        return self._data[: len(self.rows)]


@dataclass
class UpdateResult:
    """What one update did."""

    steps: int
    train_loss: float
    val_loss: float  # the candidate's
    running_val_loss: float  # the running adapter's, on the same held-out pairs
    published: Adapter | None  # None: not better, not published
    seconds: float


@dataclass
class _Ring:
    """Recent (a row, b row, weight) triples."""

    size: int
    a: np.ndarray = field(init=False)
    b: np.ndarray = field(init=False)
    w: np.ndarray = field(init=False)
    count: int = 0  # total ever added

    def __post_init__(self) -> None:
        self.a = np.zeros(self.size, dtype=np.int64)
        self.b = np.zeros(self.size, dtype=np.int64)
        self.w = np.zeros(self.size, dtype=np.float32)

    def add(self, a: int, b: int, w: float) -> None:
        i = self.count % self.size
        self.a[i], self.b[i], self.w[i] = a, b, w
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.size)

    def latest(self, n: int) -> np.ndarray:
        """Indices of the latest n entries."""
        n = min(n, len(self))
        return (np.arange(self.count - n, self.count) % self.size).astype(np.int64)


class AdapterTrainer:
    """Learns W incrementally from pairs; ``update`` returns an Adapter to publish when it got better."""

    def __init__(self, table: VectorTable, base_version: str, options: TrainerOptions = TrainerOptions(),
                 start: Adapter | None = None) -> None:
        self.table = table
        self.options = options
        self.device = resolve_device(options.device)
        self.generator = torch.Generator(device="cpu").manual_seed(options.seed)
        self.running = start or Adapter.identity(table.dim, base_version)
        self.weight = torch.tensor(self.running.weight, device=self.device, requires_grad=True)
        self.eye = torch.eye(table.dim, device=self.device)
        self.optimizer = torch.optim.Adam([self.weight], lr=options.learning_rate)
        self.train = _Ring(options.buffer)
        self.val = _Ring(max(options.validation_pairs, 1))
        self.pairs_seen = 0
        self.new_pairs = 0
        self._device_table: tuple[int, torch.Tensor] | None = None
        # a worker adds pairs on its event loop while an update trains in a thread: the buffers are read
        # under this lock (copied) and written under it
        self.lock = threading.Lock()

    def resume(self, adapter: Adapter) -> None:
        """Continue from a published adapter (a restarted trainer)."""
        with self.lock:
            self.running = adapter
            with torch.no_grad():
                self.weight.copy_(torch.tensor(adapter.weight, device=self.device))
            self.optimizer = torch.optim.Adam([self.weight], lr=self.options.learning_rate)

    def put_vectors(self, item_ids: Sequence[str], vectors: np.ndarray) -> None:
        """New or changed frozen vectors (the trainer role follows `item-vectors`)."""
        with self.lock:
            self.table.put(item_ids, vectors)

    def add(self, pairs: Iterable[Pair]) -> int:
        """Queue pairs (those of unknown items are skipped); returns how many were kept."""
        with self.lock:
            return self._add(pairs, self.table.rows)

    def _add(self, pairs: Iterable[Pair], rows: dict[str, int]) -> int:
        kept = 0
        for item_id, other, weight in pairs:
            a, b = rows.get(item_id), rows.get(other)
            if a is None or b is None:
                continue
            self.pairs_seen += 1
            if self.pairs_seen % self.options.validation_every == 0:
                self.val.add(a, b, weight)
            else:
                self.train.add(a, b, weight)
                self.new_pairs += 1
            kept += 1
        return kept

    def ready(self) -> bool:
        """Enough new pairs for an update."""
        return self.new_pairs >= self.options.min_update_pairs and len(self.val) > 0

    def update(self) -> UpdateResult:
        """Train on what arrived, validate, and publish only if no worse than the running adapter."""
        started = time.perf_counter()
        opts = self.options
        with self.lock:
            steps = min(opts.max_steps, max(1, math.ceil(self.new_pairs * opts.passes / opts.batch_size)))
            self.new_pairs = 0
            x = self._vectors()
            n = len(self.train)
            train_a, train_b, train_w = self.train.a[:n].copy(), self.train.b[:n].copy(), self.train.w[:n].copy()
            val_idx = self.val.latest(opts.validation_pairs)
            val = (self.val.a[val_idx].copy(), self.val.b[val_idx].copy(), self.val.w[val_idx].copy())
        losses = []
        for _ in range(steps):
            idx = torch.randint(n, (min(opts.batch_size, n),), generator=self.generator).numpy()
            loss = self._loss(x, train_a[idx], train_b[idx], train_w[idx], self.weight)
            loss = loss + opts.weight_decay * ((self.weight - self.eye) ** 2).sum()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            val_loss = self.validation_loss(self.weight, x, val)
            running = self.validation_loss(torch.tensor(self.running.weight, device=self.device), x, val)
        published = None
        if val_loss <= running:
            published = self.running = Adapter(self.weight.detach().cpu().numpy().copy(), self.running.version + 1,
                                               self.running.base_version, val_loss, self.pairs_seen)
        else:  # a bad update is dropped: go on from the running weights with fresh optimiser moments
            with torch.no_grad():
                self.weight.copy_(torch.tensor(self.running.weight, device=self.device))
            self.optimizer = torch.optim.Adam([self.weight], lr=opts.learning_rate)
        return UpdateResult(steps, float(np.mean(losses)), val_loss, running, published, time.perf_counter() - started)

    def validation_loss(self, weight: torch.Tensor, x: torch.Tensor, val: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
        """Mean contrastive loss of ``weight`` on held-out pairs (a, b, w), in fixed batches (deterministic)."""
        a, b, w = val
        bs = self.options.batch_size
        total, n = 0.0, 0
        for start in range(0, len(a), bs):
            part = slice(start, start + bs)
            if len(a[part]) < 2:
                continue
            total += float(self._loss(x, a[part], b[part], w[part], weight)) * len(a[part])
            n += len(a[part])
        return total / n if n else float("inf")

    def _vectors(self) -> torch.Tensor:
        """The frozen vectors on the training device (copied again only when the table changed)."""
        if self._device_table is None or self._device_table[0] != self.table.version:
            self._device_table = (self.table.version, torch.from_numpy(self.table.matrix.copy()).to(self.device))
        return self._device_table[1]

    def _loss(self, x: torch.Tensor, a: np.ndarray, b: np.ndarray, w: np.ndarray, weight: torch.Tensor) -> torch.Tensor:
        """Symmetric, weighted InfoNCE with in-batch negatives; the same item elsewhere in the batch is no negative."""
        ta, tb = torch.from_numpy(a).to(self.device), torch.from_numpy(b).to(self.device)
        za = F.normalize(x[ta] @ weight.T, dim=1)
        zb = F.normalize(x[tb] @ weight.T, dim=1)
        logits = za @ zb.T / self.options.temperature
        same_b = (tb[:, None] == tb[None, :]) & ~torch.eye(len(tb), dtype=torch.bool, device=self.device)
        same_a = (ta[:, None] == ta[None, :]) & ~torch.eye(len(ta), dtype=torch.bool, device=self.device)
        target = torch.arange(len(ta), device=self.device)
        weights = torch.from_numpy(w).to(self.device)
        rows = F.cross_entropy(logits.masked_fill(same_b, float("-inf")), target, reduction="none")
        cols = F.cross_entropy(logits.T.masked_fill(same_a, float("-inf")), target, reduction="none")
        return ((rows + cols) * 0.5 * weights).sum() / weights.sum()
