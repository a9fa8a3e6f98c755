"""Authenticator.cached: the answer authenticate() would give, only when it needs no I/O
(what the hot read, api/hot.py, relies on)."""

from __future__ import annotations

from typing import Any

import pytest

from core.access.auth import (
    LOCAL_ADMIN,
    AccessRole,
    Authenticator,
    Principal,
    hash_key,
)
from core.errors import UnauthorizedError

KEY = "cly_static-key-for-tests"
STATIC = Principal("key:dash", AccessRole.VIEWER, "api_key", "dash")


class CountingKeys:
    """An ApiKeyStore stand-in that counts its database lookups."""

    def __init__(self, known: dict[str, Principal]) -> None:
        self.known, self.lookups = known, 0

    def any(self) -> bool:
        self.lookups += 1
        return True

    def lookup(self, key: str) -> Principal | None:
        self.lookups += 1
        return self.known.get(key)


def test_with_authentication_off_anyone_is_the_local_admin():
    assert Authenticator(enabled=False).cached(None) is LOCAL_ADMIN


def test_whether_keys_exist_is_not_asked_on_the_hot_path():
    keys = CountingKeys({})
    authenticator = Authenticator(keys=keys)  # type: ignore[arg-type]
    assert authenticator.cached(f"Bearer {KEY}") is None
    assert keys.lookups == 0


def test_a_stored_key_is_answered_once_authenticate_has_verified_it():
    principal = Principal("key:k1", AccessRole.ANALYST, "api_key", "k1")
    keys = CountingKeys({KEY: principal})
    authenticator = Authenticator(keys=keys)  # type: ignore[arg-type]
    assert authenticator.enabled  # (asks the store once)
    lookups: Any = keys.lookups

    assert authenticator.cached(f"Bearer {KEY}") is None  # not verified yet: no lookup here
    assert keys.lookups == lookups
    assert authenticator.authenticate(f"Bearer {KEY}") == principal
    assert authenticator.cached(f"Bearer {KEY}") == principal
    assert authenticator.cached(None, KEY) == principal  # X-API-Key too
    assert keys.lookups == lookups + 1

    authenticator.refresh()  # keys changed in this process: nothing is taken on trust
    assert authenticator.cached(f"Bearer {KEY}") is None


def test_configured_keys_need_no_lookup_and_bad_credentials_raise_as_authenticate_does():
    authenticator = Authenticator(static_keys={hash_key(KEY): STATIC})
    assert authenticator.cached(f"Bearer {KEY}") == STATIC
    assert authenticator.cached(f"Bearer {KEY}x") is None  # unknown: authenticate decides
    assert authenticator.cached(None) is None  # no credentials: authenticate says so
    with pytest.raises(UnauthorizedError, match="Bearer"):
        authenticator.cached("Basic eA==")
