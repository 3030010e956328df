"""The event agent in process, through Faust's own test harness (``agent.test_context()``): a real Faust app, the
real agent with its micro-batches, the real encoder and index; the topics it writes to are sinks, the profiles
table a dict. The real workers (tests/runtime/worker) cover the same agent over a broker.
"""
from __future__ import annotations

import asyncio
import json

import faust
from prometheus_client import CollectorRegistry
from support import Journal, Message, StreamEvent

from index import IndexOptions
from streams.core.catalogue import ItemMeta
from streams.core.profiles import Profile
from streams.core.ranking import Ranker
from streams.core.recommender import Recommender
from streams.core.signals.deltas import decode_deltas
from streams.core.state import ItemState
from streams.core.vectors import VectorRecord
from streams.metrics import Metrics
from streams.runtime.agents import events as event_agent
from streams.runtime.agents.forget import forget_message
from streams.runtime.app import Topics, create_app
from streams.runtime.components import Components
from streams.runtime.profilecache import ProfileCache
from streams.settings import Settings

ITEMS = {"tent": "Two-person backpacking tent", "bag": "Down sleeping bag", "pan": "Cast iron skillet",
         "lamp": "LED desk lamp", "mat": "Non-slip yoga mat"}


def view(event_id: str, user: str, item: str) -> tuple[bytes, bytes]:
    return user.encode(), json.dumps({"event_id": event_id, "user_id": user, "type": "view", "item_id": item}).encode()


class FailsOn:
    """A recommender whose ranking fails whenever its events include ``event_id`` (a ranking bug, injected)."""

    def __init__(self, inner: Recommender, event_id: str) -> None:
        self.inner = inner
        self.event_id = event_id

    def process(self, events, profiles, **kwargs):
        if any(e.event_id == self.event_id for e in events):
            raise RuntimeError(f"cannot rank {self.event_id}")
        return self.inner.process(events, profiles, **kwargs)


def worker_parts(encoder, tmp_path, journal: Journal) -> Components:
    """A worker's parts around a real Faust app (never started) and a real index of ITEMS."""
    # a window long enough that every message put at once lands in one micro-batch
    settings = Settings(data_dir=tmp_path, event_batch_within=0.5)
    app, topics, _ = create_app(settings)
    state = ItemState.open_empty(model_version=encoder.version, dim=encoder.dim, index_options=IndexOptions(kind="flat"))
    vectors = encoder.encode(list(ITEMS.values()))
    state.apply([("iv:0", n, VectorRecord(item_id, encoder.version, vector, ItemMeta(item_id, title)))
                 for n, ((item_id, title), vector) in enumerate(zip(ITEMS.items(), vectors))])
    recommender = Recommender(Ranker(state.index, state.catalogue, state.signals, settings.ranking_options()), encoder,
                              encoder.version)
    sinks = Topics(items=None, events=topics.events, recommendations=journal.topic("recommendations"),
                   dead_letters=journal.topic("dead-letters"), item_vectors=None,
                   signal_deltas=journal.topic("signal-deltas"), signals=None)
    return Components(settings, app, sinks, profiles={}, signal_rows={}, encoder=encoder, state=state,
                      recommender=recommender, metrics=Metrics(CollectorRegistry()), lists=journal.batches("recommendations"),
                      deltas=journal.batches("signal-deltas"), profile_cache=ProfileCache(settings.profile_cache))


async def feed(c: Components, messages: list[tuple[bytes, bytes, list]], done, timeout: float = 30.0,
               put: list | None = None) -> None:
    """Put the messages on the agent's stream at once (one micro-batch), then wait until ``done()``; the Faust
    events made land in ``put``."""
    event_agent.register(c)
    agent = c.app.agents["streamrec.events"]
    raw = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    async with agent.test_context(channel=c.app.channel(schema=raw)) as running:
        for key, value, headers in messages:
            event = await running.put(value, key=key, headers=headers, wait=False)
            event.message.incref()  # one reference per stream, as Faust's conductor gives a consumed message
            if put is not None:
                put.append(event)
        deadline = asyncio.get_running_loop().time() + timeout
        while not done():
            assert asyncio.get_running_loop().time() < deadline, getattr(c.lists, "journal", c.lists)
            await asyncio.sleep(0.02)


def test_a_control_message_splits_the_batch_so_each_user_keeps_order(encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    forget_key, forget_value, forget_headers = forget_message("alice")
    batch = [(*view("a1", "alice", "tent"), []), (*view("b1", "bob", "bag"), []), (b"alice", b"{oops", []),
             (forget_key, forget_value, forget_headers), (*view("a2", "alice", "pan"), [])]
    asyncio.run(feed(c, batch, lambda: len(journal.sent("recommendations")) == 4))  # three lists, one tombstone
    sent = [(topic, key, json.loads(value) if value else value) for topic, key, value in journal.entries
            if topic != "signal-deltas"]
    lists = [(key, value["trigger_event_id"]) for topic, key, value in sent if topic == "recommendations" and value]
    assert lists == [(b"alice", "a1"), (b"bob", "b1"), (b"alice", "a2")], "one list per event, in event order"
    # everything before the forget is applied and published before it, everything after it afterwards
    order = [(topic, key, value["trigger_event_id"] if value else None) for topic, key, value in sent
             if topic == "recommendations"]
    assert order.index(("recommendations", b"alice", None)) == 2, order
    alice = Profile.from_bytes(c.profiles["alice"])
    assert alice.seen == ["pan"] and alice.events == 1, "alice starts afresh after the forget"
    assert Profile.from_bytes(c.profiles["bob"]).seen == ["bag"]
    [letter] = [value for topic, _, value in sent if topic == "dead-letters"]
    assert letter["reason"] == "invalid_json" and letter["source_topic"] == c.settings.topic_events
    assert c.metrics.registry.get_sample_value("streamrec_users_forgotten_total") == 1


def test_a_batch_that_fails_to_rank_is_ranked_event_by_event_and_only_the_failing_one_is_dead_lettered(encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    c.recommender = FailsOn(c.recommender, "boom")
    batch = [(*view("c1", "carol", "tent"), []), (*view("boom", "dave", "bag"), []), (*view("c2", "carol", "lamp"), [])]
    asyncio.run(feed(c, batch, lambda: len(journal.sent("recommendations")) == 2 and journal.sent("dead-letters")))
    sent = [(topic, key, json.loads(value)) for topic, key, value in journal.entries if topic != "signal-deltas"]
    assert [value["trigger_event_id"] for topic, _, value in sent if topic == "recommendations"] == ["c1", "c2"]
    [letter] = [value for topic, _, value in sent if topic == "dead-letters"]
    assert letter["reason"] == "processing_error" and "cannot rank boom" in letter["detail"] and letter["key"] == "dave"
    assert Profile.from_bytes(c.profiles["carol"]).seen == ["tent", "lamp"]
    assert "dave" not in c.profiles, "the failed event changed nothing"
    counted = {d.item_id for _, value in journal.sent("signal-deltas") for d in decode_deltas(value)}
    assert counted <= {"tent", "lamp"}, "only ranked events' deltas go out"


class Unstorable(Profile):
    """A profile whose record cannot be built (a serialiser bug, injected)."""

    def to_bytes(self) -> bytes:
        raise ValueError("cannot encode")


class UnstorableFor:
    """A recommender whose outcomes for ``user`` carry an Unstorable profile."""

    def __init__(self, inner: Recommender, user: str) -> None:
        self.inner = inner
        self.user = user

    def process(self, events, profiles, **kwargs):
        outcomes = self.inner.process(events, profiles, **kwargs)
        for outcome in outcomes:
            if outcome.profile.user_id == self.user:
                outcome.profile.__class__ = Unstorable
        return outcomes


class RefusesDeletes(dict):
    """A profiles table whose deletes fail (a store error, injected)."""

    def __delitem__(self, key):
        raise OSError("store is read-only")


def test_a_profile_that_cannot_be_stored_dead_letters_that_users_events_and_the_rest_of_the_batch_goes_on(
        encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    c.recommender = UnstorableFor(c.recommender, "ivan")
    batch = [(*view("i1", "ivan", "tent"), []), (*view("j1", "jane", "bag"), []), (*view("i2", "ivan", "pan"), [])]
    asyncio.run(feed(c, batch, lambda: len(journal.sent("dead-letters")) == 2 and journal.sent("recommendations")))
    letters = [json.loads(value) for _, value in journal.sent("dead-letters")]
    assert {letter["reason"] for letter in letters} == {"store_error"} and all("cannot encode" in x["detail"]
                                                                             for x in letters)
    assert sorted(json.loads(letter["value"])["event_id"] for letter in letters) == ["i1", "i2"]
    lists = [json.loads(value)["trigger_event_id"] for _, value in journal.sent("recommendations")]
    assert lists == ["j1"], "no list for an event whose profile change was not stored"
    assert "ivan" not in c.profiles and Profile.from_bytes(c.profiles["jane"]).seen == ["bag"]


def test_a_control_message_that_fails_to_apply_is_dead_lettered_with_its_reason(encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    c.profiles = RefusesDeletes()
    forget_key, forget_value, forget_headers = forget_message("kim")
    batch = [(*view("k1", "kim", "tent"), []), (forget_key, forget_value, forget_headers), (*view("l1", "lee", "bag"), [])]
    asyncio.run(feed(c, batch, lambda: journal.sent("dead-letters") and len(journal.sent("recommendations")) == 2))
    [letter] = [json.loads(value) for _, value in journal.sent("dead-letters")]
    assert letter["reason"] == "control_error" and "read-only" in letter["detail"] and letter["key"] == "kim"
    assert [json.loads(v)["trigger_event_id"] for _, v in journal.sent("recommendations")] == ["k1", "l1"]


def search(event_id: str, user: str, query: str) -> tuple[bytes, bytes]:
    return user.encode(), json.dumps({"event_id": event_id, "user_id": user, "type": "search", "query": query}).encode()


def test_one_shoppers_60_searches_of_9000_characters_stay_within_the_row_budget_and_everyone_gets_a_list(
        encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    batch = [(*search(f"s{n}", "max", f"{n:02d} " + "tent and stove " * 600), []) for n in range(60)]
    batch += [(*view(f"o{n}", f"other{n}", "lamp"), []) for n in range(40)]
    asyncio.run(feed(c, batch, lambda: len(journal.sent("recommendations")) == 100, timeout=120.0))
    assert not journal.sent("dead-letters")
    row = c.profiles["max"]
    assert len(row) <= c.settings.max_profile_bytes and Profile.from_bytes(row).events == 60
    assert all(len(value) <= c.settings.max_list_bytes for _, value in journal.sent("recommendations"))


def test_a_list_over_its_budget_is_a_too_large_dead_letter_of_its_event(encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    c.settings = c.settings.model_copy(update={"max_list_bytes": 64})  # below any list: every list is refused
    asyncio.run(feed(c, [(*view("m1", "mia", "tent"), [])], lambda: journal.sent("dead-letters")))
    [letter] = [json.loads(value) for _, value in journal.sent("dead-letters")]
    assert letter["reason"] == "too_large" and "STREAMREC_MAX_LIST_BYTES" in letter["detail"]
    assert not journal.sent("recommendations") and Profile.from_bytes(c.profiles["mia"]).seen == ["tent"]


def test_a_late_redelivery_after_a_forget_resurrects_nothing_and_later_events_start_afresh(encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    topic = c.settings.topic_events

    def at(offset: int, key: bytes, value: bytes, headers=()) -> StreamEvent:
        return StreamEvent(Message(key, value, topic=topic, partition=2, offset=offset, headers=list(headers)))

    forget_key, forget_value, forget_headers = forget_message("nora")
    first = [at(10, *view("n1", "nora", "tent")), at(11, *view("n2", "nora", "bag")),
             at(12, forget_key, forget_value, forget_headers)]
    asyncio.run(event_agent.handle_batch(c, first))
    assert "nora" not in c.profiles and not any(b"nora" in key.encode() for key in c.profiles), "no row names her"
    published = len(journal.sent("recommendations"))
    # expired group offsets, a re-run import: her events come again long after the forget
    asyncio.run(event_agent.handle_batch(c, [at(10, *view("n1", "nora", "tent")), at(11, *view("n2", "nora", "bag"))]))
    assert "nora" not in c.profiles and len(journal.sent("recommendations")) == published, "nothing resurrected"
    asyncio.run(event_agent.handle_batch(c, [at(13, *view("n3", "nora", "lamp"))]))
    back = Profile.from_bytes(c.profiles["nora"])
    assert back.seen == ["lamp"] and back.events == 1, "she came back: a new profile of her new events only"


def test_a_profile_idle_longer_than_its_ttl_starts_afresh_and_still_knows_its_duplicates(encoder, tmp_path):
    journal = Journal()
    c = worker_parts(encoder, tmp_path, journal)
    c.settings = c.settings.model_copy(update={"profile_ttl_days": 30.0})
    topic = c.settings.topic_events

    def at(offset: int, event_id: str, item: str, ts: float) -> StreamEvent:
        value = json.dumps({"event_id": event_id, "user_id": "olga", "type": "view", "item_id": item, "ts": ts})
        return StreamEvent(Message(b"olga", value.encode(), topic=topic, partition=0, offset=offset))

    day = 86_400.0
    asyncio.run(event_agent.handle_batch(c, [at(1, "o1", "tent", 1_700_000_000.0)]))
    asyncio.run(event_agent.handle_batch(c, [at(2, "o2", "bag", 1_700_000_000.0 + 10 * day)]))
    assert Profile.from_bytes(c.profiles["olga"]).seen == ["tent", "bag"], "within the ttl: one profile"
    c.profile_cache.clear()
    asyncio.run(event_agent.handle_batch(c, [at(3, "o3", "lamp", 1_700_000_000.0 + 50 * day),
                                             at(2, "o2", "bag", 1_700_000_000.0 + 10 * day)]))
    back = Profile.from_bytes(c.profiles["olga"])
    assert back.seen == ["lamp"] and back.events == 1, "40 idle days: a new profile; the old redelivery changed nothing"
