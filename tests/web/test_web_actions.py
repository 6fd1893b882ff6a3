"""Acting from the inspector, with the support role (issue 20, point 3): each event allowed
now is a form with its data's fields (from the event's schema), a preview that runs explain
and shows the outcome before anything is written, a confirmation, and an idempotency key per
form, so a form sent twice applies once (R15). The event is recorded with the agent's name and
note; a refused one shows the rule's message; read credentials see no forms. In a real
Chromium (Debian's, through Playwright) and over plain HTTP forms."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from web_helpers import READ, WRITE, ThreadServer

from statemachine import Order
from statemachine.declaration import CLAIM_REASONS
from statemachine.store import AsyncSQLiteStore, SQLiteStore
from statemachine.web import Settings, create_app
from statemachine.web._credentials import Credential

ALICE = "alice-support-secret-0001"
R = {"Authorization": f"Bearer {READ}"}
FORM = "application/x-www-form-urlencoded"
CLAIMS = ("AE-3001", "AE-3002", "AE-3003", "AE-3004")
"""Orders with a claim of 20.00 USD pending (damaged_in_transit, funded by the supplier)."""
DELIVERED = "AE-3101"
"""An order delivered two days ago: its claim window is open."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with a support credential (alice), on orders paid ten days ago."""
    path = tmp_path_factory.mktemp("actions") / "orders.db"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    paid = now - dt.timedelta(days=10)
    with SQLiteStore(path, create=True) as store:
        for order_id in (*CLAIMS, DELIVERED):
            store.add(Order.create(order_id, "40.00", "USD", paid))
            store.apply(order_id, "dispatch", at=paid + dt.timedelta(days=1),
                        tracking_number="LP1", source="supplier")  # fmt: skip
            store.apply(order_id, "confirm_delivery", at=now - dt.timedelta(days=2))
        for order_id in CLAIMS:
            store.apply(order_id, "open_claim", at=now - dt.timedelta(days=1),
                        reason="damaged_in_transit", amount="20.00")  # fmt: skip
        store.add(Order.create("GW-1", "30.00", "USD", paid))
        store.apply("GW-1", "dispatch", at=paid + dt.timedelta(days=1), tracking_number="LP2")
        store.apply("GW-1", "confirm_delivery", at=paid + dt.timedelta(days=3))
        store.apply("GW-1", "offer_goodwill_refund", at=paid + dt.timedelta(days=4), amount="8.00")
        store.apply("GW-1", "settle_refund", at=paid + dt.timedelta(days=5))
    store_async = AsyncSQLiteStore(path)
    settings = Settings(
        token=WRITE,
        read_token=READ,
        sweep_interval=0,
        credentials=[Credential("alice", "support", ALICE)],
    )
    with ThreadServer(create_app(store_async, settings=settings)) as server:
        yield server.url
    store_async.sync.close()


def _signed_in(browser: Any, site: str, secret: str) -> Any:
    """A page at 1280x800 signed in to the inspector with ``secret`` through its form."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=site)
    page = context.new_page()
    page.goto("/inspect/login")
    page.fill("input[name=token]", secret)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/inspect/"), "the sign-in was refused"
    return page


@contextmanager
def _http(site: str, secret: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the inspector with ``secret`` (its session cookie)."""
    with httpx.Client(base_url=site, timeout=30) as http:
        token = _value(http.get("/inspect/login").text, "csrf")
        signed = http.post("/inspect/login", content=urlencode({"csrf": token, "token": secret}),
                           headers={"Content-Type": FORM, "Origin": site})  # fmt: skip
        assert signed.status_code == 303, signed.text
        yield http


def _value(html: str, name: str, after: str = "") -> str:
    """The value of the first field called ``name`` (after the text ``after``)."""
    start = html.index(after) if after else 0
    found = re.search(rf'name="{name}" value="([^"]*)"', html[start:])
    assert found is not None, name
    return found.group(1)


def _history(site: str, order_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{site}/orders/{order_id}/history", headers=R)
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def _version(site: str, order_id: str) -> int:
    version: int = httpx.get(f"{site}/orders/{order_id}", headers=R).json()["version"]
    return version


def test_an_agent_declines_a_claim_and_the_history_names_them_and_the_note(
    browser: Any, site: str
) -> None:
    """R5, R15, who sends each event: alice (support) learns the supplier declined the claim;
    from the order's page she previews decline_claim (nothing written yet: explain, and the
    outcome refund_pending to delivered), confirms, and the history names her, the inspector
    and her note, under the form's key as the event id."""
    page = _signed_in(browser, site, ALICE)
    page.goto("/inspect/orders/AE-3001")
    assert page.locator("#act-decline_claim").is_visible()
    before = _version(site, "AE-3001")
    note = "supplier declined: the photos show no damage"
    page.fill("#act-decline_claim input[name=note]", note)
    with page.expect_navigation():
        page.click("#act-decline_claim button")
    assert page.locator("#dest").inner_text() == "refund_pending → delivered"
    assert "alice (support), from the inspector" in page.inner_text("#outcome")
    assert note in page.inner_text("#outcome")
    assert _version(site, "AE-3001") == before  # a preview writes nothing
    with page.expect_navigation():
        page.click("#confirm button")
    assert page.locator("#state").inner_text() == "delivered"
    banner = page.locator("#recorded").inner_text()
    assert banner.startswith("Recorded: decline_claim") and f"by alice: “{note}”" in banner
    last = _history(site, "AE-3001")[-1]
    assert (last["event"], last["actor"], last["note"], last["source"]) == (
        "decline_claim", "alice", note, "inspector",
    )  # fmt: skip
    assert last["event_id"].startswith("inspector-")
    assert _version(site, "AE-3001") == before + 1
    page.context.close()


def test_a_form_sent_twice_applies_once(site: str) -> None:
    """R15: the same form posted twice (a double click, a reload) carries one idempotency key,
    the event's id: the first applies, the second is a duplicate and writes nothing; the page
    says so."""
    with _http(site, ALICE) as http:
        page = http.get("/inspect/orders/AE-3002").text
        fields = {
            "csrf": _value(page, "csrf"),
            "key": _value(page, "key", after='id="act-settle_refund"'),
            "note": "the supplier paid on Alipay",
        }
        body = urlencode(fields)
        headers = {"Content-Type": FORM, "Origin": site}
        first = http.post("/inspect/orders/AE-3002/events/settle_refund", content=body,
                          headers=headers)  # fmt: skip
        second = http.post("/inspect/orders/AE-3002/events/settle_refund", content=body,
                           headers=headers)  # fmt: skip
        assert (first.status_code, second.status_code) == (303, 303)
        assert "replay" not in first.headers["location"]
        assert second.headers["location"].endswith("&replay=1#recorded")
        shown = http.get(second.headers["location"].split("#")[0]).text
        assert "Already recorded" in shown
    settled = [e for e in _history(site, "AE-3002") if e["event"] == "settle_refund"]
    assert len(settled) == 1 and settled[0]["event_id"] == fields["key"]
    assert settled[0]["actor"] == "alice"
    assert _version(site, "AE-3002") == 5  # created, dispatch, delivery, claim, settlement


def test_the_read_role_sees_no_forms_and_may_post_none(browser: Any, site: str) -> None:
    """Who sends each event: a read credential's page holds no form that acts (nor a bearer
    token's, which posts no form); a form posted with its session anyway is 403, and nothing
    is written."""
    page = _signed_in(browser, site, READ)
    page.goto("/inspect/orders/AE-3003")
    assert page.locator("#act").count() == 0
    assert page.locator("form[action*='/events/']").count() == 0
    page.context.close()
    bearer = httpx.get(f"{site}/inspect/orders/AE-3003", headers=R).text
    assert "/events/" not in bearer and 'id="act"' not in bearer
    before = _version(site, "AE-3003")
    with _http(site, READ) as http:
        csrf = _value(http.get("/inspect/orders/AE-3003").text, "csrf")
        body = urlencode({"csrf": csrf, "key": "inspector-read-1"})
        for path in ("/events/decline_claim/preview", "/events/decline_claim"):
            answer = http.post(f"/inspect/orders/AE-3003{path}", content=body,
                               headers={"Content-Type": FORM, "Origin": site})  # fmt: skip
            assert answer.status_code == 403
            assert "may not act on them" in answer.text and "No such order" not in answer.text
    assert _version(site, "AE-3003") == before


def test_a_form_from_another_site_or_without_the_token_is_refused(site: str) -> None:
    """The inspector's forms: one posted from another origin, or without the session's form
    token, is refused (403) and writes nothing."""
    before = _version(site, "AE-3004")
    with _http(site, ALICE) as http:
        page = http.get("/inspect/orders/AE-3004").text
        key = _value(page, "key", after='id="act-decline_claim"')
        good = {"csrf": _value(page, "csrf"), "key": key}
        for fields, origin in ((good, "https://evil.example"), ({**good, "csrf": "guess"}, site)):
            answer = http.post("/inspect/orders/AE-3004/events/decline_claim",
                               content=urlencode(fields),
                               headers={"Content-Type": FORM, "Origin": origin})  # fmt: skip
            assert answer.status_code == 403
    assert _version(site, "AE-3004") == before


def test_a_refused_event_shows_the_rule_s_message(browser: Any, site: str) -> None:
    """R10, R11: a goodwill refund of the whole amount is refused at its preview with R10's
    message (no confirmation offered), and confirming it anyway is 422 with the same message;
    a claim above the amount paid is refused by R11. Nothing is written."""
    before = _version(site, DELIVERED)
    page = _signed_in(browser, site, ALICE)
    page.goto(f"/inspect/orders/{DELIVERED}")
    page.fill("#act-offer_goodwill_refund input[name=amount]", "40.00")
    with page.expect_navigation():
        page.click("#act-offer_goodwill_refund button")
    refused = page.locator("#refused").inner_text()
    assert refused.startswith("Refused by R10 (data):") and "must be partial" in refused
    assert page.locator("#confirm").count() == 0
    page.goto(f"/inspect/orders/{DELIVERED}")
    page.select_option("#act-open_claim select[name=reason]", "not_as_described")
    page.fill("#act-open_claim input[name=amount]", "45.00")
    with page.expect_navigation():
        page.click("#act-open_claim button")
    assert page.locator("#refused").inner_text().startswith("Refused by R11 (data):")
    page.context.close()
    with _http(site, ALICE) as http:
        form = http.get(f"/inspect/orders/{DELIVERED}").text
        fields = {"csrf": _value(form, "csrf"), "amount": "40.00",
                  "key": _value(form, "key", after='id="act-offer_goodwill_refund"')}  # fmt: skip
        answer = http.post(f"/inspect/orders/{DELIVERED}/events/offer_goodwill_refund",
                           content=urlencode(fields),
                           headers={"Content-Type": FORM, "Origin": site})  # fmt: skip
        assert answer.status_code == 422
        assert "Refused by R10" in answer.text and "must be partial" in answer.text
    assert _version(site, DELIVERED) == before


def test_each_allowed_event_is_a_form_with_its_data_s_fields(browser: Any, site: str) -> None:
    """R8, R9, R11: in delivered the agent gets a form per event allowed now; open_claim's
    reason is a select of R8's reasons, its amount text in the order's currency, R9's
    listing_altered a checkbox; every field has a label and is reached with the keyboard."""
    page = _signed_in(browser, site, ALICE)
    page.goto(f"/inspect/orders/{DELIVERED}")
    forms = page.locator("#act .form h3").all_inner_texts()
    assert [f.split()[0] for f in forms] == ["open_claim", "offer_goodwill_refund"]
    claim = page.locator("#act-open_claim")
    options = claim.locator("select[name=reason] option").all_inner_texts()
    assert tuple(options) == CLAIM_REASONS
    assert claim.locator("input[type=checkbox][name=listing_altered]").count() == 1
    assert "amount (USD)" in claim.inner_text()
    unlabelled = page.evaluate(
        "Array.from(document.querySelectorAll('#act input:not([type=hidden]), #act select'))"
        ".filter(e => e.labels.length === 0).map(e => e.name)"
    )
    assert unlabelled == []
    page.focus("#act-open_claim select[name=reason]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "amount"
    page.context.close()


def test_a_form_token_of_any_characters_is_refused_not_a_failure(site: str) -> None:
    """A form token holding characters other than ASCII is simply not the session's: 403,
    nothing written, never a server error."""
    before = _version(site, "GW-1")
    with _http(site, ALICE) as http:
        http.get("/inspect/orders/GW-1")
        for path in (
            "/inspect/orders/GW-1/events/reimburse_customer/preview",
            "/inspect/orders/GW-1/events/reimburse_customer",
            "/inspect/logout",
        ):
            answer = http.post(path, content=urlencode({"csrf": "\u00e9t\u00e9", "amount": "1.00"}),
                               headers={"Content-Type": FORM, "Origin": site})  # fmt: skip
            assert answer.status_code == 403, (path, answer.status_code)
    assert _version(site, "GW-1") == before


def test_a_reimbursement_beyond_what_was_agreed_is_flagged_before_it_is_confirmed(
    site: str,
) -> None:
    """R11: the reimbursement form suggests what the customer is still owed (the 8.00 of a
    settled goodwill refund, not the 30.00 paid), and its preview warns that 30.00 pays 22.00
    more than agreed; 8.00 is not flagged."""
    with _http(site, ALICE) as http:
        page = http.get("/inspect/orders/GW-1").text
        form = page[page.index('id="act-reimburse_customer"') :]
        assert 'placeholder="8.00"' in form[: form.index("</form>")]
        fields = {
            "csrf": _value(page, "csrf"),
            "key": _value(page, "key", after='id="act-reimburse_customer"'),
        }
        for amount, flagged in (("30.00", True), ("8.00", False)):
            shown = http.post("/inspect/orders/GW-1/events/reimburse_customer/preview",
                              content=urlencode({**fields, "amount": amount}),
                              headers={"Content-Type": FORM, "Origin": site}).text  # fmt: skip
            assert ("More than agreed" in shown) is flagged, amount
            assert ("22.00 USD more" in shown) is flagged
