"""List pages kept in memory (READ_REFRESH_S): another process's changes show within the
window, this process's at once."""

from __future__ import annotations

from core.calls.catalog import CallCatalog, CallFilters
from tests.unit.calls.test_search import BILLING, NETWORK, Clock, add_call, delete_call


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [item.id for item in page.items]


def test_a_page_is_kept_for_refresh_s_and_this_processs_changes_drop_it(database, monkeypatch):
    clock = Clock()
    monkeypatch.setattr("core.calls.catalog.time.monotonic", clock)
    add_call(database, "billing", BILLING)
    catalog = CallCatalog(database, refresh_s=1.0)

    first = catalog.list(limit=10)
    assert ids(first) == ["billing"]
    assert catalog.cached_page(CallFilters(), limit=10) is first
    assert catalog.cached_page(CallFilters(), limit=5) is None  # another page: not read yet
    assert catalog.cached_page(CallFilters(agent="ana"), limit=10) is None

    add_call(database, "network", NETWORK)  # another process stores a call
    clock.now += 0.9
    assert catalog.cached_page(CallFilters(), limit=10) is first  # within the window
    clock.now += 0.2
    assert catalog.cached_page(CallFilters(), limit=10) is None  # past it: read again
    assert sorted(ids(catalog.list(limit=10))) == ["billing", "network"]

    delete_call(database, "network")
    catalog.invalidate("network")  # what the analysis service says after a change here
    assert catalog.cached_page(CallFilters(), limit=10) is None
    assert ids(catalog.list(limit=10)) == ["billing"]


def test_refresh_s_0_keeps_nothing(database):
    add_call(database, "billing", BILLING)
    catalog = CallCatalog(database)
    catalog.list(limit=10)
    assert catalog.cached_page(CallFilters(), limit=10) is None


def test_a_page_read_while_this_process_changed_a_call_is_not_kept(database, monkeypatch):
    add_call(database, "billing", BILLING)
    catalog = CallCatalog(database, refresh_s=60)
    read = catalog._read_page

    def changed_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        page = read(*args, **kwargs)
        catalog.invalidate("billing")  # a job stored a call while the page was read
        return page

    monkeypatch.setattr(catalog, "_read_page", changed_meanwhile)
    catalog.list(limit=10)
    assert catalog.cached_page(CallFilters(), limit=10) is None
