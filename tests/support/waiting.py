"""Waiting for a condition, with a deadline: how the fault tests synchronise (no fixed sleeps)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
POLL_S = 0.05


def wait_until(
    condition: Callable[[], T], timeout: float, what: str, *, diagnose: Callable[[], str] = str
) -> T:
    """Poll ``condition`` until it returns something truthy (returned), or fail after
    ``timeout`` seconds saying ``what`` never happened (and ``diagnose()``)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s. {diagnose()}")
        time.sleep(POLL_S)  # the interval between two checks, not a synchronisation
