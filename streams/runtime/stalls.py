"""Stalled partitions: records waiting on a partition this worker reads, and no progress for a stated time.

A partition *has records* when its high watermark is above the position the worker has reached on it, and it
*makes progress* while that position moves. One with records and no progress for ``STREAMREC_STALL_TIMEOUT``
seconds is stalled: ``/ready`` answers 503 (a load balancer or orchestrator sends its traffic elsewhere), the
``streamrec_partition_stalls`` counter counts it, and one log line says so; one more line when it moves again.

Positions come from Faust's monitor (its read and committed offsets) and the offset the consumer sought to
after a (re)start for the group's partitions, and from the followers' own consumers; high watermarks from the consumers (each fetch response
carries one, even when it brings no records). The embedded broker reports a partition's end as the last
batch's base offset + 1, which can be short: a position past it then reads as "no records", so a short end
can hide a stall on its last batch but never invents one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .faust_compat import monitor_offsets, read_offset

log = logging.getLogger(__name__)

Key = tuple[str, int]  # (topic, partition)


@dataclass
class _Partition:
    position: Any  # whatever marks progress on it (an offset, or a tuple of offsets)
    since: float  # when the position last moved, or the partition last had no records
    behind: int  # records between the position and the high watermark when last seen
    owner: str  # "group" (Faust's consumer) or "follower"
    stalled: bool = False


class StallWatch:
    """Tracks partitions' positions against their high watermarks; see the module docstring."""

    def __init__(self, timeout: float, on_stall: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.on_stall = on_stall  # e.g. a counter's inc
        self.clock = clock
        self._partitions: dict[Key, _Partition] = {}

    def observe(self, topic: str, partition: int, position: Any, reached: int | None, end: int | None,
                owner: str = "group") -> None:
        """One reading: ``position`` marks progress, ``reached`` is the next offset the worker needs (None: not
        known yet, read from the start), ``end`` the high watermark (None: not known yet)."""
        key, now = (topic, partition), self.clock()
        behind = 0 if end is None else end - (reached or 0)
        state = self._partitions.get(key)
        if behind <= 0:
            if state is not None and state.stalled:
                log.warning("partition %s:%d moves again: caught up after a stall of %.0f s", topic, partition,
                            now - state.since)
            self._partitions[key] = _Partition(position, now, 0, owner)
            return
        if state is None or state.behind <= 0 or state.position != position:
            if state is not None and state.stalled:
                log.warning("partition %s:%d moves again after a stall of %.0f s (%d records to read)", topic,
                            partition, now - state.since, behind)
            self._partitions[key] = _Partition(position, now, behind, owner)
            return
        state.behind = behind
        if not state.stalled and now - state.since >= self.timeout:
            state.stalled = True
            log.error("partition %s:%d is stalled: %d records wait on it and none was read for %.0f s "
                      "(STREAMREC_STALL_TIMEOUT=%g); /ready answers 503 until it moves", topic, partition, behind,
                      now - state.since, self.timeout)
            if self.on_stall is not None:
                self.on_stall()

    def keep_only(self, keys: Iterable[Key], owner: str = "group") -> None:
        """Forget ``owner``'s partitions that are not in ``keys`` (revoked in a rebalance)."""
        keep = set(keys)
        for key in [k for k, s in self._partitions.items() if s.owner == owner and k not in keep]:
            del self._partitions[key]

    def hold(self, owner: str = "group") -> None:
        """Restart the clock of ``owner``'s partitions: a rebalance or table recovery is no stall."""
        now = self.clock()
        for state in self._partitions.values():
            if state.owner == owner and not state.stalled:
                state.since = now

    @property
    def stalled(self) -> list[str]:
        """The stalled partitions, as "topic:partition"."""
        return sorted(f"{t}:{p}" for (t, p), s in self._partitions.items() if s.stalled)


def observe_group(watch: StallWatch, app: Any, held: bool = False) -> None:
    """Read the group consumer's partitions: positions from Faust's monitor, ends from the consumer.

    ``held``: the group is rebalancing or recovering its tables, when partitions wait by design.
    """
    consumer = app.consumer
    # the active partitions of the topics the agents read: standby and changelog partitions are read by table
    # recovery, not by streams, and the monitor keeps no read offsets for them
    changelogs, actives = app.tables.changelog_topics, app.assignor.assigned_actives()
    assigned = [tp for tp in consumer.assignment() if tp in actives and tp.topic not in changelogs]
    if held:
        watch.keep_only((tp.topic, tp.partition) for tp in assigned)
        watch.hold()
        return
    read, committed = monitor_offsets(app)
    for tp in assigned:
        last_read = read.get(tp)  # the offset of the last message handed to a stream
        done = committed.get(tp)  # the next offset to process, as this process last committed it
        # where the consumer stands: after a (re)start, the group's committed offset it sought to
        sought = read_offset(consumer, tp)
        reached = max(x for x in (None if last_read is None else last_read + 1, done, sought, 0) if x is not None)
        watch.observe(tp.topic, tp.partition, (last_read, done, sought), reached, consumer.highwater(tp))
    watch.keep_only((tp.topic, tp.partition) for tp in assigned)
