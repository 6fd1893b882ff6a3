"""The order page's first screen answers the customer's question (issue 20, point 1), in a
real Chromium (Debian's, through Playwright): for each of the demo's eight stories, what was
paid, refunded, paid back and is still owed (how much, when, by whom) and what comes next are
in the text the browser shows within the first 800 px at 1280x800; incidents and late
dispatches are at the top; deadlines that no longer bind are done, not alarms; times say their
zone as "UTC+08:00 China", and the viewer's own on hover; at 390x844 nothing scrolls sideways.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from web_helpers import READ, WRITE, ThreadServer

from statemachine import Order
from statemachine._demo import tell_all
from statemachine.store import AsyncSQLiteStore, SQLiteStore
from statemachine.web import Settings, create_app

SH = ZoneInfo("Asia/Shanghai")
LATE_ONE = "AE-2012"
"""Paid 2026-09-01, its R1 deadline the end of 2026-09-10, dispatched 2026-09-22: 12 days late."""
NEW_ONE = "AE-2013"
"""Paid a day ago: its R1 dispatch deadline is ahead."""

ABOVE_THE_FOLD: dict[str, tuple[str, ...]] = {
    "AE-1001": (
        "Paid to the supplier", "25.00 USD on 2026-04-01 10:00, by the merchant",
        "Refunded by the supplier", "25.00 USD on 2026-04-08 15:00 (cancellation), to the merchant",
        "Paid back to the customer", "25.00 USD on 2026-04-08 16:00, by the merchant",
        "The order is cancelled, a final state",
    ),
    "AE-1002": (
        "18.50 USD on 2026-04-06 10:00, by the merchant",
        "No deadline is ahead. Waits on the carrier (confirm_delivery).",
    ),
    "AE-1003": (
        "39.90 USD on 2026-04-13 10:00, by the merchant",
        "No deadline is ahead. Waits on the carrier (confirm_delivery).",
    ),
    "AE-1004": (
        "Dispatched after the cancellation was accepted (R7), on 2026-05-08 09:00",
        "recover the goods or their cost from the supplier",
        "30.00 USD on 2026-05-06 10:00, by the merchant",
        "Paid back to the customer", "30.00 USD on 2026-05-07 10:00, by the merchant",
        "Still owed by the supplier", "expected from 2026-05-11, due by 2026-05-27 23:59",
        "overdue by", "Up to the supplier (settle_refund)",
    ),
    "AE-1005": (
        "40.00 USD on 2026-05-11 10:00, by the merchant",
        "Refunded by the supplier", "40.00 USD on 2026-06-03 10:00 (not_as_described)",
        "Not yet paid back to the customer", "40.00 USD, by the merchant",
        "the merchant (reimburse_customer)",
    ),
    "AE-1006": (
        "60.00 USD on 2026-06-01 10:00, by the merchant",
        "Refunded by the supplier", "60.00 USD on 2026-07-06 10:00 (damaged_in_transit)",
        "Not yet paid back to the customer", "60.00 USD, by the merchant",
    ),
    "AE-1007": (
        "30.00 USD on 2026-06-08 10:00, by the merchant",
        "Refunded by the merchant", "8.00 USD on 2026-06-24 10:00 (goodwill)",
        "Not yet paid back to the customer", "8.00 USD, by the merchant",
    ),
    "AE-1008": (
        "15.00 USD on 2026-02-13 10:00, by the merchant",
        "The supplier has not repaid 15.00 USD: overdue by",
        "Still owed by the supplier", "15.00 USD (not_dispatched refund, R9)",
        "due by 2026-03-24 23:59", "escalated",
        "Not yet paid back to the customer", "15.00 USD, by the merchant",
        "Waits on the supplier (settle_refund)",
    ),
    LATE_ONE: (
        "Dispatched 12 days late (R1), on 2026-09-22 10:00; the deadline was 2026-09-10 23:59",
        "22.00 USD on 2026-09-01 10:00, by the merchant",
    ),
}  # fmt: skip
"""What each story's first screen must say, story by story."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on the demo's store, with an order dispatched 12 days late and one paid a
    day ago beside the stories' eight."""
    path = tmp_path_factory.mktemp("first-screen") / "orders.db"
    with SQLiteStore(path, create=True) as store:
        tell_all(store)
        store.add(Order.create(LATE_ONE, "22.00", "USD", dt.datetime(2026, 9, 1, 10, tzinfo=SH)))
        store.apply(LATE_ONE, "dispatch", at=dt.datetime(2026, 9, 22, 10, tzinfo=SH),
                    tracking_number="LP2012", source="supplier")  # fmt: skip
        yesterday = dt.datetime.now(SH).replace(microsecond=0) - dt.timedelta(days=1)
        store.add(Order.create(NEW_ONE, "12.00", "USD", yesterday))
    store_async = AsyncSQLiteStore(path)
    settings = Settings(token=WRITE, read_token=READ, sweep_interval=0)
    with ThreadServer(create_app(store_async, settings=settings)) as server:
        yield server.url
    store_async.sync.close()


@pytest.fixture(scope="module")
def reader(browser: Any, site: str) -> Iterator[Any]:
    """A page at 1280x800 with the read token."""
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {READ}"},
        viewport={"width": 1280, "height": 800},
        base_url=site,
    )
    yield context.new_page()
    context.close()


FIRST_SCREEN = """(fold) => {
  const seen = [];
  for (const e of document.querySelectorAll('main *')) {
    const box = e.getBoundingClientRect();
    if (box.height > 0 && box.top >= 0 && box.bottom <= fold && e.checkVisibility()) {
      seen.push(e.innerText);
    }
  }
  return seen.join('\\n');
}"""
"""The text of every element of the page shown whole within the first ``fold`` pixels."""


def first_screen(page: Any, path: str, fold: int = 800) -> str:
    page.goto(path)
    page.evaluate("window.scrollTo(0, 0)")
    text: str = page.evaluate(FIRST_SCREEN, fold)
    return " ".join(text.split())


@pytest.mark.parametrize("order_id", sorted(ABOVE_THE_FOLD))
def test_the_first_screen_says_where_the_money_is(reader: Any, order_id: str) -> None:
    """R9, R11, R4, R1, R7: at 1280x800, each story's amounts, dates and parties (what was
    paid, refunded and by whom, paid back, still owed and by whom, overdue, incidents and late
    dispatches, who the order waits on) are in the text shown above the fold, with the zone
    its times are in."""
    shown = first_screen(reader, f"/inspect/orders/{order_id}")
    missing = [said for said in ABOVE_THE_FOLD[order_id] if said not in shown]
    assert missing == [], shown
    assert "Times are UTC+08:00 China" in shown
    assert "CST" not in reader.inner_text("main")


def test_the_next_deadline_and_who_must_act_are_on_the_first_screen(reader: Any) -> None:
    """R1, R12: an order paid a day ago says above the fold by when the supplier must act
    (its R1 deadline, the table's clock event) and what the clock does then."""
    shown = first_screen(reader, f"/inspect/orders/{NEW_ONE}")
    reader.goto(f"/inspect/orders/{NEW_ONE}")
    due = reader.locator("#deadlines time").first.inner_text()
    assert f"The supplier (dispatch) must act by {due}" in shown
    assert "else the clock sends dispatch_deadline_expired (to refund_pending)" in shown


def test_a_late_dispatch_is_missed_not_met(reader: Any) -> None:
    """R1: the order dispatched 12 days late says so at the top; its dispatch deadline is done
    and missed, never "met", and is no alarm."""
    reader.goto(f"/inspect/orders/{LATE_ONE}")
    alerts = reader.locator("#alerts").inner_text()
    assert alerts.startswith("Dispatched 12 days late (R1)")
    row = reader.locator("#deadlines tbody tr").first
    assert row.get_attribute("data-state") == "missed"
    assert "missed: dispatch came 12 days late" in row.inner_text()
    assert "met" not in row.inner_text().split()
    assert row.locator(".overdue").count() == 0


@pytest.mark.parametrize("order_id", ["AE-1001", "AE-1002", "AE-1005", "AE-1007"])
def test_deadlines_that_no_longer_bind_are_done_not_alarms(reader: Any, order_id: str) -> None:
    """R1, R13: long after its deadlines, an order that left the states they bind in shows
    each as done (met in time), and nothing on its page is an alarm."""
    reader.goto(f"/inspect/orders/{order_id}")
    rows = reader.locator("#deadlines tbody tr")
    assert rows.count() >= 1
    for n in range(rows.count()):
        assert rows.nth(n).get_attribute("data-state") == "met"
        assert "done" in rows.nth(n).inner_text() and "passed" not in rows.nth(n).inner_text()
    assert reader.locator("main .overdue").count() == 0
    assert reader.locator("#alerts").count() == 0


def test_times_say_their_zone_and_the_viewer_s_on_hover(browser: Any, site: str) -> None:
    """R16: every time shown is in the supplier's zone, said "UTC+08:00 China"; hovering one
    gives it in UTC and, once the viewer chose theirs, in their zone too, which the timeline
    also shows in a column of its own (and remembers)."""
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {READ}"},
        viewport={"width": 1280, "height": 800},
        base_url=site,
    )
    page = context.new_page()
    page.goto("/inspect/orders/AE-1004")
    paid = page.locator("#money time").first
    assert paid.inner_text() == "2026-05-06 10:00"
    assert paid.get_attribute("datetime") == "2026-05-06T10:00:00+08:00"
    assert "2026-05-06 02:00 UTC" in (paid.get_attribute("title") or "")
    page.fill("#tz", "Europe/Berlin")
    with page.expect_navigation():
        page.click("#zone button")
    title = page.locator("#money time").first.get_attribute("title") or ""
    assert "2026-05-06 04:00 UTC+02:00 Germany (your zone)" in title
    assert "Germany (yours)" in page.locator("#timeline thead").inner_text()
    page.goto("/inspect/orders/AE-1004")  # the choice is remembered
    assert "Germany" in page.locator("#timeline thead").inner_text()
    page.goto("/inspect/orders/AE-1004?tz=Not/AZone")
    assert "Germany" in page.locator("#timeline thead").inner_text()
    context.close()


def test_the_journey_is_folded_under_its_path_and_refusals_are_grouped(reader: Any) -> None:
    """R5, R14: the journey's drawing is folded under the path taken in words; the refusals
    a rule explains come first (R5 for declining a cancellation refund), every other event is
    named once with the one reason."""
    reader.goto("/inspect/orders/AE-1004")
    assert not reader.locator("#journey").is_visible()
    assert "paid → cancel_requested → refund_pending: 4 events" in reader.inner_text("main")
    assert reader.locator("#refusals tbody tr").count() == 1
    assert "R5" in reader.locator("#refusals").inner_text()
    others = reader.locator("#other-refusals").inner_text()
    assert others.startswith("Every other event: not in this state")
    assert "open_claim" in others
    reader.goto("/inspect/orders/AE-1005")
    assert reader.locator("#refusals").count() == 0
    assert "R14: the order is refunded, a final state" in reader.inner_text("#other-refusals")


@pytest.mark.parametrize("order_id", sorted(ABOVE_THE_FOLD))
def test_nothing_scrolls_sideways_on_a_phone(browser: Any, site: str, order_id: str) -> None:
    """At 390x844 the order page fits the screen's width: no horizontal scrolling."""
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {READ}"},
        viewport={"width": 390, "height": 844},
        base_url=site,
    )
    page = context.new_page()
    page.goto(f"/inspect/orders/{order_id}")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    context.close()
    assert width <= 390
