"""A broker outage is one clear line, a summary a minute and one line when it is over, not 150 lines a second."""
from __future__ import annotations

import logging

from streams.runtime.outage import QUIET_FOR, SUMMARY_EVERY, OutageLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_connection_errors_are_summarised_and_the_end_of_the_outage_is_logged(caplog, monkeypatch):
    clock = Clock()
    outage = OutageLog(clock)
    client = logging.getLogger("aiokafka")
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    for logger in (client, fetcher):  # the process-wide filter, if an in-process worker installed it
        monkeypatch.setattr(logger, "filters", [])
    client.addFilter(outage)
    fetcher.addFilter(outage)
    try:
        with caplog.at_level(logging.INFO):
            client.warning("something else")  # passes untouched
            for _ in range(150 * 90):  # 90 s of errors at 150 a second
                client.error("Unable connect to node with id %s: %s", 111, "[Errno 111] Connect call failed")
                fetcher.error("Failed fetch messages from %s: %s", 111, "NodeNotReadyError")
                clock.now += 1 / 150
            outage.check()  # errors still fresh: nothing yet
            clock.now += QUIET_FOR
            outage.check()
            outage.check()  # once only
    finally:
        client.removeFilter(outage)
        fetcher.removeFilter(outage)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "something else"
    assert lines[1].startswith("Kafka broker unreachable (Unable connect to node with id 111: [Errno 111]")
    assert len(lines) == 4, lines  # first error, one summary (90 s < 2 minutes), the end
    assert lines[2].startswith(f"Kafka broker still unreachable after {SUMMARY_EVERY:.0f} s")
    assert lines[3].startswith("Kafka broker answers again after 90 s")
