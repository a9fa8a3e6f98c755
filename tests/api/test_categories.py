"""Custom categories over REST (and GraphQL): a rule tags the calls it should, only those."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from core.calls.catalog import CallFilters
from core.persistence.models import CallCategoryRow
from tests.api.conftest import follow_job, runtime_of
from tests.api.test_auth import auth, with_keys
from tests.api.test_rest import analysed
from tests.support.app import fake_container, make_settings
from tests.support.databases import postgres_url
from tests.unit.fakes import FakeTranscriber, words_of

GREETING = "thank you for calling"

# name -> (what the agent says, what the customer says). Agent words start at 0.2 s and the
# customer's at 4.6 s, 0.4 s a word; each call ends with the customer's last word. The fake
# sentiment engine hears "thanks" as positive, "angry" and "terrible" as negative.
CALLS = {
    "a": (f"{GREETING} how can I help", "I want to cancel my account today if you please"),
    "b": (f"{GREETING} how can I help", "thanks that is great"),
    "c": (f"{GREETING} do you want to cancel", "no I am angry about it"),
    "d": (f"{GREETING} how can I help", "this is terrible please cancel now"),
}


def say(transcriber: FakeTranscriber, agent: str, customer: str) -> None:
    transcriber.words = words_of(agent, 0.2) + words_of(customer, 4.6)


@dataclass
class Stored:
    client: TestClient
    ids: dict[str, str]  # name -> call id

    def tagged(self, category: str) -> set[str]:
        response = self.client.get("/v1/calls", params={"category": category, "limit": 100})
        assert response.status_code == 200, response.text
        by_id = {v: k for k, v in self.ids.items()}
        return {by_id[item["id"]] for item in response.json()["items"]}


def store_calls(client: TestClient, transcriber: FakeTranscriber) -> dict[str, str]:
    ids = {}
    for name, (agent, customer) in CALLS.items():
        say(transcriber, agent, customer)
        ids[name] = analysed(client, filename=f"{name}.wav")["call_id"]
    return ids


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def stored(request, tmp_path_factory) -> Iterator[Stored]:
    """The four CALLS, analysed once per database for the module, before any category."""
    with ExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgres":
            overrides["database_url"] = stack.enter_context(postgres_url())
        transcriber = FakeTranscriber([])
        settings = make_settings(tmp_path_factory.mktemp(request.param), **overrides)
        container = fake_container(settings, transcriber=transcriber)
        client = stack.enter_context(TestClient(create_app(container=container)))
        ids = store_calls(client, transcriber)
        roles = [u["role"] for u in client.get(f"/v1/calls/{ids['c']}").json()["utterances"]]
        assert roles == ["agent", "customer"]
        yield Stored(client, ids)


def create(client: TestClient, name: str, *conditions: dict[str, Any], **params: Any) -> Any:
    body = {"name": name, "description": f"test {name}", "conditions": list(conditions)}
    return client.post("/v1/categories", json=body, params=params)


def phrase(*phrases: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "phrase", "phrases": list(phrases), **extra}


NEGATIVE = {"kind": "sentiment", "subject": "customer", "below": -0.3}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([phrase("cancel")], {"a", "c", "d"}),
        ([phrase("Cancel!", role="any")], {"a", "c", "d"}),
        ([phrase("cancel", role="customer")], {"a", "d"}),
        ([phrase("cancel", role="agent")], {"c"}),
        ([phrase("cancel", negate=True)], {"b"}),
        ([phrase("cancel my account", "please cancel")], {"a", "d"}),
        ([phrase("cancel account")], set()),
        ([phrase("cancel", within_first_s=6)], {"a", "c"}),  # a's at 5.8 s, d's at 6.2 s
        ([phrase("cancel", role="customer", within_first_s=6)], {"a"}),
        ([phrase("cancel", role="customer", within_last_s=1)], {"d"}),  # a's is 2.4 s before
        ([phrase("cancel", role="customer", within_last_s=1, negate=True)], {"a", "b", "c"}),
        ([NEGATIVE], {"c", "d"}),
        ([{**NEGATIVE, "negate": True}], {"a", "b"}),
        ([{"kind": "sentiment", "above": 0.3}], {"b"}),
        ([phrase("cancel", role="customer"), NEGATIVE], {"d"}),
        ([phrase("cancel", role="customer"), {**NEGATIVE, "negate": True}], {"a"}),
        ([{"kind": "interruptions", "at_least": 1}], set()),
        ([{"kind": "interruptions", "at_least": 1, "negate": True}], {"a", "b", "c", "d"}),
        # 1.24 s between the turns; c's agent says more, so its gap is 0.84 s
        ([{"kind": "silence", "over_s": 1}], {"a", "b", "d"}),
        ([{"kind": "silence", "over_s": 1, "negate": True}], {"c"}),
        ([{"kind": "silence", "over_s": 2}], set()),
        ([{"kind": "silence", "measure": "total", "over_s": 1.2}], {"a", "b", "d"}),
        (
            [{"kind": "silence", "measure": "total", "over_s": 2, "negate": True}],
            {"a", "b", "c", "d"},
        ),
    ],
)
def test_a_new_rule_tags_the_stored_calls_it_should_and_only_those(
    request, stored, conditions, expected
):
    name = f"rule-{request.node.callspec.id}".lower()
    response = create(stored.client, name, *conditions)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["calls"], body["created_by"]) == (name, len(expected), "local")
    assert stored.tagged(name) == expected
    assert stored.tagged(name.upper()) == expected  # names are not case-sensitive
    assert stored.client.post(f"/v1/categories/{body['id']}/apply").json() == {
        "category_id": body["id"],
        "name": name,
        "scanned": 4,
        "matched": len(expected),
    }


def test_categories_are_listed_read_and_shown_in_the_catalog(stored):
    made = create(stored.client, "customer-cancels", phrase("cancel", role="customer")).json()

    listed = {c["name"]: c for c in stored.client.get("/v1/categories").json()}
    assert listed["customer-cancels"] == made
    one = stored.client.get(f"/v1/categories/{made['id']}").json()
    assert one["conditions"] == [
        {
            "kind": "phrase",
            "negate": False,
            "phrases": ["cancel"],
            "role": "customer",
            "within_first_s": None,
            "within_last_s": None,
        }
    ]
    page = runtime_of(stored.client).catalog.list(CallFilters(category="customer-cancels"))
    assert {s.id for s in page.items} == {stored.ids["a"], stored.ids["d"]}
    assert all("customer-cancels" in s.categories for s in page.items)
    others = runtime_of(stored.client).catalog.list(CallFilters(topic="billing"), limit=100)
    assert all(
        ("customer-cancels" in s.categories) == (s.id in {stored.ids["a"], stored.ids["d"]})
        for s in others.items
    )
    assert stored.tagged("no-such-category") == set()
    assert stored.client.get("/v1/categories/nope").status_code == 404


@pytest.fixture
def fresh(make_client) -> tuple[TestClient, FakeTranscriber]:
    transcriber = FakeTranscriber([])
    return make_client(transcriber=transcriber), transcriber


def upload_saying(client: TestClient, transcriber: FakeTranscriber, customer: str) -> str:
    say(transcriber, f"{GREETING} how can I help", customer)
    return analysed(client)["call_id"]


def test_new_calls_are_tagged_when_analysed_and_again_when_reanalysed(fresh):
    client, transcriber = fresh
    rule = create(client, "cancels", phrase("cancel", role="customer")).json()
    assert rule["calls"] == 0

    yes = upload_saying(client, transcriber, "please cancel my plan")
    no = upload_saying(client, transcriber, "thanks for the help")
    stored = Stored(client, {"yes": yes, "no": no})
    assert stored.tagged("cancels") == {"yes"}
    assert client.get(f"/v1/categories/{rule['id']}").json()["calls"] == 1

    say(transcriber, f"{GREETING} how can I help", "never mind it works now")
    job = client.post(f"/v1/calls/{yes}/reanalyze").json()["job_id"]
    assert follow_job(client, job)[-1].status == "succeeded"
    assert stored.tagged("cancels") == set()

    say(transcriber, f"{GREETING} how can I help", "no I will cancel after all")
    job = client.post(f"/v1/calls/{no}/reanalyze").json()["job_id"]
    assert follow_job(client, job)[-1].status == "succeeded"
    assert stored.tagged("cancels") == {"no"}


def test_apply_false_leaves_stored_calls_until_the_category_is_applied(fresh):
    client, transcriber = fresh
    call = upload_saying(client, transcriber, "please cancel my plan")
    stored = Stored(client, {"call": call})

    rule = create(client, "later", phrase("cancel"), apply="false").json()
    assert (rule["calls"], stored.tagged("later")) == (0, set())
    assert client.post(f"/v1/categories/{rule['id']}/apply").json()["matched"] == 1
    assert stored.tagged("later") == {"call"}

    # A changed rule, not applied: the old tags stay; applied: they follow the new rule.
    changed = {"name": "later", "conditions": [phrase("refund")]}
    response = client.put(f"/v1/categories/{rule['id']}", json=changed, params={"apply": False})
    assert response.status_code == 200, response.text
    assert response.json()["conditions"][0]["phrases"] == ["refund"]
    assert stored.tagged("later") == {"call"}
    response = client.put(f"/v1/categories/{rule['id']}", json={**changed, "name": "renamed"})
    assert (response.json()["name"], response.json()["calls"]) == ("renamed", 0)
    assert stored.tagged("renamed") == set()


def test_deleting_a_category_or_a_call_removes_their_tags(fresh):
    client, transcriber = fresh
    first = upload_saying(client, transcriber, "please cancel my plan")
    second = upload_saying(client, transcriber, "I want to cancel now")
    stored = Stored(client, {"first": first, "second": second})
    rule = create(client, "cancels", phrase("cancel")).json()
    keep = create(client, "keep", phrase("cancel")).json()
    assert rule["calls"] == 2
    assert client.get(f"/v1/calls/{first}/categories").json() == {
        "call_id": first,
        "categories": ["cancels", "keep"],
    }

    assert client.delete(f"/v1/calls/{first}").status_code == 204
    assert client.get(f"/v1/calls/{first}/categories").status_code == 410
    assert client.get("/v1/calls/no-such-call/categories").status_code == 404
    assert stored.tagged("cancels") == {"second"}
    assert client.get(f"/v1/categories/{rule['id']}").json()["calls"] == 1
    assert client.post(f"/v1/categories/{rule['id']}/apply").json()["scanned"] == 1

    assert client.delete(f"/v1/categories/{rule['id']}").status_code == 204
    assert client.get(f"/v1/categories/{rule['id']}").status_code == 404
    assert client.delete(f"/v1/categories/{rule['id']}").status_code == 404
    assert stored.tagged("cancels") == set()
    with runtime_of(client).database.session() as session:
        rows = session.execute(
            select(CallCategoryRow.category_id, func.count()).group_by(CallCategoryRow.category_id)
        ).all()
    assert dict(rows) == {keep["id"]: 1}  # the deleted call lost its tag rows too
    assert stored.tagged("keep") == {"second"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"name": "has space", "conditions": [phrase("x")]}, "name"),
        ({"name": "empty", "conditions": []}, "conditions"),
        ({"name": "kind", "conditions": [{"kind": "mood"}]}, "'phrase', 'sentiment'"),
        ({"name": "role", "conditions": [phrase("x", role="boss")]}, "'agent', 'customer'"),
        (
            {"name": "both", "conditions": [phrase("x", within_first_s=5, within_last_s=5)]},
            "within_first_s or within_last_s, not both",
        ),
        ({"name": "bounds", "conditions": [{"kind": "sentiment"}]}, "give below, above"),
        ({"name": "typo", "conditions": [{"kind": "silence", "over": 5}]}, "over_s"),
    ],
)
def test_bad_rules_are_422_with_what_is_wrong(client, body, says):
    response = client.post("/v1/categories", json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert says in error["message"], error["message"]
    assert client.get("/v1/categories").json() == []


def test_names_are_unique(client):
    assert create(client, "dup", phrase("x")).status_code == 201
    response = create(client, "DUP", phrase("y"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "category_exists"
    other = create(client, "other", phrase("x")).json()
    renamed = client.put(
        f"/v1/categories/{other['id']}", json={"name": "dup", "conditions": [phrase("x")]}
    )
    assert renamed.status_code == 409


def test_viewers_read_analysts_write_and_only_admins_delete(make_client):
    client = make_client()
    keys = with_keys(client)
    body = {"name": "roles", "conditions": [phrase("cancel")]}

    refused = client.post("/v1/categories", json=body, headers=auth(keys["viewer"]))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    made = client.post("/v1/categories", json=body, headers=auth(keys["analyst"]))
    assert made.status_code == 201
    assert made.json()["created_by"].startswith("key:")
    category = made.json()["id"]
    assert client.get("/v1/categories", headers=auth(keys["viewer"])).status_code == 200
    apply = f"/v1/categories/{category}/apply"
    assert client.post(apply, headers=auth(keys["viewer"])).status_code == 403
    assert client.post(apply, headers=auth(keys["analyst"])).status_code == 200
    put = client.put(f"/v1/categories/{category}", json=body, headers=auth(keys["viewer"]))
    assert put.status_code == 403
    delete = f"/v1/categories/{category}"
    assert client.delete(delete, headers=auth(keys["analyst"])).status_code == 403
    assert client.delete(delete, headers=auth(keys["admin"])).status_code == 204
    assert client.get("/v1/categories").status_code == 401


def test_graphql_creates_a_category_and_filters_calls_by_it(fresh):
    client, transcriber = fresh
    yes = upload_saying(client, transcriber, "please cancel my plan")
    upload_saying(client, transcriber, "thanks for the help")

    created = client.post(
        "/graphql",
        json={
            "query": "mutation($input: CategoryInput!) { createCategory(input: $input) "
            "{ id name calls conditions } }",
            "variables": {
                "input": {"name": "GQL", "conditions": [phrase("cancel", role="customer")]}
            },
        },
    ).json()
    assert "errors" not in created, created
    assert created["data"]["createCategory"]["name"] == "gql"
    assert created["data"]["createCategory"]["calls"] == 1

    listed = client.post(
        "/graphql",
        json={
            "query": '{ calls(filter: {category: "gql"}) { totalCount edges { node { id } } } '
            "categories { name calls } }"
        },
    ).json()
    assert listed["data"]["calls"]["totalCount"] == 1
    assert listed["data"]["calls"]["edges"][0]["node"]["id"] == yes
    assert listed["data"]["categories"] == [{"name": "gql", "calls": 1}]

    bad = client.post(
        "/graphql",
        json={
            "query": "mutation($input: CategoryInput!) { createCategory(input: $input) { id } }",
            "variables": {"input": {"name": "bad", "conditions": [{"kind": "mood"}]}},
        },
    ).json()
    assert bad["errors"][0]["extensions"]["code"] == "invalid_input"
    assert "does not match any of the expected tags" in bad["errors"][0]["message"]

    applied = client.post(
        "/graphql",
        json={
            "query": "mutation($id: ID!) { applyCategory(id: $id) { scanned matched } "
            "deleteCategory(id: $id) }",
            "variables": {"id": created["data"]["createCategory"]["id"]},
        },
    ).json()
    assert applied["data"] == {
        "applyCategory": {"scanned": 2, "matched": 1},
        "deleteCategory": True,
    }
