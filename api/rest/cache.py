"""/v1/cache: how well the cache tiers are doing."""

from __future__ import annotations

from fastapi import APIRouter

from api.rest.deps import RuntimeDep
from api.rest.schemas import CacheStats

router = APIRouter(prefix="/cache", tags=["cache"])


@router.get("/stats", summary="Hit and miss counts per cache tier")
async def cache_stats(runtime: RuntimeDep) -> CacheStats:
    return CacheStats.model_validate(runtime.cache.stats())
