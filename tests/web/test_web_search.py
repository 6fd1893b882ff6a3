"""Finding orders over real HTTP, on SQLite and PostgreSQL (issue 20): ``GET /orders?q=``
searches, ``sort=`` and ``order=`` sort the listing, ``GET /attention`` lists the orders that
need a person with why; every answer checked against the served OpenAPI document, every bad
parameter a 422 problem naming it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from web_helpers import PAID, R, W, at, fire

from statemachine import Order
from statemachine.store import AsyncStore


def _create(client: httpx.Client, order_id: str, amount: str, currency: str = "USD",
            days: float = 0) -> None:  # fmt: skip
    created = client.post(
        "/orders",
        headers=W,
        json={"order_id": order_id, "amount": amount, "currency": currency, "paid_at": at(days)},
    )
    assert created.status_code == 201, created.text


def _ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [row["order_id"] for row in answer.json()["orders"]]


def _shop(client: httpx.Client) -> None:
    for i, (amount, currency) in enumerate(
        [("25.00", "USD"), ("39.90", "USD"), ("39.90", "EUR"), ("100.00", "USD"), ("9.50", "GBP")]
    ):
        _create(client, f"AE-{1001 + i}", amount, currency, days=i)
    fire(client, "AE-1002", "dispatch", at=at(days=2), tracking_number="LP00002CN")


def test_q_finds_orders_by_id_number_tracking_number_and_amount(client: httpx.Client) -> None:
    """R1 R11: ``GET /orders?q=`` finds an id by a prefix in any case (spaces around it
    aside), by its number (``1004`` finds AE-1004), a dispatched order by its tracking
    number, and orders by amount, in a currency if named; rows carry amount, currency and
    age."""
    _shop(client)

    def search(q: str, **more: Any) -> httpx.Response:
        return client.get("/orders", params={"q": q, **more}, headers=R)

    assert _ids(search(" ae-1004 ")) == ["AE-1004"]
    assert _ids(search("1004")) == ["AE-1004"]
    assert _ids(search("lp00002cn")) == ["AE-1002"]
    assert _ids(search("39.9")) == ["AE-1002", "AE-1003"]
    assert _ids(search("39.90 eur")) == ["AE-1003"]
    row = search("AE-1005").json()["orders"][0]
    assert (row["amount"], row["currency"], row["paid_at"]) == ("9.50", "GBP", at(4))
    first = search("ae", limit=2).json()
    assert [r["order_id"] for r in first["orders"]] == ["AE-1001", "AE-1002"]
    rest = search("ae", limit=10, cursor=first["next_cursor"]).json()
    assert [r["order_id"] for r in rest["orders"]] == ["AE-1003", "AE-1004", "AE-1005"]
    assert rest["next_cursor"] is None


def test_sort_and_order_sort_the_listing_and_page_by_cursor(client: httpx.Client) -> None:
    """R12: ``sort=amount`` lists by amount as a number (ties by id), ``order=desc`` turns it
    round, ``sort=age`` the youngest first, ``sort=deadline`` the next clock deadline
    soonest first with the dispatched order (none) last; next_cursor pages each of them."""
    _shop(client)

    def listed(**params: Any) -> list[str]:
        walked: list[str] = []
        more: dict[str, Any] = {"limit": 2}
        while True:
            page = client.get("/orders", params={**params, **more}, headers=R).json()
            walked += [r["order_id"] for r in page["orders"]]
            if page["next_cursor"] is None:
                return walked
            more["cursor"] = page["next_cursor"]

    assert listed(sort="amount") == ["AE-1005", "AE-1001", "AE-1002", "AE-1003", "AE-1004"]
    assert listed(sort="amount", order="desc") == [
        "AE-1004", "AE-1003", "AE-1002", "AE-1001", "AE-1005",
    ]  # fmt: skip
    assert listed(sort="age") == ["AE-1005", "AE-1004", "AE-1003", "AE-1002", "AE-1001"]
    assert listed(sort="deadline")[-1] == "AE-1002"
    assert listed(sort="state", order="desc") == [  # by the state's name: paid, dispatched
        "AE-1005", "AE-1004", "AE-1003", "AE-1001", "AE-1002",
    ]  # fmt: skip


def test_bad_search_sort_or_cursor_is_a_422_problem_naming_the_field(
    client: httpx.Client,
) -> None:
    """Issue 20: an empty q, q with a filter or a sort, a sort or order that is none, a
    cursor of another sort and a reason that is none are each 422, a problem document
    naming the field."""
    _shop(client)
    page = client.get("/orders", params={"sort": "amount", "limit": 1}, headers=R).json()
    cases = [
        ("/orders", {"q": "  "}, "q"),
        ("/orders", {"q": "ae", "state": "paid"}, "state"),
        ("/orders", {"q": "ae", "sort": "amount"}, "sort"),
        ("/orders", {"sort": "body"}, "sort"),
        ("/orders", {"order": "up"}, "order"),
        ("/orders", {"sort": "age", "cursor": page["next_cursor"]}, "cursor"),
        ("/attention", {"reason": "bored"}, "reason"),
        ("/attention", {"cursor": page["next_cursor"]}, "cursor"),
    ]
    for path, params, field in cases:
        refused = client.get(path, params=params, headers=R)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["field"].split(".")[0] == field, (params, refused.json())


def test_attention_lists_the_orders_that_need_a_person_with_why(
    client: httpx.Client, served: tuple[Any, AsyncStore]
) -> None:
    """R1 R4 R6 R12 R16: ``GET /attention`` (read role) lists by id the orders a person must
    look at now: a late dispatch (R1 incident), a repayment overdue (R4) not escalated by a
    sweep (R12 R4: here the sweeper is off), a dead letter (R6), an order whose payment is
    dated after the service's clock (R16); ``reason=`` keeps some reasons; each row is a
    listing row with its reasons."""
    store = served[1].sync
    _create(client, "AE-1", "25.00")
    fire(client, "AE-1", "dispatch", at=at(days=20), tracking_number="LP1")  # late: R1
    _create(client, "AE-2", "30.00")
    fire(client, "AE-2", "request_cancellation", at=at(hours=1))
    fire(client, "AE-2", "supplier_accepts_cancellation", at=at(hours=2))
    [note] = [i for i in store.outbox(limit=100) if i.order_id == "AE-2"][:1]
    store.record_delivery(note.id, status="dead", error="HTTP 500", next_attempt_at=None,
                          now=PAID)  # fmt: skip
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    store.add(Order.create("AE-3", "10.00", "USD", ahead))  # imported: no skew check
    answer = client.get("/attention", headers=R)
    assert answer.status_code == 200, answer.text
    found = {a["order"]["order_id"]: a["reasons"] for a in answer.json()["orders"]}
    assert found == {
        "AE-1": ["incident"],
        "AE-2": ["repayment_overdue", "dead_letter", "sweep_behind"],
        "AE-3": ["ahead_of_clock"],
    }
    row = answer.json()["orders"][1]["order"]
    assert (row["state"], row["amount"], row["currency"]) == ("refund_pending", "30.00", "USD")
    assert row["due_at"] == row["repayment_deadline"]
    only = client.get("/attention", params=[("reason", "incident"), ("reason", "ahead_of_clock")],
                      headers=R).json()  # fmt: skip
    assert [a["order"]["order_id"] for a in only["orders"]] == ["AE-1", "AE-3"]
    paged = client.get("/attention", params={"limit": 2}, headers=R).json()
    rest = client.get("/attention", params={"cursor": paged["next_cursor"]}, headers=R).json()
    assert [a["order"]["order_id"] for a in paged["orders"] + rest["orders"]] == [
        "AE-1", "AE-2", "AE-3",
    ]  # fmt: skip
    assert client.get("/attention").status_code == 401
