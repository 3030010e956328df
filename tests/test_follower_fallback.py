"""A followed topic's batch that fails to apply is applied again record by record: the records that apply are
applied, the one that fails alone goes to the dead letters as `apply_error`, and reading goes on past it."""
from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams.metrics import Metrics
from streams.runtime.follower import apply_one_by_one
from streams.settings import Settings


class Collected:
    """Stands in for the dead-letter topic: keeps what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, key=None, value=None):
        self.sent.append((key, value))


def message(offset: int, value: bytes) -> SimpleNamespace:
    return SimpleNamespace(topic="streamrec-signals", partition=2, offset=offset, key=b"k%d" % offset, value=value,
                           headers=[])


def test_one_bad_record_is_dead_lettered_and_the_rest_applied():
    letters = Collected()
    c = SimpleNamespace(settings=Settings(), metrics=Metrics(CollectorRegistry()),
                        topics=SimpleNamespace(dead_letters=letters), state=SimpleNamespace(offsets={}))
    applied: list[int] = []

    async def apply(batches):
        for tp, messages in batches.items():
            for m in messages:
                if m.value == b"poison":
                    raise KeyError("a row this worker cannot install")
                applied.append(m.offset)

    tp = TopicPartition("streamrec-signals", 2)
    batch = {tp: [message(10, b"ok"), message(11, b"poison"), message(12, b"ok")]}
    failed = asyncio.run(apply_one_by_one(c, apply, batch))
    assert failed == 1 and applied == [10, 12]
    assert c.state.offsets == {"streamrec-signals:2": 13}, "reading goes on past the bad record"
    [(key, value)] = letters.sent
    letter = json.loads(value)
    assert (key, letter["reason"], letter["offset"]) == (b"k11", "apply_error", 11)
    assert "KeyError" in letter["detail"]
