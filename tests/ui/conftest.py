"""The web UI under a real browser: Debian's chromium driven by Playwright (no browser
download), against a real `callytics serve` on a loopback port.

Screenshots of each page go to ``test-artifacts/ui/`` (git-ignored), named after the test.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ServeProcess, embedded_env

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# As the machine's own probe starts it: no sandbox as root, and nothing that phones out
# (the network is closed, and each refused connection slows the browser down).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

# Every stage event, as the page shows it: [file name, stage, state] in the order they change.
STAGE_LOG = """
window.__stageLog = [];
new MutationObserver((records) => {
  for (const r of records) {
    const el = r.target;
    if (!el.dataset || !el.dataset.stage) continue;
    const upload = el.closest('.upload');
    window.__stageLog.push([upload?.querySelector('.filename')?.textContent, el.dataset.stage,
                            el.dataset.state]);
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-state']});
"""


# Module scope, not session: the sync API keeps an event loop running in this thread while
# it is started, and the asyncio tests that run after these modules need the thread free.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium: `make browser-deps` installs Debian's package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, request) -> Iterator[object]:
    """A fresh tab (own storage), 1280x900, that fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.add_init_script(STAGE_LOG)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The browser's own "Failed to load resource: 4xx" lines are the API answering a refusal
    # the test asked for; anything else logged as an error is the page's fault.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """``full_page=False``: what the window shows (the call page's player sticks to its top)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def drop_files(page, selector: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drag and drop: the files in a DataTransfer, dropped on ``selector`` as a browser does."""
    payload = [(name, base64.b64encode(data).decode(), kind) for name, data, kind in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, b64, type] of files) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type }));
            }
            return transfer;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def player_time(page) -> float:
    return float(page.evaluate("document.getElementById('player').currentTime"))


def wait_for_audio(page) -> None:
    page.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=60_000
    )


@contextmanager
def serving_with(home: Path, category: dict[str, object], **env: str) -> Iterator[ServeProcess]:
    """A real `callytics serve` on the embedded defaults under ``home``, with ``category``
    created over REST before the page sees it; stopped afterwards."""
    process = ServeProcess(embedded_env(home, **env), home / "serve.log").start()
    try:
        reply = httpx.post(f"{process.url}/v1/categories", json=category, timeout=120)
        assert reply.status_code == 201, reply.text
        yield process
    finally:
        process.close()
