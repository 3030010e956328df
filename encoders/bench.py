"""`streamrec bench encode`: our encoder's items/s against sentence-transformers on the same texts."""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .options import DEVICES

BRANDS = ["Acme", "Nordika", "Vela", "Kestrel", "Orbit", "Lumen", "Tundra", "Marlow", "Zephyr", "Halcyon",
          "Brava", "Cobalt", "Fjord", "Pinecrest", "Solace", "Rivet"]
ADJECTIVES = ["lightweight", "waterproof", "organic", "ergonomic", "vintage", "compact", "wireless", "insulated",
              "breathable", "handmade", "stainless", "foldable", "rechargeable", "slim", "heavy-duty", "eco-friendly"]
PRODUCTS = [  # (noun, category)
    ("running shoes", "Sports > Footwear"), ("hiking backpack", "Outdoor > Bags"), ("saucepan", "Home > Kitchen"),
    ("desk lamp", "Home > Lighting"), ("headphones", "Electronics > Audio"), ("yoga mat", "Sports > Fitness"),
    ("rain jacket", "Fashion > Outerwear"), ("coffee grinder", "Home > Kitchen"), ("office chair", "Office > Furniture"),
    ("water bottle", "Outdoor > Hydration"), ("mechanical keyboard", "Electronics > Computers"),
    ("wool socks", "Fashion > Underwear"), ("cast iron skillet", "Home > Cookware"), ("bike helmet", "Sports > Cycling"),
    ("phone case", "Electronics > Accessories"), ("throw blanket", "Home > Textiles"), ("tent", "Outdoor > Camping"),
    ("watch", "Fashion > Accessories"), ("blender", "Home > Appliances"), ("notebook", "Office > Stationery"),
]
COLOURS = ["black", "white", "red", "navy", "olive", "grey", "sand", "teal", "burgundy", "mustard"]
MATERIALS = ["cotton", "recycled polyester", "aluminium", "oak", "stainless steel", "silicone", "leather", "nylon"]
CLAUSES = [
    "Designed for everyday use and built to last.",
    "Ships in plastic-free packaging.",
    "Backed by a two-year warranty and free returns within 30 days.",
    "Tested by our team on long weekends outdoors and busy weekday mornings alike.",
    "Easy to clean, dishwasher safe where noted, and simple to store when not in use.",
    "A customer favourite that pairs well with the rest of the collection.",
    "Made in a certified factory with fair working conditions and audited supply chains.",
    "Fits most standard sizes; see the size guide for exact measurements before ordering.",
]


def product_texts(n: int, seed: int = 7) -> list[str]:
    """n deterministic product texts shaped like the item agent's: "title. description. category. key: value"."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        noun, category = rng.choice(PRODUCTS)
        title = f"{rng.choice(BRANDS)} {rng.choice(ADJECTIVES)} {rng.choice(COLOURS)} {noun}"
        # most descriptions are one clause; about 1 in 5 is a long multi-clause one (a length spread as in real shops)
        clauses = rng.sample(CLAUSES, k=rng.randint(3, 6) if rng.random() < 0.2 else 1)
        attrs = f"colour: {rng.choice(COLOURS)}. material: {rng.choice(MATERIALS)}. price: {rng.randint(5, 400)}.{rng.randint(0, 99):02d}"
        texts.append(f"{title}. {' '.join(clauses)} {category}. {attrs}")
    return texts


@dataclass(frozen=True)
class Timing:
    """Throughput of one encoder over several repeats."""

    name: str
    items_per_s_median: float
    items_per_s_min: float
    items_per_s_max: float
    seconds_median: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to `parser`."""
    parser.add_argument("--n", type=int, default=4000, help="number of texts (default 4000)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size for both encoders (default 64)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="device (default auto)")
    parser.add_argument("--model-path", type=Path, default=None, help="local HF model dir (default: packaged all-MiniLM-L6-v2)")
    parser.add_argument("--max-length", type=int, default=128, help="token limit for both encoders (default 128)")
    parser.add_argument("--num-threads", type=int, default=None, help="torch CPU threads (default: one per usable CPU)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per encoder; the median is reported (default 3)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures to this JSON file")


def _timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """Seconds one call of fn takes, and what it returned."""
    start = time.perf_counter()
    vectors = fn()
    return time.perf_counter() - start, vectors


def summarise(name: str, n: int, seconds: Sequence[float]) -> Timing:
    """Items/s figures of one encoder from the seconds of its runs."""
    rates = [n / s for s in seconds]
    return Timing(name, statistics.median(rates), min(rates), max(rates), statistics.median(seconds))


def _measure(runners: dict[str, Callable[[], np.ndarray]], warm: Callable[[], None], repeats: int,
             console) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Warm up, then time each runner `repeats` times (alternating); seconds per run and last vectors."""
    from rich.progress import Progress

    seconds: dict[str, list[float]] = {name: [] for name in runners}
    vectors: dict[str, np.ndarray] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("warming up", total=len(runners) * repeats)
        warm()  # first calls pay for allocator growth and kernel selection: keep them out of the figures
        # alternate the encoders so drift (thermal, noisy neighbours on a shared box) hits all alike
        for _ in range(repeats):
            for name, fn in runners.items():
                progress.update(task, description=f"timing {name}")
                took, vectors[name] = _timed(fn)
                seconds[name].append(took)
                progress.advance(task)
    return seconds, vectors


def _table(timings: Sequence[Timing], title: str):
    """A rich table of the timings."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("encoder", "items/s (median)", "min", "max", "s/run"):
        table.add_column(col, justify="left" if col == "encoder" else "right")
    for t in timings:
        table.add_row(t.name, f"{t.items_per_s_median:,.0f}", f"{t.items_per_s_min:,.0f}",
                      f"{t.items_per_s_max:,.0f}", f"{t.seconds_median:.3f}")
    return table


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print a table, optionally write JSON; returns the exit status."""
    import torch  # heavy imports only when the benchmark runs, not when the CLI builds its parser
    from rich.console import Console
    from sentence_transformers import SentenceTransformer

    from . import EncoderOptions, load_encoder
    from .errors import EncoderConfigError

    if args.n < 1 or args.repeats < 1:
        raise EncoderConfigError(f"--n and --repeats must be >= 1 (got {args.n} and {args.repeats})")
    console = Console()
    options = EncoderOptions(model_path=args.model_path, device=args.device, batch_size=args.batch_size,
                             max_length=args.max_length, num_threads=args.num_threads)
    texts = product_texts(args.n)
    ours = load_encoder(options)
    device = ours.device
    st = SentenceTransformer(str(options.resolved_model_path()), device=str(device))
    st.max_seq_length = args.max_length  # same truncation as ours, so vectors are comparable
    if device.type == "cuda":  # same precision as ours on GPU, else we would time fp32 against half
        st.to(ours.model.dtype)

    def st_encode(batch: list[str]) -> np.ndarray:
        return st.encode(batch, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                         show_progress_bar=False)

    def warm() -> None:
        ours.encode(texts[: 4 * args.batch_size])
        st_encode(texts[: 4 * args.batch_size])

    tokens = np.mean([len(ids) for ids in ours.tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]])
    console.print(f"device [bold]{device}[/]  torch threads [bold]{torch.get_num_threads()}[/]  texts {args.n} "
                  f"(mean {tokens:.1f} tokens)  batch size {args.batch_size}  max_length {args.max_length}  "
                  f"model {ours.version}")
    seconds, vectors = _measure({"streamrec": lambda: ours.encode(texts), "sentence-transformers": lambda: st_encode(texts)},
                                warm, args.repeats, console)
    timings = [summarise(name, args.n, s) for name, s in seconds.items()]
    max_abs_diff = float(np.abs(vectors["streamrec"] - vectors["sentence-transformers"]).max())
    speedup = timings[0].items_per_s_median / timings[1].items_per_s_median
    console.print(_table(timings, f"encode {args.n} product texts ({device}, median of {args.repeats})"))
    console.print(f"speed-up vs sentence-transformers: [bold]{speedup:.2f}x[/]   max |Δ| of vectors: {max_abs_diff:.2e}")
    if args.json:
        figures = {"device": str(device), "torch_threads": torch.get_num_threads(), "n": args.n,
                   "mean_tokens": float(tokens), "batch_size": args.batch_size, "max_length": args.max_length,
                   "repeats": args.repeats, "model_version": ours.version, "speedup": speedup,
                   "max_abs_diff": max_abs_diff, "timings": [asdict(t) for t in timings]}
        args.json.write_text(json.dumps(figures, indent=2))
    return 0
