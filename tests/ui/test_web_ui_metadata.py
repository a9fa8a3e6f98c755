"""The web page with call metadata: calls uploaded through the page with an agent, a team
and an external id; the list shows and filters them; the call page shows its details; the
same recording dropped again is answered with the earlier analysis, not a new job.

The engines are the API tests' fakes (instant), served on loopback: the page and the
browser are what is under test here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from api.app import create_app
from tests.support.app import LiveServer, fake_container, make_settings, wav_bytes
from tests.ui.conftest import drop_files, screenshot


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    app = create_app(container=fake_container(make_settings(tmp_path)))
    with LiveServer(app) as live:
        yield live


def upload(page, name: str, seconds: float, **fields: str) -> object:
    """Fill the upload options (agent, team, external id), drop one recording; its item
    once analysed."""
    from playwright.sync_api import expect

    for label, value in (
        ("Agent", fields.get("agent", "")),
        ("Team", fields.get("team", "")),
        ("External call id", fields.get("external_id", "")),
    ):
        page.get_by_label(label, exact=True).fill(value)
    drop_files(page, "#dropzone", [(name, wav_bytes(seconds), "audio/wav")])
    item = page.locator("#uploads > li", has_text=name).first
    expect(item).to_have_attribute("data-status", "succeeded")
    return item


def test_calls_of_two_agents_are_listed_with_their_team_and_filtered_by_agent(page, server):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/ui/#/upload")
    upload(page, "ada-1.wav", 6.0, agent="ada", team="billing", external_id="X-1")
    upload(page, "bob-1.wav", 7.0, agent="bob", team="support")
    upload(page, "ada-2.wav", 8.0, agent="ada", team="support")

    # The same recording again (another name, the same audio): nothing new is queued.
    again = upload(page, "ada-1-again.wav", 6.0, agent="ada")
    expect(again).to_have_attribute("data-duplicate", "true")
    expect(again).to_contain_text("already analysed")

    page.get_by_role("link", name="Calls", exact=True).click()
    rows = page.locator("#calls-table tbody tr")
    expect(rows).to_have_count(3)
    headers = page.locator("#calls-table thead th")
    expect(headers.nth(4)).to_have_text("Team")

    # The agent filter (suggesting the agents there are) narrows the list to ada's calls.
    expect(page.locator("#agent-names option")).to_have_count(2)
    page.get_by_label("Agent", exact=True).fill("ada")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"#/calls\?agent=ada$"))
    expect(rows).to_have_count(2)
    expect(page.locator("#calls-table caption")).to_contain_text("2 calls match the filters")
    expect(page.locator("#more-calls")).to_be_hidden()  # every match is shown
    for n in range(2):
        expect(rows.nth(n).locator("td").nth(2)).to_have_text("ada")
    names = sorted(rows.nth(n).locator("th a").inner_text() for n in range(2))
    assert names == ["ada-1.wav", "ada-2.wav"]
    screenshot(page, "12-calls-filtered-by-agent")

    # And by a detail: ada's calls in support only.
    page.get_by_label("Detail (key:value)").fill("team:support")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"metadata=team%3Asupport"))
    expect(rows).to_have_count(1)
    expect(rows.first.locator("th a")).to_have_text("ada-2.wav")
    expect(rows.first.locator("td").nth(3)).to_have_text("support")

    # The call page shows the details it was uploaded with; each leads to its calls.
    page.goto(f"{server.url}/ui/#/calls?team=billing")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="ada-1.wav").click()
    details = page.locator("#call-metadata")
    expect(details.locator("dd[data-key='external_id']")).to_have_text("X-1")
    expect(details.locator("dd[data-key='team']")).to_have_text("billing")
    expect(details.locator("dd[data-key='agent']")).to_have_text("ada")
    details.get_by_role("link", name="billing").click()
    expect(page).to_have_url(re.compile(r"#/calls\?metadata=team%3Abilling$"))
    expect(rows).to_have_count(1)
