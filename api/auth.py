"""Authentication and roles for REST: one dependency per role.

``Viewer``, ``Analyst`` and ``Admin`` are annotated parameters: a route that takes one is
refused (401 without valid credentials, 403 with too low a role) before its body runs, and
gets the caller's :class:`~core.access.auth.Principal` for audit fields and rate limits. The
schemes are declared to OpenAPI, so `/docs` has an "Authorize" button.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.health import runtime_of
from core.access.auth import AccessRole, Principal

bearer = HTTPBearer(
    auto_error=False,
    description="An API key (cly_…) or a JWT signed with JWT_SECRET.",
)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """The caller (once per request): the local admin when authentication is off."""
    runtime = runtime_of(request)
    authorization = f"Bearer {credentials.credentials}" if credentials else None
    if authorization is None and (raw := request.headers.get("authorization")):
        authorization = raw  # not "Bearer …": authenticate() says what is wrong with it
    principal = runtime.auth.authenticate(authorization, api_key)
    request.state.principal = principal
    return principal


def requires(role: AccessRole):  # type: ignore[no-untyped-def]
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return principal.require(role)

    check.__name__ = f"requires_{role.value}"
    return check


require_viewer = requires(AccessRole.VIEWER)
Viewer = Annotated[Principal, Depends(require_viewer)]
Analyst = Annotated[Principal, Depends(requires(AccessRole.ANALYST))]
Admin = Annotated[Principal, Depends(requires(AccessRole.ADMIN))]
