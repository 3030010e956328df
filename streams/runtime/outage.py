"""A broker outage in one clear line, not thousands: aiokafka's connection errors, summarised.

While the broker is away, aiokafka logs every failed connect, metadata refresh, fetch and coordinator
request at ERROR — about 150 lines a second here (measured: 3,100 lines in a 20 s outage of the embedded
broker). Those lines bury everything else and say nothing new after the first. This filter, on the three
aiokafka loggers that emit them, lets the first through as one streamrec line that says what is happening,
then one summary a minute, and :meth:`OutageLog.check` (a worker timer) logs one line when the errors stop.
Anything else those loggers say passes untouched.
"""
from __future__ import annotations

import logging
import time

from .faust_compat import AIOKAFKA_CONNECTION_ERRORS as CONNECTION_ERRORS
SUMMARY_EVERY = 60.0  # seconds between "still unreachable" lines
QUIET_FOR = 10.0  # seconds without a connection error before the broker counts as answering again

log = logging.getLogger("streams.runtime.outage")


class OutageLog(logging.Filter):
    """Summarises broker connection errors; see the module doc."""

    def __init__(self, clock=time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.since: float | None = None  # when the outage began (None: no outage)
        self.last_error = 0.0
        self.last_summary = 0.0
        self.hidden = 0  # errors not shown since the last line

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.name, record.msg) not in CONNECTION_ERRORS:
            return True
        now = self.clock()
        detail = record.getMessage()
        self.last_error = now
        if self.since is None:
            self.since = self.last_summary = now
            self.hidden = 0
            record.msg, record.args = ("Kafka broker unreachable (%s); the worker keeps its state and retries, "
                                       "repeating connection errors are summarised once a minute"), (detail,)
            return True
        if now - self.last_summary >= SUMMARY_EVERY:
            record.msg, record.args = ("Kafka broker still unreachable after %.0f s (%d connection errors not "
                                       "shown; last: %s)"), (now - self.since, self.hidden, detail)
            self.last_summary, self.hidden = now, 0
            return True
        self.hidden += 1
        return False

    def check(self) -> None:
        """Log one line once the errors have stopped for a while (call it from a timer)."""
        if self.since is not None and self.clock() - self.last_error >= QUIET_FOR:
            log.warning("Kafka broker answers again after %.0f s (%d connection errors not shown)",
                        self.last_error - self.since, self.hidden)
            self.since = None


#: one per process: logging is process-wide
OUTAGE = OutageLog()


def install() -> OutageLog:
    """Attach :data:`OUTAGE` to the loggers that emit the connection errors (once per process)."""
    for name in {name for name, _ in CONNECTION_ERRORS}:
        logger = logging.getLogger(name)
        if OUTAGE not in logger.filters:
            logger.addFilter(OUTAGE)
    return OUTAGE
