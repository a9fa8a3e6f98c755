"""A small OpenAI-compatible chat server for tests, run by uvicorn on a loopback port.

It answers ``POST /v1/chat/completions`` with an analysis *derived from the transcript it
was sent* (the first customer line, keywords, lines naming a manager...), so a test can tell
that the real request reached it. It records every request, and its ``mode`` makes it
misbehave on purpose: reject ``json_schema`` with a 400, fail with 500, send garbage.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

LINE = re.compile(r"^\[(\d+)\] (AGENT|CUSTOMER|UNKNOWN) \(([^)]*)\): (.*)$")
TOPIC_WORDS = ("refund", "billing", "internet", "router", "delivery", "password")
HOSTILE_WORDS = ("manager", "ridiculous")
SWEAR_WORDS = ("damn", "hell", "bullshit")
THANKS = ("thank", "gracias", "danke")  # a line that thanks is positive, in these languages
BOGUS_INDEXES = (999, -1)
STARTUP_POLLS = 1000
STARTUP_POLL_S = 0.01


class Mode(StrEnum):
    OK = "ok"  # JSON in message.content
    FENCED = "fenced"  # JSON wrapped in ```json fences
    REJECT_SCHEMA = "reject_schema"  # 400 for response_format json_schema, OK otherwise
    REJECT_ALL = "reject_all"  # 400 for everything
    ERROR = "error"  # 500 (retryable) for everything
    GARBAGE = "garbage"  # 200 with prose where the JSON belongs
    GARBAGE_BODY = "garbage_body"  # 200 with an HTML body instead of a completion
    TRUNCATED = "truncated"  # the JSON cut off inside its last field (the token limit)


@dataclass
class Transcript:
    lines: list[tuple[int, str, str, str]]  # (index, ROLE, speaker, text)

    @classmethod
    def from_request(cls, body: dict[str, Any]) -> Transcript:
        user = [m for m in body.get("messages", []) if m.get("role") == "user"]
        content = user[-1]["content"] if user else ""
        lines = []
        for raw in str(content).splitlines():
            m = LINE.match(raw)
            if m:
                lines.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
        return cls(lines)

    def texts(self, role: str) -> list[tuple[int, str]]:
        return [(i, text) for i, r, _, text in self.lines if r == role]


TAXONOMY_WORDS = ("refund", "billing", "delivery", "password reset")


def _hostile(transcript: Transcript) -> list[int]:
    return [i for i, _, _, t in transcript.lines if any(w in t.lower() for w in HOSTILE_WORDS)]


def analysis_for(transcript: Transcript, task: str, bogus_indexes: bool = False) -> dict[str, Any]:
    """A deterministic answer to one task (services/llm/prompt.py), built from the transcript
    lines the server received; with ``bogus_indexes`` it cites lines that do not exist."""
    customer = transcript.texts("CUSTOMER")
    first = customer[0][1] if customer else ""
    last = customer[-1][1].lower() if customer else ""
    everything = " ".join(text.lower() for *_, text in transcript.lines)
    hostile = _hostile(transcript) + (list(BOGUS_INDEXES) if bogus_indexes else [])
    if task.startswith("reason:"):
        speakers = {speaker: role.lower() for _, role, speaker, _ in transcript.lines}
        return {
            "reason": first,
            "speakers": [{"speaker": s, "role": r} for s, r in speakers.items() if r != "unknown"],
            "resolution": "resolved" if "thank" in last else "unresolved",
            "conflict": bool(hostile),
            "conflict_lines": hostile,
        }
    if task.startswith("List what someone promised"):
        agent = transcript.texts("AGENT")
        promised = [t for _, t in agent if "I'll" in t or "I will" in t]
        return {"action_items": [{"owner": "agent", "action": t, "due": ""} for t in promised]}
    if task.startswith("sentiment:"):
        labels = []
        for i, _, _, text in transcript.lines:
            lower = text.lower()
            label = "positive" if any(w in lower for w in THANKS) else "neutral"
            if i in hostile:
                label = "negative"
            labels.append({"line": i, "sentiment": label})
        labels += [{"line": i, "sentiment": "negative"} for i in hostile if i < 0 or i > 900]
        return {"sentiment": labels}
    if task.startswith("summary:"):
        listed = [w for w in TAXONOMY_WORDS if w in everything]
        other = [w for w in TOPIC_WORDS if w in everything and w not in listed]
        return {
            "summary": f"The customer opened with: {first}",
            "topics": listed,
            "other_topics": other[:2] or ([] if listed else ["general"]),
        }
    raise ValueError(f"the fake server does not know the task {task[:60]!r}")


QA_LINE = re.compile(r"^\[(\d+)\] (AGENT|CUSTOMER|UNKNOWN) \([^)]*\): (.*)$")
QA_CUES = {
    "greeting": ("calling", "hello"),
    "identity_verification": ("birth", "verify"),
    "empathy": ("understand", "sorry to hear"),
    "apology": ("sorry", "apolog"),
    "resolution_offered": ("i can", "i will", "i'll", "refund"),
    "closing": ("anything else", "bye", "great day"),
}


def qa_for(body: dict[str, Any]) -> dict[str, Any]:
    """A QA judgement from the checklist and transcript sent: each item's first agent line
    with one of its cue words (a stand-in for a model, so a test can tell it answered)."""
    content = next(m["content"] for m in body["messages"] if m.get("role") == "user")
    ids = re.findall(r"^- ([a-z_]+):", content, flags=re.M)  # the checklist, in the task
    agent = [
        (int(m.group(1)), m.group(3).lower())
        for m in map(QA_LINE.match, content.splitlines())
        if m and m.group(2) == "AGENT"
    ]
    items = {
        i: next((n for n, text in agent if any(c in text for c in QA_CUES.get(i, ()))), None)
        for i in ids
    }
    return {"items": items}


def completion(model: str, content: str, number: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _error(status: int, message: str, kind: str) -> JSONResponse:
    # retry-after-ms keeps the client's retries of a 500 fast (it honours the header).
    headers = {"retry-after-ms": "1"} if status >= 500 else {}
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class FakeOpenAIServer:
    models: tuple[str, ...] = ("fake-analyst",)
    mode: Mode = Mode.OK
    bogus_indexes: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _socket: socket.socket | None = None

    # ------------------------------------------------------------------ app

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def list_models() -> dict[str, Any]:
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "tests"} for m in self.models
            ]
            return {"object": "list", "data": data}

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            return self.answer(body)

        return app

    def answer(self, body: dict[str, Any]) -> Response:
        kind = (body.get("response_format") or {}).get("type")
        if self.mode == Mode.ERROR:
            return _error(500, "the fake model crashed", "server_error")
        if self.mode == Mode.REJECT_ALL or (
            self.mode == Mode.REJECT_SCHEMA and kind == "json_schema"
        ):
            return _error(
                400, f"response_format type {kind!r} is not supported", "invalid_request_error"
            )
        if body.get("model") not in self.models:
            return _error(404, f"model {body.get('model')!r} not found", "not_found_error")
        if self.mode == Mode.GARBAGE_BODY:
            return PlainTextResponse("<html><body>502 Bad Gateway</body></html>")
        user = [m["content"] for m in body["messages"] if m.get("role") == "user"][-1]
        _, _, task = str(user).partition("\nTask:\n")
        if "QA checklist" in task:
            content = json.dumps(qa_for(body))
        elif task.startswith("The lines below are the summaries"):
            parts = re.findall(r"^Part \d+: (.*)$", str(user), re.M)
            content = json.dumps({"summary": "Merged: " + " ".join(parts)})
        else:
            transcript = Transcript.from_request(body)
            content = json.dumps(analysis_for(transcript, task, self.bogus_indexes))
        if self.mode == Mode.FENCED:
            content = f"Here is the analysis:\n```json\n{content}\n```\n"
        elif self.mode == Mode.GARBAGE:
            content = "Sorry, I cannot produce JSON today. The call was about stuff."
        elif self.mode == Mode.TRUNCATED:
            last = content.rfind(', "')
            content = content[: last + 5] if last > 0 else content[: len(content) // 2]
        return JSONResponse(completion(body["model"], content, len(self.requests)))

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        assert self._socket is not None, "server not started"
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}/v1"

    def reset(self) -> None:
        self.mode = Mode.OK
        self.bogus_indexes = False
        self.requests.clear()
        self.headers.clear()

    def start(self) -> None:
        """Serve on a free loopback port in a background thread; return once it listens."""
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            daemon=True,
            name="fake-openai-server",
        )
        self._thread.start()
        poll = threading.Event()  # never set: its wait() is a bounded, interruptible pause
        for _ in range(STARTUP_POLLS):
            if self._server.started:
                return
            if not self._thread.is_alive():
                break
            poll.wait(STARTUP_POLL_S)
        self.stop()
        raise RuntimeError("the fake OpenAI server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
