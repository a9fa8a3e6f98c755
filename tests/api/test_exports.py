"""GET /v1/exports/calls and /v1/exports/utterances: CSV and Parquet files of the stored calls,
filtered like the list, deleted calls left out, for any viewer."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.calls.bi_export import CALL_COLUMNS, UTTERANCE_COLUMNS, schema
from tests.api.test_auth import auth, with_keys
from tests.api.test_rest import analysed
from tests.support.app import fake_container, make_settings, wav_bytes

CALLS = {  # name -> (agent, metadata JSON)
    "first": ("a-1", '{"team": "billing", "external_id": "C-1", "tier": "gold"}'),
    "second": ("a-2", None),
    "gone": ("a-1", '{"team": "billing"}'),
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Three analysed calls (CALLS, each its own audio), the last one deleted: name -> id."""
    container = fake_container(make_settings(tmp_path_factory.mktemp("exports")))
    with TestClient(create_app(container=container)) as client:
        ids = {}
        for n, (name, (agent, metadata)) in enumerate(CALLS.items()):
            fields = {"agent": agent, **({"metadata": metadata} if metadata else {})}
            content = wav_bytes(seconds=2.0 + n / 10)
            ids[name] = analysed(client, content=content, filename=f"{name}.wav", **fields)[
                "call_id"
            ]
        assert client.delete(f"/v1/calls/{ids['gone']}").status_code == 204
        yield client, ids


def rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def test_the_calls_as_csv_one_row_each_newest_first_deleted_left_out(stored):
    client, ids = stored

    response = client.get("/v1/exports/calls", params={"format": "csv"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="calls-') and disposition.endswith('.csv"')
    read = rows(response)
    assert list(read[0]) == [c.name for c in CALL_COLUMNS]
    assert [(r["id"], r["agent"], r["filename"]) for r in read] == [
        (ids["second"], "a-2", "second.wav"),
        (ids["first"], "a-1", "first.wav"),
    ]
    assert (read[1]["team"], read[1]["external_id"], read[1]["metadata"]) == (
        "billing",
        "C-1",
        '{"tier": "gold"}',
    )
    assert (read[0]["team"], read[0]["metadata"]) == ("", "")
    document = client.get(f"/v1/calls/{ids['first']}").json()
    assert read[1]["summary"] == document["analysis"]["summary"]
    assert float(read[1]["duration_s"]) == document["audio"]["duration_s"]


def test_csv_is_the_default_format(stored):
    client, _ = stored
    response = client.get("/v1/exports/utterances")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert list(rows(response)[0]) == [c.name for c in UTTERANCE_COLUMNS]


def test_parquet_opens_with_pyarrow_a_row_per_call_and_per_utterance(stored):
    client, ids = stored

    calls = client.get("/v1/exports/calls", params={"format": "parquet"})
    utterances = client.get("/v1/exports/utterances", params={"format": "parquet"})

    assert calls.status_code == utterances.status_code == 200
    assert calls.headers["content-type"] == "application/vnd.apache.parquet"
    assert utterances.headers["content-disposition"].endswith('.parquet"')
    call_table = pq.read_table(io.BytesIO(calls.content))
    said = pq.read_table(io.BytesIO(utterances.content))
    assert call_table.schema.equals(schema(CALL_COLUMNS))
    assert said.schema.equals(schema(UTTERANCE_COLUMNS))
    assert call_table.column("id").to_pylist() == [ids["second"], ids["first"]]
    expected = [
        (call_id, u["index"], u["text"])
        for call_id in (ids["second"], ids["first"])
        for u in client.get(f"/v1/calls/{call_id}").json()["utterances"]
    ]
    assert (
        expected and [(r["call_id"], r["index"], r["text"]) for r in said.to_pylist()] == expected
    )


@pytest.mark.parametrize("table", ["calls", "utterances"])
def test_the_list_s_filters_apply(stored, table):
    client, ids = stored
    key = "id" if table == "calls" else "call_id"

    def exported(**params: str) -> set[str]:
        response = client.get(f"/v1/exports/{table}", params=params)
        assert response.status_code == 200, response.text
        return {r[key] for r in rows(response)}

    assert exported(agent="a-1") == {ids["first"]}  # the deleted a-1 call is not in it
    assert exported(agent="a-2") == {ids["second"]}
    assert exported(agent="nobody") == set()
    assert exported(team="billing") == {ids["first"]}  # the metadata filters too
    assert exported(created_after="2999-01-01T00:00:00Z") == set()
    assert exported(resolution="resolved") | exported(resolution="unresolved") | exported(
        resolution="unknown"
    ) == {ids["first"], ids["second"]}


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"format": "xlsx"}, "'csv' or 'parquet'"),
        ({"sentiment": "angry"}, "sentiment"),
        (
            {"created_after": "2026-12-02T00:00:00Z", "created_before": "2026-12-01T00:00:00Z"},
            "created_after must be earlier",
        ),
    ],
)
def test_bad_parameters_answer_422_saying_what_is_allowed(stored, params, says):
    client, _ = stored
    for table in ("calls", "utterances"):
        response = client.get(f"/v1/exports/{table}", params=params)
        assert response.status_code == 422, response.text
        assert says in response.json()["error"]["message"]


def test_a_viewer_may_export_and_nobody_else(make_client):
    client = make_client()
    keys = with_keys(client)

    assert client.get("/v1/exports/calls").status_code == 401
    for role in ("viewer", "analyst", "admin"):
        response = client.get("/v1/exports/calls", headers=auth(keys[role]))
        assert response.status_code == 200, (role, response.text)
        assert rows(response) == []  # no calls yet: the header only
