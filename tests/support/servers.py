"""Private servers for the fault tests: a redis-server and a PostgreSQL cluster of the test's
own, on free loopback ports, that a test may kill, stop, restart and start again. The shared
servers on 6379 and 5432 are never touched.

Readiness is a condition with a deadline (:func:`tests.support.waiting.wait_until`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.processes import free_port
from tests.support.waiting import wait_until


class RedisServer:
    """``redis-server`` on a free loopback port, no persistence (a restart starts empty)."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self.exe, self.workdir, self.port = exe, Path(workdir), free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        """Start (again, on the same port) and return once it answers PING."""
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        options += ["--appendonly", "no", "--dir", str(self.workdir)]
        options += ["--logfile", str(self.workdir / "redis.log")]
        self.proc = subprocess.Popen([self.exe, *options])
        wait_until(self.answers, 30, f"redis-server on {self.port} answers", diagnose=self.log)
        return self

    def answers(self) -> bool:
        import redis

        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited: {self.log()}")
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the server vanishes with its data, as when its machine dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def log(self) -> str:
        path = self.workdir / "redis.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresCluster:
    """A PostgreSQL cluster of its own (``initdb`` into a temporary directory), served by
    ``pg_ctl`` on a free loopback port (TCP only). As root the server runs as ``postgres``,
    since PostgreSQL refuses to run as root."""

    def __init__(self) -> None:
        initdb, self.pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if initdb is None or self.pg_ctl is None:
            pytest.skip("initdb/pg_ctl are not installed")
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run a cluster")
            self.user = "postgres"
        # Not under pytest's tmp_path: the postgres user must be able to reach it.
        self.root = Path(tempfile.mkdtemp(prefix="callytics-pg-"))
        if self.user is not None:
            shutil.chown(self.root, self.user)
        self.data, self.port = self.root / "data", free_port()
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        reply = subprocess.run(command, user=self.user, capture_output=True, text=True)
        if reply.returncode != 0:
            raise AssertionError(f"{command[:2]} failed: {reply.stdout}{reply.stderr}{self.log()}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        options += " -c fsync=off -c full_page_writes=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-t", "60", "-o", options, *extra, action)  # fmt: skip

    def start(self) -> PostgresCluster:
        """Start, and return once it accepts connections (``pg_ctl -w``)."""
        self._ctl("start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session at once (the clients' connections break)."""
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self._ctl("restart", "-m", mode)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)
