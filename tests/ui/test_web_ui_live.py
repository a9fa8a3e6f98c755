"""The Live view in headless Chromium: a synthetic dual-channel call streamed into a real
`callytics serve` (tiny.en live ASR) at four times its pace shows up in the list of live
calls; its page grows the transcript (partials while a side speaks, finals with their
sentiment), draws the sentiment line, pops the custom category's alert, and when the call
hangs up says so with a link to the stored call."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from api.live_client import load_recording, simulate
from samples import load_script, render_call
from tests.support.processes import ServeProcess
from tests.ui.conftest import screenshot, serving_with

pytestmark = pytest.mark.slow

CATEGORY = {
    "name": "cancellation-risk",
    "description": "The customer wants to cancel",
    "conditions": [{"kind": "phrase", "phrases": ["cancel"], "role": "customer"}],
}
LONG = 120_000  # ms: the live ASR on two slow cores may run behind the audio

# Every partial utterance the page ever showed, as it added them.
PARTIAL_LOG = """
window.__partials = [];
new MutationObserver((records) => {
  for (const r of records) {
    for (const node of r.addedNodes) {
      if (node.classList && node.classList.contains('partial')) {
        window.__partials.push(node.dataset.speaker);
      }
    }
  }
}).observe(document, {subtree: true, childList: true});
"""


@pytest.fixture(scope="module")
def call(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("live-ui") / "cancellation.wav"
    render_call(load_script("cancellation"), path, layout="stereo")  # 16 kHz PCM16, 2 channels
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServeProcess]:
    with serving_with(tmp_path_factory.mktemp("serve-live"), CATEGORY) as process:
        yield process


def test_a_live_call_grows_on_its_page_alerts_and_ends_with_a_link(page, server, call):
    from playwright.sync_api import expect

    page.add_init_script(PARTIAL_LOG)
    page.goto(f"{server.url}/ui/#/live")
    expect(page.get_by_role("heading", level=1)).to_have_text("Live calls")
    expect(page.get_by_role("link", name="Live", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    empty = page.locator("#no-live-calls")
    expect(empty).to_contain_text("No live calls now.")
    expect(empty).to_contain_text("callytics live simulate CALL.wav")
    screenshot(page, "14-live-none")

    started = threading.Event()
    live: dict[str, Any] = {}

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "started":
            live["id"] = event["live_id"]
            started.set()

    # The sync Playwright API keeps an event loop in this thread: the call streams in another.
    with ThreadPoolExecutor(1) as pool:
        streaming = pool.submit(
            asyncio.run,
            simulate(server.url, load_recording(call), speed=4, on_event=on_event),
        )
        assert started.wait(120), streaming.exception(timeout=0) if streaming.done() else None

        # The list, read again every few seconds, picks the call up without a reload.
        row = page.locator(f"#live-table tr[data-live='{live['id']}']")
        expect(row).to_be_visible()
        expect(page.locator("#no-live-calls")).to_be_hidden()
        expect(row.locator(".status")).to_have_text("live")
        screenshot(page, "15-live-list")
        row.get_by_role("link").click()
        expect(page).to_have_url(re.compile(f"#/live/{live['id']}$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Live call")

        # The customer's final utterance asking to cancel, with a sentiment badge.
        transcript = page.locator("#live-transcript")
        asks = transcript.locator("> li.final.role-customer", has_text=re.compile("cancel", re.I))
        expect(asks.first).to_be_visible(timeout=LONG)
        expect(asks.first.locator(".speaker")).to_contain_text("Customer")
        expect(asks.first.locator(".badge[class*='sentiment-']")).to_be_visible()
        expect(transcript.locator("> li.final.role-agent").first).to_be_visible(timeout=LONG)

        # The custom category's alert pops up in the alerts panel, highlighted.
        alert = page.locator("#live-alert-list > li[data-category='cancellation-risk']")
        expect(alert).to_be_visible(timeout=LONG)
        expect(alert).to_contain_text("cancellation-risk")
        expect(alert).to_contain_text("The customer wants to cancel")
        expect(page.locator("#live-alert-count")).not_to_be_empty()

        # The sentiment line and the running figures follow the finals.
        expect(page.locator("#sentiment-chart polyline.series").first).to_be_attached()
        expect(page.locator("#live-metrics [data-metric='agent-talk-ratio']")).to_have_text(
            re.compile(r"^\d+%$")
        )
        expect(page.locator("#live-metrics [data-metric='interruptions']")).to_have_text(
            re.compile(r"^\d+$")
        )
        screenshot(page, "16-live-call")

        ended = streaming.result(timeout=300)
    assert ended["type"] == "ended" and ended["call_id"], ended

    # Hung up: the notice, a link to the stored call, no partial left over.
    notice = page.locator("#live-ended")
    expect(notice).to_contain_text("Call ended", timeout=LONG)
    expect(notice.get_by_role("link", name="Open the stored call")).to_have_attribute(
        "href", f"#/calls/{ended['call_id']}"
    )
    expect(page.locator("#live-status")).to_have_text("ended")
    expect(page.locator("#live-partials > li")).to_have_count(0)
    # Partials showed while a side was speaking (the call was opened while it ran).
    assert page.evaluate("window.__partials.length") > 0
    finals = transcript.locator("> li.final")
    starts = [float(s) for s in finals.evaluate_all("(els) => els.map((e) => e.dataset.start)")]
    # In the order spoken. (At four times the pace on two cores the live ASR runs behind and
    # a side's turns can come out as one final; at real time each turn is one.)
    assert starts == sorted(starts) and len(starts) >= 3, starts
    screenshot(page, "17-live-ended")

    # Back on the list: nothing is live any more; with the ended ones, it links the call.
    page.get_by_role("link", name="all live calls").click()
    expect(page.locator("#no-live-calls")).to_contain_text("No live calls now.")
    page.get_by_label("Show calls that have ended too").check()
    row = page.locator(f"#live-table tr[data-live='{live['id']}']")
    expect(row.locator(".status")).to_have_text("ended")
    expect(row.get_by_role("link", name="stored call")).to_have_attribute(
        "href", f"#/calls/{ended['call_id']}"
    )

    # Opened after it ended, on a phone: the whole call is replayed, nothing spills sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/ui/#/live/{live['id']}")
    expect(page.locator("#live-ended")).to_contain_text("Call ended")
    expect(transcript.locator("> li.final")).to_have_count(len(starts))
    expect(page.locator("#live-alert-list > li[data-category='cancellation-risk']")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "18-live-phone", full_page=False)
