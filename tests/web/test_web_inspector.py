"""The inspector in a real Chromium (Debian's, driven by Playwright through
``executable_path``): pages render without console errors, the journey SVG marks the current
state and numbers the steps, search finds an order, the login form works, and hostile ids stay
text (issue 12, point 5).

``make screenshots`` runs this module with ``ORDERFSM_SCREENSHOTS=docs/images``: the order
page's screenshot lands there for ``docs/service.md``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import READ, WRITE, ThreadServer, W

from statemachine.store import AsyncSQLiteStore
from statemachine.web import Settings, create_app

DELIBERATE_MISSES = ("/inspect/orders/NOPE", "/inspect/find?q=AE-9999")
"""Pages the tests ask for knowing they are 404s (Chromium logs a 404 document as an error)."""
HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on a SQLite file, with orders in several states, paid a day ago so their
    deadlines lie ahead."""
    path = tmp_path_factory.mktemp("inspector") / "orders.db"
    store = AsyncSQLiteStore(path)
    settings = Settings(token=WRITE, read_token=READ, sweep_interval=0)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    paid = now - dt.timedelta(days=1)

    def moment(hours: float) -> str:
        return (paid + dt.timedelta(hours=hours)).isoformat()

    with (
        ThreadServer(create_app(store, settings=settings)) as server,
        httpx.Client(base_url=server.url, headers=W) as client,
    ):
        for oid in ("AE-1042", "AE-2001", "AE-3003", "AE-4004", HOSTILE):
            answer = client.post(
                "/orders",
                json={"order_id": oid, "amount": "39.90", "currency": "USD", "paid_at": moment(0)},
            )
            assert answer.status_code == 201, answer.text

        def send(oid: str, event: str, hours: float, **data: str) -> None:
            answer = client.post(
                f"/orders/{oid}/events/{event}", json={"at": moment(hours), **data}
            )
            assert answer.status_code == 200, answer.text

        send("AE-1042", "request_cancellation", 1)
        send("AE-1042", "dispatch", 2, tracking_number="LP0042CN")
        send("AE-1042", "confirm_delivery", 20)
        send("AE-1042", "open_claim", 21, reason="damaged_in_transit", amount="12.50")
        send("AE-2001", "request_cancellation", 3)
        send("AE-2001", "supplier_accepts_cancellation", 4)
        send("AE-3003", "dispatch", 5, tracking_number="LP3003")
        yield server.url
    store.sync.close()


@pytest.fixture
def page(browser: Any, site: str) -> Iterator[Any]:
    """A page with the read token, failing the test on any console error or page error."""
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {READ}"},
        viewport={"width": 1400, "height": 1000},
        base_url=site,
    )
    opened = context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        where = str(message.location.get("url", ""))
        if message.type != "error" or any(miss in where for miss in DELIBERATE_MISSES):
            return
        problems.append(f"{message.text} ({where})")

    opened.on("console", console)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
    yield opened
    context.close()
    assert problems == []


def test_every_page_renders_without_console_errors(page: Any) -> None:
    """The home, a state's listing, an order, the dead letters and a miss all render (no
    console error, no script error, nothing blocked by the content security policy)."""
    page.goto("/inspect/")
    assert page.locator("h1").inner_text().startswith("Orders")
    cards = page.locator("#states a")
    assert cards.count() == 7
    assert page.locator('#states a[data-state="refund_pending"] b').inner_text() == "2"
    page.locator('#states a[data-state="refund_pending"]').click()
    assert page.locator("h1").inner_text() == "Orders in refund_pending"
    assert page.locator("#orders tbody tr").count() == 2
    assert "AE-2001" in page.locator("#orders").inner_text()
    assert page.locator("#near tbody tr").count() == 0 or page.locator("#near").is_visible()
    page.goto("/inspect/dead-letters")
    assert page.locator("h1").inner_text() == "Dead letters"
    page.goto("/inspect/orders/NOPE")
    assert page.locator("h1").inner_text() == "No such order"


def test_the_order_page_marks_the_current_state_in_its_journey(page: Any, dot_program: str) -> None:
    """The journey SVG is inline (folded under its path in words): the current state's node is
    filled and says so, the steps are numbered; the page shows deadlines in the supplier's
    zone said as "UTC+08:00 China" (R16), allowed events, refusals with their rule (R2), the
    money and the notifications' delivery state."""
    page.goto("/inspect/orders/AE-1042")
    assert page.locator("#state").inner_text() == "refund_pending"
    node = page.locator("#journey svg g.node", has=page.locator("title", has_text="refund_pending"))
    assert node.count() == 1
    assert node.locator("path, polygon").first.get_attribute("fill") == "#f59e0b"
    assert "current state" in node.text_content()
    for other in ("paid", "dispatched", "delivered"):
        elsewhere = page.locator("#journey svg g.node", has=page.locator("title", has_text=other))
        assert "current state" not in elsewhere.first.text_content()
    steps = page.locator("#journey svg").text_content()
    for label in ("1: request_cancellation", "2: dispatch", "3: confirm_delivery", "4: open_claim"):
        assert label in steps
    assert page.locator("#timeline tbody tr").count() == 4
    deadlines = page.locator("#deadlines").inner_text()
    assert "dispatch deadline" in deadlines and "ended in time by dispatch" in deadlines
    assert "claim deadline" in deadlines
    assert "UTC+08:00 China" in deadlines  # the supplier's zone, said without an abbreviation
    assert "CST" not in page.inner_text("main")
    assert page.locator("#allowed .tag").all_inner_texts() == ["decline_claim", "settle_refund"]
    refusals = page.locator("#refusals").inner_text()
    assert "R2" in refusals and "request_cancellation" in refusals
    money = page.locator("#money").inner_text()
    assert "Refund pending, funded by the supplier" in money
    assert "12.50 USD (damaged_in_transit, R9)" in money
    notes = page.locator("#notifications").inner_text()
    assert "cancellation_lapsed" in notes and "waiting in the outbox" in notes
    shot = page.screenshot(full_page=True)
    target = os.environ.get("ORDERFSM_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / "inspector-order.png").write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"


def _search(page: Any, text: str, where: str = "#find") -> None:
    page.locator(f"{where} input[name=q]").fill(text)
    with page.expect_navigation():
        page.locator(f"{where} button").click()


def test_search_finds_an_order_and_says_when_there_is_none(page: Any) -> None:
    """R15: the search box takes an id, a prefix of it in any case (`ae-30 `), its number
    (`3003`) or its tracking number in any case to the one order it finds; an amount lists
    every order paid that much, with state, amount and age; an unknown id says there is
    none."""
    page.goto("/inspect/")
    for text in ("AE-3003", "ae-30 ", "3003", "lp3003"):
        _search(page, text)
        assert page.url.endswith("/inspect/orders/AE-3003"), text
        assert page.locator("#order-id").inner_text() == "AE-3003"
        page.goto("/inspect/")
    _search(page, "39.90")
    listed = page.locator("#found tbody tr")
    assert listed.count() == 5
    assert "39.90 USD" in listed.first.inner_text()
    _search(page, "ae-", "header")
    assert page.locator("#found tbody tr").count() == 4  # the hostile id is no AE- order
    page.locator("header input[name=q]").fill("AE-9999")
    page.locator("header button").click()
    assert page.locator("h1").inner_text() == "No such order"
    assert "AE-9999" in page.locator("main").inner_text()


def test_a_hostile_order_id_is_shown_as_text(page: Any) -> None:
    """An id holding HTML is escaped everywhere it appears: no element, no script, no dialog."""
    page.goto("/inspect/orders?state=paid")
    assert HOSTILE in page.locator("#orders").inner_text()
    page.locator("#orders a", has_text="img src").click()
    assert page.locator("#order-id").inner_text() == HOSTILE
    assert page.locator("main img").count() == 0


def test_the_inspector_needs_the_read_token_and_the_login_form_takes_it(
    browser: Any, site: str
) -> None:
    """Without a token the inspector shows a sign-in form (401); a wrong token is refused;
    the read token opens a session cookie (HTTP-only, SameSite strict)."""
    context = browser.new_context(base_url=site)
    page = context.new_page()
    first = page.goto("/inspect/orders/AE-1042")
    assert first is not None and first.status == 401
    assert page.locator("h1").inner_text() == "Sign in"
    page.locator("input[name=token]").fill("a guess")
    page.locator("main button").click()
    assert "not a token of this service" in page.locator("main").inner_text()
    page.locator("input[name=token]").fill(READ)
    page.locator("main button").click()
    page.wait_for_url("**/inspect/")
    assert page.locator("h1").inner_text().startswith("Orders")
    cookie = next(c for c in context.cookies() if c["name"] == "orderfsm_inspector")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert READ not in cookie["value"]
    page.goto("/inspect/orders/AE-1042")
    assert page.locator("#state").inner_text() == "refund_pending"
    context.close()
