"""Who is asking, and may they: API keys, JWT bearer tokens and three roles.

- **API keys** (``cly_<id>_<secret>``) are shown once when created and stored only as a
  SHA-256 hash (a key is 256 random bits, so a fast hash is as safe as a slow one), in the
  ``api_keys`` table (``callytics keys create|list|revoke``) or, for deployments configured
  by environment, in ``API_KEYS`` as ``name:role:sha256`` entries.
- **JWT bearer tokens** are HS256, signed with ``JWT_SECRET``; ``exp`` is required and
  checked, ``role`` names the role (``viewer`` when absent), ``sub`` the user.
- **Roles** are ordered: ``viewer`` reads, ``analyst`` also uploads and re-analyses,
  ``admin`` also deletes calls and manages keys.

Authentication is on as soon as any of these is configured: ``JWT_SECRET``, ``API_KEYS``,
or a key in the table (revoked ones count, so revoking the last key never opens the
service). With none, every request is the local administrator, and the server binds to
loopback only (:func:`check_bind`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from ipaddress import ip_address
from typing import Literal

from cachetools import TTLCache
from pydantic import BaseModel, ConfigDict

from core.errors import ForbiddenError, InvalidInputError, NotFoundError, UnauthorizedError
from core.persistence.database import Database
from core.persistence.unit_of_work import UnitOfWork

KEY_PREFIX = "cly_"
# A verified key is remembered this long: a revocation takes effect within it everywhere.
KEY_CACHE_TTL_S = 5.0
JWT_ALGORITHM = "HS256"
JWT_LEEWAY_S = 30
JWT_MAX_TTL_S = 24 * 3600.0  # the longest a token may live (JWT_MAX_TTL_S)


class AccessRole(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: object) -> AccessRole:
        try:
            return cls(str(value).lower())
        except ValueError:
            roles = ", ".join(r.value for r in cls)
            raise InvalidInputError(f"Unknown role {value!r}.", f"Use one of: {roles}.") from None


_RANK = {AccessRole.VIEWER: 1, AccessRole.ANALYST: 2, AccessRole.ADMIN: 3}
# What each role may do, in words, for error messages.
ACTIONS = {
    AccessRole.VIEWER: "read calls, jobs and search",
    AccessRole.ANALYST: "upload and re-analyse calls",
    AccessRole.ADMIN: "delete calls and manage API keys",
}


@dataclass(frozen=True)
class Principal:
    """The caller: ``actor`` is what audit fields record (``key:<id>``, ``jwt:<sub>``)."""

    actor: str
    role: AccessRole
    method: Literal["api_key", "jwt", "none"]
    name: str = ""

    def can(self, needed: AccessRole) -> bool:
        return self.role.rank >= needed.rank

    def require(self, needed: AccessRole) -> Principal:
        if not self.can(needed):
            raise ForbiddenError(
                f"The {self.role.value} role cannot {ACTIONS[needed]}.",
                f"Use a key or token with the {needed.value} role (or higher).",
            )
        return self

    @property
    def rate_key(self) -> str | None:
        """Whose budget a rate-limited request spends; None (no limit) for the local admin."""
        return None if self.method == "none" else self.actor


LOCAL_ADMIN = Principal(actor="local", role=AccessRole.ADMIN, method="none", name="local")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its public id (the part shown in listings and audit fields)."""
    key_id = secrets.token_hex(4)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


class KeyInfo(BaseModel):
    """An API key as listed (never the key itself): ``callytics keys list`` and REST's
    ``/v1/keys`` show these fields."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    name: str
    role: AccessRole
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    info: KeyInfo
    key: str  # shown once, never stored


class ApiKeyStore:
    """The ``api_keys`` table: create, list, revoke, and look a presented key up by hash."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, name: str, role: AccessRole, created_by: str = "cli") -> IssuedKey:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInputError("A key needs a name of 1 to 100 characters.")
        key_id, key = new_key()
        with UnitOfWork(self.database) as uow:
            row = uow.api_keys.add(
                key_id, name=name, role=role.value, key_sha256=hash_key(key), created_by=created_by
            )
            return IssuedKey(KeyInfo.model_validate(row), key)

    def list(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        with UnitOfWork(self.database) as uow:
            rows = uow.api_keys.all(include_revoked=include_revoked)
            return [KeyInfo.model_validate(row) for row in rows]

    def revoke(self, key_id: str, revoked_by: str = "cli") -> KeyInfo:
        with UnitOfWork(self.database) as uow:
            row = uow.api_keys.get(key_id.removeprefix(KEY_PREFIX))
            if row is None:
                raise NotFoundError(
                    f"No API key {key_id}.", "List keys with `callytics keys list`."
                )
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
                row.revoked_by = revoked_by
            uow.flush()
            return KeyInfo.model_validate(row)

    def any(self) -> bool:
        with UnitOfWork(self.database) as uow:
            return uow.api_keys.any()

    def lookup(self, key: str) -> Principal | None:
        """The principal of an active key, or None; records when the key was last used."""
        digest = hash_key(key)
        with UnitOfWork(self.database) as uow:
            row = uow.api_keys.by_hash(digest)
            if row is None or row.revoked_at is not None:
                return None
            row.last_used_at = datetime.now(UTC)
            return Principal(f"key:{row.id}", AccessRole(row.role), "api_key", row.name)


def parse_static_keys(spec: str | None) -> dict[str, Principal]:
    """``API_KEYS``: comma-separated ``name:role:sha256`` entries (``callytics keys create
    --env`` prints one). Plain keys are refused: the environment holds hashes only."""
    keys: dict[str, Principal] = {}
    for entry in filter(None, (part.strip() for part in (spec or "").split(","))):
        parts = entry.split(":")
        if len(parts) != 3 or len(parts[2]) != 64:
            raise InvalidInputError(
                f"API_KEYS entry {entry[:12]}… is not name:role:sha256.",
                "Create entries with `callytics keys create NAME --role ROLE --env`.",
            )
        name, role, digest = parts
        keys[digest.lower()] = Principal(f"env:{name}", AccessRole.parse(role), "api_key", name)
    return keys


class TokenCodec:
    """HS256 JWTs signed with ``JWT_SECRET``."""

    def __init__(self, secret: str, max_ttl_s: float = JWT_MAX_TTL_S) -> None:
        """``max_ttl_s``: tokens that live longer (from ``iat``, or from now without it) are
        refused, whoever signed them, so a leaked token cannot be good for years."""
        if len(secret) < 16:
            raise InvalidInputError(
                "JWT_SECRET is too short to sign tokens safely.",
                "Use at least 32 random characters, e.g. `openssl rand -hex 32`.",
            )
        self.secret = secret
        self.max_ttl_s = max_ttl_s

    def issue(self, subject: str, role: AccessRole, ttl_s: float = 3600.0) -> str:
        import jwt

        if ttl_s > self.max_ttl_s:
            raise InvalidInputError(
                f"A token may live {self.max_ttl_s:.0f} s at most, not {ttl_s:.0f} s.",
                "Ask for a shorter --ttl, or raise JWT_MAX_TTL_S.",
            )
        now = int(time.time())
        claims = {"sub": subject, "role": role.value, "iat": now, "exp": now + int(ttl_s)}
        return jwt.encode(claims, self.secret, algorithm=JWT_ALGORITHM)

    def verify(self, token: str) -> Principal:
        import jwt

        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "sub"]},
                leeway=JWT_LEEWAY_S,
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError(
                "The bearer token has expired.", "Get a new token and send it again."
            ) from None
        except jwt.InvalidTokenError as exc:
            raise UnauthorizedError(
                f"The bearer token is not valid ({exc}).",
                "Send a token signed with this server's JWT_SECRET, with `sub` and `exp`.",
            ) from None
        lifetime = float(claims["exp"]) - float(claims.get("iat", time.time()))
        if lifetime > self.max_ttl_s + JWT_LEEWAY_S:
            raise UnauthorizedError(
                f"The bearer token lives {lifetime / 3600:.1f} h, longer than this server "
                f"accepts ({self.max_ttl_s / 3600:.1f} h).",
                "Get a token that expires sooner.",
            )
        subject = str(claims["sub"])
        try:
            role = AccessRole.parse(claims.get("role", "viewer"))
        except InvalidInputError as exc:
            raise UnauthorizedError(f"The bearer token's role is not valid: {exc}") from None
        return Principal(f"jwt:{subject}", role, "jwt", subject)


class Authenticator:
    """Turns the credentials on a request into a :class:`Principal`, or refuses them."""

    def __init__(
        self,
        *,
        keys: ApiKeyStore | None = None,
        static_keys: dict[str, Principal] | None = None,
        tokens: TokenCodec | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.keys = keys
        self.static_keys = static_keys or {}
        self.tokens = tokens
        self._enabled = enabled
        self._verified: TTLCache[str, Principal] = TTLCache(maxsize=4096, ttl=KEY_CACHE_TTL_S)

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = bool(
                self.tokens or self.static_keys or (self.keys is not None and self.keys.any())
            )
        return self._enabled

    def refresh(self) -> None:
        """Look again at whether keys exist (after ``keys create`` in this process)."""
        self._enabled = None
        self._verified.clear()

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        """From an ``Authorization: Bearer …`` value or an ``X-API-Key`` value."""
        if not self.enabled:
            return LOCAL_ADMIN
        credential = api_key or _bearer(authorization)
        if not credential:
            raise UnauthorizedError(
                "This server requires authentication.",
                "Send `Authorization: Bearer <API key or JWT>` (or `X-API-Key: <key>`).",
            )
        if credential.startswith(KEY_PREFIX):
            return self._key(credential)
        if credential.count(".") == 2 and self.tokens is not None:
            return self.tokens.verify(credential)
        raise UnauthorizedError(
            "The credentials are not an API key or token this server knows.",
            "API keys start with cly_; tokens are JWTs signed with JWT_SECRET.",
        )

    def cached(self, authorization: str | None, api_key: str | None = None) -> Principal | None:
        """What :meth:`authenticate` would answer, when that needs no I/O: authentication
        off, a key verified within ``KEY_CACHE_TTL_S`` or configured, or a JWT (a signature
        check). None when it would have to ask the database (an unknown key, or whether any
        key exists not yet known); raises as :meth:`authenticate` does for bad credentials."""
        if self._enabled is None and not (self.tokens or self.static_keys or self.keys is None):
            return None  # whether any key exists is the store's to say
        if not self.enabled:
            return LOCAL_ADMIN
        credential = api_key or _bearer(authorization)
        if not credential:
            return None
        if credential.startswith(KEY_PREFIX):
            digest = hash_key(credential)
            return self._verified.get(digest) or self.static_keys.get(digest)
        return self.authenticate(authorization, api_key)

    def _key(self, key: str) -> Principal:
        digest = hash_key(key)
        if (found := self._verified.get(digest)) is not None:
            return found
        principal = self.static_keys.get(digest)
        if principal is None:
            # Only positive answers are cached: an unknown key is looked up every time.
            principal = self.keys.lookup(key) if self.keys is not None else None
        if principal is None:
            raise UnauthorizedError(
                "The API key is not valid (unknown or revoked).",
                "Ask an administrator for a key (`callytics keys create`).",
            )
        self._verified[digest] = principal
        return principal


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise UnauthorizedError(
            "The Authorization header must be `Bearer <API key or JWT>`.",
            "Send the key or token after the word Bearer.",
        )
    return value.strip()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(hosts: Iterable[str], authenticator: Authenticator, *, allow_open: bool) -> str:
    """Refuse to listen beyond loopback without authentication; say what is exposed.

    Returns the line to print at start-up.
    """
    public = [h for h in hosts if not is_loopback(h)]
    if authenticator.enabled:
        return "Authentication is on: every request needs an API key or a JWT."
    if public and not allow_open:
        raise InvalidInputError(
            f"Refusing to listen on {', '.join(public)} without authentication: anyone who "
            "can reach it could read and delete calls.",
            "Create a key (`callytics keys create NAME --role admin`) or set JWT_SECRET; or "
            "bind to 127.0.0.1; or, behind a proxy that authenticates, pass "
            "--allow-unauthenticated.",
        )
    if public:
        return (
            "WARNING: authentication is off and the server listens on "
            f"{', '.join(public)} (--allow-unauthenticated)."
        )
    return "Authentication is off (no keys, no JWT_SECRET): listening on loopback only."


class ServiceToken:
    """The API's own short-lived token for calling the gRPC stages (role analyst), signed
    with the ``JWT_SECRET`` they share, and signed again a minute before it expires."""

    def __init__(self, codec: TokenCodec, subject: str = "callytics-api", ttl_s: float = 600.0):
        self.codec = codec
        self.subject = subject
        self.ttl_s = ttl_s
        self._token = ""
        self._renew_at = 0.0

    def __call__(self) -> str:
        now = time.time()
        if now >= self._renew_at:
            self._token = self.codec.issue(self.subject, AccessRole.ANALYST, self.ttl_s)
            self._renew_at = now + max(self.ttl_s - 60.0, self.ttl_s / 2)
        return self._token
