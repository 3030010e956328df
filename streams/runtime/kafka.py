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
    from faust.types.auth import SASLMechanism  # `faust.auth` is no attribute until something imports it

    mechanism = SASLMechanism(settings.sasl_mechanism)
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


#: cluster ids the embedded broker reports: `streamrec broker` and the local cluster start tansu with the first;
#: the second is tansu's own default
EMBEDDED_CLUSTER_IDS = ("streamrec-embedded", "tansu_cluster")


def resolve_broker_kind(settings: Settings, cluster_id: str | None) -> Settings:
    """The settings with ``broker_kind`` decided: an ``auto`` kind becomes ``embedded`` when the broker reported
    one of the embedded broker's cluster ids, else ``kafka``."""
    if settings.broker_kind != "auto":
        return settings
    kind = "embedded" if cluster_id in EMBEDDED_CLUSTER_IDS else "kafka"
    return settings.model_copy(update={"broker_kind": kind})


def changelog_topic(settings: Settings, table: str) -> str:
    """The changelog topic Faust keeps for ``table`` (`profiles`, `signal-rows`): ``{app_id}-{table}-changelog``."""
    return f"{settings.app_id}-{table}-changelog"


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """The configuration of each topic streamrec creates that needs one (docs/guides/privacy.md).

    Compacted where a key's latest record is all that matters. The topics keyed by user — the lists and the
    profiles' changelog — are compacted too, so a forgotten user's tombstone removes their older records, and
    ``max.compaction.lag.ms`` bounds how long that may take. Lists also expire (``retention.ms``).
    """
    compact = {"cleanup.policy": "compact"}
    forget = {"max.compaction.lag.ms": str(int(settings.forget_within * 1000))}
    return {
        **{name: compact for name, compacted in contract_topics(settings).items() if compacted},
        settings.topic_recommendations: {"cleanup.policy": "compact,delete",
                                         "retention.ms": str(int(settings.recommendations_retention * 1000)), **forget},
        changelog_topic(settings, "profiles"): {**compact, **forget},
        changelog_topic(settings, "signal-rows"): compact,  # created by Faust (compacted, like every changelog)
    }


def ensure_topics(settings: Settings, names: Iterable[str] | None = None, *,
                  connect_timeout: float | None = None) -> str | None:
    """Create topics when missing (idempotent) with their configuration (``topic_configs``; any other name gets
    none); return the cluster id.

    ``names`` defaults to the contract's topics and the profiles' changelog (created here, before Faust would
    create it without the compaction lag).
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError

    wanted = list(names) if names is not None else list(contract_topics(settings)) + [changelog_topic(settings, "profiles")]
    configs = topic_configs(settings)
    durability = {} if settings.min_insync_replicas is None else {"min.insync.replicas": str(settings.min_insync_replicas)}
    admin = connect_admin(settings, connect_timeout=connect_timeout)
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.replication_factor,
                topic_configs={**durability, **configs.get(name, {})},
            )
            for name in wanted
            if name not in existing
        ]
        for topic in new:  # one by one: a concurrent creator makes only that one fail
            try:
                admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
            except TopicAuthorizationFailedError:  # a principal that may not create topics: they are made beforehand
                logging.getLogger(__name__).warning("not allowed to create topic %s: it must be created beforehand "
                                                    "(deploy/kafka/create-topics.sh)", topic.name)
        return cluster_id(admin)
    finally:
        admin.close()


def cluster_id(admin: Any) -> str | None:
    """The cluster id the broker reports (None when it does not say)."""
    try:
        return admin.describe_cluster().get("cluster_id")
    except Exception:  # an old broker without DescribeCluster: not the embedded one
        logging.getLogger(__name__).debug("DescribeCluster failed", exc_info=True)
        return None


def ensure_topics_when_reachable(settings: Settings) -> str | None:
    """ensure_topics, waiting up to ``settings.broker_wait`` seconds for the broker (a worker started before it).

    One log line says what it waits for; BrokerUnavailable when the time is up. Returns the cluster id.
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
    found = None
    for attempt in retrying:
        with attempt:
            # a plain TCP connect first: kafka-python's own bootstrap retries log an error per attempt
            # and can outlast their timeout
            if not any(_accepts_connections(server) for server in bootstrap_servers(settings.broker)):
                raise BrokerUnavailable(f"nothing accepts connections at {settings.broker}")
            found = ensure_topics(settings)
    if said:
        log.warning("Kafka at %s is reachable", settings.broker)
    return found


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
                    interval: float = 0.2, partition: int | None = None, offset: int | None = None) -> Iterator[list[Any]]:
    """The one assign-mode reader: assign every partition of ``topic`` (no consumer group, which hangs on the
    embedded broker), seek to the beginning or the end, then yield each poll's records (kafka-python records; an
    empty list when a poll brought none) for as long as the caller reads. Yields nothing when the topic does not
    appear within ``topic_timeout`` seconds (None: waits for it). ``partition`` reads that one partition only
    (none when the topic has no such partition); ``offset`` starts each partition there instead (a negative one
    counts back from the end, as kcat's ``-o -N``)."""
    from kafka import TopicPartition

    partitions = wait_for_partitions(consumer, topic, topic_timeout, interval)
    if partition is not None:
        partitions = partitions & {partition}
    if not partitions:
        return
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    if offset is None:
        (consumer.seek_to_beginning if from_beginning else consumer.seek_to_end)(*tps)
    else:
        starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        for tp in tps:
            wanted = offset if offset >= 0 else ends[tp] + offset
            consumer.seek(tp, min(max(wanted, starts[tp]), ends[tp]))
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
