"""REST under /v1: calls, jobs, search and cache statistics."""

from fastapi import APIRouter

from api.rest import cache, calls, jobs, search

router = APIRouter()
for module in (calls, jobs, search, cache):
    router.include_router(module.router)

__all__ = ["router"]
