"""The per-key token buckets: in-process, shared through Redis, and Redis gone."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from core.access.ratelimit import RateLimiter
from core.errors import RateLimitedError

REDIS = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def spend(limiter: RateLimiter, kind: str, who: str | None, times: int) -> int:
    """How many of ``times`` requests were let through."""
    allowed = 0
    for _ in range(times):
        try:
            await limiter.hit(kind, who)
            allowed += 1
        except RateLimitedError:
            pass
    return allowed


async def test_a_key_can_burst_its_minute_then_goes_at_the_steady_rate():
    clock = Clock()
    limiter = RateLimiter({"search": 60}, clock=clock)
    assert await spend(limiter, "search", "key:a", 100) == 60
    with pytest.raises(RateLimitedError) as limited:
        await limiter.hit("search", "key:a")
    assert 0 < limited.value.retry_after_s <= 1.0 and "60 a minute" in limited.value.message
    clock.now += 10  # 60 a minute refills one a second
    assert await spend(limiter, "search", "key:a", 100) == 10
    assert await spend(limiter, "search", "key:b", 5) == 5  # another key has its own budget
    assert await spend(limiter, "upload", "key:a", 5) == 5  # no upload limit configured


async def test_the_local_admin_and_a_zero_limit_are_never_limited():
    limiter = RateLimiter({"search": 1, "upload": 0}, clock=Clock())
    assert await spend(limiter, "search", None, 50) == 50
    assert await spend(limiter, "upload", "key:a", 50) == 50


async def test_with_redis_every_process_shares_one_budget_per_key():
    clock = Clock()
    who = f"key:{uuid.uuid4().hex}"
    clients = [aioredis.Redis.from_url(REDIS) for _ in range(2)]
    try:
        first, second = (RateLimiter({"upload": 10}, redis=c, clock=clock) for c in clients)
        assert await spend(first, "upload", who, 6) == 6
        assert await spend(second, "upload", who, 6) == 4  # the same bucket, in Redis
        clock.now += 6  # 10 a minute: one token every 6 s
        assert await spend(second, "upload", who, 3) == 1
    finally:
        for c in clients:
            await c.aclose()


async def test_with_redis_unreachable_the_process_limits_on_its_own():
    gone = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = RateLimiter({"search": 3}, redis=gone, clock=Clock())
    try:
        assert await spend(limiter, "search", "key:a", 10) == 3
    finally:
        await gone.aclose()
