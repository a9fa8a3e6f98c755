"""Checking a call's metadata, whatever its source."""

import pytest

from core.calls.metadata import as_text, merge, parse_metadata
from core.errors import InvalidInputError


def test_known_keys_are_normalised():
    meta = parse_metadata(
        '{"Agent": " a-7 ", "direction": "Inbound", "started_at": "2026-12-01T09:30:00+01:00",'
        ' "team": "", "seats": 3, "vip": true}'
    )
    assert meta == {
        "agent": "a-7",
        "direction": "inbound",
        "started_at": "2026-12-01T08:30:00+00:00",
        "seats": 3,
        "vip": True,
    }  # the empty team is dropped
    assert parse_metadata(None) == {} and parse_metadata("  ") == {}
    assert parse_metadata({"started_at": "2026-12-01 09:30"})["started_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"bad key!": 1}', "not allowed"),
        ('{"team": ["a", "b"]}', "strings, numbers or booleans"),
        ('{"team": {"a": 1}}', "strings, numbers or booleans"),
        ('{"direction": "sideways"}', "inbound or outbound"),
        ('{"started_at": "yesterday"}', "ISO 8601"),
        ('{"note": "' + "x" * 201 + '"}', "at most 200"),
        ('{"note": "bell\\u0007"}', "printable"),
        ("{" + ", ".join(f'"k{i}": 1' for i in range(51)) + "}", "at most 50"),
    ],
)
def test_bad_metadata_says_what_is_wrong(raw, says):
    with pytest.raises(InvalidInputError, match=says) as caught:
        parse_metadata(raw)
    assert caught.value.hint


def test_later_sources_win_and_values_read_as_text():
    assert merge({"agent": "a", "team": "x"}, None, {"team": "y"}) == {"agent": "a", "team": "y"}
    assert [as_text(v) for v in (True, False, 3, 2.5, "q")] == ["true", "false", "3", "2.5", "q"]
