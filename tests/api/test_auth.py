"""Authentication and roles on REST and GraphQL over HTTP: API keys, JWTs, audit, limits."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from core.access.auth import AccessRole, ApiKeyStore, TokenCodec, hash_key
from core.persistence.models import ApiKeyRow
from tests.api.conftest import follow_job, runtime_of
from tests.api.test_rest import upload
from tests.support.app import make_settings

SECRET = "s3cret-for-tests-only-0123456789abcdef"
LIST = "{ calls(first: 5) { totalCount edges { node { id } } } }"


def with_keys(client: Any) -> dict[str, str]:
    """Turn authentication on by creating one key per role; returns role -> key."""
    store: ApiKeyStore = runtime_of(client).container.api_keys()
    keys = {role.value: store.create(f"{role.value}-key", role).key for role in AccessRole}
    runtime_of(client).auth.refresh()
    return keys


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def analysed_as(client: Any, key: str) -> dict[str, Any]:
    response = client.post(
        "/v1/calls", files={"file": ("call.wav", wav(), "audio/wav")}, headers=auth(key)
    )
    assert response.status_code == 202, response.text
    assert follow_job(client, response.json()["job_id"])[-1].status == "succeeded"
    return response.json()


def wav() -> bytes:
    from tests.support.app import wav_bytes

    return wav_bytes()


@pytest.fixture
def keyed(make_client):
    client = make_client()
    return client, with_keys(client)


def test_without_any_auth_configured_every_request_is_the_local_admin(client):
    assert runtime_of(client).auth.enabled is False
    call = upload(client).json()
    follow_job(client, call["job_id"])
    assert client.get(f"/v1/calls/{call['call_id']}/audit").json()["created_by"] == "local"


@pytest.mark.parametrize(
    "headers, says",
    [
        ({}, "requires authentication"),
        ({"Authorization": "Bearer cly_00000000_not-a-real-key"}, "not valid"),
        ({"X-API-Key": "cly_00000000_not-a-real-key"}, "not valid"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "must be `Bearer"),
        ({"Authorization": "Bearer something-else"}, "not an API key or token"),
    ],
)
def test_missing_or_bad_credentials_are_401_with_a_hint(keyed, headers, says):
    client, _ = keyed
    for method, path in [("GET", "/v1/calls"), ("GET", "/v1/search?q=refund"), ("GET", "/v1/keys")]:
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        error = response.json()["error"]
        assert error["code"] == "unauthorized" and says in error["message"] and error["hint"]


def test_health_metrics_and_the_api_docs_stay_open(keyed):
    client, _ = keyed
    for path in ("/health/live", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_each_role_can_do_what_it_is_for_and_no_more(keyed):
    client, keys = keyed
    viewer, analyst, admin = keys["viewer"], keys["analyst"], keys["admin"]

    assert client.get("/v1/calls", headers=auth(viewer)).status_code == 200
    refused = client.post(
        "/v1/calls", files={"file": ("c.wav", wav(), "audio/wav")}, headers=auth(viewer)
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "analyst" in refused.json()["error"]["hint"]

    call_id = analysed_as(client, analyst)["call_id"]
    assert client.get(f"/v1/calls/{call_id}", headers=auth(viewer)).status_code == 200
    assert client.post(f"/v1/calls/{call_id}/reanalyze", headers=auth(viewer)).status_code == 403
    assert client.delete(f"/v1/calls/{call_id}", headers=auth(analyst)).status_code == 403
    assert client.get("/v1/keys", headers=auth(analyst)).status_code == 403

    again = client.post(f"/v1/calls/{call_id}/reanalyze", headers=auth(analyst))
    assert again.status_code == 202
    follow_job(client, again.json()["job_id"])
    assert client.delete(f"/v1/calls/{call_id}", headers={"X-API-Key": admin}).status_code == 204


def test_audit_fields_name_the_keys_that_created_changed_and_deleted_a_call(keyed):
    client, keys = keyed
    store = runtime_of(client).container.api_keys()
    ids = {info.name.split("-")[0]: info.id for info in store.list()}
    call_id = analysed_as(client, keys["analyst"])["call_id"]
    created = client.get(f"/v1/calls/{call_id}/audit", headers=auth(keys["viewer"])).json()
    assert created["created_by"] == created["updated_by"] == f"key:{ids['analyst']}"
    assert created["status"] == "active" and created["deleted_by"] is None

    again = client.post(f"/v1/calls/{call_id}/reanalyze", headers=auth(keys["admin"]))
    follow_job(client, again.json()["job_id"])
    changed = client.get(f"/v1/calls/{call_id}/audit", headers=auth(keys["viewer"])).json()
    assert changed["created_by"] == f"key:{ids['analyst']}"
    assert changed["updated_by"] == f"key:{ids['admin']}"
    assert changed["updated_at"] > created["updated_at"]
    assert changed["created_at"] == created["created_at"]

    client.delete(f"/v1/calls/{call_id}", headers=auth(keys["admin"]))
    deleted = client.get(f"/v1/calls/{call_id}/audit", headers=auth(keys["viewer"])).json()
    assert deleted["status"] == "deleted" and deleted["deleted_by"] == f"key:{ids['admin']}"
    gone = client.get(f"/v1/calls/{call_id}", headers=auth(keys["viewer"]))
    assert gone.status_code == 410 and f"key:{ids['admin']}" in gone.json()["error"]["message"]


def test_keys_are_stored_hashed_and_revoking_one_locks_it_out_at_once(keyed):
    client, keys = keyed
    admin = auth(keys["admin"])
    created = client.post("/v1/keys", json={"name": "dashboard", "role": "viewer"}, headers=admin)
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith(f"cly_{new['id']}_") and new["created_by"].startswith("key:")
    with runtime_of(client).database.session() as session:
        rows = session.scalars(select(ApiKeyRow)).all()
    assert {row.key_sha256 for row in rows} >= {hash_key(new["key"])}
    stored = " ".join(f"{row.id} {row.name} {row.key_sha256}" for row in rows)
    assert all(key not in stored for key in [*keys.values(), new["key"]])
    listed = client.get("/v1/keys", headers=admin).json()
    assert "key" not in listed[0] and {k["name"] for k in listed} >= {"dashboard"}

    assert client.get("/v1/calls", headers=auth(new["key"])).status_code == 200
    revoked = client.delete(f"/v1/keys/{new['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/v1/calls", headers=auth(new["key"])).status_code == 401
    assert client.delete("/v1/keys/nope", headers=admin).status_code == 404


def test_revoking_every_key_never_turns_authentication_off(keyed):
    client, keys = keyed
    store = runtime_of(client).container.api_keys()
    for info in store.list():
        store.revoke(info.id)
    runtime_of(client).auth.refresh()
    assert client.get("/v1/calls").status_code == 401
    assert client.get("/v1/calls", headers=auth(keys["admin"])).status_code == 401


@pytest.fixture
def jwt_client(make_client, tmp_path):
    return make_client(make_settings(tmp_path, jwt_secret=SECRET))


def test_jwt_bearer_tokens_carry_the_role_and_their_expiry_is_checked(jwt_client):
    client = jwt_client
    codec = TokenCodec(SECRET)
    analyst = codec.issue("maria@example.com", AccessRole.ANALYST, ttl_s=600)
    response = client.post(
        "/v1/calls", files={"file": ("c.wav", wav(), "audio/wav")}, headers=auth(analyst)
    )
    assert response.status_code == 202
    follow_job(client, response.json()["job_id"])
    audit = client.get(f"/v1/calls/{response.json()['call_id']}/audit", headers=auth(analyst))
    assert audit.json()["created_by"] == "jwt:maria@example.com"

    now = int(time.time())
    expired = jwt.encode({"sub": "x", "role": "admin", "exp": now - 120}, SECRET, "HS256")
    no_expiry = jwt.encode({"sub": "x", "role": "admin"}, SECRET, "HS256")
    forged = jwt.encode(
        {"sub": "x", "role": "admin", "exp": now + 60}, "another-secret-that-is-long-enough-0123"
    )
    none_alg = jwt.encode({"sub": "x", "role": "admin", "exp": now + 60}, None, "none")
    for token, says in [
        (expired, "expired"),
        (no_expiry, "exp"),
        (forged, "Signature"),
        (none_alg, "not valid"),
    ]:
        refused = client.get("/v1/calls", headers=auth(token))
        assert refused.status_code == 401, token
        assert says in refused.json()["error"]["message"], refused.json()

    viewer = codec.issue("v", AccessRole.VIEWER)
    assert client.delete("/v1/calls/x", headers=auth(viewer)).status_code == 403
    no_role = jwt.encode({"sub": "y", "exp": now + 60}, SECRET, "HS256")
    assert client.get("/v1/calls", headers=auth(no_role)).status_code == 200  # viewer
    bad_role = jwt.encode({"sub": "y", "role": "root", "exp": now + 60}, SECRET, "HS256")
    refused = client.get("/v1/calls", headers=auth(bad_role))
    assert refused.status_code == 401 and "role" in refused.json()["error"]["message"]


# ------------------------------------------------------------------ GraphQL over HTTP
def gql(client: Any, query: str, key: str | None = None, **variables: Any) -> Any:
    headers = auth(key) if key else {}
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def test_graphql_needs_credentials_but_graphiql_still_loads(keyed):
    client, keys = keyed
    refused = gql(client, LIST)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "unauthorized"
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    ok = gql(client, LIST, keys["viewer"])
    assert ok.status_code == 200 and ok.json()["data"]["calls"]["totalCount"] == 0


def test_graphql_mutations_check_the_role(keyed):
    client, keys = keyed
    call_id = analysed_as(client, keys["analyst"])["call_id"]
    delete = "mutation($id: ID!) { deleteCall(id: $id) }"
    reanalyze = "mutation($id: ID!) { reanalyzeCall(id: $id) { jobId } }"
    for query, key in [(delete, "analyst"), (reanalyze, "viewer")]:
        body = gql(client, query, keys[key], id=call_id).json()
        assert body["errors"][0]["extensions"]["code"] == "forbidden", body
    assert gql(client, delete, keys["admin"], id=call_id).json()["data"]["deleteCall"] is True
    assert gql(client, delete, keys["admin"], id=call_id).json()["data"]["deleteCall"] is False
    audit_query = "query($id: ID!) { callAudit(id: $id) { status createdBy deletedBy deletedAt } }"
    audit = gql(client, audit_query, keys["viewer"], id=call_id).json()["data"]["callAudit"]
    assert audit["status"] == "deleted" and audit["deletedAt"]
    assert audit["createdBy"].startswith("key:") and audit["deletedBy"].startswith("key:")
    assert audit["createdBy"] != audit["deletedBy"]  # the analyst's key, then the admin's
    assert gql(client, audit_query, keys["viewer"], id="nope").json()["data"]["callAudit"] is None


def test_a_query_over_the_cost_limit_is_refused_before_it_runs(client):
    heavy = "{ calls(first: 100) { edges { node { call { utterances { words { word } } } } } } }"
    body = gql(client, heavy).json()
    assert body["errors"][0]["extensions"]["code"] == "query_too_costly", body
    assert "limit" in body["errors"][0]["message"]
    via_variable = (
        "query($n: Int!) { calls(first: $n) "
        "{ edges { node { call { utterances { text words { word start end } } } } } } }"
    )
    assert "errors" in gql(client, via_variable, n=1).json()  # a variable counts as the maximum
    listing = "{ calls(first: 20) { edges { node { id summary topics } } } }"
    assert "errors" not in gql(client, listing).json()
    one_call = "query($id: ID!) { call(id: $id) { utterances { text words { word start } } } }"
    assert "errors" not in gql(client, one_call, id="x").json()


# ------------------------------------------------------------------ rate limits
def test_searches_and_uploads_are_rate_limited_per_key(make_client, tmp_path):
    settings = make_settings(tmp_path, rate_limit_searches_per_min=2, rate_limit_uploads_per_min=1)
    client = make_client(settings)
    keys = with_keys(client)
    viewer, analyst = auth(keys["viewer"]), auth(keys["analyst"])
    for _ in range(2):
        assert client.get("/v1/search?q=refund", headers=viewer).status_code == 200
    limited = client.get("/v1/search?q=refund", headers=viewer)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    # GraphQL search spends the same budget; another key has its own.
    body = gql(client, '{ search(query: "refund") { callId } }', keys["viewer"]).json()
    assert body["errors"][0]["extensions"]["code"] == "rate_limited"
    assert client.get("/v1/search?q=refund", headers=analyst).status_code == 200

    files = {"file": ("c.wav", wav(), "audio/wav")}
    assert client.post("/v1/calls", files=files, headers=analyst).status_code == 202
    second = client.post("/v1/calls", files=files, headers=analyst)
    assert second.status_code == 429 and "uploads" in second.json()["error"]["message"]


def asgi_upload(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """POST a 15 MB multipart upload straight into the ASGI app; returns (status, how many
    body chunks the app asked for)."""
    import asyncio

    chunk = b"x" * (1 << 20)
    asked = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": chunk, "more_body": asked < 15}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/v1/calls",
        "raw_path": b"/v1/calls",
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
        "headers": [(b"content-type", b"multipart/form-data; boundary=xyz"), *headers],
    }
    asyncio.run(app(scope, receive, send))
    return statuses[0], asked


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403)])
def test_an_upload_without_the_right_credentials_is_refused_before_its_body_is_read(
    keyed, role, status
):
    """The probe: a 15 MB anonymous body reached the system temp directory before the 401
    (FastAPI parses the form before a route's dependencies run)."""
    client, keys = keyed
    headers = [(b"authorization", f"Bearer {keys[role]}".encode())] if role else []
    assert asgi_upload(client.app, headers) == (status, 0)


def test_a_token_that_lives_longer_than_the_maximum_is_refused(jwt_client):
    client = jwt_client
    now = int(time.time())
    claims = {"sub": "forever", "role": "admin", "iat": now, "exp": now + 10 * 365 * 86400}
    forever = jwt.encode(claims, SECRET, algorithm="HS256")
    refused = client.get("/v1/calls", headers=auth(forever))
    assert refused.status_code == 401 and "longer than" in refused.json()["error"]["message"]
    without_iat = jwt.encode({"sub": "x", "exp": now + 3 * 86400}, SECRET, algorithm="HS256")
    assert client.get("/v1/calls", headers=auth(without_iat)).status_code == 401
    day = TokenCodec(SECRET).issue("ops", AccessRole.VIEWER, ttl_s=86400)
    assert client.get("/v1/calls", headers=auth(day)).status_code == 200
    with pytest.raises(Exception, match="at most"):
        TokenCodec(SECRET).issue("ops", AccessRole.VIEWER, ttl_s=86401)
