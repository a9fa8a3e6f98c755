"""Engine and sessions; schema upgrades through Alembic.

A PostgreSQL server that restarts breaks the pooled connections: each is checked before use
(``pool_pre_ping``) and replaced. While the server cannot be reached at all, a unit of work
raises :class:`DatabaseUnavailableError` (HTTP 503, ``database_unavailable``) rather than the
driver's error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DatabaseUnavailableError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


MIGRATION_LOCK = 72614  # pg_advisory_xact_lock key (repositories.search uses 72615)
# SQLSTATEs of a server that is not there: connection exceptions (class 08), shut down by an
# administrator or a crash, starting up or shutting down.
UNREACHABLE_STATES = ("57P01", "57P02", "57P03")


def unreachable(exc: BaseException) -> bool:
    """Whether a PostgreSQL error says the server is not there (rather than the SQL is wrong).

    A failed connect carries no SQLSTATE; a connection the server ended is "invalidated".
    """
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith("08") or state in UNREACHABLE_STATES


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs = {"connect_args": {"check_same_thread": False}}
        self.engine: Engine = create_engine(self.url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error. A server that cannot
        be reached raises :class:`DatabaseUnavailableError`."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                down = self.dialect == "postgresql" and unreachable(exc)
                try:
                    session.rollback()
                except DBAPIError:
                    if not down:
                        raise
                if down:  # the driver's words (host, port) stay in the chain, for the logs
                    raise DatabaseUnavailableError(
                        "The database cannot be reached (it is restarting or down).",
                        "Try again shortly.",
                    ) from exc
                raise

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            if self.dialect == "postgresql":
                # API and worker processes start together: one migrates, the others wait
                # (the lock ends with this transaction) and then find the schema current.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

    def dispose(self) -> None:
        self.engine.dispose()
