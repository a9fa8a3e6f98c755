"""The web UI on a server with authentication on: the page asks for a key when the API
answers 401, uses it for REST, the audio, downloads and the subscription's connection_init,
and a viewer's key cannot upload (the page says so). Fake (instant) engines: the point is
the credentials, not the models."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from api.app import create_app
from core.access.auth import hash_key
from tests.support.app import LiveServer, fake_container, make_settings, wav_bytes
from tests.ui.conftest import drop_files, screenshot, wait_for_audio

ANALYST_KEY = "cly_0000a11a_an-analyst-key-for-the-web-ui-tests"
VIEWER_KEY = "cly_0000b22b_a-viewer-key-for-the-web-ui-tests"
ADMIN_KEY = "cly_0000c33c_an-admin-key-for-the-web-ui-tests"


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path,
        api_keys=",".join(
            [
                f"ui:analyst:{hash_key(ANALYST_KEY)}",
                f"wall:viewer:{hash_key(VIEWER_KEY)}",
                f"boss:admin:{hash_key(ADMIN_KEY)}",
            ]
        ),
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
    wait_for_audio(page)
    assert page.evaluate("document.getElementById('player').src").startswith("blob:")
    with page.expect_download() as caught:
        page.locator(".downloads button[data-format='vtt']").click()
    assert caught.value.suggested_filename == "call.vtt"


def test_a_viewer_cannot_upload_and_is_told_why(page, server):
    from playwright.sync_api import expect

    item = upload_as(page, server, VIEWER_KEY)
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


def test_a_call_is_analysed_again_and_deleted_by_the_roles_allowed(page, server):
    from playwright.sync_api import expect

    call_id = open_call(page, server, ANALYST_KEY)
    before = audit_of(server, call_id)
    page.get_by_role("button", name="Analyse again").click()
    # The page follows the new job, says so, and draws the call anew when it is done.
    expect(page.locator("#announcer")).to_have_text("call.wav was analysed again.")
    expect(page.get_by_role("button", name="Analyse again")).to_be_enabled()
    after = audit_of(server, call_id)
    assert after["updated_at"] > before["updated_at"]
    assert after["updated_by"] == "env:ui"

    # An analyst may not delete: the page says which role it takes.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete call").click()
    expect(page.locator("#call-action-status")).to_contain_text(re.compile("admin", re.I))

    page.get_by_role("button", name="API key (set)").click()
    sign_in(page, ADMIN_KEY)
    expect(page.get_by_role("heading", level=1)).to_have_text("call.wav")
    dismissed: list[str] = []
    page.once("dialog", lambda dialog: (dismissed.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete call").click()
    assert dismissed and "call.wav" in dismissed[0]
    expect(page).to_have_url(re.compile(r"#/calls/"))  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete call").click()
    expect(page).to_have_url(re.compile(r"#/calls$"))
    expect(page.locator("#calls-table caption")).to_contain_text("No calls")
    gone = httpx.get(f"{server.url}/v1/calls/{call_id}", headers=bearer(ADMIN_KEY), timeout=30)
    assert gone.status_code == 410


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def audit_of(server: LiveServer, call_id: str) -> dict[str, str]:
    reply = httpx.get(f"{server.url}/v1/calls/{call_id}/audit", headers=bearer(ADMIN_KEY))
    assert reply.status_code == 200, reply.text
    return reply.json()


def upload_as(page, server, key: str, name: str = "call.wav", seconds: float = 6.0):
    """Sign in with ``key`` on the upload page (its list of running jobs asks for one) and
    drop a call there; its list item."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/upload")
    sign_in(page, key)
    expect(page.get_by_role("dialog")).to_be_hidden()
    drop_files(page, "#dropzone", [(name, wav_bytes(seconds), "audio/wav")])
    return page.locator("#uploads > li", has_text=name)


def open_call(page, server, key: str) -> str:
    """Upload a call through the page as ``key`` and open it; its id."""
    from playwright.sync_api import expect

    item = upload_as(page, server, key)
    expect(item).to_have_attribute("data-status", "succeeded")
    call_id = item.get_attribute("data-call")
    item.get_by_role("link", name="Open call.wav").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("call.wav")
    return call_id


def test_a_recording_over_the_size_limit_is_refused_with_the_limit(page, server):
    from playwright.sync_api import expect

    item = upload_as(page, server, ANALYST_KEY, "long.wav", seconds=200.0)  # 6.4 MB; max 5
    expect(item).to_have_attribute("data-status", "refused")
    expect(item.get_by_role("alert")).to_contain_text("5 MB")
