"""Bad input to REST /v1: the right 4xx, a message, and nothing half-stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from core.persistence.models import JobRow
from tests.api.conftest import runtime_of
from tests.api.test_rest import analysed, stored_files, upload
from tests.support.app import make_settings

UNKNOWN = str(uuid.uuid4())


def assert_error(response: Any, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


def assert_nothing_stored(client: Any) -> None:
    assert stored_files(client) == []
    with runtime_of(client).database.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 0
    assert client.get("/v1/calls").json()["total"] == 0


@pytest.mark.parametrize(
    "content",
    [b"Meeting notes: call the customer back on Monday.\n" * 200, b""],
    ids=["text-renamed-wav", "empty"],
)
def test_a_file_that_is_not_audio_is_refused_with_415(client, content):
    response = upload(client, content=content, filename="recording.wav")

    error = assert_error(response, 415, "unsupported_audio")
    assert "audio" in (error["message"] + error["hint"]).lower()
    storage = str(runtime_of(client).settings.storage_dir)
    assert "/" not in error["message"] and storage not in response.text  # no server path
    assert_nothing_stored(client)


@pytest.mark.parametrize(
    "size",
    # Refused from its Content-Length by the size limit; refused while it streams in.
    [2 << 20, (1 << 20) + 4096],
    ids=["declared", "streamed"],
)
def test_an_upload_over_max_upload_mb_is_refused_with_413(make_client, tmp_path, size):
    client = make_client(make_settings(tmp_path, max_upload_mb=1))

    response = upload(client, content=b"\0" * size)

    error = assert_error(response, 413, "upload_too_large")
    assert "limit" in error["message"]
    assert "MAX_UPLOAD_MB" in error["hint"]
    assert_nothing_stored(client)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"num_speakers": 0}, "num_speakers"),
        ({"max_speakers": 21}, "max_speakers"),
        ({"min_speakers": 3, "max_speakers": 2}, "min_speakers"),
        ({"agent_channel": 2}, "agent_channel"),
        ({"num_speakers": "two"}, "num_speakers"),
        ({"language": "english"}, "language"),
    ],
)
def test_bad_analysis_options_are_refused_with_422(client, options, field):
    response = upload(client, **options)

    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]
    assert_nothing_stored(client)


def test_an_upload_without_a_file_is_refused_with_422(client):
    response = client.post("/v1/calls", data={"language": "en"})

    error = assert_error(response, 422, "invalid_request")
    assert "file" in error["message"]
    assert_nothing_stored(client)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/calls/{id}"),
        ("GET", "/v1/calls/{id}/transcript"),
        ("GET", "/v1/calls/{id}/audio"),
        ("DELETE", "/v1/calls/{id}"),
        ("POST", "/v1/calls/{id}/reanalyze"),
        ("GET", "/v1/jobs/{id}"),
    ],
)
def test_unknown_ids_are_404(client, method, path):
    response = client.request(method, path.format(id=UNKNOWN))

    error = assert_error(response, 404, "not_found")
    assert UNKNOWN in error["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "refund", "k": 0},
        {"q": "refund", "k": 101},
        {"q": "refund", "k": "ten"},
        {"k": 5},
        {"q": "   "},
        {"q": "refund", "role": "manager"},
        {"q": "refund", "min_score": 2},
    ],
)
def test_bad_search_parameters_are_422(client, params):
    assert client.get("/v1/search", params=params).status_code == 422


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"sentiment": "happy"}, "sentiment"),
        ({"resolution": "maybe"}, "resolution"),
        ({"conflict": "perhaps"}, "conflict"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"created_after": "yesterday"}, "created_after"),
        (
            {"created_after": "2025-02-01T00:00:00Z", "created_before": "2025-01-01T00:00:00Z"},
            "created_after",
        ),
    ],
)
def test_bad_list_parameters_are_422(client, params, mentions):
    response = client.get("/v1/calls", params=params)

    assert response.status_code == 422, response.text
    assert mentions in response.json()["error"]["message"]


def test_reanalysis_with_bad_options_queues_nothing(client):
    call_id = analysed(client)["call_id"]

    response = client.post(f"/v1/calls/{call_id}/reanalyze", json={"num_speakers": 0})

    assert response.status_code == 422
    with runtime_of(client).database.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 1


def test_without_stored_audio_there_is_no_download_and_no_reanalysis(make_client, tmp_path):
    client = make_client(make_settings(tmp_path, store_audio=False))
    call_id = analysed(client)["call_id"]

    assert_error(client.get(f"/v1/calls/{call_id}/audio"), 404, "not_found")
    assert_error(client.post(f"/v1/calls/{call_id}/reanalyze"), 422, "invalid_input")
    assert client.get(f"/v1/calls/{call_id}").status_code == 200
    assert stored_files(client) == []


@pytest.mark.parametrize(
    "filename",
    [
        "../../../../etc/cron.d/evil.wav",
        "..\\..\\windows\\system32\\evil.wav",
        "/absolute/path/evil.wav",
        "call.wav/../../x.wav",
        "\u202eevil\u202d.wav",
        "x" * 1000 + ".wav",
        "evil.wav/..",
    ],
)
def test_no_part_of_the_client_file_name_reaches_the_file_system(client, filename):
    response = upload(client, filename=filename)
    assert response.status_code == 202, response.text
    call_id = response.json()["call_id"]
    storage = runtime_of(client).settings.storage_dir.resolve()
    stored = stored_files(client)
    assert len(stored) == 1
    path = stored[0].resolve()
    assert path.parent == storage and path.name.startswith(call_id)
    assert all(c.isalnum() or c in "-." for c in path.name), path.name
    # The name is kept only as data (for downloads), without any directory part.
    job = client.get(f"/v1/jobs/{response.json()['job_id']}").json()
    assert "/" not in job["filename"] and "\\" not in job["filename"]
    assert len(job["filename"]) <= 200


def test_audio_is_recognised_by_its_content_not_its_name_or_type(client):
    from tests.support.app import wav_bytes

    disguised = client.post("/v1/calls", files={"file": ("notes.txt", wav_bytes(), "text/plain")})
    assert disguised.status_code == 202, disguised.text
    # stored under the extension of what it is, not what the client called it
    assert [p.suffix for p in stored_files(client)] == [".wav"]
    html = b"<html><script>alert(1)</script></html>" * 50
    pretending = client.post("/v1/calls", files={"file": ("call.wav", html, "audio/wav")})
    assert_error(pretending, 415, "unsupported_audio")


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "streamed"])
def test_a_huge_json_body_is_refused_before_it_is_parsed(client, declared):
    from api.limits import MAX_OTHER_BODY

    body = b'{"query": "' + b"a" * (MAX_OTHER_BODY + 10) + b'"}'
    headers = {"content-type": "application/json"}
    content: Any = body if declared else iter([body[:1000], body[1000:]])  # chunked: no length
    response = client.post("/graphql", content=content, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("channels", [8, 16])
def test_an_upload_with_many_channels_is_analysed_and_the_server_stays_up(
    make_client, tmp_path, channels
):
    """The probe's reproduction (`sox -n -r 16000 -c 8 -b 16 ch8.wav synth 2 sine 440`,
    uploaded) segfaulted the API process at every restart; the file is now decoded in a
    child process, and its channels are kept as their mix."""
    from tests.support.app import wav_bytes

    client = make_client(make_settings(tmp_path, decode_in_subprocess=True))  # as served
    body = analysed(client, content=wav_bytes(2.0, channels=channels), filename="ch.wav")
    document = client.get(f"/v1/calls/{body['call_id']}").json()
    assert document["audio"]["channels"] == channels and document["audio"]["duration_s"] == 2.0
    assert client.get("/health/live").status_code == 200


def test_a_name_with_no_ascii_letters_downloads_as_the_call_with_its_extension(client):
    call_id = analysed(client, filename="\U0001f600.wav")["call_id"]
    audio = client.get(f"/v1/calls/{call_id}/audio")
    assert audio.status_code == 200
    assert audio.headers["content-disposition"] == f'attachment; filename="{call_id}.wav"'


def test_the_audio_route_serves_only_files_under_storage_dir(client, tmp_path):
    """A row pointing elsewhere (a restored backup, a tampered database) is not served."""
    from core.persistence.models import CallRow

    call_id = analysed(client)["call_id"]
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(b"RIFF-not-for-download")
    with runtime_of(client).database.session() as session:
        session.get(CallRow, call_id).audio_path = str(outside)
    assert_error(client.get(f"/v1/calls/{call_id}/audio"), 404, "not_found")
