"""Where `callytics serve` spends its CPU per request, by layer, under wrk.

    .venv/bin/python -m bench profile [--calls 500] [--connections 50] [--duration 15]
                                      [--seed-dir DIR] [--out DIR] [--rate 200]

Seeds a database as ``bench load`` does and starts `callytics serve`. Then, one endpoint at
a time, wrk drives it with ``--connections`` connections while py-spy samples the server
process (``py-spy record --nonblocking``, raw collapsed stacks): a cached read, a list page,
a search with a new query each request, a search repeating five queries; then an uncached
read against a second server whose memory tier holds one document (``CACHE_MAXSIZE=1``).

Each sample goes to the innermost layer its stack passes through (:data:`LAYERS`: the
first rule whose path fragment a frame's file contains, walking from the leaf up), so a
sample in SQLite under the cache under a route is the database's. The table gives each
layer's CPU per request in microseconds (samples / rate / requests), beside the process's
own CPU per request from /proc (user + system time over the window, every thread). For
each endpoint ``--out`` gets the collapsed stacks (``<name>.folded``, for flamegraph.pl or
speedscope) and an SVG flame graph (``<name>.svg``) drawn from them.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from bench.load import (
    QUERIES,
    Seeded,
    distinct_searches,
    list_paths,
    run_wrk_many,
    search_path,
    seeded_server,
    warm_reads,
    wrk_command,
)

# (layer, fragments of a frame's file path): the first rule a frame matches names its layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("tracing", ("/opentelemetry/", "/fastapi/telemetry/")),
    ("metrics", ("/prometheus_client/", "/api/metrics.py")),
    ("auth", ("/api/auth.py", "/core/access/auth.py", "/fastapi/security/", "/jwt/")),
    ("rate limit", ("/core/access/ratelimit.py",)),
    ("cache", ("/core/adapters/cache.py", "/cachetools/")),
    ("database", ("/sqlalchemy/", "sqlite3", "/psycopg", "/core/persistence/")),
    ("embedding model", ("/torch/", "/sentence_transformers/", "/transformers/", "/tokenizers")),
    ("search ranking", ("/core/calls/search.py", "/numpy/")),
    ("serialization", ("/pydantic", "/json/", "/orjson", "/fastapi/encoders.py")),
    ("thread hop", ("/asyncio/threads.py", "/concurrent/futures/", "/threading.py", "/anyio/")),
    ("dependency injection", ("/fastapi/dependencies/",)),
    ("other middleware", ("/api/limits.py", "/starlette/middleware/")),
    ("routing and handler", ("/starlette/routing.py", "/fastapi/routing.py", "/api/rest/")),
    ("response", ("/starlette/responses.py", "/starlette/datastructures.py")),
    ("http server", ("/uvicorn/", "/h11/", "/httptools/", "/api/serving.py")),
    ("event loop", ("/asyncio/", "/uvloop/", "/selectors.py")),
    ("logging", ("/logging/",)),
    ("application code", ("/core/", "/api/", "/bootstrap/")),
]
OTHER = "other"


def frame_file(frame: str) -> str:
    """``name (path:line)`` -> ``path``."""
    inside = frame.rsplit(" (", 1)[-1].rstrip(")")
    return inside.rsplit(":", 1)[0]


def layer_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        path = frame_file(frame)
        for layer, fragments in LAYERS:
            if any(f in path for f in fragments):
                return layer
    return OTHER


def read_folded(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


# A thread parked here waits (an idle pool thread, the loop's poll): py-spy's --nonblocking
# sampling may still count it as running, so such samples are left out.
WAITING = ("Condition.wait ", "Event.wait ", "EpollSelector.select ", "_worker (")


def waiting(stack: list[str]) -> bool:
    return stack[-1].startswith(WAITING)


def by_layer(stacks: list[tuple[list[str], int]]) -> Counter[str]:
    layers: Counter[str] = Counter()
    for stack, count in stacks:
        if not waiting(stack):
            layers[layer_of(stack)] += count
    return layers


# --- a flame graph from collapsed stacks ------------------------------------------------


def flame_svg(stacks: list[tuple[list[str], int]], title: str, width: int = 1400) -> str:
    """An SVG flame graph (root at the bottom); each frame's full name in its tooltip."""
    tree: dict[str, Any] = {"n": 0, "kids": {}}
    for stack, count in stacks:
        node = tree
        node["n"] += count
        for frame in stack:
            node = node["kids"].setdefault(frame, {"n": 0, "kids": {}})
            node["n"] += count
    total = max(tree["n"], 1)
    row, rects = 16, []
    depth_max = 0

    def walk(node: dict[str, Any], x: float, depth: int) -> None:
        nonlocal depth_max
        for name, kid in sorted(node["kids"].items()):
            w = kid["n"] / total * width
            if w >= 0.3:
                depth_max = max(depth_max, depth)
                rects.append((x, depth, w, name, kid["n"]))
                walk(kid, x, depth + 1)
            x += w

    walk(tree, 0.0, 0)
    height = (depth_max + 3) * row
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="monospace" font-size="11">',
        f'<text x="4" y="12">{html.escape(title)} ({total} samples)</text>',
    ]
    for x, depth, w, name, n in rects:
        y = height - (depth + 1) * row
        hue = 20 + (hash(frame_file(name)) % 40)
        label = html.escape(name.split(" (")[0])
        tip = html.escape(f"{name}: {n} samples, {100 * n / total:.1f}%")
        out.append(
            f'<g><title>{tip}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{row - 1}" fill="hsl({hue},90%,60%)"/>'
        )
        if w > 40:
            chars = int(w / 7)
            out.append(f'<text x="{x + 2:.1f}" y="{y + 11}">{label[:chars]}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


# --- the run ----------------------------------------------------------------------------


def py_spy() -> str:
    """py-spy beside this Python (the venv's), else on PATH; "" when there is none."""
    return (
        shutil.which("py-spy", path=str(Path(sys.executable).parent))
        or shutil.which("py-spy")
        or ""
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile_one(
    bench: Seeded, name: str, paths: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """wrk on ``paths`` while py-spy samples the server; the layer table's row."""
    pid = bench.server.proc.pid
    slug = name.replace(" ", "-")
    folded = args.out / f"{slug}.folded"
    run = wrk_command(
        bench.url,
        paths,
        args.connections,
        args.duration,
        bench.tmp,
        slug,
        min(2, args.connections),
        bench.headers,
        10,
    )
    spy = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(args.rate),
        "--duration",
        str(args.duration),
        "--nonblocking",
        "--full-filenames",
        "--format",
        "raw",
        "-o",
        str(folded),
    ]
    result: dict[str, Any] = {}
    cpu0 = cpu_seconds(pid)
    sampler = subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    worker = threading.Thread(target=lambda: result.update(run_wrk_many({name: run})[name]))
    worker.start()
    worker.join()
    cpu = cpu_seconds(pid) - cpu0
    _, err = sampler.communicate(timeout=120)
    if sampler.returncode != 0:
        raise RuntimeError(f"py-spy exited {sampler.returncode}: {err.decode()[-2000:]}")
    stacks = read_folded(folded)
    (args.out / f"{slug}.svg").write_text(flame_svg(stacks, f"{name}, {args.connections} conns"))
    requests = max(result["requests"], 1)
    layers = by_layer(stacks)
    # py-spy counts a thread waiting for the GIL or a lock as busy, so its samples say how
    # the CPU divides, and /proc how much there is: each layer gets its share of the latter.
    sampled = max(sum(layers.values()), 1)
    cpu_us = cpu / requests * 1e6
    per_request_us = {k: cpu_us * v / sampled for k, v in layers.items()}
    return {
        "endpoint": name,
        "rps": result["requests"] / result["seconds"],
        "p95_ms": result["p95_ms"],
        "cpu_us": cpu_us,
        "layers": per_request_us,
        "samples": sum(layers.values()),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    names = [layer for layer, _ in LAYERS] + [OTHER]
    used = [n for n in names if any(r["layers"].get(n, 0) >= 1 for r in rows)]
    print("| µs of CPU per request | " + " | ".join(r["endpoint"] for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    print("| requests/s | " + " | ".join(f"{r['rps']:,.0f}" for r in rows) + " |")
    print("| p95 ms | " + " | ".join(f"{r['p95_ms']:.1f}" for r in rows) + " |")
    print(
        "| **process CPU (/proc)** | " + " | ".join(f"**{r['cpu_us']:,.0f}**" for r in rows) + " |"
    )
    print("| py-spy samples | " + " | ".join(f"{r['samples']:,}" for r in rows) + " |")
    for layer in used:
        cells = [f"{r['layers'].get(layer, 0):,.0f}" for r in rows]
        print(f"| {layer} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples a second")
    parser.add_argument("--seed-dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("bench/profiles"))
    parser.add_argument(
        "--only",
        help="comma-separated endpoints (cached read, list page, search distinct, search "
        "repeated, uncached read); default all",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None or not py_spy():
        raise SystemExit("wrk and py-spy are needed: make bench-deps")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with seeded_server(args.calls, None, None, seed_dir=args.seed_dir) as bench:
        targets = {
            "cached read": [f"/v1/calls/{i}" for i in bench.ids],
            "list page": list_paths(bench.url, bench.headers),
            "search distinct": distinct_searches(),
            "search repeated": [search_path(q) for q in QUERIES],
        }
        only = {n.strip() for n in args.only.split(",")} if args.only else None
        targets = {n: p for n, p in targets.items() if only is None or n in only}
        if "cached read" in targets:
            warm_reads(bench)  # every document into the memory tier
        for name, paths in targets.items():
            rows.append(profile_one(bench, name, paths, args))
    uncached = {"CACHE_MAXSIZE": "1"}
    with seeded_server(args.calls, None, None, seed_dir=args.seed_dir, extra_env=uncached) as bench:
        paths = [f"/v1/calls/{i}" for i in bench.ids]
        rows.append(profile_one(bench, "uncached read", paths, args))
    print(
        f"{args.calls} calls, SQLite, {args.connections} connections, {args.duration} s per "
        f"endpoint, py-spy at {args.rate} Hz\n"
    )
    print_table(rows)
    print(f"\nflame graphs and collapsed stacks: {args.out}/")


if __name__ == "__main__":
    main()
