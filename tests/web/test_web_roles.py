"""Named credentials with roles on a real server (issue 18, point 2): each role tried on each
route; who sent each event named in the order's history; a supplier's signed webhook naming
its key, and refused a merchant's event; the inspector's session across workers, after logout
and after the credential's secret is rotated; a cross-site form post."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import READ, WRITE, ProcessServer, at, server_env, signature_header

ALICE = "alice-support#secret-0001"  # a "#" inside a secret is part of it
ACME = "acme-supplier-secret-0001"
BOB = "bob-write-secret-00000001"
ROLES_OF = {"read": READ, "support": ALICE, "write": BOB, "supplier": ACME}


def _env(tmp_path: Path, alice: str = ALICE) -> dict[str, str]:
    listed = tmp_path / "credentials"
    listed.write_text(
        f"# who may call the service\nalice support {alice}\nacme  supplier {ACME}\n",
        encoding="utf-8",
    )
    return server_env(ORDERFSM_CREDENTIALS=str(listed), ORDERFSM_CREDENTIAL_BOB=f"write:{BOB}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ProcessServer]:
    running = ProcessServer(
        db=str(tmp_path / "orders.db"), log=tmp_path / "server.log", env=_env(tmp_path), workers=2
    )
    running.start()
    yield running
    running.stop()


def _as(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _order(http: httpx.Client, order_id: str) -> None:
    body = {"order_id": order_id, "amount": "25.00", "currency": "USD",
            "paid_at": "2026-03-02T09:00:00+08:00"}  # fmt: skip
    assert http.post("/orders", json=body, headers=_as(WRITE)).status_code == 201


MAY: dict[str, set[str]] = {
    "read": {"list", "read", "history", "notifications", "metrics"},
    "support": {"list", "read", "history", "notifications", "metrics", "customer", "supplier",
                "merchant", "redeliver"},
    "write": {"list", "read", "history", "notifications", "metrics", "customer", "supplier",
              "merchant", "redeliver", "create"},
    "supplier": {"supplier"},
}  # fmt: skip
"""What each role may do, as the issue's table gives it."""


@pytest.mark.parametrize("role", sorted(ROLES_OF))
def test_each_role_is_let_in_where_it_may_and_refused_403_elsewhere(
    server: ProcessServer, role: str
) -> None:
    """ "Who sends each event": every route tried with each role's credential: what the role
    may do is never 401 or 403; what it may not is 403 (before anything is read or written),
    and nothing changes."""
    secret = ROLES_OF[role]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for n in range(3):
            _order(http, f"{role}-{n}")
        events = {
            "customer": ("request_cancellation", {}),
            "supplier": ("dispatch", {"tracking_number": "LP1"}),
            "merchant": ("reimburse_customer", {"amount": "1.00"}),
        }
        tried: dict[str, httpx.Response] = {
            "list": http.get("/orders", headers=_as(secret)),
            "read": http.get(f"/orders/{role}-0", headers=_as(secret)),
            "history": http.get(f"/orders/{role}-0/history", headers=_as(secret)),
            "notifications": http.get("/notifications", headers=_as(secret)),
            "metrics": http.get("/metrics", headers=_as(secret)),
            "redeliver": http.post("/notifications/424242/redeliver", headers=_as(secret)),
            "create": http.post(
                "/orders",
                headers=_as(secret),
                json={
                    "order_id": f"new-{role}",
                    "amount": "9.00",
                    "currency": "USD",
                    "paid_at": "2026-03-02T09:00:00+08:00",
                },
            ),
        }
        for n, (party, (event, data)) in enumerate(events.items()):
            tried[party] = http.post(
                f"/orders/{role}-{n}/events/{event}",
                headers=_as(secret),
                json={"at": at(hours=1), **data},
            )
        unknown = http.post(f"/orders/{role}-0/events/nosuch", headers=_as(secret), json={})
        assert unknown.status_code == (403 if role == "read" else 404), unknown.text
        for what, answer in tried.items():
            if what in MAY[role]:
                assert answer.status_code not in (401, 403), (role, what, answer.text)
            else:
                assert answer.status_code == 403, (role, what, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
        versions = [http.get(f"/orders/{role}-{n}", headers=_as(READ)).json()["version"]
                    for n in range(3)]  # fmt: skip
        moved = {party for n, party in enumerate(events) if versions[n] > 1}
        assert moved <= MAY[role]


def test_the_history_names_who_sent_each_event_and_a_supplier_key_is_its_own(
    server: ProcessServer,
) -> None:
    """Every applied event records the credential's name (and a support agent's note) in the
    order's history; a webhook signed with the supplier key `acme` (k=acme) is recorded as
    acme; the same key is refused the merchant's reimburse_customer (403); a key id that is
    not a supplier's, or unknown, is 401; an unnamed signature is the webhook secret's."""
    from web_helpers import SECRET

    with httpx.Client(base_url=server.url, timeout=30) as http:
        _order(http, "AE-1")
        sent = http.post("/orders/AE-1/events/request_cancellation", headers=_as(ALICE),
                         json={"at": at(hours=1), "note": "the customer called"})  # fmt: skip
        assert sent.status_code == 200, sent.text

        def webhook(event: str, key: str, secret: str, key_id: str | None, **data: Any) -> Any:
            path = f"/orders/AE-1/events/{event}"
            body = json.dumps({"at": at(hours=2), **data}).encode()
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": key,
                "Orderfsm-Signature": signature_header(
                    secret, "POST", path, key, body, key_id=key_id
                ),
            }
            return http.post(path, content=body, headers=headers)

        assert webhook("reimburse_customer", "wh-0", ACME, "acme", amount="1.00").status_code == 403
        not_a_supplier = webhook("dispatch", "wh-1", ALICE, "alice", tracking_number="L")
        assert not_a_supplier.status_code == 401
        assert "no supplier key" in not_a_supplier.json()["detail"]
        assert webhook("dispatch", "wh-2", ACME, "nobody", tracking_number="L").status_code == 401
        assert webhook("supplier_accepts_cancellation", "wh-3", ACME, "acme").status_code == 200
        log = http.get("/orders/AE-1/history", headers=_as(READ)).json()["entries"]
        assert [(e["event"], e["actor"], e["source"], e["note"]) for e in log] == [
            ("request_cancellation", "alice", "api", "the customer called"),
            ("supplier_accepts_cancellation", "acme", "webhook", None),
        ]
        _order(http, "AE-2")
        legacy = http.post(
            "/orders/AE-2/events/dispatch",
            content=(body := json.dumps({"at": at(hours=1), "tracking_number": "L"}).encode()),
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": "wh-9",
                "Orderfsm-Signature": signature_header(
                    SECRET, "POST", "/orders/AE-2/events/dispatch", "wh-9", body
                ),
            },
        )
        assert legacy.status_code == 200
        last = http.get("/orders/AE-2/history", headers=_as(READ)).json()["entries"][-1]
        assert last["actor"] == "webhook"


def _sign_in(http: httpx.Client, secret: str, origin: str | None = None) -> httpx.Response:
    """Sign in as a browser does: the sign-in page (its form token, also in a cookie), then
    the form posted from the service's own origin (or ``origin``)."""
    form = http.get("/inspect/login")
    token = _csrf(form.text)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers["Origin"] = origin if origin is not None else str(http.base_url).rstrip("/")
    return http.post("/inspect/login", content=f"csrf={token}&token={secret}", headers=headers)


def _csrf(page: str) -> str:
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_a_session_is_the_store_s_ends_at_logout_and_needs_the_own_origin(
    server: ProcessServer,
) -> None:
    """The inspector's session: a random id (never a secret) that every worker knows (the
    store keeps it); a sign-in posted from another site opens nothing; logout needs the
    session's form token and the own origin, and afterwards the same cookie, kept by
    someone, opens nothing; a supplier's key does not open the inspector."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        own_origin = {"Content-Type": "application/x-www-form-urlencoded",
                      "Origin": str(http.base_url).rstrip("/")}  # fmt: skip
        tokenless = http.post("/inspect/login", content=f"token={ALICE}", headers=own_origin)
        assert tokenless.status_code == 403  # no form of the service's: nothing opened
        assert "orderfsm_inspector" not in tokenless.headers.get("set-cookie", "")
        evil = _sign_in(http, ALICE, origin="https://evil.example")
        assert evil.status_code == 403 and "orderfsm_inspector" not in evil.headers.get(
            "set-cookie", ""
        )
        assert _sign_in(http, ACME).status_code == 401  # a supplier sees nothing of it
        signed = _sign_in(http, ALICE)
        assert signed.status_code == 303
        cookie = http.cookies.get("orderfsm_inspector")
        assert cookie and ALICE not in cookie
        pages = [http.get("/inspect/") for _ in range(8)]  # both workers answer some
        assert {p.status_code for p in pages} == {200}
        assert "alice (support)" in pages[0].text
        token = _csrf(pages[0].text)
        own = {"Content-Type": "application/x-www-form-urlencoded",
               "Origin": str(http.base_url).rstrip("/")}  # fmt: skip
        forged = http.post("/inspect/logout", content="csrf=guess", headers=own)
        cross = http.post("/inspect/logout", content=f"csrf={token}",
                          headers={**own, "Origin": "https://evil.example"})  # fmt: skip
        assert (forged.status_code, cross.status_code) == (403, 403)
        assert http.get("/inspect/").status_code == 200  # still signed in
        out = http.post("/inspect/logout", content=f"csrf={token}", headers=own)
        assert out.status_code == 303
    with httpx.Client(base_url=server.url, timeout=30) as thief:  # the old cookie, kept
        thief.cookies.set("orderfsm_inspector", cookie, path="/inspect")
        again = thief.get("/inspect/")
        assert again.status_code == 401 and "Sign in" in again.text


def test_rotating_a_credential_ends_its_sessions(tmp_path: Path) -> None:
    """A session opened with a credential's secret is over once the secret is rotated (the
    service restarted with a new one), though its cookie is still unexpired; and it stays
    over when the old secret comes back."""
    db = str(tmp_path / "orders.db")
    first = ProcessServer(db=db, log=tmp_path / "one.log", env=_env(tmp_path)).start()
    try:
        with httpx.Client(base_url=first.url, timeout=30) as http:
            assert _sign_in(http, ALICE).status_code == 303
            cookie = http.cookies.get("orderfsm_inspector")
            assert http.get("/inspect/").status_code == 200
    finally:
        first.stop()
    rotated = _env(tmp_path, alice="alice-support-secret-0002")
    second = ProcessServer(db=db, log=tmp_path / "two.log", env=rotated, create=False).start()
    try:
        with httpx.Client(base_url=second.url, timeout=30) as http:
            http.cookies.set("orderfsm_inspector", cookie or "", path="/inspect")
            assert http.get("/inspect/").status_code == 401
    finally:
        second.stop()
    back = ProcessServer(db=db, log=tmp_path / "three.log", env=_env(tmp_path), create=False)
    back.start()  # the old secret again: the session it opened stays over
    try:
        with httpx.Client(base_url=back.url, timeout=30) as http:
            http.cookies.set("orderfsm_inspector", cookie or "", path="/inspect")
            assert http.get("/inspect/").status_code == 401
    finally:
        back.stop()


def test_the_order_page_sends_a_dead_letter_again_for_support_only(tmp_path: Path) -> None:
    """A dead letter on the inspector's order page has a "Send again" form for a support
    session (with its form token), none for a read one; the form sends it again (its tries
    start over) and the log names who did; without the token, or from a read session, it is
    refused and the letter stays dead."""
    import datetime as dt

    from statemachine.store import SQLiteStore

    db = tmp_path / "orders.db"
    server = ProcessServer(db=str(db), log=tmp_path / "s.log", env=_env(tmp_path))
    server.command[-1] = "info"  # --log-level: the lines that name who did what
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            _order(http, "AE-1")
            http.post("/orders/AE-1/events/request_cancellation", headers=_as(WRITE),
                      json={"at": at(hours=1)})  # fmt: skip
        with SQLiteStore(db) as store:
            (item,) = store.outbox()
            now = dt.datetime.now(dt.UTC)
            store.record_delivery(item.id, status="dead", error="HTTP 410", next_attempt_at=None,
                                  now=now)  # fmt: skip
        own = {"Content-Type": "application/x-www-form-urlencoded", "Origin": server.url}
        with httpx.Client(base_url=server.url, timeout=30) as reader:
            assert _sign_in(reader, READ).status_code == 303
            page = reader.get("/inspect/orders/AE-1").text
            assert "dead letter" in page and "Send again" not in page
            refused = reader.post(f"/inspect/notifications/{item.id}/redeliver",
                                  content=f"csrf={_csrf(page)}", headers=own)  # fmt: skip
            assert refused.status_code == 403
        with httpx.Client(base_url=server.url, timeout=30) as agent:
            assert _sign_in(agent, ALICE).status_code == 303
            page = agent.get("/inspect/orders/AE-1").text
            assert "Send again" in page
            path = f"/inspect/notifications/{item.id}/redeliver"
            assert agent.post(path, content="csrf=nope", headers=own).status_code == 403
            with SQLiteStore(db) as store:
                assert store.delivery_state(item.id).standing == "dead"
            done = agent.post(path, content=f"csrf={_csrf(page)}", headers=own)
            assert done.status_code == 303 and done.headers["location"].endswith("#notifications")
        with SQLiteStore(db) as store:
            assert store.delivery_state(item.id).standing == "waiting"
    finally:
        server.stop()
    logged = (tmp_path / "s.log").read_text()
    assert "sent again by alice from the inspector" in logged
    assert f"POST /inspect/notifications/{item.id}/redeliver 303" in logged
    assert any(
        "redeliver 303" in line and line.endswith("by alice") for line in logged.splitlines()
    )
    assert (
        "request_cancellation applied on order AE-1 (paid -> cancel_requested), sent by token"
        in logged
    )
