"""Nothing is acknowledged before it is written: a micro-batch's offsets are released only after the broker
acknowledged every record the batch produced.

Faust's ``take_events`` acks a batch's events when the agent's loop moves on — also when the handler raised
(its ``finally``). So the handler runs inside :func:`deliver`: every send made while it runs (lists, signal
deltas, dead letters, tombstones, the tables' changelog records) leaves its broker future in the batch's
:class:`Receipts`, and the batch is over only when each of them resolved. When one failed, or the handler
raised, the batch's acks are withheld (its offsets are never committed), the failure is counted and said in
one log line, and the worker stops: the batch is read again by whoever takes the partitions next (at least
once; the profiles' applied marks and the aggregators' offsets make the repeat change nothing).
"""
from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Sequence

from .faust_compat import withhold_acks

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """A record a batch produced was refused by the broker or not acknowledged in time."""

    def __init__(self, topic: str, cause: BaseException | None) -> None:
        self.topic = topic
        self.cause = cause
        what = "no acknowledgement in time" if cause is None else f"{type(cause).__name__}: {cause}"
        super().__init__(f"a record for {topic} was not delivered ({what})")


class Receipts:
    """The broker futures of one batch's sends, by topic."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, Any]] = []
        self.on_delivered: list[Callable[[], None]] = []  # run once everything is acknowledged

    def add(self, topic: str, future: Any) -> None:
        if future is not None and hasattr(future, "__await__"):
            self.pending.append((topic, future))

    async def settle(self, timeout: float, on_failure: Callable[[str], None] | None = None) -> int:
        """Wait for every future; raise :class:`SendFailed` on the first that failed. Returns how many settled."""
        pending, self.pending = self.pending, []
        if not pending:
            return 0
        futures = [asyncio.ensure_future(future) for _, future in pending]
        # asyncio.wait, not wait_for: a future still pending at the timeout is left alone, never cancelled
        # (it belongs to the producer, which resolves it later)
        _, late = await asyncio.wait(futures, timeout=timeout)
        failed = [(topic, _failure(future, late)) for (topic, _), future in zip(pending, futures)
                  if future in late or future.cancelled() or future.exception() is not None]
        for topic, _ in failed:
            if on_failure:
                on_failure(topic)
        if failed:
            topic, cause = failed[0]
            if cause is None:
                raise SendFailed(topic, None)
            raise SendFailed(topic, cause) from cause
        return len(pending)


def _failure(future: asyncio.Future, late: set) -> BaseException | None:
    """Why ``future`` failed (None: no answer in time)."""
    if future in late:
        return None
    if future.cancelled():
        return asyncio.CancelledError()
    return future.exception()


_current: ContextVar[Receipts | None] = ContextVar("streamrec_receipts", default=None)


def when_delivered(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the running batch's records are all acknowledged (at once outside a batch)."""
    receipts = _current.get()
    if receipts is None:
        callback()
    else:
        receipts.on_delivered.append(callback)


def track(topic: str, future: Any) -> Any:
    """Put ``future`` (an aiokafka or Faust send future) into the running batch's receipts, if any; return it."""
    receipts = _current.get()
    if receipts is not None:
        receipts.add(topic, future)
    return future


async def deliver(c: Any, source: str, batch: Sequence[Any], handler: Callable[[Any, Any], Awaitable[None]]) -> None:
    """Run ``handler(c, batch)`` and wait until the broker acknowledged all it sent; on any failure withhold the
    batch's acks, count and log it, stop the worker, and re-raise (the batch is redelivered)."""
    receipts = Receipts()
    token = _current.set(receipts)
    metrics = c.metrics
    try:
        await handler(c, batch)
        await receipts.settle(c.settings.delivery_timeout,
                              lambda topic: metrics.send_failures.labels(topic=topic).inc())
        for callback in receipts.on_delivered:
            callback()
    except Exception as exc:
        withhold_acks(batch)
        metrics.batches_failed.labels(source=source).inc()
        log.error("a batch of %d %s messages was not delivered (%s: %s); its offsets stay uncommitted and the "
                  "worker stops so the batch is read again", len(batch), source, type(exc).__name__, exc)
        stop = getattr(c.app, "crash", None)
        if stop is not None and getattr(c.app, "started", False):
            await stop(exc)
        raise
    finally:
        _current.reset(token)
