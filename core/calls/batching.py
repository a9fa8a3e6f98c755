"""Micro-batching: concurrent single requests to a model become one batched call.

While one batch runs, new requests wait; when it ends, every request that arrived meanwhile
goes in the next batch (up to ``max_batch``). There is no timer: a lone request is sent at
once, and batches only form under load, which is when they pay (MiniLM embeds 16 short
texts in 2.5x the time of one). Identical requests waiting together are computed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MicroBatcher(Generic[K, V]):
    """``await batcher(key)`` returns ``run([..., key, ...])[i]``, batched with its peers.

    ``run`` takes the distinct keys of one batch and returns one result per key, in order.
    Use it from one event loop.
    """

    def __init__(self, run: Callable[[list[K]], Awaitable[Sequence[V]]], *, max_batch: int = 32):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0  # how many calls of ``run``, for tests and stats

    @property
    def waiting(self) -> int:
        """Requests waiting for the next batch."""
        return sum(len(futures) for futures in self._waiting.values())

    async def __call__(self, key: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            keys = list(self._waiting)[: self._max_batch]
            batch = {key: self._waiting.pop(key) for key in keys}
            self.batches += 1
            try:
                results = list(await self._run(keys))
                if len(results) != len(keys):
                    raise RuntimeError(f"batch of {len(keys)} gave {len(results)} results")
            except asyncio.CancelledError:  # the loop is shutting down: so are the waiters
                for futures in (*batch.values(), *self._waiting.values()):
                    for future in futures:
                        future.cancel()
                raise
            except Exception as exc:
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for futures, result in zip(batch.values(), results, strict=True):
                for future in futures:
                    if not future.done():  # its request may have been cancelled
                        future.set_result(result)


class SingleFlight(Generic[K, V]):
    """Concurrent requests for one key share one computation: the first starts it, the
    others wait for its result (or its error). A waiter that is cancelled (its client went
    away) leaves the computation running for the rest. Use it from one event loop."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    async def __call__(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone

    @property
    def running(self) -> int:
        return len(self._running)
