"""Kafka client plumbing shared by the worker and the tools: bootstrap parsing, security, clients, topics.

Every tool of ours that *reads* a topic uses assign mode (kafka-python) or aiokafka, because group
consumers of kafka-python and librdkafka hang at JoinGroup on the embedded tansu broker.
"""
from __future__ import annotations

import logging
import socket
import ssl
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from ..errors import BrokerUnavailable, ImproperlyConfigured
from ..settings import Settings


def bootstrap_servers(broker_url: str) -> list[str]:
    """Turn 'kafka://h1:9092;h2:9092' (Faust's form) into ['h1:9092', 'h2:9092']."""
    servers = []
    for part in broker_url.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            part = part.split("://", 1)[1].strip()
            if not part:
                continue
        if ":" not in part:
            part = f"{part}:9092"
        servers.append(part)
    if not servers:
        raise ImproperlyConfigured(f"broker URL {broker_url!r} names no host")
    return servers


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """kafka-python client keyword arguments (bootstrap + SASL/SSL) from the settings."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings.broker),
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol.startswith("SASL"):
        config.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=settings.sasl_password,
        )
    if settings.security_protocol.endswith("SSL"):
        config.update(
            ssl_cafile=_str(settings.ssl_cafile),
            ssl_certfile=_str(settings.ssl_certfile),
            ssl_keyfile=_str(settings.ssl_keyfile),
        )
    return config


def faust_credentials(settings: Settings) -> Any:
    """Faust's broker_credentials object for SASL/SSL clusters (None for PLAINTEXT)."""
    import faust

    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=_str(settings.ssl_cafile))
        if settings.ssl_certfile:
            context.load_cert_chain(str(settings.ssl_certfile), _str(settings.ssl_keyfile))
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    if not settings.sasl_username:
        raise ImproperlyConfigured(f"{protocol} needs STREAMREC_SASL_USERNAME and STREAMREC_SASL_PASSWORD")
    if settings.sasl_mechanism == "PLAIN":
        return faust.SASLCredentials(
            username=settings.sasl_username, password=settings.sasl_password or "", ssl_context=context
        )
    mechanism = faust.auth.SASLMechanism(settings.sasl_mechanism)
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=settings.sasl_password or "",
        mechanism=mechanism,
        ssl_context=context,
    )


@contextmanager
def broker_errors(address: str) -> Iterator[None]:
    """Turn a client's failure to reach the broker into BrokerUnavailable naming the address."""
    from kafka.errors import KafkaError

    try:
        yield
    except (KafkaError, OSError) as exc:
        raise BrokerUnavailable(f"cannot reach Kafka at {address} ({type(exc).__name__})") from exc


def with_connect_timeout(client_class: type, config: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    """``config`` plus a bootstrap timeout, where the kafka-python version has one.

    kafka-python 3 waits 30 s for an unreachable broker by default; a CLI user wants to know sooner.
    """
    if seconds is not None and "bootstrap_timeout_ms" in client_class.DEFAULT_CONFIG:
        return {**config, "bootstrap_timeout_ms": int(seconds * 1000)}
    return config


def connect_admin(settings: Settings, timeout: float = 10.0, connect_timeout: float | None = None):
    """A kafka-python admin client, or BrokerUnavailable with the address in the message."""
    from kafka import KafkaAdminClient

    config = with_connect_timeout(KafkaAdminClient, kafka_python_config(settings), connect_timeout or timeout)
    with broker_errors(settings.broker):
        return KafkaAdminClient(request_timeout_ms=int(timeout * 1000), **config)


def connect_producer(settings: Settings, *, connect_timeout: float | None = None, **extra: Any):
    """A kafka-python producer, or BrokerUnavailable with the address in the message."""
    from kafka import KafkaProducer

    config = with_connect_timeout(KafkaProducer, {**kafka_python_config(settings), **extra}, connect_timeout)
    with broker_errors(settings.broker):
        return KafkaProducer(**config)


def connect_consumer(settings: Settings, *, connect_timeout: float | None = None, **extra: Any):
    """A kafka-python consumer without a group (assign mode), or BrokerUnavailable."""
    from kafka import KafkaConsumer

    config = {"group_id": None, "enable_auto_commit": False, **kafka_python_config(settings), **extra}
    with broker_errors(settings.broker):
        return KafkaConsumer(**with_connect_timeout(KafkaConsumer, config, connect_timeout))


def wait_for_partitions(consumer: Any, topic: str, timeout: float | None, interval: float = 0.2) -> set[int]:
    """The partitions of ``topic`` once its metadata is known (empty after ``timeout``; None waits forever).

    A topic may not exist yet (no worker has created it) or its metadata may lag a little.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        if deadline is not None and time.monotonic() >= deadline:
            return set()
        time.sleep(interval)


def ensure_topics(settings: Settings, names: Iterable[str] | None = None, *,
                  connect_timeout: float | None = None) -> None:
    """Create topics when missing (idempotent): ``names``, or every topic of the contract; the contract's
    compacted topics are created compacted (CONTRACT_TOPICS), any other name is not."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    contract = contract_topics(settings)
    wanted = list(names) if names is not None else list(contract)
    durability = {} if settings.min_insync_replicas is None else {"min.insync.replicas": str(settings.min_insync_replicas)}
    admin = connect_admin(settings, connect_timeout=connect_timeout)
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.replication_factor,
                topic_configs={**durability, **({"cleanup.policy": "compact"} if contract.get(name) else {})},
            )
            for name in wanted
            if name not in existing
        ]
        for topic in new:  # one by one: a concurrent creator makes only that one fail
            try:
                admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def ensure_topics_when_reachable(settings: Settings) -> None:
    """ensure_topics, waiting up to ``settings.broker_wait`` seconds for the broker (a worker started before it).

    One log line says what it waits for; BrokerUnavailable when the time is up.
    """
    log = logging.getLogger(__name__)
    said = False

    def waiting(state) -> None:
        nonlocal said
        if not said:
            log.warning("Kafka at %s is not reachable yet; waiting up to %.0f s for it", settings.broker,
                        settings.broker_wait)
            said = True

    retrying = Retrying(retry=retry_if_exception_type(BrokerUnavailable), stop=stop_after_delay(settings.broker_wait),
                        wait=wait_exponential(multiplier=0.5, max=5.0), before_sleep=waiting, reraise=True)
    for attempt in retrying:
        with attempt:
            # a plain TCP connect first: kafka-python's own bootstrap retries log an error per attempt
            # and can outlast their timeout
            if not any(_accepts_connections(server) for server in bootstrap_servers(settings.broker)):
                raise BrokerUnavailable(f"nothing accepts connections at {settings.broker}")
            ensure_topics(settings)
    if said:
        log.warning("Kafka at %s is reachable", settings.broker)


def _accepts_connections(server: str, timeout: float = 1.0) -> bool:
    host, _, port = server.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


#: Every topic of the wire contract — the Settings field that names it → whether it is compacted (only the
#: latest record per key is kept: every worker reads these whole). deploy/kafka/create-topics.sh creates the
#: same set (tests/test_deploy.py checks it).
CONTRACT_TOPICS: dict[str, bool] = {
    "topic_items": False,
    "topic_events": False,
    "topic_recommendations": False,
    "topic_dead_letters": False,
    "topic_item_vectors": True,
    "topic_signal_deltas": False,
    "topic_signals": True,
    "topic_adapters": True,
}


def contract_topics(settings: Settings) -> dict[str, bool]:
    """The contract's topics as configured: name → compacted."""
    return {getattr(settings, field): compacted for field, compacted in CONTRACT_TOPICS.items()}


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def poll_partitions(consumer: Any, topic: str, *, from_beginning: bool = True, topic_timeout: float | None = None,
                    interval: float = 0.2) -> Iterator[list[Any]]:
    """The one assign-mode reader: assign every partition of ``topic`` (no consumer group, which hangs on the
    embedded broker), seek to the beginning or the end, then yield each poll's records (kafka-python records; an
    empty list when a poll brought none) for as long as the caller reads. Yields nothing when the topic does not
    appear within ``topic_timeout`` seconds (None: waits for it)."""
    from kafka import TopicPartition

    partitions = wait_for_partitions(consumer, topic, topic_timeout, interval)
    if not partitions:
        return
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    (consumer.seek_to_beginning if from_beginning else consumer.seek_to_end)(*tps)
    while True:
        yield [record for records in consumer.poll(timeout_ms=200).values() for record in records]


def read_until_quiet(consumer: Any, topic: str, *, count: int | None = None, idle: float | None = None,
                     timeout: float | None = None, from_beginning: bool = True,
                     topic_timeout: float | None = None) -> Iterator[Any]:
    """Records of every partition of ``topic`` as they arrive, until ``count`` records, ``idle`` quiet seconds or
    ``timeout`` seconds in all (the topic's own wait included: ``topic_timeout``, default ``timeout``)."""
    started = time.monotonic()
    quiet_since = None  # the quiet clock starts with the first poll, once the topic is there
    seen = 0
    for records in poll_partitions(consumer, topic, from_beginning=from_beginning,
                                   topic_timeout=timeout if topic_timeout is None else topic_timeout):
        now = time.monotonic()
        if records or quiet_since is None:
            quiet_since = now
        for record in records:
            yield record
            seen += 1
            if count is not None and seen >= count:
                return
        if (timeout is not None and now - started >= timeout) or (idle is not None and now - quiet_since >= idle):
            return


def read_messages(settings: Settings, topic: str, *, idle: float = 2.0, timeout: float = 60.0,
                  connect_timeout: float = 5.0) -> list[Any]:
    """Every message of ``topic`` from the beginning, until ``idle`` quiet seconds or ``timeout``, in partition and
    offset order. A topic that does not exist yet reads as empty. Messages come back as kafka-python records."""
    consumer = connect_consumer(settings, connect_timeout=connect_timeout, fetch_max_wait_ms=100)
    try:
        messages = read_until_quiet(consumer, topic, idle=idle, timeout=timeout, topic_timeout=min(idle, timeout))
        return sorted(messages, key=lambda m: (m.partition, m.offset))
    finally:
        consumer.close()
