"""`.env.example` documents every setting, and every name in it is a real setting."""

import re
from pathlib import Path

from bootstrap.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_exactly_the_settings():
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - named == set(), "settings missing from .env.example"
    assert named - fields == set(), ".env.example names settings that do not exist"
