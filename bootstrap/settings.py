"""Settings: one pydantic-settings class, grouped by stage, read from the environment and `.env`.

Every variable here is listed with its default in `.env.example`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")

    # --- storage -------------------------------------------------------------------
    database_url: str = "sqlite:///./data/callytics.db"
    redis_url: str | None = None
    storage_dir: Path = Path("./data/audio")
    model_cache_dir: Path = Path("~/.cache/callytics/models")
    store_audio: bool = True

    # --- limits --------------------------------------------------------------------
    # The address clients reach this API at (https://calls.example.com), for the absolute
    # links of a 202; without it the links are paths (never built from the Host header).
    public_url: str | None = None
    max_upload_mb: int = 500
    # POST /v1/calls/batch: at most this many files in one request (4xx past it).
    max_batch_files: int = Field(default=50, ge=1)
    # Connections (`callytics serve`): open at once before new requests get 503, and how
    # long a client may take to send a request's headers, and between pieces of its body.
    max_connections: int = Field(default=1000, ge=1)
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_body_timeout_s: float = Field(default=30.0, gt=0)
    max_audio_seconds: float = 4 * 3600.0
    # Decode uploads in a child process: a native crash on a hostile file fails that file,
    # not the server (false: in-process, a little faster, for trusted input only).
    decode_in_subprocess: bool = True

    # --- stage switches: in-process (false) or gRPC microservice (true) -------------
    use_diarization_ms: bool = False
    use_asr_ms: bool = False
    use_sentiment_ms: bool = False
    use_embedding_ms: bool = False
    use_llm_ms: bool = False
    diarization_grpc_target: str = "localhost:50051"
    asr_grpc_target: str = "localhost:50052"
    sentiment_grpc_target: str = "localhost:50053"
    embedding_grpc_target: str = "localhost:50054"
    llm_grpc_target: str = "localhost:50055"
    # A remote stage that is down: run the in-process engine instead of failing or degrading.
    failover_to_local: bool = False
    # Every call has a deadline; audio stages get one more second per second of audio.
    grpc_deadline_s: float = Field(default=600.0, gt=0)
    # At start-up (and on first use) wait this long for a stage still loading its model.
    grpc_ready_timeout_s: float = Field(default=300.0, ge=0)
    # Retries of a call that found the stage UNAVAILABLE (exponential backoff with jitter).
    grpc_retries: int = Field(default=3, ge=0)
    # The circuit opens after this many failed calls in a row, and half-opens after the TTL.
    grpc_breaker_threshold: int = Field(default=5, ge=1)
    grpc_breaker_ttl_s: float = Field(default=30.0, gt=0)
    # `callytics stage`: how long in-flight calls may finish after SIGTERM.
    grpc_shutdown_grace_s: float = Field(default=30.0, ge=0)

    # --- diarization ---------------------------------------------------------------
    diarization_backend: Literal["auto", "channel", "segmentation", "clustering", "pyannote"] = (
        "auto"
    )
    diarization_pyannote_dir: Path | None = None
    diarization_max_speakers: int = 6
    # Which channel of a dual-channel recording holds the agent (call-centre convention: 0).
    agent_channel: int = 0

    # --- asr -----------------------------------------------------------------------
    asr_model: str = "base"  # base | tiny.en | a local CTranslate2 directory | a hub name
    asr_device: Literal["auto", "cpu", "cuda"] = "auto"
    asr_compute_type: str = "auto"  # auto: float16 on CUDA, int8 on CPU
    asr_beam_size: int = 5
    asr_language: str | None = None  # None: detect
    asr_cpu_threads: int = 0  # 0: let CTranslate2 decide
    asr_batch_size: int = Field(default=0, ge=0)  # > 0: batched decoding of VAD segments
    allow_model_downloads: bool = False

    # --- live calls ------------------------------------------------------------------
    # The model that transcribes live calls (unset: ASR_MODEL), greedy by default: a live
    # word is committed once two decodes of its window agree (docs/live.md).
    live_asr_model: str | None = None
    live_beam_size: int = Field(default=1, ge=1)
    live_min_chunk_s: float = Field(default=1.0, gt=0)  # decode again after this much audio
    live_endpoint_silence_s: float = Field(default=0.4, gt=0)  # a pause that ends an utterance
    live_resume_s: float = Field(default=30.0, ge=0)  # a dropped call waits this long
    live_max_sessions: int = Field(default=8, ge=1)  # live calls one process holds at once

    # --- sentiment -----------------------------------------------------------------
    # learned: logistic regression over the embedding model, trained on the shipped
    # labelled utterances; vader: lexicon; or a path to a transformers checkpoint.
    sentiment_model: str = "learned"

    # --- embedding -----------------------------------------------------------------
    embedding_model: str = "all-MiniLM-L6-v2"  # or a local sentence-transformers dir

    # --- llm -----------------------------------------------------------------------
    # auto: the OpenAI-compatible server when OPENAI_BASE_URL or OPENAI_API_KEY is set, else
    # the local model when `make llm` installed it, else rules. llama: the local model;
    # rules (or its old name, local): the phrase lists, no model.
    llm_provider: Literal["auto", "openai", "llama", "rules", "local"] = "auto"
    # The fields a model answers (the rest come from rules): all, none, or a comma list of
    # summary, reason, resolution, conflict, action_items, topics, sentiment, roles, profanity.
    # Unset: the fields where bench/llm.py found the local model better than rules.
    llm_fields: str | None = None
    # The local model: a known name (qwen2.5-coder-1.5b-instruct-q4_k_m, the 0.5B sibling
    # qwen2.5-coder-0.5b-instruct) or a path to a GGUF file; run as a llama.cpp server
    # child process (server) or inside this process (inprocess).
    llm_local_model: str = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    llm_local_runtime: Literal["server", "inprocess"] = "server"
    llm_local_threads: int = Field(default=0, ge=0)  # 0: every core
    llm_local_ctx: int = Field(default=8192, ge=1024)
    llm_local_timeout_s: float = Field(default=1800.0, gt=0)
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0
    llm_max_retries: int = 2

    # --- qa ------------------------------------------------------------------------
    # A JSON scorecard (core/analysis/qa.py); unset: the default checklist. Scored by the
    # model the analysis uses (LLM_PROVIDER: a server or the local model), by rules otherwise.
    qa_scorecard: Path | None = None

    # --- cache & search --------------------------------------------------------------
    cache_ttl_s: float = Field(default=300.0, gt=0)  # the in-process tier
    cache_maxsize: int = Field(default=2048, gt=0)
    search_backend: Literal["auto", "numpy", "pgvector"] = "auto"
    # How long a list page or search answer read from the database is answered from
    # memory: another process's changes show within it, this process's at once.
    read_refresh_s: float = Field(default=1.0, ge=0)

    # --- jobs ----------------------------------------------------------------------
    job_concurrency: int = 1
    job_backend: Literal["local", "arq"] = "local"
    # A job that finds a stage service unavailable is deferred (audio kept) and run again
    # after JOB_RETRY_DELAY_S, doubling each time, up to JOB_MAX_ATTEMPTS attempts in all.
    job_max_attempts: int = Field(default=3, ge=1)
    job_retry_delay_s: float = Field(default=5.0, ge=0)
    # arq: how long one job may run before its lease expires and another worker retries it.
    arq_job_timeout_s: int = Field(default=3600, gt=0)
    arq_max_tries: int = Field(default=3, ge=1)

    # --- webhooks (docs/webhooks.md) -------------------------------------------------
    # A delivery that fails is tried again after WEBHOOK_RETRY_BASE_S, doubling each time
    # up to WEBHOOK_RETRY_MAX_S (with jitter), WEBHOOK_MAX_ATTEMPTS tries in all.
    webhook_retry_base_s: float = Field(default=5.0, gt=0)
    webhook_retry_max_s: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=15, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0)  # one POST, connect to answer
    webhook_poll_s: float = Field(default=1.0, gt=0)  # how often the outbox is looked at

    # --- privacy & auth ------------------------------------------------------------
    redact_pii: bool = False
    # Authentication is on when any of these is set, or once `callytics keys create` made a
    # key; with none, `serve` binds to loopback only. API_KEYS: name:role:sha256,...
    api_keys: str | None = None
    jwt_secret: str | None = None  # HS256; also what the API and the gRPC stages share
    jwt_max_ttl_s: float = Field(default=24 * 3600.0, gt=0)  # longer-lived tokens: refused
    # Requests per minute per key or token (0: no limit); the local admin is not limited.
    rate_limit_uploads_per_min: int = Field(default=60, ge=0)
    rate_limit_searches_per_min: int = Field(default=300, ge=0)

    # --- telemetry -----------------------------------------------------------------
    otel_exporter_otlp_endpoint: str | None = None
    log_level: str = "INFO"

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir.expanduser()

    @property
    def llm_choice(self) -> Literal["openai", "llama", "rules"]:
        """What answers the analysis: what LLM_PROVIDER names, or for ``auto`` the first of a
        configured server, the installed local model, the rules."""
        from services.llm.factory import choose_provider

        choice = choose_provider(
            self.llm_provider,
            self.openai_api_key,
            self.openai_base_url,
            self.llm_local_model,
            self.models_dir,
        )
        return choice  # type: ignore[return-value]  # the Literal setting admits no other


@lru_cache
def get_settings() -> Settings:
    return Settings()


def redacted(url: str | None) -> str:
    """``url`` fit to print or log: a password in it becomes ``***``
    (``postgresql://app:***@db/callytics``, ``redis://:***@cache:6379/0``)."""
    if not url:
        return ""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
