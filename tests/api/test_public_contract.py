"""The public contract, frozen: the GraphQL schema (SDL) and the OpenAPI document.

A change to either fails here with a diff. When the change is meant (a new field, a new
endpoint), regenerate the snapshots and commit them with the change, so the review sees
what clients see:

    CALLYTICS_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/api/test_public_contract.py

Written before the redesign of issue 18, which must leave both unchanged.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from api.app import create_app
from api.graphql.schema import build_schema
from tests.support.app import fake_container, make_settings

SNAPSHOTS = Path(__file__).parent / "snapshots"


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("CALLYTICS_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{name} (committed)",
                f"{name} (now)",
                n=2,
            )
        )
        raise AssertionError(f"the public contract changed:\n{diff[:6000]}")


def test_graphql_schema_is_unchanged() -> None:
    check("schema.graphql", str(build_schema()) + "\n")


def test_openapi_document_is_unchanged(tmp_path: Path) -> None:
    app = create_app(container=fake_container(make_settings(tmp_path)), load_models=False)
    check("openapi.json", json.dumps(app.openapi(), indent=1, sort_keys=True) + "\n")
