"""`streamrec bench hotpath`: the event agent's core work in one process, no broker: µs per event.

The same synthetic catalogue and shoppers as `streamrec bench pipeline`, parsed, folded into profiles,
ranked and serialised exactly as the event agent does it (``Recommender.process`` on micro-batches,
profiles stored as bytes, lists as JSON), timed per phase. It isolates what the worker's own code costs
from Faust and the broker, so a profiler (``--profile``: pyinstrument) shows only the hot path.
"""
from __future__ import annotations

import argparse
import orjson
import time
from pathlib import Path

import numpy as np

from index import IndexOptions, build_index, set_faiss_threads

from ..core.catalogue import Catalogue
from ..core.profiles import Profile
from ..core.ranking import Ranker, RankingOptions
from ..core.recommender import Recommender
from ..core.records import parse_event
from ..core.signals import ItemSignals
from ..core.vectors import decode_record
from .workload import Shoppers, synthetic_catalogue, vector_records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the hot-path benchmark."""
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--light-users", type=int, default=2000)
    parser.add_argument("--loyal-users", type=int, default=50)
    parser.add_argument("--loyal-history", type=int, default=500)
    parser.add_argument("--events", type=int, default=5000, help="events per timed phase")
    parser.add_argument("--batch", type=int, default=256, help="micro-batch size (the worker's event_batch_size)")
    parser.add_argument("--index-kind", default="flat")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument text profile of the timed phases here")


def run(args: argparse.Namespace, settings=None) -> int:
    """Build the world, warm histories up, then time light, loyal and mixed phases."""
    set_faiss_threads(1)
    catalogue_spec = synthetic_catalogue(args.items)
    index = build_index(IndexOptions(kind=args.index_kind), 384, expected_items=args.items)
    catalogue = Catalogue()
    signals = ItemSignals(ids=catalogue.ids)
    ids, vecs = [], []
    for item_id, raw in vector_records(catalogue_spec, "bench", 384):
        record = decode_record(item_id.encode(), raw)
        catalogue.put(record.meta)
        ids.append(item_id)
        vecs.append(record.vector)
    index.upsert(ids, np.stack(vecs))
    recommender = Recommender(Ranker(index, catalogue, signals, RankingOptions()), _HashEncoder(), "bench")
    shoppers = Shoppers(catalogue_spec)
    light = [f"light-{i}" for i in range(args.light_users)]
    loyal = [f"loyal-{i}" for i in range(args.loyal_users)]
    table: dict[str, bytes] = {}
    started = time.perf_counter()
    history = shoppers.histories(light, 5, "hl") + shoppers.histories(loyal, args.loyal_history, "hy")
    history = [history[int(i)] for i in shoppers.rng.permutation(len(history))]
    _replay(recommender, history, table, args.batch)
    print(f"histories: {len(history):,} events in {time.perf_counter() - started:.1f} s (wall)")
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    figures = {}
    for name, users in (("light", light), ("loyal", loyal), ("mixed", light + loyal)):
        batch = shoppers.events(users, args.events, name)
        t0, c0 = time.perf_counter(), time.process_time()
        _replay(recommender, batch, table, args.batch)
        # CPU time is the figure on a shared machine (wall time counts other processes' turns too)
        figures[name] = (time.process_time() - c0) / len(batch) * 1e6
        wall = (time.perf_counter() - t0) / len(batch) * 1e6
        print(f"{name:6}: {figures[name]:8.0f} CPU µs/event  ({1e6 / figures[name]:,.0f} events/s on one core; "
              f"wall {wall:,.0f} µs/event)")
    print(f"loyal / light cost: {figures['loyal'] / figures['light']:.2f}×")
    if profiler is not None:
        profiler.stop()
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.write_text(profiler.output_text(unicode=True, show_all=False))
        print(f"profile written to {args.profile}")
    return 0


def _replay(recommender: Recommender, messages, table: dict[str, bytes], batch: int) -> None:
    """What the event agent does per micro-batch, minus Faust: parse, load, process, store, serialise."""
    for start in range(0, len(messages), batch):
        events = [parse_event(m.key, m.value, now=time.time()) for m in messages[start:start + batch]]
        stored = {}
        for e in events:
            raw = table.get(e.user_id)
            if raw is not None and e.user_id not in stored:
                stored[e.user_id] = Profile.from_bytes(raw)
        outcomes = recommender.process(events, stored)
        for o in outcomes:
            table[o.profile.user_id] = o.profile.to_bytes()
        for o in outcomes:
            orjson.dumps(o.recommendation.to_message())


class _HashEncoder:
    """A stand-in query encoder (a seeded random unit vector per text): MiniLM's cost is not the hot path here."""

    version = "bench"
    dim = 384

    def encode(self, texts):
        out = []
        for text in texts:
            v = np.random.default_rng(abs(hash(text)) % 2**32).standard_normal(self.dim).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)
