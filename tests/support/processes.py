"""Real processes for the scale-out and restart tests: `callytics serve` and `callytics worker`.

No waiting loops: the server gets a socket that is already listening (``--fd``), so a client
connects at once and its request is answered as soon as the app has started; a worker is
ready when it says so on stderr, which the test reads line by line.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def callytics_command() -> list[str]:
    exe = shutil.which("callytics", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "api.cli"]


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("USE_", "JOB_", "REDIS_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_WAIT_POLICY="PASSIVE",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def embedded_env(home: Path, **overrides: str) -> dict[str, str]:
    """``child_env`` for a server on the embedded defaults, all kept under ``home``: SQLite,
    stored audio, the model cache, the tiny ASR model (the point is plumbing) and the local
    analyser."""
    defaults = {
        "DATABASE_URL": f"sqlite:///{home}/callytics.db",
        "STORAGE_DIR": str(home / "audio"),
        "MODEL_CACHE_DIR": str(home / "models"),
        "ASR_MODEL": "tiny.en",
        "LLM_PROVIDER": "rules",
    }
    return child_env(**{**defaults, **overrides})


class ServeProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self) -> ServeProcess:
        fd = self.sock.fileno()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [*callytics_command(), "serve", "--fd", str(fd), "--log-level", "warning"],
            env=self.env,
            cwd=ROOT,
            pass_fds=(fd,),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as when a machine dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop()
        self.sock.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class LineReader:
    """Reads a child's output line by line on a thread; ``wait_for`` blocks until a line
    says something (no polling, no sleeps)."""

    name = "the process"

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.reader.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        """Block until the process prints ``text`` (or fail with what it printed)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty as exc:
                raise AssertionError(f"{self.name} never said {text!r}:\n{self.log()}") from exc
            if line is None:
                raise AssertionError(f"{self.name} exited:\n{self.log()}")
            if text in line:
                return

    def log(self) -> str:
        return "".join(self.output)


class WorkerProcess(LineReader):
    name = "worker"

    def __init__(self, env: dict[str, str], *args: str) -> None:
        """``args``: more options for `callytics worker` (``--metrics-port 0``, say)."""
        self.proc = subprocess.Popen(
            [*callytics_command(), "worker", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        super().__init__(self.proc.stderr)

    def kill(self) -> None:
        """SIGKILL, mid-job: no shutdown handler runs, its arq lease is left to expire."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class StageProcess:
    """`callytics stage <name>` on a loopback port; clients wait for it to be SERVING."""

    def __init__(self, stage: str, port: int, env: dict[str, str], log_path: Path) -> None:
        self.stage, self.port, self.log_path = stage, port, log_path
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [*callytics_command(), "stage", stage, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL, mid-call: the client sees the connection drop."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: graceful shutdown
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def run_command(
    command: list[str], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the repository as a user would, capturing what it prints."""
    return subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SUBSCRIPTION = """subscription Progress($jobId: ID!) {
  jobProgress(jobId: $jobId) { seq stage progress status message }
}"""


async def subscribe_job(
    ws_url: str,
    job_id: str,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    timeout: float = 300,
) -> list[dict[str, Any]]:
    """Follow ``jobProgress`` over graphql-transport-ws until ``complete``; returns the events.

    Raises ConnectionClosed if the server goes away first.
    """
    import websockets

    events: list[dict[str, Any]] = []
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"jobId": job_id}},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if message["type"] == "next":
                assert not message["payload"].get("errors"), message
                event = message["payload"]["data"]["jobProgress"]
                events.append(event)
                if on_event is not None:
                    on_event(event)
            elif message["type"] == "complete":
                return events
            elif message["type"] == "error":
                raise AssertionError(f"subscription error: {message}")
