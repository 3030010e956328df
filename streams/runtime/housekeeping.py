"""What a worker does on the side: index snapshots on a timer and on shutdown, the gauges Prometheus reads at
scrape time (index size, profiles, consumer lag), and the end of a broker outage logged once."""
from __future__ import annotations

import logging
from typing import Any

from .components import Components
from .faust_compat import estimated_table_keys, recovering
from .outage import OUTAGE
from .stalls import observe_group

log = logging.getLogger(__name__)


def register(c: Components) -> None:
    """Snapshot the index every snapshot_interval and on shutdown; read the gauges when scraped."""
    settings = c.settings
    app = c.app
    c.metrics.index_items.set_function(lambda: len(c.state.index))
    c.metrics.profiles.set_function(lambda: count_profiles(c))

    @app.timer(settings.snapshot_interval)
    async def snapshot_index() -> None:
        if settings.role != "encoder" and c.status.caught_up:
            c.state.snapshot(settings.data_dir)

    @app.timer(5.0)
    async def outage_over() -> None:
        OUTAGE.check()  # one line when a broker outage is over

    @app.timer(min(5.0, settings.stall_timeout / 4))
    async def watch_stalls() -> None:
        if c.stalls is None:
            return
        try:
            observe_group(c.stalls, app, held=bool(app.rebalancing) or recovering(app))
        except Exception:  # a reading during a rebalance may fail: the next one counts
            log.debug("stall check failed", exc_info=True)
        c.metrics.stalled_partitions.set(len(c.stalls.stalled))

    @app.on_partitions_assigned.connect
    async def lag_gauges(app, assigned, **kwargs) -> None:
        for tp in assigned:  # one lag gauge per partition the group gave this worker, read when scraped
            c.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set_function(
                lambda tp=tp: consumer_lag(c, tp))

    @app.on_partitions_revoked.connect
    async def drop_lag_gauges(app, revoked, **kwargs) -> None:
        for tp in revoked:
            c.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    @app.on_before_shutdown.connect
    async def snapshot_on_shutdown(app, **kwargs) -> None:
        if settings.role != "encoder" and c.status.caught_up:
            path = c.state.snapshot(settings.data_dir)
            log.info("index snapshot written to %s", path)


def count_profiles(c: Components) -> int:
    """Profiles in this worker's table partitions: RocksDB's own key estimate (no scan of millions of keys)."""
    try:
        estimate = estimated_table_keys(c.profiles)
        return estimate if estimate is not None else sum(1 for _ in c.profiles.keys())
    except Exception:  # a count is best effort during rebalances
        log.debug("profile count failed", exc_info=True)
        return 0


def consumer_lag(c: Components, tp: Any) -> float:
    """Messages behind on a partition the worker's consumer group gave it: the high watermark minus the next
    offset to read (after the last message read, else the committed offset; Faust's monitor keeps both)."""
    try:
        monitor = c.app.monitor
        high = c.app.consumer.highwater(tp) or 0
        read = monitor.tp_read_offsets.get(tp)
        position = read + 1 if read is not None else monitor.tp_committed_offsets.get(tp) or 0
    except Exception:  # lag is best effort: never let a metric fail a scrape
        log.debug("lag of %s unknown", tp, exc_info=True)
        return 0.0
    return float(max(0, high - position))
