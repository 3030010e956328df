"""The composition root of a worker process: settings in, a running Faust worker out."""
from __future__ import annotations

import logging
from dataclasses import replace

from prometheus_client import CollectorRegistry

from encoders import EncoderOptions, load_encoder
from index import IndexOptions, set_faiss_threads

from . import __version__
from .agents import events as event_agent
from .agents import items as item_agent
from .agents import vectors as vector_follower
from .app import create_app
from .components import Components
from .kafka import ensure_topics
from .metrics import Metrics
from .ranking import Ranker, RankingOptions
from .recommender import Recommender
from .settings import Settings
from .state import ItemState
from . import web

log = logging.getLogger(__name__)


def encoder_options(settings: Settings) -> EncoderOptions:
    """The encoder's options from the settings."""
    return EncoderOptions(
        model_path=settings.model_path,
        device=settings.device,
        batch_size=settings.encode_batch_size,
        max_length=settings.max_length,
        num_threads=encode_threads(settings),
    )


def encode_threads(settings: Settings) -> int | None:
    """Encoder CPU threads: a ranking worker leaves one CPU to its event loop, or encoding starves ranking."""
    if settings.encode_threads is not None or settings.role != "all":
        return settings.encode_threads
    from encoders.device import usable_cpus

    return max(1, usable_cpus() - 1)


def index_options(settings: Settings) -> IndexOptions:
    """The index's options from the settings."""
    return IndexOptions(kind=settings.index_kind, use_gpu=settings.index_use_gpu,
                        ef_search=settings.index_ef_search, nprobe=settings.index_nprobe)


def ranking_options(settings: Settings) -> RankingOptions:
    """The ranker's options from the settings (blend weights: the packaged fitted defaults)."""
    return replace(
        RankingOptions(),
        k=settings.k,
        exclude_seen=settings.exclude_seen,
        half_life_seconds=settings.half_life_days * 86400.0,
    )


def build(settings: Settings, registry: CollectorRegistry | None = None) -> Components:
    """Load the model and the index snapshot, create topics, and wire agents and views into a Faust app."""
    encoder = load_encoder(encoder_options(settings))
    ensure_topics(settings)
    set_faiss_threads(settings.faiss_threads)
    state = ItemState.open(
        settings.data_dir, model_version=encoder.version, dim=encoder.dim,
        index_options=index_options(settings), expected_items=settings.index_expected_items,
    )
    app, topics, profiles = create_app(settings)
    metrics = Metrics(registry or CollectorRegistry())
    metrics.build_info.info({"version": __version__, "model_version": encoder.version,
                             "index_kind": type(state.index).__name__, "role": settings.role})
    metrics.index_items.set(len(state.index))
    recommender = Recommender(Ranker(state.index, state.catalogue, state.signals, ranking_options(settings)),
                              encoder, encoder.version, observe_search=metrics.index_search_seconds.observe)
    c = Components(settings, app, topics, profiles, encoder, state, recommender, metrics)
    if settings.role in ("all", "encoder"):
        item_agent.register(c)
    if settings.role in ("all", "ranker"):
        event_agent.register(c)
        vector_follower.register(c)
    else:
        c.status["vectors_caught_up"] = True  # an encoder-only worker keeps no index
    web.register(c)
    _register_housekeeping(c)
    return c


def _register_housekeeping(c: Components) -> None:
    settings = c.settings

    @c.app.timer(settings.snapshot_interval)
    async def snapshot_index() -> None:
        if c.settings.role != "encoder" and c.status["vectors_caught_up"]:
            c.state.snapshot(settings.data_dir)

    @c.app.timer(5.0)
    async def gauges() -> None:
        c.metrics.index_items.set(len(c.state.index))
        c.metrics.profiles.set(_count_profiles(c))
        _update_lag(c)

    @c.app.on_before_shutdown.connect
    async def snapshot_on_shutdown(app, **kwargs) -> None:
        if c.settings.role != "encoder" and c.status["vectors_caught_up"]:
            path = c.state.snapshot(settings.data_dir)
            log.info("index snapshot written to %s", path)


def _count_profiles(c: Components) -> int:
    """Profiles in this worker's table partitions: RocksDB's own key estimate (no scan of millions of keys)."""
    try:
        dbs = getattr(c.profiles.data, "_dbs", None)  # faust's rocksdb store: partition → rocksdict.Rdict
        if dbs:
            return sum(db.property_int_value("rocksdb.estimate-num-keys") or 0 for db in dbs.values())
        return sum(1 for _ in c.profiles.keys())
    except Exception:  # a count is best effort during rebalances
        log.debug("profile count failed", exc_info=True)
        return 0


def _update_lag(c: Components) -> None:
    """Consumer lag per assigned partition: high watermark minus the next offset to read."""
    consumer = c.app.consumer
    try:
        for tp in consumer.assignment():
            read = consumer._read_offset.get(tp)  # noqa: SLF001 - Faust tracks it but exposes no getter
            high = consumer.highwater(tp)
            if read is not None and high is not None:
                c.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, high - read - 1))
    except Exception:  # lag is best effort: never let a metric take the worker down
        log.debug("lag update failed", exc_info=True)


def run(settings: Settings) -> int:
    """Build and run one worker until SIGINT/SIGTERM (snapshots the index on the way out)."""
    import faust

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    c = build(settings)
    worker = faust.Worker(c.app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
    return 0
