"""Transcript exports: timestamp formats, cue layout, escaping, and unknown formats."""

from __future__ import annotations

import json
import re

import pytest

from core.calls.exports import EXPORT_FORMATS, render_transcript, timestamp
from core.errors import InvalidInputError


def utterance(index, speaker, role, start, end, text):
    words = [{"word": w, "start": start, "end": end, "probability": 0.9} for w in text.split()]
    return {
        "index": index,
        "speaker": speaker,
        "role": role,
        "start": start,
        "end": end,
        "text": text,
        "sentiment": {"label": "neutral", "score": 0.0},
        "words": words,
    }


DOCUMENT = {
    "id": "c1",
    "filename": "call.wav",
    "language": "en",
    "utterances": [
        utterance(0, "S1", "agent", 1.2, 3.456, "Thank you for calling."),
        utterance(1, "S2", "customer", 3725.5, 3727.0004, "My <bill> &\nis wrong --> fix"),
    ],
}


@pytest.mark.parametrize(
    ("seconds", "kwargs", "expected"),
    [
        (0, {}, "00:00:00.000"),
        (1.2, {"separator": ","}, "00:00:01,200"),
        (59.9996, {}, "00:01:00.000"),  # rounding carries into the minutes
        (3725.5, {}, "01:02:05.500"),
        (1.206, {"digits": 2}, "00:00:01.21"),
        (-0.4, {}, "00:00:00.000"),
        (360000.0, {}, "100:00:00.000"),
    ],
)
def test_timestamp(seconds, kwargs, expected):
    assert timestamp(seconds, **kwargs) == expected


def test_txt_is_one_line_per_utterance_with_role_and_speaker():
    content, media_type = render_transcript(DOCUMENT, "txt")
    assert media_type.startswith("text/plain")
    assert content.splitlines() == [
        "[00:00:01.20] agent (S1): Thank you for calling.",
        "[01:02:05.50] customer (S2): My <bill> & is wrong --> fix",
    ]


def test_srt_numbers_cues_and_uses_comma_milliseconds():
    content, media_type = render_transcript(DOCUMENT, "srt")
    assert media_type.startswith("application/x-subrip")
    blocks = content.strip("\n").split("\n\n")
    assert blocks == [
        "1\n00:00:01,200 --> 00:00:03,456\nagent (S1): Thank you for calling.",
        "2\n01:02:05,500 --> 01:02:07,000\ncustomer (S2): My <bill> & is wrong -> fix",
    ]


def test_vtt_has_its_header_dot_milliseconds_and_escaped_text():
    content, media_type = render_transcript(DOCUMENT, "vtt")
    assert media_type.startswith("text/vtt")
    header, *cues = content.strip("\n").split("\n\n")
    assert header == "WEBVTT"
    assert cues == [
        "00:00:01.200 --> 00:00:03.456\nagent (S1): Thank you for calling.",
        "01:02:05.500 --> 01:02:07.000\ncustomer (S2): My &lt;bill&gt; &amp; is wrong --&gt; fix",
    ]


def test_json_keeps_utterances_with_their_words():
    content, media_type = render_transcript(DOCUMENT, "json")
    assert media_type == "application/json"
    data = json.loads(content)
    assert data["call_id"] == "c1"
    assert data["language"] == "en"
    assert data["utterances"] == DOCUMENT["utterances"]


def test_a_cue_never_ends_before_it_starts_and_a_missing_role_reads_unknown():
    broken = {"utterances": [{**utterance(0, "S3", None, 5.0, 4.0, "hm"), "role": None}]}
    content, _ = render_transcript(broken, "srt")
    assert "00:00:05,000 --> 00:00:05,000\nunknown (S3): hm" in content


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_an_empty_call_renders_without_cues(fmt):
    content, _ = render_transcript({"id": "c", "utterances": []}, fmt)
    assert not re.search(r"-->|\[\d", content)
    if fmt == "vtt":
        assert content.startswith("WEBVTT")


def test_an_unknown_format_is_invalid_input():
    with pytest.raises(InvalidInputError, match="docx"):
        render_transcript(DOCUMENT, "docx")
