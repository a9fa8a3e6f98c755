"""REST under /v1: calls, jobs, search, cache statistics and API keys.

Every route needs the viewer role at least (a no-op with authentication off); the routes
that change things ask for more in their own signature (``Analyst``, ``Admin``).
"""

from fastapi import APIRouter, Depends

from api.auth import require_viewer
from api.rest import cache, calls, jobs, keys, search

router = APIRouter(dependencies=[Depends(require_viewer)])
for module in (calls, jobs, search, cache, keys):
    router.include_router(module.router)

__all__ = ["router"]
