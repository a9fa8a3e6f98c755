"""Live calls (issue 19): latency, concurrency, quality and alerts of ``/v1/live``.

    .venv/bin/python -m bench live [--models tiny.en,base] [--max-concurrency 4]
                                   [--calls demo,cancellation] [--concurrency-call cancellation]
                                   [--concurrency-model tiny.en] [--out bench/out/live]
                                   [--quiet-wait 600] [--no-trace]

Renders the synthetic dual-channel calls (``python -m samples demo`` and ``render NAME
--layout stereo``), then for each model starts `callytics serve` as its own process (a fresh
SQLite database and storage directory, ``ASR_MODEL`` = ``LIVE_ASR_MODEL`` = the model, so
the post-call transcript comes from the same model, ``LLM_PROVIDER=rules``; the other
``LIVE_*`` settings come from the environment), creates the category
``cancellation-risk`` (the customer says "cancel") through ``POST /v1/categories``, streams
one short warm-up call, and then streams each call with the simulator of `callytics live
simulate` (api/live_client.py: 100 ms frames at real-time pace), one at a time. After each
call it waits for the post-call job and reads the stored call.

Latency of a word (the words of the ``final`` utterances): the wall-clock time the client
first received it committed (in a ``partial`` with ``committed: true``, or in its
``final``), minus the time its end was due on the line, ``began + word end / speed``
(``began``: when the simulator sent the first frame; ``word end``: the committed word's own
timestamp). Committed words keep their times, so a partial's committed word is matched to
the final word by (channel, start rounded to 10 ms, normalised text). Partial latency: the
first partial that showed the word at all, tentative or not: same channel, same normalised
text, start within 0.5 s (tentative words' times move between decodes), or its commit if
that came first. The simulator sends a frame at the start of the 100 ms it covers, so a
word's last audio reaches the server up to 0.1 s before its end is due.

Concurrency: ``--concurrency-call`` streamed N times at once (N = 2, 3, ... up to
``--max-concurrency``; N = 1 is the latency run) on the ``--concurrency-model`` server. A
level is held when the p95 of final latency is at most 5 s and the lag does not grow: the
median final latency of the calls' last third of words is at most 1 s above their first
third's. It stops at the first level not held. Server lag: stream seconds sent minus the
``duration_s`` of each ``metrics`` event (how far the slower channel's transcript has got).

Quality: WER (bench/scoring.py: the Whisper English normaliser, jiwer, per channel, corpus
over both channels) of the live transcript (the finals of each channel in time order) and
of the post-call transcript (the stored call's utterances by their speaker's channel),
each against the script, and the live one against the post-call one.

Alerts: the time from the end of the customer's first "cancel" (the committed live word's
end, and the stored post-call transcript's) to the arrival of the category alert.

Policy replay: afterwards, with no server running, each model's streaming policy
(core/live/online.py with the server's decode and VAD) is run over both channels of each
call on a virtual real-time clock (:func:`policy_trace`), every VAD and decode timed for
real: the windows decoded, the decode times, Whisper's temperature fallbacks, the compute
one call needs per second of audio (the live streams of one model take turns on it, so 1 /
that bounds the calls one model holds at real time) and the latency the policy and the
model alone give, without the server's other work. It runs in a fresh process.

A shared machine: before each measurement the bench waits (up to ``--quiet-wait`` s) until
the other processes have used under 15% of the CPUs for 5 s, and each row says what share
of the CPUs the server and client used, and what share everything else did meanwhile.
Prints markdown tables for bench/RESULTS.md and writes the raw events to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from api.live_client import Recording, load_recording, simulate
from bench.scoring import ROOT, wer
from core.categories.rules import tokens
from core.live.agreement import normal
from samples.model import CallTruth

CATEGORY = {
    "name": "cancellation-risk",
    "description": "The customer talks about cancelling.",
    "conditions": [{"kind": "phrase", "phrases": ["cancel"], "role": "customer"}],
}
ALERT_WORD = "cancel"
HELD_P95_S = 5.0  # a concurrency level is held while p95 final latency stays under this
HELD_GROWTH_S = 1.0  # ... and the last third's median is at most this above the first's
PARTIAL_MATCH_S = 0.5  # a tentative word is the final one when it starts this close
WARM_UP_S = 8.0
DONE = ("succeeded", "failed")


# --- a shared machine ----------------------------------------------------------------------


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


def process_jiffies(pid: int) -> int:
    """utime + stime + cutime + cstime of ``pid`` (its waited-for children included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(v) for v in fields[11:15])


class CpuWatch:
    """How busy the machine was, and how much of it was neither this process nor ``pids``:
    other people's work on a shared machine, which the figures should not carry."""

    def __init__(self, *pids: int) -> None:
        self.pids = (os.getpid(), *pids)
        self.busy0, self.total0 = machine_jiffies()
        self.ours0 = sum(process_jiffies(p) for p in self.pids)

    def read(self) -> dict[str, float]:
        busy, total = machine_jiffies()
        ours = sum(process_jiffies(p) for p in self.pids)
        total = max(total - self.total0, 1)
        mine = ours - self.ours0
        return {
            "busy": (busy - self.busy0) / total,
            "ours": mine / total,
            "others": max(0.0, (busy - self.busy0 - mine) / total),
        }


def wait_quiet(limit_s: float, *pids: int, under: float = 0.15) -> float:
    """Wait (up to ``limit_s``) until the rest of the machine has been under ``under`` of its
    CPUs for 5 s; returns the share the others used in the last 5 s."""
    deadline = time.monotonic() + limit_s
    while True:
        watch = CpuWatch(*pids)
        time.sleep(5)
        others = watch.read()["others"]
        if others < under:
            return others
        if time.monotonic() > deadline:
            print(f"warning: the machine stayed busy (others {others:.0%}); measuring anyway")
            return others
        print(f"  waiting for a quiet machine (others use {others:.0%} of it)", flush=True)


# --- the recordings ---------------------------------------------------------------------


def render(name: str, out: Path) -> tuple[Path, CallTruth]:
    """``python -m samples demo OUT`` for demo, else ``render NAME OUT --layout stereo``."""
    from samples.__main__ import main as samples_main
    from samples.__main__ import truth_path

    path = out / f"{name}.stereo.wav"
    argv = ["demo", str(path)] if name == "demo" else ["render", name, str(path)]
    if name != "demo":
        argv += ["--layout", "stereo"]
    if samples_main(argv):
        raise SystemExit(f"rendering {name} failed")
    return path, CallTruth.from_json(truth_path(path).read_text(encoding="utf-8"))


def head(recording: Recording, seconds: float) -> Recording:
    fmt = recording.format
    size = int(seconds * fmt.sample_rate) * fmt.frame_bytes
    return Recording(fmt, recording.data[:size])


# --- the server ---------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    model: str
    process: Any
    client: httpx.Client


@contextmanager
def live_server(model: str, workdir: Path) -> Iterator[Server]:
    """`callytics serve` on a fresh database, ``model`` live and post-call, the category made."""
    from tests.support.processes import ServeProcess, child_env

    home = workdir / f"serve-{model}"
    home.mkdir(parents=True, exist_ok=True)
    env = child_env(
        DATABASE_URL=f"sqlite:///{home}/callytics.db",
        STORAGE_DIR=str(home / "audio"),
        ASR_MODEL=model,
        LIVE_ASR_MODEL=model,
        LLM_PROVIDER="rules",
    )
    server = ServeProcess(env, home / "serve.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            client.get("/health/live").raise_for_status()  # waits for the app to start
            client.post("/v1/categories", json=CATEGORY).raise_for_status()
            yield Server(server.url, model, server, client)
    except BaseException:
        print(server.log()[-4000:])
        raise
    finally:
        server.close()


def wait_ready(server: Server, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.client.get("/health/ready").status_code == 200:
            return
        time.sleep(0.5)
    print(f"warning: {server.model} server not ready after {timeout:.0f} s; measuring anyway")


def wait_job(server: Server, job_id: str, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = server.client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in DONE:
            return job
        time.sleep(0.5)
    raise RuntimeError(f"job {job_id} did not finish in {timeout:.0f} s")


def stored_call(server: Server, ended: dict[str, Any]) -> dict[str, Any] | None:
    """The post-call document, once its job has ended (None if it failed)."""
    if not ended.get("job_id"):
        return None
    job = wait_job(server, ended["job_id"])
    if job["status"] != "succeeded":
        print(f"warning: post-call job {ended['job_id']} {job['status']}: {job.get('error')}")
        return None
    reply = server.client.get(f"/v1/calls/{ended['call_id']}")
    reply.raise_for_status()
    return reply.json()


# --- streaming ------------------------------------------------------------------------------


@dataclass
class Streamed:
    """One call as the client saw it: every event with the loop time it arrived."""

    label: str
    began: float  # loop time of the first frame
    speed: float
    seconds: float  # audio streamed
    events: list[tuple[float, dict[str, Any]]]
    ended: dict[str, Any]
    document: dict[str, Any] | None = None  # the stored post-call call

    def of(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in self.events if e.get("type") == kind]

    def due(self, stream_s: float) -> float:
        return self.began + stream_s / self.speed

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "speed": self.speed,
            "seconds": self.seconds,
            "events": [{"t": round(t - self.began, 4), **e} for t, e in self.events],
            "document_utterances": (self.document or {}).get("utterances"),
        }


async def stream(url: str, recording: Recording, speed: float, label: str) -> Streamed:
    loop = asyncio.get_running_loop()
    events: list[tuple[float, dict[str, Any]]] = []
    first: list[float] = []

    def clock() -> float:  # the simulator's first reading is when it sends the first frame
        now = loop.time()
        if not first:
            first.append(now)
        return now

    def on_event(event: dict[str, Any]) -> None:
        events.append((loop.time(), event))

    ended = await simulate(url, recording, speed=speed, on_event=on_event, clock=clock)
    return Streamed(label, first[0], speed, recording.seconds, events, ended)


def stream_many(url: str, recording: Recording, speed: float, n: int, label: str) -> list[Streamed]:
    async def run() -> list[Streamed]:
        return list(
            await asyncio.gather(
                *(stream(url, recording, speed, f"{label}#{i + 1}") for i in range(n))
            )
        )

    return asyncio.run(run())


# --- word latency ---------------------------------------------------------------------------


@dataclass
class WordTiming:
    channel: int
    text: str
    start: float
    end: float
    due: float  # wall time its end was due on the line
    committed_at: float
    seen_at: float

    @property
    def final_s(self) -> float:
        return self.committed_at - self.due

    @property
    def partial_s(self) -> float:
        return self.seen_at - self.due


def _key(channel: int, word: dict[str, Any]) -> tuple[int, float, str]:
    return channel, round(float(word["start"]), 2), normal(word["word"])


def word_timings(s: Streamed) -> list[WordTiming]:
    committed_first: dict[tuple[int, float, str], float] = {}
    seen: dict[int, list[tuple[float, str, float]]] = defaultdict(list)
    finals: list[tuple[float, int, dict[str, Any]]] = []
    for t, event in s.events:
        if event["type"] == "partial":
            channel = event["channel"]
            for w in event["words"]:
                seen[channel].append((t, normal(w["word"]), float(w["start"])))
                if w["committed"]:
                    committed_first.setdefault(_key(channel, w), t)
        elif event["type"] == "final":
            channel = event["channel"]
            finals.extend((t, channel, w) for w in event["utterance"]["words"])
    timings = []
    for t, channel, w in finals:
        committed = min(t, committed_first.get(_key(channel, w), t))
        text, start = normal(w["word"]), float(w["start"])
        shown = [
            at
            for at, other, other_start in seen[channel]
            if other == text and abs(other_start - start) <= PARTIAL_MATCH_S
        ]
        timings.append(
            WordTiming(
                channel,
                w["word"],
                start,
                float(w["end"]),
                s.due(float(w["end"])),
                committed,
                min([committed, *shown]),
            )
        )
    return sorted(timings, key=lambda w: w.end)


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def thirds(values: list[float]) -> tuple[float | None, float | None]:
    """Median of the first and of the last third (values in stream order)."""
    n = len(values) // 3
    if n == 0:
        return None, None
    return statistics.median(values[:n]), statistics.median(values[-n:])


def server_lag(s: Streamed) -> list[tuple[float, float]]:
    """(stream s sent, lag s) at each metrics event: sent minus the transcript's reach."""
    out = []
    for t, event in s.of("metrics"):
        sent = min((t - s.began) * s.speed, s.seconds)
        out.append((sent, sent - float(event["metrics"].get("duration_s") or 0.0)))
    return out


def latency_summary(calls: list[Streamed]) -> dict[str, Any]:
    words = [w for s in calls for w in word_timings(s)]
    final = [w.final_s for w in words]
    partial = [w.partial_s for w in words]
    firsts, lasts = [], []
    lag_first, lag_last = [], []
    for s in calls:
        a, b = thirds([w.final_s for w in word_timings(s)])
        if a is not None and b is not None:
            firsts.append(a)
            lasts.append(b)
        lag = [v for _, v in server_lag(s)]
        a, b = thirds(lag)
        if a is not None and b is not None:
            lag_first.append(a)
            lag_last.append(b)
    mean = lambda xs: statistics.mean(xs) if xs else None  # noqa: E731
    return {
        "calls": len(calls),
        "words": len(words),
        "final_median": pct(final, 50),
        "final_p95": pct(final, 95),
        "final_max": max(final, default=None),
        "partial_median": pct(partial, 50),
        "partial_p95": pct(partial, 95),
        "first_third": mean(firsts),
        "last_third": mean(lasts),
        "lag_first_third": mean(lag_first),
        "lag_last_third": mean(lag_last),
    }


def held(summary: dict[str, Any]) -> bool:
    p95, a, b = summary["final_p95"], summary["first_third"], summary["last_third"]
    return (
        p95 is not None
        and p95 <= HELD_P95_S
        and a is not None
        and b is not None
        and b - a <= HELD_GROWTH_S
    )


# --- quality ------------------------------------------------------------------------------


def by_channel(items: list[tuple[int, float, str]]) -> list[str]:
    """[(channel, start, text)] -> the text of channel 0 and of channel 1, in time order."""
    texts = []
    for channel in (0, 1):
        mine = sorted((start, text) for c, start, text in items if c == channel)
        texts.append(" ".join(text for _, text in mine))
    return texts


def live_texts(s: Streamed) -> list[str]:
    return by_channel(
        [
            (e["channel"], float(e["utterance"]["start"]), e["utterance"]["text"])
            for _, e in s.of("final")
        ]
    )


def document_texts(document: dict[str, Any]) -> list[str]:
    channels = {sp["id"]: sp.get("channel") for sp in document.get("speakers") or []}
    return by_channel(
        [
            (channels.get(u["speaker"]) or 0, float(u["start"]), u["text"])
            for u in document["utterances"]
        ]
    )


def truth_texts(truth: CallTruth) -> list[str]:
    return by_channel([(t.channel or 0, t.start, t.text) for t in truth.turns])


def quality(s: Streamed, truth: CallTruth) -> dict[str, Any]:
    reference, live = truth_texts(truth), live_texts(s)
    out: dict[str, Any] = {"live_wer": wer(reference, live), "post_wer": None, "live_vs_post": None}
    if s.document is not None:
        post = document_texts(s.document)
        out["post_wer"] = wer(reference, post)
        out["live_vs_post"] = wer(post, live)
    return out


# --- alerts ---------------------------------------------------------------------------------


def first_word(words: list[tuple[float, str, float]], wanted: str) -> float | None:
    """The end of the first word (by start) that is ``wanted``; words: (start, text, end)."""
    for _, text, end in sorted(words, key=lambda w: w[0]):
        if tokens(text) == [wanted]:
            return float(end)
    return None


def alert_summary(s: Streamed) -> dict[str, Any]:
    live_words = [
        (float(w["start"]), w["word"], float(w["end"]))
        for _, e in s.of("final")
        if e["utterance"].get("role") == "customer"
        for w in e["utterance"]["words"]
    ]
    post_words = [
        (float(w["start"]), w["word"], float(w["end"]))
        for u in (s.document or {}).get("utterances") or []
        if u.get("role") == "customer"
        for w in u.get("words") or []
    ]
    category = [(t, e["alert"]) for t, e in s.of("alert") if e["alert"].get("category")]
    others = sorted({e["alert"]["kind"] for _, e in s.of("alert")} - {"category"})
    out: dict[str, Any] = {
        "alert_at_s": None,
        "arrived_s": None,
        "live_word_end": first_word(live_words, ALERT_WORD),
        "post_word_end": first_word(post_words, ALERT_WORD),
        "others": others,
    }
    if category:
        t, alert = category[0]
        out["alert_at_s"] = alert.get("at_s")
        out["arrived_s"] = (t - s.began) * s.speed
        for source in ("live", "post"):
            end = out[f"{source}_word_end"]
            out[f"{source}_latency"] = None if end is None else t - s.due(end)
    return out


# --- the policy trace -----------------------------------------------------------------------


def policy_trace(model: str, recording: Recording) -> dict[str, Any]:
    """``model``'s streaming policy over ``recording`` as the server runs it at real time,
    on a virtual clock, every VAD and decode timed for real.

    Both channels' streams share one lock (as the streams of one model do in the server):
    audio arrives in 100 ms frames at the pace it was spoken; a channel with a decode's worth
    of new audio (``min_chunk_s``) pushes all it has received as soon as the lock is free,
    and the clock moves on by the time the push took. A word's latency is the clock when it
    was committed minus its end: the server's policy and compute, without the network,
    events, sentiment and database."""
    from bootstrap.container import _live_transcriber
    from bootstrap.settings import Settings
    from core.live.online import OnlineTranscriber
    from services.asr.streaming import speech_regions

    settings = Settings(_env_file=None, asr_model=model, live_asr_model=model)  # type: ignore[call-arg]
    engine = _live_transcriber(settings)
    asyncio.run(engine.load())
    decodes: list[dict[str, Any]] = []
    vads: list[float] = []
    # Whisper decodes a segment again at a higher temperature when the first result looks
    # poor (faster-whisper's fallback): counted, as each one is another decode.
    fallbacks = [0, 0]  # segments, segments decoded again
    import faster_whisper.transcribe as fw

    generate = fw.WhisperModel.generate_with_fallback

    def counted(self: Any, *a: Any, **k: Any) -> Any:
        out = generate(self, *a, **k)
        fallbacks[0] += 1
        fallbacks[1] += bool(out[2])  # the temperature it settled at
        return out

    fw.WhisperModel.generate_with_fallback = counted  # type: ignore[method-assign]

    def decode(audio: np.ndarray, prompt: str, language: str | None):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        before = fallbacks[1]
        out = engine._decode(audio, prompt, language)
        decodes.append(
            {
                "clock": clock,
                "window_s": len(audio) / 16000,
                "s": time.perf_counter() - t0,
                "fallback": fallbacks[1] > before,
                "words": len(out[0]),
                "text": " ".join(w.text for w in out[0])[:160],
            }
        )
        return out

    def vad(audio: np.ndarray) -> list[tuple[int, int]]:
        t0 = time.perf_counter()
        out = speech_regions(audio)
        vads.append(time.perf_counter() - t0)
        return out

    samples = recording.format.decode(recording.data)
    frame = 1600  # 100 ms at 16 kHz, as the simulator's frames
    total = samples.shape[1]
    need = int(engine.policy.min_chunk_s * 16000)
    streams = [OnlineTranscriber(decode, vad, engine.policy) for _ in samples]
    pushed = [0] * len(streams)
    clock = 0.0
    committed_at: list[tuple[float, float]] = []  # (word end, clock when committed)
    steps: list[tuple[float, int, float]] = []  # (clock, push count, seconds) per push

    def arrived(at: float) -> int:  # samples received by ``at`` (a frame is sent as it starts)
        return min(total, (int(at / 0.1 + 1e-9) + 1) * frame)

    def ready_at(c: int) -> float:  # when channel c has a decode's worth of new audio
        have = streams[c]._pending + arrived(clock) - pushed[c]
        if have >= need or pushed[c] >= total:
            return clock
        frames = -(-(need - have) // frame)
        at = (int(clock / 0.1 + 1e-9) + frames) * 0.1
        return at if at * 16000 < total else total / 16000

    def push(c: int, finish: bool = False) -> None:
        nonlocal clock
        n = len(decodes)
        t0 = time.perf_counter()
        if finish:
            update = streams[c].finish()
        else:
            upto = arrived(clock)
            update = streams[c].push(samples[c, pushed[c] : upto])
            pushed[c] = upto
        took = time.perf_counter() - t0
        steps.append((clock, len(decodes) - n, took))
        clock += took
        committed_at.extend((w.end, clock) for w in update.committed)

    while any(p < total for p in pushed):
        due = sorted((ready_at(c), c) for c in range(len(streams)) if pushed[c] < total)
        clock = max(clock, due[0][0])
        push(due[0][1])
    for c in range(len(streams)):
        push(c, finish=True)
    seconds = [d["s"] for d in decodes]
    windows = [d["window_s"] for d in decodes]
    latency = [at - end for end, at in committed_at]
    thirds_ = thirds([at - end for end, at in sorted(committed_at)])
    per_push = [k for _, k, _ in steps if k]
    return {
        "model": model,
        "decodes": len(decodes),
        "pushes_decoding": len(per_push),
        "decodes_per_push_max": max(per_push, default=0),
        "window_mean": statistics.mean(windows),
        "window_max": max(windows),
        "decode_mean": statistics.mean(seconds),
        "decode_p95": pct(seconds, 95),
        "decode_max": max(seconds),
        "slowest": sorted(decodes, key=lambda d: -d["s"])[:3],
        "segments": fallbacks[0],
        "fallbacks": fallbacks[1],
        "vad_mean": statistics.mean(vads),
        "busy_per_s": (sum(seconds) + sum(vads)) / recording.seconds,
        "audio_s": recording.seconds,
        "end_lag_s": clock - recording.seconds,  # the clock at the end, minus the call
        "final_median": pct(latency, 50),
        "final_p95": pct(latency, 95),
        "first_third": thirds_[0],
        "last_third": thirds_[1],
        "policy": {
            "min_chunk_s": engine.policy.min_chunk_s,
            "endpoint_silence_s": engine.policy.endpoint_silence_s,
            "max_window_s": engine.policy.max_window_s,
            "beam_size": engine.beam_size,
        },
    }


# --- printing -------------------------------------------------------------------------------


def f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def cpu(row: dict[str, Any]) -> str:
    c = row.get("cpu")
    return "-" if not c else f"{c['ours']:.0%} / {c['others']:.0%}"


def print_tables(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n{date.today().isoformat()}, {os.cpu_count()} cores ({cpu_model()})")
    print(f"command: .venv/bin/python -m bench {' '.join(args.argv)}")
    print(
        f"commit {results['commit']} + working tree; live code fingerprint(s) {results['code']}\n"
    )
    print(
        f"Latency, one call at a time at speed {args.speed:g} (1: real time); seconds from a word's end"
    )
    print("on the line to its arrival committed (final) and shown at all (partial).\n")
    print(
        "| model | call | words | final median | final p95 | final max | partial median | "
        "partial p95 | final median, first / last third | server lag, first / last third | "
        "CPU: server+client / others |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in results["latency"]:
        s = row["summary"]
        print(
            f"| {row['model']} | {row['call']} | {s['words']} | {f(s['final_median'])} | "
            f"{f(s['final_p95'])} | {f(s['final_max'])} | {f(s['partial_median'])} | "
            f"{f(s['partial_p95'])} | {f(s['first_third'])} / {f(s['last_third'])} | "
            f"{f(s['lag_first_third'])} / {f(s['lag_last_third'])} | {cpu(row)} |"
        )
    print("\nQuality: WER against the script (Whisper normaliser, both channels), live and")
    print("post-call (the same model, beam as configured: live LIVE_BEAM_SIZE, post-call")
    print("ASR_BEAM_SIZE), and the live transcript against the post-call one.\n")
    print("| model | call | live WER | post-call WER | difference (points) | live vs post-call |")
    print("|---|---|---|---|---|---|")
    for row in results["latency"]:
        q = row["quality"]
        diff = None if q["post_wer"] is None else 100 * (q["live_wer"] - q["post_wer"])
        print(
            f"| {row['model']} | {row['call']} | {percent(q['live_wer'])} | "
            f"{percent(q['post_wer'])} | {f(diff, 1)} | {percent(q['live_vs_post'])} |"
        )
    print(f'\nAlerts: category `{CATEGORY["name"]}` (customer says "{ALERT_WORD}"): the alert\'s')
    print(f'arrival minus the due time of the end of the customer\'s first "{ALERT_WORD}".\n')
    print(
        "| model | call | alert at_s | arrived (stream s) | word end, live | latency | "
        "word end, post-call | latency | other alert kinds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results["latency"]:
        a = row["alerts"]
        print(
            f"| {row['model']} | {row['call']} | {f(a['alert_at_s'])} | {f(a['arrived_s'])} | "
            f"{f(a['live_word_end'])} | {f(a.get('live_latency'))} | {f(a['post_word_end'])} | "
            f"{f(a.get('post_latency'))} | {', '.join(a['others']) or '-'} |"
        )
    if results["concurrency"]:
        c = results["concurrency"]
        print(
            f"\nConcurrency: {c['call']} streamed N times at once, {c['model']}, speed {args.speed:g} "
            f"(held: final p95 <= {HELD_P95_S:g} s and last-third median <= first-third + "
            f"{HELD_GROWTH_S:g} s).\n"
        )
        print(
            "| N | words | final median | final p95 | final max | partial median | "
            "final median, first / last third | server lag, first / last third | "
            "live WER (mean) | CPU: server+client / others | held |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for row in c["levels"]:
            s = row["summary"]
            print(
                f"| {row['n']} | {s['words']} | {f(s['final_median'])} | {f(s['final_p95'])} | "
                f"{f(s['final_max'])} | {f(s['partial_median'])} | {f(s['first_third'])} / "
                f"{f(s['last_third'])} | {f(s['lag_first_third'])} / {f(s['lag_last_third'])} | "
                f"{percent(row['live_wer'])} | {cpu(row)} | {'yes' if row['held'] else 'no'} |"
            )
    if results["trace"]:
        print("\nPolicy replay (no server; bench/live.py:policy_trace): both channels of the")
        print("call on one virtual real-time clock, each push as soon as a decode's worth of")
        print("audio has arrived and the model is free, every VAD and decode timed for real.")
        print(
            "Latency here is the policy's and the model's alone (no events, network, database).\n"
        )
        print(
            "| model | call | decodes (pushes) | most decodes in a push | window mean / max s | "
            "decode mean / p95 / max s | segments decoded again | busy s per audio s | "
            "final median / p95 | first / last third | lag at the end s | CPU others |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for t in results["trace"]:
            print(
                f"| {t['model']} | {t['call']} | {t['decodes']} ({t['pushes_decoding']}) | "
                f"{t['decodes_per_push_max']} | {f(t['window_mean'], 1)} / "
                f"{f(t['window_max'], 1)} | {f(t['decode_mean'])} / {f(t['decode_p95'])} / "
                f"{f(t['decode_max'])} | {t['fallbacks']} of {t['segments']} | "
                f"{f(t['busy_per_s'])} | {f(t['final_median'])} / {f(t['final_p95'])} | "
                f"{f(t['first_third'])} / {f(t['last_third'])} | {f(t['end_lag_s'])} | "
                f"{t['cpu']['others']:.0%} |"
            )
        print("\nSlowest decodes in the replay (clock s, window s, seconds, fell back, words):")
        for t in results["trace"]:
            slow = "; ".join(
                f"{d['clock']:.1f}, {d['window_s']:.1f}, {d['s']:.2f}, "
                f"{'yes' if d['fallback'] else 'no'}, {d['words']}"
                for d in t["slowest"]
            )
            print(f"- {t['model']} {t['call']}: {slow}")
    print(f"\nwall time of the bench: {results['wall_s'] / 60:.1f} min")


# --- the run --------------------------------------------------------------------------------


def measure_model(
    model: str,
    calls: dict[str, tuple[Recording, CallTruth]],
    args: argparse.Namespace,
    workdir: Path,
    results: dict[str, Any],
    raw: dict[str, Any],
) -> None:
    with live_server(model, workdir) as server:
        # Warm-up: loads the live model, VAD, sentiment and the post-call stages.
        first = next(iter(calls.values()))[0]
        warm = stream_many(server.url, head(first, WARM_UP_S), 0, 1, "warm-up")[0]
        stored_call(server, warm.ended)
        wait_ready(server)
        pid = server.process.proc.pid
        for name, (recording, truth) in calls.items():
            wait_quiet(args.quiet_wait, pid)
            t0 = time.perf_counter()
            watch = CpuWatch(pid)
            s = stream_many(server.url, recording, args.speed, 1, f"{model}/{name}")[0]
            cpu = watch.read()
            s.document = stored_call(server, s.ended)
            print(
                f"  {model} {name}: streamed and analysed in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            raw[s.label] = s.to_json()
            results["latency"].append(
                {
                    "model": model,
                    "call": name,
                    "summary": latency_summary([s]),
                    "quality": quality(s, truth),
                    "alerts": alert_summary(s),
                    "cpu": cpu,
                }
            )
            args.save()
        if model != args.concurrency_model or args.max_concurrency < 1:
            return
        name = args.concurrency_call
        recording, truth = calls[name]
        one = next(r for r in results["latency"] if r["model"] == model and r["call"] == name)
        levels = [
            {
                "n": 1,
                "summary": one["summary"],
                "live_wer": one["quality"]["live_wer"],
                "held": held(one["summary"]),
                "cpu": one["cpu"],
            }
        ]
        n = 2
        while levels[-1]["held"] and n <= args.max_concurrency:
            wait_quiet(args.quiet_wait, pid)
            t0 = time.perf_counter()
            watch = CpuWatch(pid)
            streamed = stream_many(server.url, recording, args.speed, n, f"{model}/{name}x{n}")
            cpu = watch.read()
            elapsed = time.perf_counter() - t0
            for s in streamed:
                raw[s.label] = s.to_json()
            for s in streamed:  # the post-call jobs, before the next level starts
                stored_call(server, s.ended)
            summary = latency_summary(streamed)
            levels.append(
                {
                    "n": n,
                    "summary": summary,
                    "live_wer": statistics.mean(quality(s, truth)["live_wer"] for s in streamed),
                    "held": held(summary),
                    "stream_wall_s": elapsed,
                    "cpu": cpu,
                }
            )
            results["concurrency"] = {"model": model, "call": name, "levels": levels}
            args.save()
            print(
                f"  {model} x{n}: final p95 {f(summary['final_p95'])} s, held {levels[-1]['held']}",
                flush=True,
            )
            n += 1
        results["concurrency"] = {"model": model, "call": name, "levels": levels}
        errors = [ln for ln in server.process.log().splitlines() if "Traceback" in ln]
        if errors:
            print(f"server log ({model}): {len(errors)} traceback(s)")


LIVE_CODE = (
    "core/live/*.py",
    "services/asr/streaming.py",
    "services/asr/local.py",
    "core/domain.py",
    "api/live.py",
    "bootstrap/settings.py",
    "bootstrap/container.py",
)


def code_fingerprint() -> str:
    """A hash of the live code as it is on disk now (the tree may be edited during a run)."""
    digest = hashlib.sha256()
    for pattern in LIVE_CODE:
        for path in sorted(ROOT.glob(pattern)):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def run_trace(model: str, path: Path) -> dict[str, Any]:
    """The policy trace in a fresh process: the code it imports is the tree's as it is now."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.live", "--trace-only", model, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"trace {model} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    if sys.argv[1:2] == ["--trace-only"]:
        model, path = sys.argv[2], Path(sys.argv[3])
        print(json.dumps(policy_trace(model, load_recording(path))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--calls", default="demo,cancellation")
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument("--concurrency-model", help="default: the first of --models")
    parser.add_argument(
        "--concurrency-call", help="default: cancellation if in --calls, else the first"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="1: real time")
    parser.add_argument("--no-trace", action="store_true", help="skip the policy replay")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=600,
        help="before each measurement, wait up to this many seconds for the rest of the "
        "machine to go quiet (a shared machine)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "live")
    args = parser.parse_args()
    args.argv = ["live", *sys.argv[1:]]
    models = [m for m in args.models.split(",") if m]
    names = [c for c in args.calls.split(",") if c]
    args.concurrency_model = args.concurrency_model or models[0]
    args.concurrency_call = args.concurrency_call or (
        "cancellation" if "cancellation" in names else names[0]
    )
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    calls = {}
    paths = {}
    for name in names:
        path, truth = render(name, args.out)
        calls[name] = (load_recording(path), truth)
        paths[name] = path
    results: dict[str, Any] = {
        "latency": [],
        "concurrency": None,
        "trace": [],
        "code": [code_fingerprint()],
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "environment": {
            k: v for k, v in os.environ.items() if k.startswith("LIVE_") or k == "ASR_BEAM_SIZE"
        },
    }
    raw: dict[str, Any] = {}

    def save() -> None:  # after every measurement: a failure later keeps what was measured
        fingerprint = code_fingerprint()
        if fingerprint != results["code"][-1]:
            print(f"warning: the live code changed on disk during the run ({fingerprint})")
            results["code"].append(fingerprint)
        results["wall_s"] = time.perf_counter() - started
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        (args.out / "events.json").write_text(json.dumps(raw))

    args.save = save
    with tempfile.TemporaryDirectory(prefix="callytics-live-") as tmp:
        for model in models:
            print(f"{model}: serving (live code {code_fingerprint()})", flush=True)
            measure_model(model, calls, args, Path(tmp), results, raw)
    if not args.no_trace:
        for model in models:
            for name in names:
                wait_quiet(args.quiet_wait)
                watch = CpuWatch()
                try:
                    trace = run_trace(model, paths[name])
                except RuntimeError as exc:
                    print(f"warning: {exc}")
                    continue
                results["trace"].append({**trace, "call": name, "cpu": watch.read()})
                print(f"  replay {model} {name}: {trace['decodes']} decodes", flush=True)
                save()
    save()
    print_tables(results, args)


if __name__ == "__main__":
    main()
