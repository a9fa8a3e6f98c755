"""The hot read (api/hot.py): a cached call document answered in front of the framework,
with the route's own answer, and nothing else answered there."""

from __future__ import annotations

from typing import Any

import pytest

from api.hot import HotReads
from tests.api.conftest import runtime_of
from tests.api.test_auth import auth, with_keys
from tests.api.test_rest import analysed

SAME_HEADERS = ("content-type", "content-length", "x-content-type-options", "cache-control")


@pytest.fixture
def route_reads(monkeypatch) -> Any:
    """Counts the reads that reached the route (the catalog's ``document_json``)."""

    def watch(client: Any) -> list[str]:
        catalog = runtime_of(client).catalog
        seen: list[str] = []
        original = catalog.document_json

        def counted(call_id: str) -> bytes:
            seen.append(call_id)
            return original(call_id)

        monkeypatch.setattr(catalog, "document_json", counted)
        return seen

    return watch


def test_the_app_has_the_hot_read_in_front_of_the_framework(client):
    assert any(m.cls is HotReads for m in client.app.user_middleware)


def test_a_cached_document_is_the_routes_own_answer_without_the_route(client, route_reads):
    call_id = analysed(client)["call_id"]
    reads = route_reads(client)
    first = client.get(f"/v1/calls/{call_id}")  # not in memory yet: the route reads it
    assert first.status_code == 200 and reads == [call_id]

    again = client.get(f"/v1/calls/{call_id}")

    assert reads == [call_id]  # answered in front of the route
    assert again.status_code == 200
    assert again.content == first.content and again.json()["id"] == call_id
    assert {h: again.headers[h] for h in SAME_HEADERS} == {
        h: first.headers[h] for h in SAME_HEADERS
    }
    metrics = client.get("/metrics").text
    line = 'callytics_http_requests_total{method="GET",route="/v1/calls/{call_id}",status="200"}'
    assert f"{line} 2.0" in metrics  # both counted under the route's template


def test_other_paths_and_methods_go_to_the_app(client, route_reads):
    call_id = analysed(client)["call_id"]
    assert client.get(f"/v1/calls/{call_id}").status_code == 200  # cached now
    reads = route_reads(client)

    head = client.head(f"/v1/calls/{call_id}")
    assert head.status_code == 405  # the route answers GET only; HEAD is the app's answer
    assert client.get(f"/v1/calls/{call_id}/audit").json()["call_id"] == call_id
    assert reads == []


def test_credentials_are_checked_as_the_route_checks_them(client, route_reads):
    keys = with_keys(client)
    call_id = analysed_with_key(client, keys["analyst"])
    assert client.get(f"/v1/calls/{call_id}", headers=auth(keys["viewer"])).status_code == 200
    reads = route_reads(client)

    anonymous = client.get(f"/v1/calls/{call_id}")
    unknown = client.get(f"/v1/calls/{call_id}", headers=auth("cly_not-a-key"))
    malformed = client.get(f"/v1/calls/{call_id}", headers={"Authorization": "Basic eA=="})
    viewer = client.get(f"/v1/calls/{call_id}", headers=auth(keys["viewer"]))

    assert anonymous.status_code == 401 and anonymous.json()["error"]["hint"]
    assert unknown.status_code == 401 and "not valid" in unknown.json()["error"]["message"]
    assert malformed.status_code == 401 and "Bearer" in malformed.json()["error"]["message"]
    assert viewer.status_code == 200 and viewer.json()["id"] == call_id
    assert reads == []  # the refusals are the app's; the valid read never reached the route


def analysed_with_key(client: Any, key: str) -> str:
    from tests.api.test_auth import analysed_as

    return str(analysed_as(client, key)["call_id"])


def test_a_deleted_call_is_gone_from_the_hot_read_too(client):
    call_id = analysed(client)["call_id"]
    assert client.get(f"/v1/calls/{call_id}").status_code == 200
    assert client.get(f"/v1/calls/{call_id}").status_code == 200  # from memory

    assert client.delete(f"/v1/calls/{call_id}").status_code == 204

    gone = client.get(f"/v1/calls/{call_id}")
    assert gone.status_code == 410, gone.text


def test_a_kept_list_page_is_read_and_rendered_once_until_a_call_changes(
    make_client, tmp_path, monkeypatch
):
    import api.rest.calls as calls_api
    from tests.support.app import make_settings

    # a minute: two requests of a slow machine stay well within it
    client = make_client(settings=make_settings(tmp_path, read_refresh_s=60))
    first_id = analysed(client)["call_id"]
    catalog = runtime_of(client).catalog
    reads: list[int] = []
    renders: list[int] = []
    read, render = catalog.list, calls_api._render_page

    def counted_read(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return read(*args, **kwargs)

    def counted_render(page: Any) -> bytes:
        renders.append(1)
        return render(page)

    monkeypatch.setattr(catalog, "list", counted_read)
    monkeypatch.setattr(calls_api, "_render_page", counted_render)

    one = client.get("/v1/calls", params={"limit": 5})
    two = client.get("/v1/calls", params={"limit": 5})
    assert one.status_code == two.status_code == 200
    assert one.content == two.content and [i["id"] for i in one.json()["items"]] == [first_id]
    assert (len(reads), len(renders)) == (1, 1)

    second_id = analysed(client)["call_id"]  # stored through this process: the page goes
    after = client.get("/v1/calls", params={"limit": 5}).json()
    assert [i["id"] for i in after["items"]] == [second_id, first_id]
    assert after["total"] == 2 and len(reads) == 2


def test_a_list_url_answered_and_kept_is_answered_again_in_front_of_the_route(
    make_client, tmp_path, monkeypatch
):
    from tests.support.app import make_settings

    client = make_client(settings=make_settings(tmp_path, read_refresh_s=60))
    keys = with_keys(client)
    call_id = analysed_with_key(client, keys["analyst"])
    viewer = auth(keys["viewer"])
    url = "/v1/calls?limit=5&sentiment=negative"
    first = client.get("/v1/calls", params={"limit": 5}, headers=viewer)
    assert [i["id"] for i in first.json()["items"]] == [call_id]

    routed: list[str] = []
    page = runtime_of(client).catalog.page

    async def counted(*args: Any, **kwargs: Any) -> Any:
        routed.append("list")
        return await page(*args, **kwargs)

    monkeypatch.setattr(runtime_of(client).catalog, "page", counted)
    again = client.get("/v1/calls", params={"limit": 5}, headers=viewer)
    assert again.content == first.content and again.headers["content-type"] == "application/json"
    assert routed == []  # the same URL, the page still kept: answered before the route
    assert client.get("/v1/calls", params={"limit": 5}).status_code == 401  # the app's answer
    assert client.get(url, headers=viewer).status_code == 200 and routed == ["list"]  # new URL
    bad = client.get("/v1/calls", params={"limit": 500}, headers=viewer)
    assert bad.status_code == 422 and routed == ["list"]  # validated by the route as ever

    deleted = client.delete(f"/v1/calls/{call_id}", headers=auth(keys["admin"]))
    assert deleted.status_code == 204  # a change here: the kept page is gone
    after = client.get("/v1/calls", params={"limit": 5}, headers=viewer)
    assert after.json()["items"] == [] and routed == ["list", "list"]
    metrics = client.get("/metrics", headers=viewer).text
    assert 'callytics_http_requests_total{method="GET",route="/v1/calls",status="200"}' in metrics
