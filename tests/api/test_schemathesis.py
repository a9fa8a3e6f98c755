"""Schemathesis against the app's own OpenAPI schema: no request the schema allows gets a 5xx.

The app runs on fake (instant) engines, built once for the module; schemathesis fuzzes every
operation of its ``/openapi.json`` in-process (ASGI: the app's lifespan starts on the first
request and stops when the module ends), stateless, a bounded number of examples each.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from tests.support.app import fake_container, make_settings

MAX_EXAMPLES = 25

_DATA_DIR = Path(tempfile.mkdtemp(prefix="callytics-schemathesis-"))
app = create_app(container=fake_container(make_settings(_DATA_DIR)))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def _stop_app() -> Iterator[None]:
    yield
    asgi.shutdown_lifespans()
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
