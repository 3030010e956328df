"""The composition root of a worker process: settings in, a running Faust worker out."""
from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry

from encoders import load_encoder
from encoders.cache import CachedEncoder
from index import set_faiss_threads

from .. import __version__
from ..core.ranking import FEATURES, Ranker
from ..core.recommender import Recommender
from ..core.state import ItemState
from ..metrics import Metrics
from ..settings import Settings
from . import attribution, audit, housekeeping, learning, outage, sensor, web
from .agents import adapters as adapter_follower
from .agents import aggregator
from .agents import events as event_agent
from .agents import items as item_agent
from .agents import signals as signal_follower
from .agents import trainer as trainer_agent
from .agents import vectors as vector_follower
from .app import create_app
from .batchsend import BatchSender
from .components import Components
from .delivery import track
from .faust_compat import quiet_worker, watch_changelog
from .httpauth import load_tokens
from .kafka import ensure_topics_when_reachable, resolve_broker_kind
from .profilecache import ProfileCache
from .stalls import StallWatch

log = logging.getLogger(__name__)


def build(settings: Settings, registry: CollectorRegistry | None = None) -> Components:
    """Load the model and the index snapshot, create topics, and wire agents and views into a Faust app."""
    ranking = settings.ranking_options()  # first: a bad weights file is reported before minutes of start-up
    tokens = load_tokens(settings)  # so is a bad token file
    if tokens:
        log.info("HTTP API tokens: %s", ", ".join(f"{t.name} ({','.join(sorted(t.scopes))})" for t in tokens))
    else:
        log.warning("no HTTP API tokens (STREAMREC_API_TOKENS_FILE): every route but /health, /ready and /metrics "
                    "answers 401")
    encoder = load_encoder(settings.encoder_options())
    # the consumer timings suit the broker found: Apache Kafka's defaults, or the embedded broker's short ones
    settings = resolve_broker_kind(settings, ensure_topics_when_reachable(settings))
    log.info("consumer timings for the %s broker: fetch wait %d ms, rebalance/session/heartbeat %s s, "
             "standby replicas %d", settings.broker_kind, settings.fetch_wait_ms(),
             "/".join(f"{v:g}" for v in settings.group_timings()), settings.standby_replicas)
    set_faiss_threads(settings.faiss_threads)
    state = ItemState.open(
        settings.data_dir, model_version=encoder.version, dim=encoder.dim,
        index_options=settings.index_options(), expected_items=settings.index_expected_items,
        signal_options=settings.signal_options(),
    )
    # a trainer reads every partition outside the workers' consumer group: its app has a group of its own
    app, topics, tables = create_app(settings if settings.role != "trainer" else
                                     settings.model_copy(update={"app_id": f"{settings.app_id}-trainer"}))
    metrics = Metrics(registry or CollectorRegistry())
    metrics.build_info.info({"version": __version__, "model_version": encoder.version,
                             "index_kind": type(state.index).__name__, "role": settings.role})
    log.info("ranking with %s (%s): %s", ranking.weights_label, settings.weights or "packaged with streamrec",
             ", ".join(f"{name}={value:g}" for name, value in zip(FEATURES, ranking.weights.as_array())))
    # learning: the tuned space (STREAMREC_ADAPTER) and the learned ranker (STREAMREC_RANKER_MODEL), if set
    learned = learning.wire(settings, state, encoder.version, ranking)
    # a list's model_version names the vectors (encoder, adapter) and what scored them (blend weights or ranker);
    # search queries repeat: the ranker's query encoder keeps the last 10,000 distinct ones
    ranker = Ranker(state.index, state.catalogue, state.signals, ranking, learned.scorer, vectors=state.vectors)
    state.content = ranker.content  # newly indexed items join the content rows
    ranker.content.on_search = metrics.index_search_seconds.observe
    recommender = Recommender(ranker, CachedEncoder(encoder), learned.model_version(encoder.version))
    c = Components(settings, app, topics, tables.profiles, tables.signal_rows, encoder, state, recommender, metrics,
                   lists=BatchSender(app, settings.topic_recommendations), learning=learned,
                   deltas=BatchSender(app, settings.topic_signal_deltas),
                   signal_sender=BatchSender(app, settings.topic_signals),
                   profile_cache=ProfileCache(settings.profile_cache))
    for table in (tables.profiles, tables.signal_rows):  # a batch waits for its rows' changelog records too
        watch_changelog(table, track)
    c.stalls = StallWatch(settings.stall_timeout, on_stall=metrics.partition_stalls.inc)

    @app.on_partitions_revoked.connect
    async def _ownership_moves(app, revoked, **kwargs) -> None:
        c.profile_cache.clear()  # another worker may write these users' profiles now

    c.experiment = attribution.load(settings)
    sensor.install(app, metrics)
    if settings.role == "trainer":  # one per deployment: learns the adapter, ranks nothing
        trainer_agent.register(c)
        c.status.vectors_caught_up = c.status.signals_caught_up = True
        web.register(c)
        return c
    if settings.role in ("all", "encoder"):
        item_agent.register(c)
    if settings.role in ("all", "ranker"):
        event_agent.register(c)
        aggregator.register(c)
        vector_follower.register(c)
        signal_follower.register(c)
        if learned.tuned is not None:
            adapter_follower.register(c)
    else:  # an encoder-only worker keeps no index and no signals
        c.status.vectors_caught_up = c.status.signals_caught_up = True
    web.register(c)
    housekeeping.register(c)
    return c


def run(settings: Settings) -> int:
    """Build and run one worker until SIGINT/SIGTERM (snapshots the index on the way out)."""
    import faust

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    outage.install()  # a broker outage in one line, not 150 a second
    audit.keep_on()  # audit lines at any log level
    c = build(settings)
    worker = quiet_worker(faust.Worker(c.app, loglevel=settings.log_level, quiet=True))
    worker.execute_from_commandline()
    return 0
