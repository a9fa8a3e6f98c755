"""/v1/webhooks (and GraphQL's webhooks): admins add endpoints, a finished job reaches a real
receiver signed with the secret shown once, bad input is a 4xx that says what to do."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.webhooks.signing import verify
from tests.api.conftest import runtime_of
from tests.api.test_auth import auth, with_keys
from tests.api.test_rest import analysed
from tests.support.app import make_settings
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def fast_client(make_client, tmp_path):
    """The app with its dispatcher looking at the outbox every 50 ms."""
    return make_client(make_settings(tmp_path, webhook_poll_s=0.05, webhook_retry_base_s=0.1))


def log_of(client: Any, hook_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhooks/{hook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_a_finished_job_reaches_the_receiver_signed_and_is_logged(fast_client, receiver):
    client = fast_client
    made = client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "events": ["job.succeeded"], "description": "crm"},
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    secret = hook.pop("secret")
    assert secret.startswith("whsec_") and hook["active"] and hook["events"] == ["job.succeeded"]
    assert client.get("/v1/webhooks").json() == [hook]  # never the secret again
    assert client.get(f"/v1/webhooks/{hook['id']}").json() == hook

    job = analysed(client, filename="call.wav")
    [received] = wait_until(receiver.events, 30, "the job.succeeded delivery")
    event = received.event
    assert event["type"] == "job.succeeded" and event["data"]["call_id"] == job["call_id"]
    assert received.headers["Callytics-Delivery"] == event["id"]
    assert verify(secret, received.headers["Callytics-Signature"], received.body, time.time())
    [logged] = wait_until(
        lambda: log_of(client, hook["id"], status="delivered"), 30, "the delivery logged"
    )
    assert (logged["event_id"], logged["attempts"], logged["last_status"]) == (event["id"], 1, 200)

    ping = client.post(f"/v1/webhooks/{hook['id']}/test")
    assert ping.status_code == 202
    wait_until(lambda: len(receiver.events()) == 2, 30, "the ping")
    assert receiver.events()[1].event["id"] == ping.json()["event_id"]
    assert receiver.events()[1].headers["Callytics-Event"] == "ping"

    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert client.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert client.get(f"/v1/webhooks/{hook['id']}/deliveries").status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"url": "ftp://x.example.com/h", "events": ["job.failed"]}, "http or https"),
        ({"url": "https://x.example.com/h", "events": ["job.done"]}, "job.succeeded, job.failed"),
        ({"url": "https://x.example.com/h", "events": []}, "at least one event"),
        ({"url": "https://x.example.com/h", "events": ["job.failed"], "secret": "x"}, "16 to"),
        ({"url": "https://x.example.com/h", "events": ["job.failed"], "other": 1}, "other"),
    ],
)
def test_bad_webhooks_are_a_422_that_says_what_to_do(client, body, says):
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert says in error["message"] + error["hint"], error
    assert client.get("/v1/webhooks").json() == []


def test_unknown_webhooks_and_statuses(client):
    assert client.get("/v1/webhooks/nope").status_code == 404
    assert client.delete("/v1/webhooks/nope").status_code == 404
    assert client.post("/v1/webhooks/nope/test").status_code == 404
    made = client.post("/v1/webhooks", json={"url": "http://h.example/x", "events": ["job.failed"]})
    bad = client.get(f"/v1/webhooks/{made.json()['id']}/deliveries", params={"status": "lost"})
    assert bad.status_code == 422 and "pending, delivered, failed" in bad.json()["error"]["hint"]


def test_only_admins_see_or_change_webhooks(client):
    keys = with_keys(client)
    body = {"url": "https://h.example.com/x", "events": ["call.deleted"]}
    for role in ("viewer", "analyst"):
        assert client.post("/v1/webhooks", json=body, headers=auth(keys[role])).status_code == 403
        assert client.get("/v1/webhooks", headers=auth(keys[role])).status_code == 403
    assert client.get("/v1/webhooks").status_code == 401
    made = client.post("/v1/webhooks", json=body, headers=auth(keys["admin"]))
    assert made.status_code == 201
    assert made.json()["created_by"]
    hook_id = made.json()["id"]
    gone = client.delete(f"/v1/webhooks/{hook_id}", headers=auth(keys["analyst"]))
    assert gone.status_code == 403
    assert client.delete(f"/v1/webhooks/{hook_id}", headers=auth(keys["admin"])).status_code == 204


CREATE = """mutation Add($input: WebhookInput!) {
  createWebhook(input: $input) { id url events secret active }
}"""


def test_graphql_adds_lists_and_deletes_webhooks_for_admins(client):
    keys = with_keys(client)
    variables = {"input": {"url": "https://h.example.com/g", "events": ["job.failed"]}}
    refused = client.post(
        "/graphql",
        json={"query": CREATE, "variables": variables},
        headers=auth(keys["analyst"]),
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "forbidden"
    admin = auth(keys["admin"])
    made = client.post("/graphql", json={"query": CREATE, "variables": variables}, headers=admin)
    hook = made.json()["data"]["createWebhook"]
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["job.failed"]
    listed = client.post(
        "/graphql", json={"query": "{ webhooks { id url active } }"}, headers=admin
    ).json()
    assert listed["data"]["webhooks"] == [{"id": hook["id"], "url": hook["url"], "active": True}]
    bad = client.post(
        "/graphql",
        json={"query": CREATE, "variables": {"input": {"url": "x", "events": ["job.failed"]}}},
        headers=admin,
    ).json()
    assert bad["errors"][0]["extensions"]["code"] == "invalid_input"
    delete = {
        "query": "mutation($id: ID!) { deleteWebhook(id: $id) }",
        "variables": {"id": hook["id"]},
    }
    assert client.post("/graphql", json=delete, headers=admin).json() == {
        "data": {"deleteWebhook": True}
    }
    assert runtime_of(client).webhooks.list() == []
