"""The pure helpers of bench/speed.py (no models, no timing)."""

from __future__ import annotations

import json

import pytest

from bench.speed_report import (
    MARKER,
    ModelResult,
    aggregate,
    calls_per_hour,
    check_targets,
    fmt_x,
    median,
    non_asr_share,
    parse_child_output,
    per_file,
    rtf,
    stage_cell,
    table,
)


def test_rtf_is_audio_over_wall() -> None:
    assert rtf(60.0, 15.0) == 4.0
    assert rtf(30.0, 0.0) is None
    assert rtf(30.0, -1.0) is None


def test_median() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1, 2, 3, 4]) == 2.5
    assert median(x for x in (5.0,)) == 5.0
    with pytest.raises(ValueError):
        median([])


def test_format_helpers() -> None:
    assert fmt_x(None) == "-"
    assert fmt_x(264.4) == "264x"
    assert fmt_x(1234.0) == "1,234x"
    assert fmt_x(26.44) == "26.4x"
    assert fmt_x(4.213) == "4.21x"
    assert stage_cell(60.0, None) == "-"
    assert stage_cell(60.0, 0.004) == "<0.01"
    assert stage_cell(60.0, 0.5) == "0.50 (120x)"
    assert table(["a", "b"], [[1, "x"]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | x |"]


def test_calls_per_hour_and_non_asr_share() -> None:
    assert calls_per_hour(6, 60.0) == 360.0
    with pytest.raises(ValueError):
        calls_per_hour(1, 0.0)
    assert non_asr_share(12.0, 10.0) == pytest.approx(0.2)
    assert non_asr_share(9.0, 10.0) == 0.0  # never negative
    assert non_asr_share(1.0, 0.0) is None


def test_targets_met() -> None:
    rows = check_targets(4.0, 0.25, 1_999_999_999)
    assert [r.status for r in rows] == ["met", "met", "met"]
    assert rows[0].figure == "4.00x"
    assert rows[1].figure == "25.0%"
    assert rows[2].figure == "2.00 GB"


def test_targets_not_met() -> None:
    rows = check_targets(3.99, 0.2501, 2_000_000_000, note="slowest: a.wav 3.1x")
    assert [r.status for r in rows] == ["not met", "not met", "not met"]
    assert rows[0].figure == "3.99x (slowest: a.wav 3.1x)"
    assert [r.met for r in rows] == [False, False, False]


def test_targets_not_measured() -> None:
    rows = check_targets(None, None, None)
    assert [r.status for r in rows] == ["not measured"] * 3
    assert all(r.figure == "n/a" for r in rows)
    assert "(base)" in rows[0].target


def test_parse_child_output_takes_the_last_marker_line() -> None:
    out = "\n".join(
        [
            "some library chatter",
            MARKER + json.dumps({"load_s": 1}),
            "more chatter",
            MARKER + json.dumps({"load_s": 2, "files": []}),
            "",
        ]
    )
    assert parse_child_output(out) == {"load_s": 2, "files": []}


@pytest.mark.parametrize("out", ["", "no result here\n", MARKER + "[1, 2]\n"])
def test_parse_child_output_refuses_missing_or_bad(out: str) -> None:
    with pytest.raises(ValueError):
        parse_child_output(out)


def test_parse_child_output_refuses_broken_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_child_output(MARKER + "{not json\n")


def test_per_file_and_aggregate_pair_pipeline_with_peer() -> None:
    pipeline = {
        "load_s": {},
        "files": [
            {
                "file": "/x/call.wav",
                "audio_s": 80.0,
                "channels": 2,
                "method": "channel",
                "words": 10,
                "wall_s": [9.0, 8.0, 10.0],
                "stages": {"asr": [6.0, 7.0, 8.0], "diarization": [0.5, 0.5, 0.5]},
            },
            {
                "file": "/x/mono.wav",
                "audio_s": 20.0,
                "channels": 1,
                "method": "clustering",
                "words": 3,
                "wall_s": [2.0],
                "stages": {"asr": [1.5]},
            },
        ],
    }
    peer = {
        "load_s": 0.1,
        "files": [
            {"file": "/x/mono.wav", "decode_s": [0.1], "asr_s": [1.4], "words": 3},
            {
                "file": "/x/call.wav",
                "decode_s": [0.1, 0.2, 0.3],
                "asr_s": [6.9, 6.0, 7.7],
                "words": 11,
            },
        ],
    }
    rows = per_file(ModelResult("base", pipeline, 1, peer, 1))
    assert [r["name"] for r in rows] == ["call.wav", "mono.wav"]
    call, mono = rows
    assert call["per_channel"] and not mono["per_channel"]
    assert call["wall_s"] == 9.0
    assert call["stages"] == {"asr": 7.0, "diarization": 0.5}
    assert call["peer_asr_s"] == 6.9
    assert call["peer_wall_s"] == pytest.approx(7.0)  # median of per-run decode + transcribe
    assert (call["words"], call["peer_words"]) == (10, 11)
    assert aggregate(rows) == (100.0, 11.0, 8.5)
