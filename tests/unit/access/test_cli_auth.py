"""`callytics keys …`, `callytics token`, and the refusal to listen openly without auth."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app
from core.access.auth import (
    LOCAL_ADMIN,
    AccessRole,
    Authenticator,
    TokenCodec,
    check_bind,
    hash_key,
    is_loopback,
    parse_static_keys,
)
from core.errors import InvalidInputError
from core.persistence.database import Database
from core.persistence.models import ApiKeyRow

runner = CliRunner()
SECRET = "cli-test-secret-0123456789abcdef0123456789"


@pytest.fixture
def env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/callytics.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("API_KEYS", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    return url


def test_keys_are_created_listed_and_revoked_and_only_their_hash_is_stored(env):
    created = runner.invoke(app, ["keys", "create", "crm-sync", "--role", "analyst"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("cly_")

    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert [(k["name"], k["role"], k["revoked_at"]) for k in listed] == [
        ("crm-sync", "analyst", None)
    ]
    assert key not in json.dumps(listed)
    with Database(env).session() as session:
        row = session.scalars(select(ApiKeyRow)).one()
    assert row.key_sha256 == hash_key(key) and key not in f"{row.id}{row.name}"

    assert runner.invoke(app, ["keys", "revoke", listed[0]["id"]]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert listed[0]["revoked_at"] is not None
    missing = runner.invoke(app, ["keys", "revoke", "nope"])
    assert missing.exit_code == 2 and "No API key" in missing.output


def test_a_bad_role_is_refused(env):
    result = runner.invoke(app, ["keys", "create", "x", "--role", "root"])
    assert result.exit_code == 2 and "viewer, analyst, admin" in result.output


def test_an_env_key_is_printed_with_its_api_keys_entry_and_not_stored(env):
    result = runner.invoke(app, ["keys", "create", "stages", "--role", "analyst", "--env"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    entry = result.output.split("add to API_KEYS: ")[1].split()[0]
    principal = parse_static_keys(entry)[hash_key(key)]
    assert principal.role is AccessRole.ANALYST and principal.actor == "env:stages"
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout) == []


def test_token_signs_a_jwt_with_jwt_secret(env, monkeypatch):
    refused = runner.invoke(app, ["token", "maria"])
    assert refused.exit_code == 2 and "JWT_SECRET is not set" in refused.output
    monkeypatch.setenv("JWT_SECRET", SECRET)
    result = runner.invoke(app, ["token", "maria", "--role", "admin", "--ttl", "60"])
    principal = TokenCodec(SECRET).verify(result.stdout.strip())
    assert principal.actor == "jwt:maria" and principal.role is AccessRole.ADMIN


@pytest.mark.parametrize("command", [["serve"], ["stage", "embedding"]])
def test_listening_beyond_loopback_without_auth_is_refused(env, command):
    result = runner.invoke(app, [*command, "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "Refusing to listen on 0.0.0.0 without authentication" in result.output
    assert "callytics keys create" in result.output


def test_check_bind_says_what_is_exposed():
    off = Authenticator()
    assert "loopback only" in check_bind(["127.0.0.1"], off, allow_open=False)
    assert "loopback only" in check_bind(["localhost", "::1"], off, allow_open=False)
    with pytest.raises(InvalidInputError):
        check_bind(["0.0.0.0"], off, allow_open=False)
    with pytest.raises(InvalidInputError):
        check_bind(["192.168.1.20"], off, allow_open=False)
    assert "WARNING" in check_bind(["0.0.0.0"], off, allow_open=True)
    on = Authenticator(tokens=TokenCodec(SECRET))
    assert "Authentication is on" in check_bind(["0.0.0.0"], on, allow_open=False)
    assert [is_loopback(h) for h in ("127.0.0.5", "[::1]", "", "example.com")] == [
        True,
        True,
        False,
        False,
    ]


def test_with_auth_off_everyone_is_the_local_admin_and_credentials_are_ignored():
    off = Authenticator()
    assert off.authenticate(None) is LOCAL_ADMIN
    assert off.authenticate("Bearer whatever") is LOCAL_ADMIN
    assert LOCAL_ADMIN.rate_key is None


def test_api_keys_entries_must_be_hashes():
    with pytest.raises(InvalidInputError, match="name:role:sha256"):
        parse_static_keys("cly_plaintext_key_in_the_environment")
    with pytest.raises(InvalidInputError, match="Unknown role"):
        parse_static_keys(f"x:root:{'0' * 64}")
    assert parse_static_keys(" , ") == {}
