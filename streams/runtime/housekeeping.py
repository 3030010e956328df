"""Timers of a worker: index snapshots, and the gauges that are read rather than counted."""
from __future__ import annotations

import logging

from .components import Components
from .faust_compat import estimated_table_keys, read_offset, recovering
from .outage import OUTAGE
from .stalls import observe_group

log = logging.getLogger(__name__)


def register(c: Components) -> None:
    """Snapshot the index every snapshot_interval and on shutdown; refresh gauges every 5 s."""
    settings = c.settings

    @c.app.timer(settings.snapshot_interval)
    async def snapshot_index() -> None:
        if settings.role != "encoder" and c.status.caught_up:
            c.state.snapshot(settings.data_dir)

    @c.app.timer(5.0)
    async def gauges() -> None:
        c.metrics.index_items.set(len(c.state.index))
        c.metrics.profiles.set(count_profiles(c))
        update_lag(c)
        OUTAGE.check()  # one line when a broker outage is over

    @c.app.timer(min(5.0, settings.stall_timeout / 4))
    async def watch_stalls() -> None:
        if c.stalls is None:
            return
        try:
            observe_group(c.stalls, c.app, held=bool(c.app.rebalancing) or recovering(c.app))
        except Exception:  # a reading during a rebalance may fail: the next one counts
            log.debug("stall check failed", exc_info=True)
        c.metrics.stalled_partitions.set(len(c.stalls.stalled))

    @c.app.on_before_shutdown.connect
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


def update_lag(c: Components) -> None:
    """Consumer lag per assigned partition: high watermark minus the next offset to read."""
    consumer = c.app.consumer
    try:
        for tp in consumer.assignment():
            read = read_offset(consumer, tp)
            high = consumer.highwater(tp)
            if read is not None and high is not None:
                c.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, high - read - 1))
    except Exception:  # lag is best effort: never let a metric take the worker down
        log.debug("lag update failed", exc_info=True)
