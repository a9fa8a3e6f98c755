"""What keeps `callytics serve` up under slow, idle and abusive connections.

- :class:`GuardedHttpToolsProtocol`: uvicorn's httptools HTTP/1.1 protocol with a deadline for a request's
  headers (``HTTP_HEADER_TIMEOUT_S``) and for each gap in its body (``HTTP_BODY_TIMEOUT_S``):
  a client that opens a connection and trickles bytes (slowloris) or goes silent is cut off,
  so half-open connections cannot pile up until the process runs out of file descriptors.
  uvicorn's own ``limit_concurrency`` (``MAX_CONNECTIONS``) answers 503 past the cap.
- :class:`RepeatFilter`: the same log message at most a few times a minute, then one line
  saying how many were suppressed (a flood of "Too many open files" wrote 396 MB in 30 s).
- :func:`raise_open_file_limit`: the soft limit on open files up to the hard one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn loads it by name (``api.serving:GuardedHttpToolsProtocol``), in each worker
    process too: its deadlines come from the environment, which `serve` fills from the
    settings (``.env`` included).

    httptools (llhttp, in C) parses; the parser's callbacks say where a request stands:
    nothing or part of its headers (the header deadline), headers done and body owed (the
    body deadline), or complete (no deadline: the app has it, then uvicorn's keep-alive).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = float(os.environ.get("HTTP_HEADER_TIMEOUT_S", "10"))
        self.body_timeout_s = float(os.environ.get("HTTP_BODY_TIMEOUT_S", "30"))
        self._deadline: asyncio.TimerHandle | None = None
        self._owed: str | None = "headers"  # what the client owes now: headers, body or None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # the parser's callbacks below run inside this
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._owed = "headers"

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._owed = "body"

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._owed = None

    def _arm(self) -> None:
        """(Re)start the deadline for what the client owes us now, or stop it if nothing."""
        self._disarm()
        if self._owed is None or self.transport.is_closing():
            return
        if self.transport.get_protocol() is not self:  # upgraded to a WebSocket
            return
        timeout = self.header_timeout_s if self._owed == "headers" else self.body_timeout_s
        self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.flow.read_paused:  # the app is behind, not the client: wait for it
            self._arm()
            return
        log.debug("closing a connection from %s: its request %s stalled", self.client, self._owed)
        if self._owed == "body" and self.cycle is not None:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


class RepeatFilter(logging.Filter):
    """Lets one message (logger and format string) through ``burst`` times per ``window_s``;
    then notes once how many it held back."""

    def __init__(self, burst: int = 5, window_s: float = 60.0) -> None:
        super().__init__()
        self.burst, self.window_s = burst, window_s
        self._seen: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        start, count, held = self._seen.get(key, [now, 0, 0])
        if now - start > self.window_s:
            if held:
                record.msg = f"{record.msg} (and {int(held)} more like it in {self.window_s:.0f} s)"
            start, count, held = now, 0, 0
        count += 1
        passes = count <= self.burst
        self._seen[key] = [start, count, held + (not passes)]
        if len(self._seen) > 10_000:  # many distinct messages: forget the oldest windows
            self._seen.clear()
        return passes


def install_repeat_filter() -> None:
    """On the root logger's handlers and uvicorn's, so no message can flood the log."""
    repeat = RepeatFilter()
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logger = logging.getLogger(name)
        for target in [logger, *logger.handlers]:
            if not any(isinstance(f, RepeatFilter) for f in target.filters):
                target.addFilter(repeat)


def raise_open_file_limit() -> int:
    """The soft RLIMIT_NOFILE raised to the hard limit; returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return int(soft)
