"""The dependency-injector container: the one place where engines are chosen and built.

Each stage is a ``providers.Selector`` on its ``USE_<STAGE>_MS`` flag: ``local`` builds the
in-process engine (``services/<stage>/local.py``), ``grpc`` the client of the stage's
microservice (``shared/stubs/<stage>.py``). Models are ``Singleton``s, built on first use;
nothing heavy happens at import or at container creation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from bootstrap.settings import Settings, get_settings
from core.access.auth import ApiKeyStore
from core.adapters.redis_events import build_event_bus
from core.analysis.pipeline import CallPipeline
from core.calls.catalog import CallCatalog
from core.calls.insights import Insights
from core.categories.store import CategoryStore, CategoryTagger
from core.errors import CallyticsError
from core.jobs.audio_store import AudioStore
from core.jobs.service import AnalysisService
from core.persistence.database import Database
from core.vocabularies.store import VocabularyStore
from core.webhooks.dispatcher import RetryPolicy, WebhookDispatcher
from core.webhooks.store import WebhookStore


def _mode(settings: Settings, stage: str) -> str:
    return "grpc" if getattr(settings, f"use_{stage}_ms") else "local"


def _switchable(stage: str, settings: Any, local: Any) -> providers.Selector:  # type: ignore[type-arg]
    """``stage``'s engine: ``local`` (built on first use), or its gRPC client when
    ``USE_<STAGE>_MS`` is set (which keeps a way to ``local`` with FAILOVER_TO_LOCAL)."""
    return providers.Selector(
        providers.Callable(_mode, settings, stage),
        local=local,
        grpc=providers.Singleton(_grpc_client, stage, settings, local.provider),
    )


def _grpc_client(stage: str, settings: Settings, local: Callable[[], Any]) -> Any:
    """The gRPC client of ``stage`` (shared/stubs/<stage>.py); with FAILOVER_TO_LOCAL it
    keeps a way to the in-process engine, built only if the remote one is ever down."""
    import importlib

    module = importlib.import_module(f"shared.stubs.{stage}")
    return module.build_client(settings, local if settings.failover_to_local else None)


def _audio_store(settings: Settings) -> AudioStore:
    return AudioStore(settings.storage_dir)


def _decoder(settings: Settings):  # type: ignore[no-untyped-def]
    if settings.decode_in_subprocess:
        return _isolated_decoder(settings).decode
    from services.decode.local import decode

    def run(path: Path):  # type: ignore[no-untyped-def]
        return decode(path, max_seconds=settings.max_audio_seconds)

    return run


def _prober(settings: Settings):  # type: ignore[no-untyped-def]
    if settings.decode_in_subprocess:
        return _isolated_decoder(settings).probe
    from services.decode.local import probe

    def run(path: Path):  # type: ignore[no-untyped-def]
        return probe(path, max_seconds=settings.max_audio_seconds)

    return run


def _isolated_decoder(settings: Settings) -> Any:
    from services.decode.isolated import IsolatedDecoder

    # Its scratch samples live beside the audio, where the disk-full handling looks.
    scratch = Path(settings.storage_dir) / ".decode"
    return IsolatedDecoder(max_seconds=settings.max_audio_seconds, scratch_dir=scratch)


def _cache(settings: Settings, database: Database) -> Any:
    from core.adapters.cache import TieredCache

    return TieredCache(
        memory_ttl_s=settings.cache_ttl_s,
        memory_maxsize=settings.cache_maxsize,
        redis_url=settings.redis_url,
        database=database,
    )


def _document_cache(cache: Any) -> Any:
    from core.adapters.cache import CallDocumentCache

    return CallDocumentCache(cache)


def _cached_embedder(embedder: Any, cache: Any) -> Any:
    from core.adapters.cache import CachingEmbedder

    return CachingEmbedder(embedder, cache)


def _cached_analyzer(analyzer: Any, cache: Any) -> Any:
    from core.adapters.cache import CachingAnalyzer

    return CachingAnalyzer(analyzer, cache)


def _authenticator(settings: Settings, keys: Any) -> Any:
    from core.access.auth import Authenticator, TokenCodec, parse_static_keys

    return Authenticator(
        keys=keys,
        static_keys=parse_static_keys(settings.api_keys),
        tokens=TokenCodec(settings.jwt_secret, settings.jwt_max_ttl_s)
        if settings.jwt_secret
        else None,
    )


def _metrics(cache: Any) -> Any:
    from bootstrap.prometheus import Metrics

    return Metrics(cache)


def _search(database: Database, embedder: Any, settings: Settings) -> Any:
    from core.calls.search import SemanticSearch

    return SemanticSearch(
        database,
        embedder,
        backend=settings.search_backend,
        refresh_s=settings.read_refresh_s,
    )


def _analysis(
    pipeline: CallPipeline,
    database: Database,
    decoder: Any,
    audio_store: AudioStore,
    prober: Any,
    bus: Any,
    settings: Settings,
    document_cache: Any,
    search: Any,
    metrics: Any,
    catalog: Any,
) -> AnalysisService:
    return AnalysisService(
        pipeline,
        database,
        decoder,
        audio_store,
        prober=prober,
        bus=bus,
        keep_audio=settings.store_audio,
        max_attempts=settings.job_max_attempts,
        retry_delay_s=settings.job_retry_delay_s,
        # A stored, changed or deleted call: drop its cached document, search vectors and
        # the list pages kept in memory.
        listeners=[document_cache.invalidate, search.invalidate, catalog.invalidate],
        # Job counts and durations (bootstrap/prometheus.py); each new call's custom categories.
        observers=[metrics, CategoryTagger(database, on_change=catalog.invalidate)],
        qa=_qa_scorer(settings),
    )


def _qa_scorer(settings: Settings) -> Any:
    """The QA checklist (QA_SCORECARD or the default), judged by the model the analysis uses
    (a server or the local model) when there is one, by rules otherwise."""
    from core.analysis.qa import QAScorer, Scorecard
    from services.llm.openai_analyzer import parse_fields

    judge: Any = None
    choice = settings.llm_choice if "qa" in parse_fields(settings.llm_fields) else "rules"
    if choice == "openai":
        from services.llm.qa import OpenAIQAJudge

        judge = OpenAIQAJudge(
            model=settings.llm_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )
    elif choice == "llama":
        from services.llm.qa import LlamaQAJudge

        judge = LlamaQAJudge(_llama_runtime(settings))
    return QAScorer(Scorecard.load(settings.qa_scorecard), llm=judge)


def _llama_runtime(settings: Settings) -> Any:
    from services.llm.llama import shared_runtime

    return shared_runtime(
        settings.llm_local_model,
        settings.models_dir,
        runtime=settings.llm_local_runtime,
        n_ctx=settings.llm_local_ctx,
        n_threads=settings.llm_local_threads,
        timeout=settings.llm_local_timeout_s,
    )


def _job_queue(settings: Settings, analysis: AnalysisService) -> Any:
    from core.adapters.arq_queue import ArqJobQueue
    from core.jobs.queue import LocalJobQueue

    if settings.job_backend == "arq":
        if not settings.redis_url:
            raise CallyticsError(
                "JOB_BACKEND=arq needs a Redis server.", "Set REDIS_URL=redis://host:6379/0."
            )
        return ArqJobQueue(analysis, settings.redis_url, settings.job_concurrency)
    return LocalJobQueue(analysis, settings.job_concurrency)


def _diarizer(settings: Settings) -> Any:
    from services.diarization.local import LocalDiarizer

    backend = settings.diarization_backend
    if backend == "pyannote":
        from services.diarization.pyannote import PyannoteDiarizer

        return PyannoteDiarizer(settings.diarization_pyannote_dir, device=settings.asr_device)
    return LocalDiarizer(
        backend=backend,
        max_speakers=settings.diarization_max_speakers,
        cache_dir=settings.models_dir,
    )


def _transcriber(settings: Settings, model: str | None = None) -> Any:
    from services.asr.local import FasterWhisperTranscriber

    return FasterWhisperTranscriber(
        model or settings.asr_model,
        cache_dir=settings.models_dir,
        device=settings.asr_device,
        compute_type=settings.asr_compute_type,
        beam_size=settings.asr_beam_size,
        language=settings.asr_language,
        cpu_threads=settings.asr_cpu_threads,
        batch_size=settings.asr_batch_size,
        allow_download=settings.allow_model_downloads,
    )


def _live_transcriber(settings: Settings) -> Any:
    """Live ASR in process: its own model instance, so that the post-call transcription of
    a whole call never holds a live call's words back."""
    from core.live.online import OnlinePolicy
    from services.asr.streaming import StreamingWhisper

    whisper = _transcriber(settings, settings.live_asr_model)
    policy = OnlinePolicy(
        min_chunk_s=settings.live_min_chunk_s,
        endpoint_silence_s=settings.live_endpoint_silence_s,
    )
    return StreamingWhisper(whisper, policy, beam_size=settings.live_beam_size)


def _live(
    settings: Settings,
    database: Database,
    transcriber: Any,
    sentiment: Any,
    categories: CategoryStore,
    analysis: AnalysisService,
    queue: Any,
    voices: Any,
) -> Any:
    from core.adapters.redis_events import build_live_bus
    from core.live.manager import LiveManager

    return LiveManager(
        database,
        transcriber=transcriber,
        sentiment=sentiment,
        categories=categories,
        service=analysis,
        enqueue=queue.enqueue,
        bus=build_live_bus(settings.redis_url),
        storage_dir=settings.storage_dir,
        resume_s=settings.live_resume_s,
        max_sessions=settings.live_max_sessions,
        max_seconds=settings.max_audio_seconds,
        voices=voices,
    )


def _voices(settings: Settings) -> Any:
    """Voice embeddings (CAM++) for a live mono call's speaker turns."""
    from services.diarization.voices import CamPlusVoices

    return CamPlusVoices(settings.models_dir)


def _embedder(settings: Settings) -> Any:
    from services.embedding.local import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.embedding_model)


def _sentiment(settings: Settings, embedder: Any) -> Any:
    from services.sentiment.local import build_sentiment_analyzer

    return build_sentiment_analyzer(settings.sentiment_model, embedder, settings.models_dir)


def _analyzer(settings: Settings) -> Any:
    from services.llm.factory import build_call_analyzer

    return build_call_analyzer(
        provider=settings.llm_choice,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        model=settings.llm_model,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        fields=settings.llm_fields,
        local_model=settings.llm_local_model,
        cache_dir=settings.models_dir,
        runtime=settings.llm_local_runtime,
        n_ctx=settings.llm_local_ctx,
        n_threads=settings.llm_local_threads,
        local_timeout=settings.llm_local_timeout_s,
    )


#: The container's provider of each served stage's engine (core/stages.py SERVED).
ENGINES = {
    "diarization": "diarizer",
    "asr": "transcriber",
    "sentiment": "sentiment",
    "embedding": "embedder",
    "llm": "analyzer",
}


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(get_settings)

    database = providers.Singleton(Database, url=settings.provided.database_url)
    audio_store = providers.Singleton(_audio_store, settings)
    decoder = providers.Singleton(_decoder, settings)
    prober = providers.Singleton(_prober, settings)
    event_bus = providers.Singleton(build_event_bus, settings.provided.redis_url)

    # One engine per served stage (core/stages.py): in-process, or the stage's gRPC client.
    local_diarizer = providers.Singleton(_diarizer, settings)
    diarizer = _switchable("diarization", settings, local_diarizer)
    local_transcriber = providers.Singleton(_transcriber, settings)
    transcriber = _switchable("asr", settings, local_transcriber)
    local_embedder = providers.Singleton(_embedder, settings)
    embedder = _switchable("embedding", settings, local_embedder)
    # The learned head reads sentence vectors from the in-process model (shared).
    local_sentiment = providers.Singleton(_sentiment, settings, local_embedder)
    sentiment = _switchable("sentiment", settings, local_sentiment)
    local_analyzer = providers.Singleton(_analyzer, settings)
    analyzer = _switchable("llm", settings, local_analyzer)

    api_keys = providers.Singleton(ApiKeyStore, database)
    authenticator = providers.Singleton(_authenticator, settings, api_keys)
    cache = providers.Singleton(_cache, settings, database)
    document_cache = providers.Singleton(_document_cache, cache)
    metrics = providers.Singleton(_metrics, cache)
    catalog = providers.Singleton(
        CallCatalog,
        database,
        document_cache=document_cache,
        refresh_s=settings.provided.read_refresh_s,
    )
    insights = providers.Singleton(Insights, database)
    categories = providers.Singleton(CategoryStore, database, on_change=catalog.provided.invalidate)
    vocabularies = providers.Singleton(VocabularyStore, database)
    webhooks = providers.Singleton(WebhookStore, database)
    webhook_dispatcher = providers.Singleton(
        WebhookDispatcher,
        database,
        policy=providers.Singleton(
            RetryPolicy,
            base_s=settings.provided.webhook_retry_base_s,
            max_s=settings.provided.webhook_retry_max_s,
            max_attempts=settings.provided.webhook_max_attempts,
        ),
        timeout_s=settings.provided.webhook_timeout_s,
        poll_s=settings.provided.webhook_poll_s,
    )
    search = providers.Singleton(_search, database, embedder, settings)

    pipeline = providers.Singleton(
        CallPipeline,
        diarizer=diarizer,
        transcriber=transcriber,
        sentiment=sentiment,
        # Embeddings and the LLM's analysis are cached by content hash (all three tiers).
        embedder=providers.Singleton(_cached_embedder, embedder, cache),
        analyzer=providers.Singleton(_cached_analyzer, analyzer, cache),
        agent_channel=settings.provided.agent_channel,
        redact_pii=settings.provided.redact_pii,
        vocabularies=vocabularies,
    )
    analysis = providers.Singleton(
        _analysis,
        pipeline,
        database,
        decoder,
        audio_store,
        prober,
        event_bus,
        settings,
        document_cache,
        search,
        metrics,
        catalog,
    )
    job_queue = providers.Singleton(_job_queue, settings, analysis)

    # Live calls: the ASR stage's streaming side (in process, or the same gRPC client).
    local_live_transcriber = providers.Singleton(_live_transcriber, settings)
    live_transcriber = providers.Selector(
        providers.Callable(_mode, settings, "asr"),
        local=local_live_transcriber,
        grpc=transcriber,
    )
    live_voices = providers.Singleton(_voices, settings)
    live = providers.Singleton(
        _live,
        settings,
        database,
        live_transcriber,
        sentiment,
        categories,
        analysis,
        job_queue,
        live_voices,
    )


def local_engine(container: Container, stage: str) -> Any:
    """The in-process engine of ``stage``, whatever the USE_<STAGE>_MS flags say."""
    return getattr(container, ENGINES[stage]).providers["local"]()


def build_container(settings: Settings | None = None) -> Container:
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container
