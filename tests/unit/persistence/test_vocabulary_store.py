"""The vocabulary store on both databases: which vocabularies a call of a team gets, and a
name taken once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.errors import NotFoundError
from core.persistence.database import Database
from core.vocabularies.store import VocabularyExistsError, VocabularyIn, VocabularyStore
from tests.support.databases import postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[VocabularyStore]:
    if request.param == "postgres":
        with postgres_url() as url:
            database = Database(url)
            database.upgrade()
            yield VocabularyStore(database)
            database.dispose()
    else:
        database = Database(f"sqlite:///{tmp_path}/v.db")
        database.upgrade()
        yield VocabularyStore(database)
        database.dispose()


def make(name: str, terms: list[str], team: str | None = None) -> VocabularyIn:
    return VocabularyIn(name=name, terms=terms, scope="team" if team else "global", team=team)


def test_a_call_gets_its_teams_vocabularies_before_the_global_ones(store):
    store.create(make("a-global", ["Zentrix Plus"]))
    store.create(make("billing", ["Omnivault"], team="billing"))
    store.create(make("sales", ["Quintara"], team="sales"))
    store.create(make("z-global", ["Kalvora"]))

    def sources(team: str | None) -> list[str]:
        return [v.source for v in store.for_call(team)]

    assert sources("billing") == ["team:billing", "global:a-global", "global:z-global"]
    assert sources(None) == ["global:a-global", "global:z-global"]
    assert sources("support") == ["global:a-global", "global:z-global"]


def test_a_name_is_taken_once_and_an_unknown_id_is_not_found(store):
    first = store.create(make("products", ["Kalvora"]))
    with pytest.raises(VocabularyExistsError):
        store.create(make("products", ["Velto"]))
    other = store.create(make("other", ["Velto"]))
    with pytest.raises(VocabularyExistsError):
        store.update(other.id, make("products", ["Velto"]))
    assert [v.name for v in store.list()] == ["other", "products"]
    store.delete(first.id)
    with pytest.raises(NotFoundError):
        store.get(first.id)
    with pytest.raises(NotFoundError):
        store.update(first.id, make("products", ["Velto"]))
