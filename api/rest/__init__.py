"""REST under /v1: calls, jobs, search, cache statistics, API keys, custom categories, and agent and
trend views.

Every route needs the viewer role at least (a no-op with authentication off); the routes
that change things ask for more in their own signature (``Analyst``, ``Admin``).
"""

from fastapi import APIRouter, Depends

from api.auth import require_viewer
from api.rest import (
    cache,
    calls,
    categories,
    exports,
    insights,
    jobs,
    keys,
    live,
    search,
    vocabularies,
    webhooks,
)

router = APIRouter(dependencies=[Depends(require_viewer)])
modules = (
    calls,
    jobs,
    search,
    cache,
    keys,
    categories,
    insights,
    live,
    exports,
    webhooks,
    vocabularies,
)
for module in modules:
    router.include_router(module.router)

__all__ = ["router"]
