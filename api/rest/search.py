"""/v1/search: semantic search over every stored utterance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from api.auth import Viewer
from api.rest.deps import RuntimeDep
from api.rest.rendered import Rendered
from api.rest.schemas import SearchHit, SearchResults, error_responses
from api.rest.uploads import metadata_filter
from core.calls.metadata_filter import MetadataPairs
from core.calls.search import MAX_K
from core.domain import Role

router = APIRouter(tags=["search"])


@router.get(
    "/search",
    summary="Find the utterances closest in meaning to a query",
    description="Limited to RATE_LIMIT_SEARCHES_PER_MIN a minute per key (429 past it).",
    responses=error_responses(429),
    response_model=SearchResults,
)
async def search(
    runtime: RuntimeDep,
    principal: Viewer,
    q: Annotated[str, Query(max_length=1000, description="Free text; not blank.")],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many hits.")] = 10,
    call_id: Annotated[str | None, Query(description="Only this call's utterances.")] = None,
    role: Annotated[Role | None, Query(description="Only this speaker role's.")] = None,
    min_score: Annotated[
        float | None, Query(description="Only hits scoring at least this (-1..1).")
    ] = None,
    metadata: Annotated[MetadataPairs, Depends(metadata_filter)] = (),
) -> Response:
    await runtime.limiter.hit("search", principal.rate_key)
    hits = await runtime.search.search(
        q,
        k,
        call_id=call_id,
        role=role.value if role else None,
        min_score=min_score,
        metadata=metadata,
    )
    backend = runtime.search.backend

    def render(found: list[Any]) -> bytes:
        hits = [SearchHit.model_validate(hit) for hit in found]
        return SearchResults(query=q, backend=backend, hits=hits).model_dump_json().encode()

    # A kept answer (READ_REFRESH_S) is the same list each time: rendered once. The query
    # as typed is in the answer, so a key is the answer and the query.
    return _answers.response(hits, render) if hits and q == q.strip() else _json(render(hits))


_answers = Rendered()


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")
