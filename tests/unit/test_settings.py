"""`.env.example` documents every setting, and every name in it is a real setting."""

import re
from pathlib import Path

import pytest

from bootstrap.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_exactly_the_settings():
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - named == set(), "settings missing from .env.example"
    assert named - fields == set(), ".env.example names settings that do not exist"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://app:s3cret@db:5432/x", "postgresql+psycopg://app:***@db:5432/x"),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("sqlite:///./data/callytics.db", "sqlite:///./data/callytics.db"),
        ("redis://cache:6379", "redis://cache:6379"),
        (None, ""),
    ],
)
def test_urls_are_printed_without_their_password(url, shown):
    from bootstrap.settings import redacted

    assert redacted(url) == shown


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/v1/calls?api_key=cly_1_abc&limit=5", "/v1/calls?api_key=***&limit=5"),
        ("/v1/search?q=key&token=eyJ.a.b", "/v1/search?q=key&token=***"),
        ("/v1/search?q=monkey", "/v1/search?q=monkey"),
        ("/ui/?Authorization=Bearer%20x#top", "/ui/?Authorization=***#top"),
    ],
)
def test_the_access_log_strips_credentials_from_query_strings(path, logged):
    from bootstrap.tracing import strip_credentials

    assert strip_credentials(path) == logged
