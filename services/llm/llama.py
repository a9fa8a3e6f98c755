"""The local instruction model (llama.cpp via llama-cpp-python), served to the openai client.

Two runtimes, one analyzer (:class:`LlamaCallAnalyzer`, the OpenAI analyzer unchanged but
for where its client points):

- ``server`` (the default): ``python -m llama_cpp.server`` as a child process on a loopback
  port; the analyzer and the QA judge talk to it over HTTP like to any OpenAI-compatible
  server. A crash in the native library takes down the child, not the API or the worker.
- ``inprocess``: ``llama_cpp.Llama`` in this process, behind an object with the openai
  client's ``chat.completions.create``; no port, no second process.

One model decode at a time per process (a lock around every request): on 2 cores two
decodes at once are each more than twice as slow. llama.cpp keeps the longest common prompt
prefix between requests, so the tasks of one call read its transcript once.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from core.domain import StageInfo
from core.errors import ModelNotFoundError, StageError
from services.llm.models import model_by_name, resolve_gguf, runtime_installed
from services.llm.openai_analyzer import ChatClient, OpenAICallAnalyzer, openai_client

log = logging.getLogger(__name__)

STAGE = "llm"
RUNTIMES = ("server", "inprocess")
DEFAULT_CTX = 8192
SERVER_START_TIMEOUT_S = 180.0
_POLL_S = 0.1


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def _require_runtime() -> None:
    if not runtime_installed():
        raise ModelNotFoundError(
            "llama-cpp-python is not installed, so the local model cannot run.",
            "Run `make llm` (it builds llama-cpp-python), or set LLM_PROVIDER=rules.",
        )


# prctl looked up here, not in the child: between fork and exec nothing may take a lock.
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: on Linux, SIGTERM when the thread that started it exits
    (so it is started from the event loop's thread), however the parent ends."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


_live: set[LlamaRuntime] = set()


@atexit.register
def _stop_live_servers() -> None:
    """A process that exits without closing its analyzer leaves no server behind."""
    for runtime in list(_live):
        runtime.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _InProcessCompletions:
    def __init__(self, runtime: LlamaRuntime) -> None:
        self.runtime = runtime

    async def create(self, **kwargs: Any) -> Any:
        from openai.types.chat import ChatCompletion

        llama = await self.runtime.llama()
        kwargs.pop("model", None)
        result = await asyncio.to_thread(self.runtime.complete_locked, llama, kwargs)
        return ChatCompletion.model_validate(result)


class _InProcessChat:
    def __init__(self, runtime: LlamaRuntime) -> None:
        self.completions = _InProcessCompletions(runtime)


class InProcessClient:
    """The part of ``AsyncOpenAI`` the analyzer uses, answered by ``llama_cpp.Llama``."""

    def __init__(self, runtime: LlamaRuntime) -> None:
        self.chat = _InProcessChat(runtime)

    async def close(self) -> None:
        return None


class LlamaRuntime:
    """One local model in one process, as a child server or in-process, started on first
    use and shared by everything that asks for the same model (:func:`shared_runtime`)."""

    def __init__(
        self,
        model: str,
        cache_dir: Path,
        *,
        runtime: str = "server",
        n_ctx: int = DEFAULT_CTX,
        n_threads: int = 0,
        timeout: float = 1800.0,
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown llama runtime {runtime!r}; expected one of {RUNTIMES}")
        self.model = model
        self.cache_dir = cache_dir
        self.runtime = runtime
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.timeout = timeout
        self.base_url: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._llama: Any = None
        self._start_lock = asyncio.Lock()
        self._decode_lock = threading.Lock()  # in-process: one decode at a time
        self._request_lock = asyncio.Lock()  # server: one request at a time
        self._clients = 0

    @property
    def name(self) -> str:
        known = model_by_name(self.model)
        return known.name if known else Path(self.model).stem

    def path(self) -> Path:
        _require_runtime()
        return resolve_gguf(self.model, self.cache_dir)

    # ------------------------------------------------------------------ in-process
    async def llama(self) -> Any:
        async with self._start_lock:
            if self._llama is None:
                self._llama = await asyncio.to_thread(self._load_llama)
        return self._llama

    def _load_llama(self) -> Any:
        path = self.path()
        from llama_cpp import Llama

        log.info("llm: loading %s in-process (%d threads)", path.name, self.n_threads)
        return Llama(str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False, seed=0)

    def complete_locked(self, llama: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        with self._decode_lock:
            return llama.create_chat_completion(**kwargs)  # type: ignore[no-any-return]

    # ---------------------------------------------------------------------- server
    async def start_server(self) -> str:
        async with self._start_lock:
            if self._process is not None and self._process.poll() is None and self.base_url:
                return self.base_url
            path = await asyncio.to_thread(self.path)
            url = self._popen(path)  # in this (the loop's) thread: see _die_with_parent
            try:
                await asyncio.to_thread(self._wait_ready, url)
            except BaseException:
                self.stop()
                raise
            self.base_url = url
            return url

    def _popen(self, path: Path) -> str:
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--model_alias",
            self.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--seed",
            "0",
        ]
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        log.info("llm: starting %s as a llama.cpp server on 127.0.0.1:%d", self.name, port)
        # Its log goes to a file: llama.cpp writes enough at load to fill a pipe and stall.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self._process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            preexec_fn=_die_with_parent,
        )
        _live.add(self)
        return f"http://127.0.0.1:{port}/v1"

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            process = self._process
            if process is None:
                raise StageError(STAGE, f"the llama.cpp server for {self.name} was stopped")
            if process.poll() is not None:
                raise StageError(
                    STAGE,
                    f"the llama.cpp server for {self.name} exited at start: {self._log_tail()}",
                    "Run `make llm` again, or set LLM_LOCAL_RUNTIME=inprocess or "
                    "LLM_PROVIDER=rules.",
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    return
            time.sleep(_POLL_S)  # waiting for a child process to listen, not a test
        raise StageError(STAGE, f"the llama.cpp server for {self.name} did not start in time")

    def stop(self) -> None:
        _live.discard(self)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._llama = None

    def _log_tail(self, size: int = 600) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - size))
        return self._log.read().decode(errors="replace")

    # ----------------------------------------------------------------------- clients
    async def client(self) -> ChatClient:
        self._clients += 1
        if self.runtime == "inprocess":
            return InProcessClient(self)
        url = await self.start_server()
        return _LockedClient(openai_client(None, url, self.timeout, 0), self._request_lock)

    async def release(self) -> None:
        self._clients = max(0, self._clients - 1)
        if self._clients == 0:
            await asyncio.to_thread(self.stop)


class _LockedCompletions:
    def __init__(self, inner: Any, lock: asyncio.Lock) -> None:
        self.inner, self.lock = inner, lock

    async def create(self, **kwargs: Any) -> Any:
        async with self.lock:
            return await self.inner.create(**kwargs)


class _LockedChat:
    def __init__(self, inner: Any, lock: asyncio.Lock) -> None:
        self.completions = _LockedCompletions(inner.completions, lock)


class _LockedClient:
    """An ``AsyncOpenAI`` whose chat requests to the child server go one at a time (the
    server would queue them anyway; here the wait does not count against the timeout)."""

    def __init__(self, inner: Any, lock: asyncio.Lock) -> None:
        self.inner = inner
        self.chat = _LockedChat(inner.chat, lock)

    async def close(self) -> None:
        await self.inner.close()


_runtimes: dict[tuple[Any, ...], LlamaRuntime] = {}
_runtimes_lock = threading.Lock()


def shared_runtime(model: str, cache_dir: Path, **options: Any) -> LlamaRuntime:
    """The process's one :class:`LlamaRuntime` for this model and these options."""
    key = (model, str(cache_dir), *sorted(options.items()))
    with _runtimes_lock:
        if key not in _runtimes:
            _runtimes[key] = LlamaRuntime(model, cache_dir, **options)
        return _runtimes[key]


class LlamaCallAnalyzer(OpenAICallAnalyzer):
    """The OpenAI analyzer, its client pointed at the local model (``LLM_PROVIDER=llama``)."""

    engine = "llama.cpp"
    provider_prefix = "llama"

    def __init__(self, runtime: LlamaRuntime, *, fields: Iterable[str] | None = None) -> None:
        super().__init__(model=runtime.name, timeout=runtime.timeout, max_retries=0, fields=fields)
        self.runtime = runtime
        # llama-cpp-python knows json_object with a schema (a grammar), and answers an
        # OpenAI json_schema with HTTP 500: go straight to what it knows.
        self._format = "json_object+schema"

    def info(self) -> StageInfo:
        info = super().info()
        extra = {
            "runtime": self.runtime.runtime,
            "threads": self.runtime.n_threads,
            "fields": info.extra["fields"],
            "prompt": info.extra["prompt"],
        }
        return replace(info, device="cpu", extra=extra)

    async def _get_client(self) -> ChatClient:
        client = self._client
        if client is None:
            client = await self.runtime.client()
            self._client = client
            self.base_url = self.runtime.base_url
        return client

    async def load(self) -> None:
        """Find the model file (assembling it once) without starting it: that happens on the
        first call, so a process that never analyses never pays for it."""
        await asyncio.to_thread(self.runtime.path)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            await self.runtime.release()
