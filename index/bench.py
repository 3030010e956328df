"""`streamrec bench index`: add rate, search QPS, single-query latency and recall@10 of each index kind.

Data is synthetic and clustered: a Gaussian mixture whose clusters each spread along a few
directions of their own, plus a little isotropic noise. Real sentence embeddings look like this
(topics, with low intrinsic dimension inside each). Uniform random unit vectors would be the
wrong yardstick: in 384-d all their pairwise similarities are ≈ 0 and nearest neighbours barely
stand out, which makes every approximate index look far worse than it is on real text.
Vectors are generated chunk by chunk from per-chunk seeds, so no copy of the data set is held
beyond the index under test and the exact ground-truth index.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from .factory import build_index
from .options import IndexOptions

CHUNK = 50_000


@dataclass(frozen=True)
class ClusteredVectors:
    """Deterministic clustered unit vectors: centre + low-rank in-cluster spread + small noise."""

    dim: int
    # Chosen so neighbours are not trivially separated: top-1 cosine ≈ 0.55, top-10 ≈ 0.48 in 10^5
    # items, random pairs ≈ 0 (with 1000 tight clusters IVF reached recall 1.0 at nprobe 8: too easy).
    clusters: int = 100
    rank: int = 48
    spread: float = 0.2  # per-direction std of the in-cluster spread (its norm ≈ spread·sqrt(rank))
    noise: float = 0.8  # norm of the isotropic noise
    seed: int = 0

    def _model(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        centres = rng.standard_normal((self.clusters, self.dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        bases = (rng.standard_normal((self.clusters, self.rank, self.dim)) / np.sqrt(self.dim)).astype(np.float32)
        return centres, bases

    def chunks(self, total: int, stream: int = 0, chunk: int = CHUNK):
        """Yield (start, vectors) chunks of ``total`` vectors; ``stream`` 0 = items, 1 = queries."""
        centres, bases = self._model()
        for start in range(0, total, chunk):
            size = min(chunk, total - start)
            rng = np.random.default_rng([self.seed, stream, start])
            c = rng.integers(self.clusters, size=size)
            z = rng.standard_normal((size, 1, self.rank)).astype(np.float32) * self.spread
            x = centres[c] + (z @ bases[c])[:, 0, :]
            x += rng.standard_normal((size, self.dim)).astype(np.float32) * (self.noise / np.sqrt(self.dim))
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            yield start, x

    def take(self, total: int, stream: int) -> np.ndarray:
        """``total`` vectors of one stream as a single array (for the queries)."""
        return np.concatenate([x for _, x in self.chunks(total, stream)])


@dataclass
class Result:
    """One (size, kind) measurement."""

    kind: str
    items: int
    dim: int
    add_per_s: float
    add_s: float
    batch_qps: float
    single_p50_ms: float
    single_p99_ms: float
    recall_at_10: float
    options: dict
    bytes_per_item: float = 0.0  # the serialised faiss index / items (the string id map comes on top, same for every kind)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to its CLI subparser."""
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated catalogue sizes")
    parser.add_argument("--dim", type=int, default=384, help="vector dimension (all-MiniLM-L6-v2: 384)")
    parser.add_argument("--queries", type=int, default=1000, help="queries per measurement (batch search)")
    parser.add_argument("--single", type=int, default=100, help="queries timed one by one for p50/p99 latency")
    parser.add_argument("--kinds", default="flat,hnsw,ivf,ivfpq,ivfsq", help="comma-separated index kinds")
    parser.add_argument("--hnsw-max-items", type=int, default=None,
                        help="skip HNSW above this size (its build is the slow part on small machines)")
    parser.add_argument("--ef-search", type=int, default=None, help="override HNSW ef_search")
    parser.add_argument("--nprobe", type=int, default=None, help="override IVF nprobe")
    parser.add_argument("--pq-m", type=int, default=None, help="override IVF-PQ codes per vector (bytes at 8 bits)")
    parser.add_argument("--k", type=int, default=10, help="neighbours per query (recall is recall@k)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG plot of the results here")


def run(args: argparse.Namespace) -> int:
    """Run every (size, kind) measurement, print a table, optionally write JSON and a plot."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console()
    sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    kinds = [k.strip() for k in str(args.kinds).split(",") if k.strip()]
    data = ClusteredVectors(args.dim, seed=args.seed)
    queries = data.take(args.queries, stream=1)
    results: list[Result] = []
    console.print(f"[bold]index bench[/] dim={args.dim} queries={args.queries} k={args.k} "
                  f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, {platform.processor() or platform.machine()}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        for n in sizes:
            truth = _ground_truth(data, n, queries, args.k, progress)
            for kind in kinds:
                if kind == "hnsw" and args.hnsw_max_items is not None and n > args.hnsw_max_items:
                    progress.console.print(f"  skip hnsw at {n:,} (--hnsw-max-items {args.hnsw_max_items:,})")
                    continue
                options = _options(kind, args)
                results.append(_measure(kind, options, data, n, queries, truth, args, progress))
                progress.console.print(_line(results[-1]))
                gc.collect()
    _print_table(console, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"machine": _machine(), "faiss": faiss.__version__, "dim": args.dim, "queries": args.queries,
                "k": args.k, "data": asdict(data)}
        args.json.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=1))
    if args.plot:
        _plot(results, args.plot)
        console.print(f"plot written to {args.plot}")
    return 0


def _options(kind: str, args: argparse.Namespace) -> IndexOptions:
    tuned = {}
    if args.ef_search is not None:
        tuned["ef_search"] = args.ef_search
    if args.nprobe is not None:
        tuned["nprobe"] = args.nprobe
    if getattr(args, "pq_m", None) is not None:
        tuned["pq_m"] = args.pq_m
    return IndexOptions(kind=kind, use_gpu="never", **tuned)


def _ground_truth(data: ClusteredVectors, n: int, queries: np.ndarray, k: int, progress) -> np.ndarray:
    """Exact top-k positions by brute force (faiss IndexFlatIP)."""
    task = progress.add_task(f"exact ground truth, {n:,}", total=n)
    exact = faiss.IndexFlatIP(data.dim)
    for _, x in data.chunks(n):
        exact.add(x)
        progress.advance(task, len(x))
    _, labels = exact.search(queries, k)
    progress.remove_task(task)
    return labels


def _measure(kind: str, options: IndexOptions, data: ClusteredVectors, n: int, queries: np.ndarray,
             truth: np.ndarray, args: argparse.Namespace, progress) -> Result:
    index = build_index(options, data.dim, expected_items=n)
    task = progress.add_task(f"{kind} add, {n:,}", total=n)
    add_s = 0.0
    for start, x in data.chunks(n):
        ids = [str(i) for i in range(start, start + len(x))]
        t0 = time.perf_counter()
        index.upsert(ids, x)
        add_s += time.perf_counter() - t0
        progress.advance(task, len(x))
    progress.remove_task(task)

    t0 = time.perf_counter()
    hits = index.search(queries, args.k)
    batch_s = time.perf_counter() - t0
    found = np.array([[int(h.item_id) for h in row] + [-1] * (args.k - len(row)) for row in hits])
    recall = float(np.mean([len(set(f) & set(t)) / args.k for f, t in zip(found.tolist(), truth.tolist())]))

    latencies = []
    for row in queries[: args.single]:
        t0 = time.perf_counter()
        index.search(row[None, :], args.k)
        latencies.append(time.perf_counter() - t0)
    ms = np.array(latencies) * 1000
    # an untrained IVF kind still holds its exact float32 buffer
    size = faiss.serialize_index(index.faiss_index).nbytes if getattr(index, "trained", True) else n * data.dim * 4
    return Result(kind, n, data.dim, n / add_s, add_s, len(queries) / batch_s, float(np.percentile(ms, 50)),
                  float(np.percentile(ms, 99)), recall, _tunables(index), size / n)


def _tunables(index) -> dict:
    options = index.options
    if index.kind == "hnsw":
        return {"m": options.m, "ef_construction": options.ef_construction, "ef_search": options.ef_search}
    if index.kind == "ivf":  # an untrained IVF index is still answering from its exact buffer
        return {"nlist": int(index.faiss_index.nlist), "nprobe": options.nprobe, "trained": index.trained}
    if index.kind == "ivfsq":
        return {"nlist": int(index.faiss_index.nlist), "nprobe": options.nprobe, "sq": "8bit", "trained": index.trained}
    if index.kind == "ivfpq":
        return {"nlist": int(index.faiss_index.nlist), "nprobe": options.nprobe, "pq_m": options.pq_m,
                "pq_bits": options.pq_bits, "trained": index.trained}
    return {}


def _line(r: Result) -> str:
    return (f"  {r.kind:5} {r.items:>9,}: add {r.add_per_s:>9,.0f}/s ({r.add_s:.1f} s)  batch {r.batch_qps:>8,.0f} q/s  "
            f"single p50 {r.single_p50_ms:.2f} ms p99 {r.single_p99_ms:.2f} ms  recall@10 {r.recall_at_10:.3f}  "
            f"{r.bytes_per_item:,.0f} B/item")


def _print_table(console, results: list[Result]) -> None:
    from rich.table import Table

    table = Table(title="index kinds: add rate, search speed, recall@10 vs exact")
    for col in ("kind", "items", "add vec/s", "add s", "batch q/s", "p50 ms", "p99 ms", "recall@10", "B/item", "tuning"):
        table.add_column(col, justify="left" if col in ("kind", "tuning") else "right")
    for r in results:
        tuning = " ".join(f"{k}={v}" for k, v in r.options.items())
        table.add_row(r.kind, f"{r.items:,}", f"{r.add_per_s:,.0f}", f"{r.add_s:.1f}", f"{r.batch_qps:,.0f}",
                      f"{r.single_p50_ms:.2f}", f"{r.single_p99_ms:.2f}", f"{r.recall_at_10:.3f}", f"{r.bytes_per_item:,.0f}",
                      tuning)
    console.print(table)


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def _plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers or in CI
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    panels = (("batch_qps", "batch search (queries/s)", True), ("single_p50_ms", "single-query p50 (ms)", True),
              ("recall_at_10", "recall@10", False))
    for ax, (field_name, title, log) in zip(axes, panels):
        for kind in dict.fromkeys(r.kind for r in results):
            rows = [r for r in results if r.kind == kind]
            ax.plot([r.items for r in rows], [getattr(r, field_name) for r in rows], marker="o", label=kind)
        ax.set_xscale("log")
        if log:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("items")
        ax.grid(True, alpha=0.3)
    axes[2].axhline(0.95, color="grey", linestyle="--", linewidth=0.8)  # the goal for approximate kinds
    axes[2].set_ylim(min(0.9, min(r.recall_at_10 for r in results) - 0.02), 1.01)
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
