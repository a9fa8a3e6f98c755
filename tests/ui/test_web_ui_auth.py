"""The web UI on a server with authentication on: the page asks for a key when the API
answers 401, uses it for REST, the audio, downloads and the subscription's connection_init,
and a viewer's key cannot upload (the page says so). Fake (instant) engines: the point is
the credentials, not the models."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api.app import create_app
from core.auth import hash_key
from tests.support.app import LiveServer, fake_container, make_settings, wav_bytes
from tests.ui.conftest import drop_files, screenshot

ANALYST_KEY = "cly_0000a11a_an-analyst-key-for-the-web-ui-tests"
VIEWER_KEY = "cly_0000b22b_a-viewer-key-for-the-web-ui-tests"


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path,
        api_keys=f"ui:analyst:{hash_key(ANALYST_KEY)},wall:viewer:{hash_key(VIEWER_KEY)}",
    )
    app = create_app(container=fake_container(settings))
    with LiveServer(app) as live:
        yield live


def sign_in(page, key: str) -> None:
    from playwright.sync_api import expect

    dialog = page.get_by_role("dialog", name="API key or token")
    expect(dialog).to_be_visible()
    dialog.get_by_label("API key or JWT").fill(key)
    dialog.get_by_role("button", name="Use it").click()


def test_the_page_asks_for_a_key_and_uses_it_everywhere(page, server):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/calls")
    expect(page.get_by_role("alert")).to_contain_text("This server asks for an API key")
    screenshot(page, "10-auth-asks-for-a-key")
    sign_in(page, ANALYST_KEY)
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#calls-table caption")).to_contain_text("No calls")
    expect(page.get_by_role("button", name="API key (set)")).to_be_visible()

    page.get_by_role("link", name="Upload").click()
    drop_files(page, "#dropzone", [("call.wav", wav_bytes(10.0), "audio/wav")])
    item = page.locator("#uploads > li", has_text="call.wav")
    # The subscription authenticated with the key in connection_init and saw the job end.
    expect(item).to_have_attribute("data-status", "succeeded")
    item.get_by_role("link", name="Open call.wav").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("call.wav")
    # The recording came through an authenticated fetch (an <audio> cannot send the key).
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').src").startswith("blob:")
    with page.expect_download() as caught:
        page.locator(".downloads button[data-format='vtt']").click()
    assert caught.value.suggested_filename == "call.vtt"


def test_a_viewer_cannot_upload_and_is_told_why(page, server):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/upload")
    page.get_by_role("button", name="API key (not set)").click()
    sign_in(page, VIEWER_KEY)
    drop_files(page, "#dropzone", [("call.wav", wav_bytes(2.0), "audio/wav")])
    item = page.locator("#uploads > li", has_text="call.wav")
    expect(item).to_have_attribute("data-status", "refused")
    expect(item.get_by_role("alert")).to_contain_text(re.compile("analyst", re.I))


def test_a_wrong_key_is_refused_and_can_be_replaced(page, server):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/calls")
    sign_in(page, "cly_00000000_not-a-real-key")
    # Refused: the page says so and the dialog comes back for another try.
    expect(page.get_by_role("alert")).to_contain_text("This API key or token was refused")
    sign_in(page, VIEWER_KEY)
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#calls-table caption")).to_contain_text("No calls")
