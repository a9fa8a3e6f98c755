"""JSON answers rendered once per kept result.

A list page or a search answer kept in memory (READ_REFRESH_S) is the same object for every
request that reads it while it is kept; validating and serialising it again for each one
cost more than the rest of the request. :class:`Rendered` keeps the bytes of the last
results it rendered, by the identity of the result, which is never reused while the result
lives (the entry holds it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache
from fastapi import Response


class Rendered:
    def __init__(self, maxsize: int = 512) -> None:
        self._kept: LRUCache[int, tuple[Any, bytes]] = LRUCache(maxsize)
        self._lock = threading.Lock()

    def response(self, result: Any, render: Callable[[Any], bytes]) -> Response:
        """``result`` as JSON: ``render(result)`` the first time, the same bytes after."""
        with self._lock:
            kept = self._kept.get(id(result))
        if kept is None or kept[0] is not result:
            kept = (result, render(result))
            with self._lock:
                self._kept[id(result)] = kept
        return Response(kept[1], media_type="application/json")
