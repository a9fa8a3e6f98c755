"""The web UI as a person uses it, in headless Chromium against a real `callytics serve`
with the real models (tiny.en: the point is the page, not accuracy).

Upload by drag and drop and by the file chooser and watch the stages advance; open a call,
click a word and see the player seek; download the transcript; filter the list; search and
land on the hit; and use it all from the keyboard. Each page is saved as a screenshot under
test-artifacts/ui/.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from core.stages import PROGRESS_ORDER as PIPELINE_STAGES
from samples import load_script, render_call
from tests.support.processes import ServeProcess, subscribe_job
from tests.ui.conftest import drop_files, player_time, screenshot, serving_with, wait_for_audio

pytestmark = pytest.mark.slow

CATEGORY = {
    "name": "supervisor-request",
    "description": "The customer asks for a supervisor.",
    "conditions": [{"kind": "phrase", "phrases": ["supervisor"], "role": "customer"}],
}


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("recordings")
    made = {}
    for name, script, layout in [
        ("flight-status.wav", "short", "stereo"),
        ("flight-status-mono.wav", "short", "mono"),
        ("outage-complaint.wav", "angry", "stereo"),
    ]:
        render_call(load_script(script), folder / name, layout=layout)
        made[name] = folder / name
    return made


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServeProcess]:
    with serving_with(tmp_path_factory.mktemp("serve"), CATEGORY, AGENT_CHANNEL="0") as process:
        yield process


@pytest.fixture(scope="module")
def calls(server, recordings) -> dict[str, str]:
    """Two analysed calls, uploaded over REST: file name -> call id."""
    ids = {}
    for name in ["flight-status.wav", "outage-complaint.wav"]:
        with open(recordings[name], "rb") as f:
            reply = httpx.post(
                f"{server.url}/v1/calls",
                files={"file": (name, f, "audio/wav")},
                # flight-status.wav was uploaded through the page already: again (force).
                data={"agent": "grace", "force": "true"},
                timeout=300,
            )
        assert reply.status_code == 202, reply.text
        events = follow(server, reply.json()["job_id"])
        assert events[-1]["status"].lower() == "succeeded", (events[-1], server.log())
        ids[name] = reply.json()["call_id"]
    return ids


def follow(server: ServeProcess, job_id: str) -> list[dict]:
    """The job's events to the end, over the subscription (in a thread of its own: the
    sync Playwright API keeps an event loop running in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, subscribe_job(server.ws_url, job_id)).result()


def stage_log(page, filename: str) -> list[tuple[str, str]]:
    return [
        (stage, state)
        for name, stage, state in page.evaluate("window.__stageLog")
        if name == filename
    ]


def test_upload_several_by_drop_and_by_chooser_and_watch_the_stages(page, server, recordings):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/upload")
    expect(page.get_by_role("heading", name="Upload calls")).to_be_visible()
    page.get_by_label("Agent", exact=True).fill("sam")

    dropped = recordings["flight-status.wav"]
    drop_files(page, "#dropzone", [(dropped.name, dropped.read_bytes(), "audio/wav")])
    chosen = recordings["flight-status-mono.wav"]
    page.set_input_files("#upload-files", str(chosen))

    items = page.locator("#uploads > li")
    expect(items).to_have_count(2)
    # Caught while the first job runs: its stages partly done.
    page.wait_for_function(
        "() => window.__stageLog.some(([, stage, state]) => stage === 'asr' && state === 'running')",
        timeout=120_000,
    )
    screenshot(page, "01-upload-progress")
    for name in (dropped.name, chosen.name):
        item = page.locator("#uploads > li", has_text=name)
        expect(item).to_have_attribute("data-status", "succeeded", timeout=240_000)
        expect(item.locator(".stage[data-state='done']")).to_have_count(len(PIPELINE_STAGES))
        expect(item.get_by_role("link", name=f"Open {name}")).to_be_visible()
        # The stages advanced one event at a time, as the job ran: the transcription showed
        # its progress before it finished, and the stages finished in the order they run.
        log = stage_log(page, name)
        finished = [stage for stage, state in log if state == "done"]
        assert ("asr", "running") in log, log
        assert log.index(("asr", "running")) < log.index(("asr", "done")), log
        order = [
            finished.index(stage) for stage in ("decode", "diarization", "asr", "sentiment", "llm")
        ]
        assert order == sorted(order), log
    screenshot(page, "02-upload-done")

    page.locator("#uploads > li", has_text=dropped.name).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(dropped.name)
    expect(page.locator(".meta")).to_contain_text("agent sam")


def test_a_refused_upload_says_what_to_do(page, server):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/upload")
    drop_files(
        page,
        "#dropzone",
        [("notes.wav", b"these are meeting notes, not audio\n" * 50, "audio/wav")],
    )
    item = page.locator("#uploads > li", has_text="notes.wav")
    expect(item).to_have_attribute("data-status", "refused")
    expect(item.get_by_role("alert")).to_contain_text("notes.wav was not accepted")
    assert item.locator(".hint").inner_text().strip(), "the refusal carries the server's hint"
    screenshot(page, "03-upload-refused")


def test_a_call_page_plays_from_the_word_clicked(page, server, calls):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/calls/{calls['outage-complaint.wav']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("outage-complaint.wav")
    utterances = page.locator("#transcript > li")
    assert utterances.count() >= 8
    # Speakers coloured by role: both sides present, each line marked with its role.
    expect(page.locator("#transcript > li.role-agent").first).to_be_visible()
    expect(page.locator("#transcript > li.role-customer").first).to_be_visible()
    assert (
        page.locator("#transcript > li.role-agent .speaker").first.inner_text().startswith("Agent")
    )
    # The charts: a bar per turn on the timeline, a mark per interruption the metrics
    # counted (at the turns they name), a line per speaker for sentiment.
    assert page.locator("#timeline rect.turn").count() == utterances.count()
    metrics = httpx.get(f"{server.url}/v1/calls/{calls['outage-complaint.wav']}").json()["metrics"]
    assert metrics["interruptions"] == len(metrics["interruption_utterances"]) >= 1
    assert page.locator("#timeline path.interruption").count() == metrics["interruptions"]
    assert page.locator("#sentiment-chart polyline.series").count() == 2
    # The analysis, the evidence of conflict linked to utterances, categories, QA, metrics.
    expect(page.locator("#summary")).not_to_be_empty()
    expect(page.locator("#conflict")).to_contain_text("Yes")
    expect(page.locator("#categories")).to_contain_text("supervisor-request")
    expect(page.locator("#qa .qa-score")).to_contain_text("/ 100")
    expect(page.locator("#metrics")).to_contain_text("Interruptions")

    # Nothing spills sideways at a laptop's width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    wait_for_audio(page)
    screenshot(page, "04-call")
    third = utterances.nth(3)
    word = third.locator(".w").nth(4)
    start = float(word.get_attribute("data-start"))
    word.click()
    assert abs(player_time(page) - start) < 0.05
    expect(third).to_have_class(re.compile(r"\bcurrent\b"))
    expect(third).to_have_attribute("aria-current", "true")
    expect(word).to_have_class(re.compile(r"\bplaying\b"))
    screenshot(page, "05-call-word-clicked", full_page=False)

    # A click on the timeline plays from that moment: here, the middle of a turn's bar.
    bar = page.locator("#timeline rect.turn").nth(5)
    bar.click()
    turn = utterances.nth(int(bar.get_attribute("data-utterance")))
    start, end = float(turn.get_attribute("data-start")), float(turn.get_attribute("data-end"))
    assert start - 0.5 <= player_time(page) <= end + 0.5, (start, end, player_time(page))
    expect(turn).to_have_class(re.compile(r"\bcurrent\b"))

    # Evidence links jump to their utterance and the player follows.
    evidence = page.locator("#conflict a.evidence").first
    index = int(evidence.get_attribute("data-utterance"))
    evidence.click()
    expect(utterances.nth(index)).to_have_class(re.compile(r"\bhit\b"))
    start = float(utterances.nth(index).get_attribute("data-start"))
    assert abs(player_time(page) - start) < 0.05

    # Playing moves the highlight: the player's time and the lit utterance agree.
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function(f"() => document.getElementById('player').currentTime > {start + 0.5}")
    page.evaluate("document.getElementById('player').pause()")
    now = player_time(page)
    lit = page.locator("#transcript > li.current")
    expect(lit).to_have_count(1)
    assert float(lit.get_attribute("data-start")) <= now + 0.3


def test_transcript_downloads_in_each_format(page, server, calls):
    page.goto(f"{server.url}/ui/#/calls/{calls['flight-status.wav']}")
    for fmt, check in [
        ("txt", lambda text: "Agent" in text or "agent" in text),
        ("srt", lambda text: "-->" in text and text.lstrip().startswith("1")),
        ("vtt", lambda text: text.startswith("WEBVTT")),
        ("json", lambda text: text.lstrip().startswith(("{", "["))),
    ]:
        with page.expect_download() as caught:
            page.locator(f".downloads button[data-format='{fmt}']").click()
        download = caught.value
        assert download.suggested_filename == f"flight-status.{fmt}"
        assert check(Path(download.path()).read_text()), fmt


def test_the_calls_list_filters(page, server, calls):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/calls")
    rows = page.locator("#calls-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 2
    screenshot(page, "06-calls")

    page.get_by_label("Category").select_option("supervisor-request")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"category=supervisor-request"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("outage-complaint.wav")
    expect(page.locator("#calls-table caption")).to_contain_text("1 call match")
    screenshot(page, "07-calls-filtered")

    page.get_by_label("Outcome").select_option("resolved")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#calls-table caption")).to_contain_text("No calls match")


def test_search_lands_on_the_utterance_that_matched(page, server, calls):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/calls")
    page.get_by_label("Search calls by meaning").fill("I want to talk to your manager")
    page.keyboard.press("Enter")
    hits = page.locator("#search-hits > li")
    expect(hits.first).to_be_visible()
    expect(hits.first).to_contain_text("outage-complaint.wav")
    text = hits.first.locator(".hit-text").inner_text()
    assert "supervisor" in text.lower(), text
    screenshot(page, "08-search")

    hits.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"#/calls/[0-9a-f-]+\?u=\d+"))
    index = int(page.url.rsplit("u=", 1)[1])
    target = page.locator(f"#u-{index}")
    expect(target).to_have_class(re.compile(r"\bhit\b"))
    expect(target).to_be_in_viewport()
    expect(target).to_contain_text(text.split()[0])
    wait_for_audio(page)
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('player').currentTime - {float(target.get_attribute('data-start'))}) < 0.05"
    )
    screenshot(page, "09-search-hit", full_page=False)


def test_agents_and_trends_lead_to_the_agent_s_calls(page, server, calls):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/insights")
    row = page.locator("#agents-table tbody tr[data-agent='grace']")
    expect(row).to_be_visible()
    expect(row.locator("td").first).to_have_text("2")
    expect(row.locator("meter")).to_have_attribute("aria-label", "QA score of grace")
    this_week = page.locator("#trends-table tbody tr")
    expect(this_week.first).to_be_visible()
    expect(page.locator("#trends-table")).to_contain_text("supervisor-request · 1")
    screenshot(page, "11-agents-and-trends")

    page.get_by_label("Per", exact=True).select_option("month")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"interval=month"))
    expect(page.locator("#trends-table caption")).to_contain_text("Per month")

    page.get_by_role("link", name="grace: list their calls").click()
    expect(page).to_have_url(re.compile(r"#/calls\?agent=grace"))
    rows = page.locator("#calls-table tbody tr")
    expect(rows).to_have_count(2)
    for n in range(2):
        expect(rows.nth(n).locator("td").nth(2)).to_have_text("grace")


def contrast(page, selector: str) -> float:
    """WCAG contrast ratio of the first ``selector``'s text against the page background."""
    return float(
        page.evaluate(
            """(selector) => {
                const el = document.querySelector(selector);
                const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
                const lum = ([r, g, b]) => {
                    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
                };
                let bg = el, color = getComputedStyle(el).backgroundColor;
                while (bg && (color === 'rgba(0, 0, 0, 0)' || color === 'transparent')) {
                    bg = bg.parentElement;
                    color = bg ? getComputedStyle(bg).backgroundColor : 'rgb(255, 255, 255)';
                }
                const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(rgb(color))];
                return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }""",
            selector,
        )
    )


def unlabelled_controls(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, button, audio, textarea')]
            .filter((el) => el.offsetParent !== null || el.tagName === 'AUDIO')
            .filter((el) => !(el.labels?.length || el.getAttribute('aria-label')
                              || (el.tagName === 'BUTTON' && el.textContent.trim())))
            .map((el) => el.outerHTML.slice(0, 120))"""
    )


def test_keyboard_labels_and_contrast(page, server, calls):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/calls/{calls['flight-status.wav']}")
    expect(page.locator("#transcript > li").first).to_be_visible()
    wait_for_audio(page)
    assert unlabelled_controls(page) == []

    # From the keyboard: Tab to a line's timestamp and press Enter to play from it.
    button = page.locator("#transcript > li").nth(2).locator("button.time")
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    start = float(page.locator("#transcript > li").nth(2).get_attribute("data-start"))
    assert abs(player_time(page) - start) < 0.05
    expect(page.locator("#transcript > li").nth(2)).to_have_class(re.compile(r"\bcurrent\b"))

    # The skip link comes before the navigation, shows when focused, and lands on the content.
    page.get_by_role("link", name="Callytics").focus()
    page.keyboard.press("Shift+Tab")
    skip = page.locator("#skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    expect(page).to_have_url(re.compile(r"#/calls/[0-9a-f-]+$"))

    # Text colours meet WCAG AA (4.5:1) where the page uses them.
    for selector in [
        ".speaker.role-agent",
        ".speaker.role-customer",
        ".hint",
        "#transcript .time",
        ".badge",
        ".top nav a",
    ]:
        assert contrast(page, selector) >= 4.5, selector

    for route in ["#/calls", "#/upload", "#/search?q=flight"]:
        page.goto(f"{server.url}/ui/{route}")
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_function("() => !document.getElementById('main').hasAttribute('aria-busy')")
        assert unlabelled_controls(page) == [], route


def test_a_phone_sized_window_never_scrolls_sideways(page, server, calls):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 390, "height": 844})
    for route in [f"#/calls/{calls['outage-complaint.wav']}", "#/calls", "#/upload", "#/insights"]:
        page.goto(f"{server.url}/ui/{route}")
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_function("() => !document.getElementById('main').hasAttribute('aria-busy')")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (route, width)
    page.goto(f"{server.url}/ui/#/calls/{calls['outage-complaint.wav']}")
    expect(page.locator("#transcript > li").first).to_be_visible()
    screenshot(page, "12-phone-call", full_page=False)


def test_the_root_serves_the_page_with_a_strict_policy(server):
    root = httpx.get(f"{server.url}/", follow_redirects=False, timeout=30)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    page = httpx.get(f"{server.url}/ui/", timeout=30)
    assert page.status_code == 200 and "<main" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    script = httpx.get(f"{server.url}/ui/static/js/main.js", timeout=30)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server.url}/ui/static/../../pyproject.toml", timeout=30).status_code == 404
