"""Rate limits per principal: a token bucket per (kind, API key or token subject).

A bucket holds up to ``per_minute`` requests and refills at ``per_minute / 60`` a second, so
a client can burst to its minute's budget and then goes at the steady rate. With
``REDIS_URL`` the buckets live in Redis (one Lua script, atomic), so every API process and
worker shares one budget per key; if Redis cannot be reached the process falls back to its
own buckets rather than refusing or waving everything through.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from core.errors import RateLimitedError

log = logging.getLogger(__name__)

# KEYS[1]: the bucket; ARGV: refill per second, capacity, now (s). Returns {allowed, wait_s}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(wait)}
"""

ACTIONS = {"upload": "uploads", "search": "searches"}


@dataclass
class Bucket:
    tokens: float
    at: float

    def take(self, rate: float, capacity: float, now: float) -> float:
        """Take one token; 0 when there was one, else how long until there is."""
        self.tokens = min(capacity, self.tokens + max(0.0, now - self.at) * rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


class RateLimiter:
    def __init__(
        self,
        per_minute: Mapping[str, int],
        *,
        redis: Any = None,  # redis.asyncio.Redis
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``per_minute``: the budget of each kind of request; 0 or absent means no limit."""
        self.per_minute = dict(per_minute)
        self.redis = redis
        self.clock = clock
        self._buckets: TTLCache[tuple[str, str], Bucket] = TTLCache(maxsize=100_000, ttl=3600)
        self._script: Any = redis.register_script(TOKEN_BUCKET_LUA) if redis is not None else None
        self._warned_at = float("-inf")

    async def hit(self, kind: str, who: str | None) -> None:
        """Spend one of ``who``'s ``kind`` requests, or raise :class:`RateLimitedError`.
        ``who`` None (the local administrator, with authentication off) is not limited."""
        limit = self.per_minute.get(kind, 0)
        if who is None or limit <= 0:
            return
        rate, capacity, now = limit / 60.0, float(limit), self.clock()
        wait = None
        if self._script is not None:
            try:
                allowed, wait_text = await self._script(
                    keys=[f"callytics:ratelimit:{kind}:{who}"], args=[rate, capacity, now]
                )
                wait = 0.0 if int(allowed) else float(wait_text)
            except Exception as exc:  # Redis down: this process's own buckets keep limiting
                if now - self._warned_at > 60:
                    self._warned_at = now
                    log.warning("rate limit: Redis unavailable (%s); limiting in-process", exc)
        if wait is None:
            bucket = self._buckets.setdefault((kind, who), Bucket(capacity, now))
            wait = bucket.take(rate, capacity, now)
        if wait > 0:
            noun = ACTIONS.get(kind, kind)
            raise RateLimitedError(
                f"Too many {noun}: the limit is {limit} a minute per key.",
                f"Try again in {math.ceil(wait)} s.",
                retry_after_s=wait,
            )
