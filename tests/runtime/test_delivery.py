"""Nothing is acknowledged before it is written: the event agent in process (a real Faust app and agent through
``agent.test_context()``, the real BatchSender) over a producer stand-in whose broker futures fail on demand."""
from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from support import Journal, StandInApp, StandInProducer
from test_event_agent import feed, view, worker_parts

from streams.runtime.batchsend import BatchSender
from streams.runtime.delivery import Receipts, SendFailed, deliver, track, when_delivered


def with_producer(c, producer: StandInProducer):
    app = StandInApp(producer)
    c.lists = BatchSender(app, c.settings.topic_recommendations)
    c.deltas = BatchSender(app, c.settings.topic_signal_deltas)
    return c


def sample(c, name: str, **labels) -> float:
    return c.metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_batch_whose_deltas_the_broker_refuses_is_not_acknowledged_and_counted(encoder, tmp_path):
    producer = StandInProducer()
    c = with_producer(worker_parts(encoder, tmp_path, Journal()), producer)
    producer.failing[c.settings.topic_signal_deltas] = NotLeaderForPartitionError()
    put: list = []

    async def run():
        messages = [(*view("e1", "erin", "tent"), []), (*view("f1", "frank", "bag"), [])]
        await feed(c, messages, lambda: sample(c, "streamrec_batches_failed_total", source="events") == 1,
                   put=put)

    asyncio.run(run())
    assert sample(c, "streamrec_send_failures_total", topic=c.settings.topic_signal_deltas) >= 1
    assert len(put) == 2 and not any(event.message.acked for event in put), "the failed batch stays uncommitted"


def test_a_batch_is_acknowledged_once_every_record_it_produced_was_acknowledged(encoder, tmp_path):
    producer = StandInProducer()
    c = with_producer(worker_parts(encoder, tmp_path, Journal()), producer)
    put: list = []

    async def run():
        messages = [(*view("g1", "gina", "tent"), []), (*view("h1", "hal", "bag"), [])]
        await feed(c, messages, lambda: put and all(event.message.acked for event in put), put=put)

    asyncio.run(run())
    topics = {topic for topic, _, _ in producer.batches}
    assert topics == {c.settings.topic_recommendations, c.settings.topic_signal_deltas}
    assert sample(c, "streamrec_batches_failed_total", source="events") == 0


def test_deliver_waits_for_the_futures_and_raises_on_a_failed_one(encoder, tmp_path):
    c = worker_parts(encoder, tmp_path, Journal())

    async def run():
        loop = asyncio.get_running_loop()
        ok, bad, late = loop.create_future(), loop.create_future(), loop.create_future()

        async def handler(c, batch):
            track("recommendations", ok)
            track("signal-deltas", bad)
            track("recommendations", late)
            loop.call_later(0.05, ok.set_result, None)
            loop.call_later(0.05, late.set_result, None)
            loop.call_later(0.1, bad.set_exception, KafkaTimeoutError())

        with pytest.raises(SendFailed, match="signal-deltas"):
            await deliver(c, "events", [], handler)
        assert ok.done() and late.done(), "every future settled before the verdict"

    asyncio.run(run())
    assert sample(c, "streamrec_send_failures_total", topic="signal-deltas") == 1
    assert sample(c, "streamrec_batches_failed_total", source="events") == 1


def test_a_future_never_acknowledged_fails_the_batch_after_the_delivery_timeout():
    async def run():
        receipts = Receipts()
        receipts.add("recommendations", asyncio.get_running_loop().create_future())
        with pytest.raises(SendFailed, match="no acknowledgement in time"):
            await receipts.settle(0.05)

    asyncio.run(run())


def test_what_waits_for_delivery_runs_only_once_the_batch_is_acknowledged(encoder, tmp_path):
    c = worker_parts(encoder, tmp_path, Journal())
    ran: list[str] = []

    async def run(fail: bool):
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        async def handler(c, batch):
            track("recommendations", future)
            before = len(ran)
            when_delivered(lambda: ran.append("answered"))
            assert len(ran) == before, "not before the broker answered"
            loop.call_later(0.05, future.set_exception if fail else future.set_result,
                            KafkaTimeoutError() if fail else None)

        await deliver(c, "events", [], handler)

    asyncio.run(run(fail=False))
    assert ran == ["answered"]
    with pytest.raises(SendFailed):
        asyncio.run(run(fail=True))
    assert ran == ["answered"], "a failed batch answers no one"
