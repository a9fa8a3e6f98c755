"""bench/profile.py: samples go to the innermost layer they pass through; waits are left out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from bench.profile import by_layer, flame_svg, read_folded

SITE = "/v/lib/python3.11/site-packages"
FOLDED = f"""\
run (/py/asyncio/base_events.py:1);__call__ ({SITE}/uvicorn/protocols/http/httptools_impl.py:2);get_call (/app/api/rest/calls.py:3);document_json (/app/core/calls/catalog.py:4);do_execute ({SITE}/sqlalchemy/engine/default.py:5) 7
run (/py/asyncio/base_events.py:1);__call__ ({SITE}/uvicorn/protocols/http/httptools_impl.py:2);__call__ ({SITE}/opentelemetry/instrumentation/asgi/__init__.py:9) 3
_bootstrap (/py/threading.py:1);_worker (/py/concurrent/futures/thread.py:81);Condition.wait (/py/threading.py:327) 50
run (/py/asyncio/base_events.py:1);__call__ ({SITE}/uvicorn/protocols/http/httptools_impl.py:2) 2
"""


def test_each_sample_goes_to_its_innermost_layer_and_waits_are_left_out(tmp_path: Path):
    path = tmp_path / "x.folded"
    path.write_text(FOLDED)
    stacks = read_folded(path)
    assert by_layer(stacks) == {"database": 7, "tracing": 3, "http server": 2}


def test_the_flame_graph_is_svg_with_every_frame_named(tmp_path: Path):
    path = tmp_path / "x.folded"
    path.write_text(FOLDED)
    svg = flame_svg(read_folded(path), "cached read")
    root = ET.fromstring(svg)
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("do_execute") and "7 samples" in t for t in titles)
    assert "cached read (62 samples)" in svg
