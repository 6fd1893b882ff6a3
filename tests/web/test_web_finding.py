"""Finding orders in the inspector (issue 20, point 2): the home page lists the orders that
need a person and why; lists show state, amount, age and next deadline, sort by each and
page; all of it from the store's indexed queries, in a real Chromium."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import READ, WRITE, ThreadServer

from statemachine import Order
from statemachine.store import AsyncSQLiteStore, SQLiteStore
from statemachine.web import Settings, create_app

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Orders that need a person, each for one reason, and sixty quiet ones to page through."""
    path: Path = tmp_path_factory.mktemp("finding") / "orders.db"
    with SQLiteStore(path, create=True) as store:
        store.add(Order.create("LATE-REPAY", "80.00", "USD", _ago(60)))
        store.apply("LATE-REPAY", "request_cancellation", at=_ago(59))
        store.apply("LATE-REPAY", "supplier_accepts_cancellation", at=_ago(58))
        store.add(Order.create("ESCALATED", "70.00", "USD", _ago(50)))
        store.apply("ESCALATED", "request_cancellation", at=_ago(49))
        store.apply("ESCALATED", "supplier_accepts_cancellation", at=_ago(48))
        store.apply("ESCALATED", "repayment_overdue", at=_ago(20))  # the clock escalated it
        store.add(Order.create("LATE-SHIP", "15.00", "USD", _ago(30)))
        store.apply("LATE-SHIP", "dispatch", at=_ago(2), tracking_number="LP-LATE")
        store.add(Order.create("UNSWEPT", "22.00", "USD", _ago(40)))
        store.add(Order.create("AHEAD", "9.00", "USD", _ago(1)))
        store.apply("AHEAD", "dispatch", at=NOW + dt.timedelta(days=3), tracking_number="LP-X")
        store.add_many(
            Order.create(f"QUIET-{i:03d}", f"{i + 1}.00", "USD", _ago(i / 10)) for i in range(60)
        )
    async_store = AsyncSQLiteStore(path)
    settings = Settings(token=WRITE, read_token=READ, sweep_interval=0, max_skew=0)
    with ThreadServer(create_app(async_store, settings=settings)) as server:
        yield server.url
    async_store.sync.close()


@pytest.fixture
def page(browser: Any, site: str) -> Iterator[Any]:
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {READ}"},
        viewport={"width": 1280, "height": 800},
        base_url=site,
    )
    yield context.new_page()
    context.close()


def test_the_home_page_lists_who_needs_a_person_and_why(page: Any) -> None:
    """R4 R1 R12 R16: an overdue repayment, a late dispatch, a deadline the sweep has not
    fired and an event dated ahead of the clock are each on the home page with their reason;
    a quiet order is not."""
    page.goto("/inspect/")
    rows = {
        row.locator("td").first.inner_text(): row.inner_text()
        for row in page.locator("#attention tbody tr").all()
    }
    assert "repayment is overdue (R4)" in rows["LATE-REPAY"]
    assert "late dispatch (R1)" in rows["LATE-SHIP"]
    assert "sweep has not fired" in rows["UNSWEPT"]
    assert "dated after the service's clock (R16)" in rows["AHEAD"]
    assert not any(oid.startswith("QUIET") for oid in rows)
    assert "80.00 USD" in rows["LATE-REPAY"] and "60 d" in rows["LATE-REPAY"]
    # escalated once (R4), nothing is due for the clock: the deadline it missed is still shown
    assert "repayment is overdue (R4)" in rows["ESCALATED"] and "ago" in rows["ESCALATED"]


def test_lists_sort_by_amount_and_age_and_page(page: Any) -> None:
    """R11: the list shows state, amount, age and next deadline; sorted by amount, largest
    first, then by age; a page of fifty, then the next."""
    page.goto("/inspect/orders?state=paid&sort=amount&order=desc")
    first = [r.inner_text().split("\t") for r in page.locator("#orders tbody tr").all()]
    assert len(first) == 50 and first[0][0] == "QUIET-059" and first[0][2] == "60.00 USD"
    amounts = [float(r[2].split()[0]) for r in first]
    assert amounts == sorted(amounts, reverse=True)
    page.get_by_role("link", name="next page").click()
    page.wait_for_load_state()
    rest = [r.inner_text().split("\t") for r in page.locator("#orders tbody tr").all()]
    ids = [r[0] for r in first + rest]
    assert sorted(ids) == sorted([*(f"QUIET-{i:03d}" for i in range(60)), "UNSWEPT"])
    page.goto("/inspect/orders?sort=age&order=desc")  # the oldest first
    header = page.locator("#orders thead th[aria-sort]")
    assert header.inner_text().startswith("age")
    oldest = page.locator("#orders tbody tr").first.inner_text()
    assert "LATE-REPAY" in oldest
