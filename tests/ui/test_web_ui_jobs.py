"""The upload page also follows jobs it did not start: one uploaded by a script over REST
joins the page's list while it runs and advances there to the end. Fake engines, with the
ASR stage held until the test lets it go, so the job is mid-way when the page opens."""

from __future__ import annotations

import httpx

from api.app import create_app
from tests.support.app import GatedTranscriber, LiveServer, fake_container, make_settings, wav_bytes
from tests.ui.conftest import screenshot
from tests.unit.fakes import words_of

WORDS = words_of("thank you for calling how can I help", 0.2) + words_of("my bill is wrong", 4.6)


def test_a_job_started_elsewhere_joins_the_list_and_advances(page, tmp_path):
    from playwright.sync_api import expect

    gated = GatedTranscriber(WORDS)
    app = create_app(container=fake_container(make_settings(tmp_path), transcriber=gated))
    try:
        with LiveServer(app) as server:
            reply = httpx.post(
                f"{server.url}/v1/calls",
                files={"file": ("from-a-script.wav", wav_bytes(6.0), "audio/wav")},
                timeout=60,
            )
            assert reply.status_code == 202, reply.text
            assert gated.entered.wait(30), "the job never reached ASR"

            page.goto(f"{server.url}/ui/#/upload")
            item = page.locator("#uploads > li", has_text="from-a-script.wav")
            expect(item).to_have_attribute("data-status", "running")
            expect(item).to_contain_text("started elsewhere")
            expect(item).to_have_attribute("data-job", reply.json()["job_id"])
            expect(item.locator("[data-stage='diarization']")).to_have_attribute(
                "data-state", "done"
            )
            expect(item.locator("[data-stage='asr']")).to_have_attribute("data-state", "running")
            screenshot(page, "13-upload-job-from-elsewhere")

            gated.gate.set()
            expect(item).to_have_attribute("data-status", "succeeded")
            expect(item.get_by_role("link", name="Open from-a-script.wav")).to_be_visible()

            # Nothing in progress any more: a new tab lists nothing.
            page.evaluate("window.location.reload()")
            expect(page.locator("#no-uploads")).to_be_visible()
            expect(page.locator("#uploads > li")).to_have_count(0)
    finally:
        gated.gate.set()
