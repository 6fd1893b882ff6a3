"""Only those who belong get in: bearer tokens, signed webhooks, the body limit, and paths
and ids built to escape (issue 12, point 3). Every refusal writes nothing."""

from __future__ import annotations

import json
import shutil
import time
from urllib.parse import quote

import httpx
import pytest
from web_helpers import READ, SECRET, WRITE, R, W, at, create, fire, signed

from statemachine.web import Settings, verify_signature


def _state(client: httpx.Client, order_id: str = "AE-1") -> str:
    state: str = client.get(f"/orders/{order_id}", headers=R).json()["order"]["state"]
    return state


def test_no_token_and_a_wrong_token_are_401_everywhere_but_health(client: httpx.Client) -> None:
    """Reads, writes and the API's diagrams need a token: none or a wrong one is 401 with a
    WWW-Authenticate challenge; health checks, the lifecycle and the OpenAPI are public."""
    create(client, "AE-1")
    wrong = {"Authorization": "Bearer not-the-token"}
    for headers in ({}, wrong, {"Authorization": f"Basic {WRITE}"}):
        for method, url in (
            ("GET", "/orders/AE-1"),
            ("GET", "/orders"),
            ("GET", "/orders/AE-1/history"),
            ("GET", "/orders/AE-1/journey.svg"),
            ("GET", "/orders/AE-1/explain/dispatch"),
        ):
            answer = client.request(method, url, headers=headers)
            assert answer.status_code == 401, (method, url, headers)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert answer.headers["content-type"] == "application/problem+json"
        post = client.post(
            "/orders/AE-1/events/dispatch",
            headers=headers,
            json={"at": at(days=1), "tracking_number": "LP1"},
        )
        assert post.status_code == 401
        assert create_with(client, headers).status_code == 401
    assert _state(client) == "paid"
    for url in ("/healthz", "/readyz", "/openapi.json"):
        assert client.get(url).status_code == 200, url
    if shutil.which("dot"):  # the lifecycle picture needs dot; without it: a 503, not a 401
        assert client.get("/lifecycle.svg").status_code == 200
    else:
        assert client.get("/lifecycle.svg").status_code == 503


def create_with(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return client.post(
        "/orders",
        headers=headers,
        json={"order_id": "X-1", "amount": "1.00", "currency": "USD", "paid_at": at()},
    )


def test_a_signed_webhook_is_applied(client: httpx.Client) -> None:
    """A supplier webhook signed with the shared secret (HMAC-SHA256 over the timestamp, the
    method, the path, the Idempotency-Key and the raw body) is applied, source webhook."""
    create(client, "AE-1")
    path = "/orders/AE-1/events/dispatch"
    body, headers = signed(path, {"at": at(days=1), "tracking_number": "LP1"}, "wh-1")
    answer = client.post(path, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert _state(client) == "dispatched"
    entry = client.get("/orders/AE-1/history", headers=R).json()["entries"][0]
    assert (entry["source"], entry["event_id"]) == ("webhook", "wh-1")
    again = client.post(path, content=body, headers=headers)  # a retry within the window: R15
    assert again.status_code == 200 and again.json()["replay"] is True


def test_forged_and_replayed_signatures_are_refused(client: httpx.Client) -> None:
    """A signature of another body, another order's path, another key, an old timestamp, the
    wrong secret, a malformed header or none at all is 401 (or 400 without a key); nothing is
    applied."""
    create(client, "AE-1")
    create(client, "AE-2")
    path = "/orders/AE-1/events/dispatch"
    good = {"at": at(days=1), "tracking_number": "LP1"}
    body, headers = signed(path, good, "wh-1")
    other_body = json.dumps({**good, "tracking_number": "LP-EVIL"}).encode()
    attempts = {
        "another body": (path, other_body, headers),
        "another order": ("/orders/AE-2/events/dispatch", body, headers),
        "another key": (path, body, {**headers, "Idempotency-Key": "wh-2"}),
        "an old timestamp": (path, *signed(path, good, "wh-1", timestamp=int(time.time()) - 3600)),
        "a future timestamp": (
            path,
            *signed(path, good, "wh-1", timestamp=int(time.time()) + 3600),
        ),
        "the wrong secret": (path, *signed(path, good, "wh-1", secret="guess")),
        "a malformed header": (path, body, {**headers, "Orderfsm-Signature": "v1=abc"}),
        "an empty signature": (path, body, {**headers, "Orderfsm-Signature": "t=1,v1="}),
    }
    for what, (url, content, sent) in attempts.items():
        answer = client.post(url, content=content, headers=sent)
        assert answer.status_code == 401, what
        assert answer.headers["content-type"] == "application/problem+json", what
    no_key = {k: v for k, v in headers.items() if k != "Idempotency-Key"}
    assert client.post(path, content=body, headers=no_key).status_code == 400
    assert _state(client, "AE-1") == "paid"
    assert _state(client, "AE-2") == "paid"


def test_a_signature_does_not_stand_in_for_a_bearer_token(client: httpx.Client) -> None:
    """Signatures open events only; a wrong bearer token beside a good signature is 401."""
    create(client, "AE-1")
    path = "/orders/AE-1/events/dispatch"
    body, headers = signed(path, {"at": at(days=1), "tracking_number": "LP1"}, "wh-1")
    answer = client.post(path, content=body, headers={**headers, "Authorization": "Bearer bad"})
    assert answer.status_code == 401
    orders_body, orders_headers = signed(
        "/orders", {"order_id": "S-1", "amount": "1.00", "currency": "USD", "paid_at": at()}, "k"
    )
    assert client.post("/orders", content=orders_body, headers=orders_headers).status_code == 401
    assert client.get("/orders/AE-1", headers=orders_headers).status_code == 401


def test_an_oversized_body_is_413_announced_or_streamed(client: httpx.Client) -> None:
    """A body over ORDERFSM_MAX_BODY is 413 whether it announces its length or streams in
    chunks; nothing is applied."""
    create(client, "AE-1")
    huge = {"at": at(days=1), "tracking_number": "LP" + "9" * 70_000}
    announced = client.post("/orders/AE-1/events/dispatch", headers=W, json=huge)
    assert announced.status_code == 413
    assert announced.headers["content-type"] == "application/problem+json"

    def chunks() -> object:
        for _ in range(20):
            yield b"x" * 8192

    streamed = client.post(
        "/orders/AE-1/events/dispatch",
        headers={**W, "Content-Type": "application/json"},
        content=chunks(),  # type: ignore[arg-type]
    )
    assert streamed.status_code == 413
    assert _state(client) == "paid"


@pytest.mark.parametrize(
    "order_id",
    [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc",
        "AE-1' OR '1'='1",
        "AE-1; DROP TABLE orders; --",
        'AE-1" OR 1=1 --',
        "x" * 10_000,
    ],
)
def test_ids_built_to_escape_find_nothing_and_break_nothing(
    client: httpx.Client, order_id: str
) -> None:
    """Paths with ../, SQL fragments and 10,000-character ids are 404 or 422 problems without
    SQL or a trace, on reads and writes; the stored orders are untouched."""
    create(client, "AE-1")
    for method, url, body in (
        ("GET", f"/orders/{order_id}", None),
        ("GET", f"/orders/{order_id}/history", None),
        ("GET", f"/orders/{order_id}/journey.svg", None),
        ("POST", f"/orders/{order_id}/events/confirm_delivery", {"at": at(days=1)}),
        ("GET", f"/inspect/orders/{order_id}", None),
    ):
        answer = client.request(method, url, headers=W, json=body)
        assert answer.status_code in (404, 422), (url[:60], answer.status_code)
        assert "Traceback" not in answer.text
        assert "sqlite" not in answer.text.lower() and "psycopg" not in answer.text.lower()
        assert len(answer.content) < 20_000
    hostile = create(client, order_id)
    if len(order_id) > 200 or "/" in order_id:  # too long to be an id, or not addressable
        assert hostile.status_code == 422
        assert hostile.json()["field"] == "order_id"
    else:  # stored as data, like any id, and read back by its own path
        assert hostile.status_code == 201
        assert client.get(hostile.headers["location"], headers=R).status_code == 200
    assert client.get("/orders/AE-1", headers=R).json()["version"] == 1
    listing = client.get("/orders", headers=R, params={"state": "paid"}).json()["orders"]
    assert "AE-1" in [o["order_id"] for o in listing]


def test_a_10000_character_idempotency_key_is_refused(client: httpx.Client) -> None:
    """R15: an Idempotency-Key longer than an event id may be is 422 naming event_id."""
    create(client, "AE-1")
    answer = fire(client, "AE-1", "confirm_delivery", key="k" * 10_000, at=at(days=1))
    assert answer.status_code == 422 and answer.json()["field"] == "event_id"


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("POST", "/orders/AE-1/events/dispatch", {"Idempotency-Key": "k" * 10_000}, b"{}"),
        ("POST", "/orders/AE-1/events/dispatch", {"If-Match": "not a version"}, b"{}"),
        ("POST", "/orders/AE-1/events/dispatch", {}, b"{not json"),
        ("POST", "/orders/AE-1/events/no_such_event", {}, b"{}"),
        ("POST", "/orders", {"Content-Type": "text/plain"}, b"order please"),
        ("POST", "/orders", {}, b'{"order_id": "AE-1", "order_id": "AE-2"}'),
        ("GET", "/orders/" + "x" * 5000, {}, b""),
        ("GET", "/orders?due_before=tomorrow&state=nowhere", {}, b""),
        ("GET", "/orders/AE-1/explain/dispatch?at=yesterday", {}, b""),
    ],
)
def test_who_is_asking_is_checked_before_what_is_asked(
    client: httpx.Client, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    """A request without credentials is 401 whatever else is wrong with it: a caller who may
    not ask learns nothing from the service's checks of the request (no 404, 415 or 422 telling
    what a valid request would look like)."""
    sent = {"Content-Type": "application/json", **headers}
    answer = client.request(method, path, headers=sent, content=body)
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_settings_never_show_their_secrets() -> None:
    """Tokens and secrets are left out of the settings' repr (so out of any log line)."""
    settings = Settings(token=WRITE, read_token=READ, webhook_secret=SECRET)
    assert WRITE not in repr(settings) and READ not in repr(settings)
    assert SECRET not in repr(settings)


def test_verify_signature_explains_without_revealing() -> None:
    """A refused signature says why in words, never what the right signature would be."""
    body = b'{"at": "2026-03-03T09:00:00+08:00"}'
    now = 1_800_000_000
    _, headers = signed("/p", body, "k", timestamp=now)
    header = headers["Orderfsm-Signature"]
    good = verify_signature(
        SECRET, header, method="POST", path="/p", key="k", body=body, tolerance=300, now=now
    )
    assert good is None
    late = verify_signature(
        SECRET, header, method="POST", path="/p", key="k", body=body, tolerance=300, now=now + 301
    )
    assert late is not None and "tolerance" in late
    forged = verify_signature(
        SECRET, header, method="POST", path="/p", key="k", body=b"{}", tolerance=300, now=now
    )
    assert forged is not None and header.split("v1=")[1] not in forged
    assert verify_signature(
        None, header, method="POST", path="/p", key="k", body=body, tolerance=300, now=now
    )


def test_a_large_body_without_credentials_is_401_first(client: httpx.Client) -> None:
    """Authorization before anything else: an oversized body sent with no credentials, or
    with credentials none of the service's (a wrong token, another scheme, an unknown key, a
    made-up session), is 401 (with the bearer challenge), not 413; with a token of the
    service it is 413, a problem document naming where, as every other."""
    huge = b'{"order_id": "' + b"x" * 70_000 + b'"}'
    json_type = {"Content-Type": "application/json"}
    anonymous = client.post("/orders", content=huge, headers=json_type)
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["www-authenticate"]
    for wrong in (
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic eDp5"},
        {"Orderfsm-Signature": "t=1,k=nobody,v1=00"},
        {"Cookie": "orderfsm_inspector=made-up"},
    ):
        forged = client.post("/orders", content=huge, headers={**json_type, **wrong})
        assert forged.status_code == 401, wrong
    signed_in = client.post(
        "/orders", content=huge, headers={**W, "Content-Type": "application/json"}
    )
    assert signed_in.status_code == 413
    assert signed_in.json()["instance"] == "/orders"
    assert signed_in.json()["type"].endswith(":TooLarge")


def test_the_login_form_with_fields_past_any_form_of_ours_is_refused_not_a_500(
    client: httpx.Client,
) -> None:
    """The inspector's sign-in reads at most the fields a form of ours sends; more (or a
    stream of ampersands) is the sign-in page again (401, or 403 for a form without the
    sign-in form's token), never a 500."""
    for body in ("token=x&" + "&".join(f"f{i}=1" for i in range(40)), "&" * 200):
        page = client.post(
            "/inspect/login",
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": str(client.base_url).rstrip("/"),
            },
        )
        assert page.status_code in (401, 403) and "Sign in" in page.text  # never a 500


def test_text_sent_back_cannot_steer_a_terminal_or_a_page(client: httpx.Client) -> None:
    """An order id holding ESC and a right-to-left override, looked up over HTTP and in the
    inspector's search: the problem document and the page write those characters out as
    escapes (\\u001b, \\u202e), never raw, wherever the text comes back."""
    sneaky = "AE-\x1b[31m\u202eX"
    answer = client.get(f"/orders/{quote(sneaky, safe='')}", headers=R)
    assert answer.status_code in (404, 422)
    assert "\x1b" not in answer.text and "\u202e" not in answer.text
    page = client.get("/inspect/find", params={"order_id": sneaky}, headers=R)
    assert "\x1b" not in page.text and "\u202e" not in page.text
    assert "\\u202e" in page.text


def test_an_idempotency_key_is_the_utf8_text_it_was_sent_as(client: httpx.Client) -> None:
    """R15: an Idempotency-Key of non-ASCII text is the event id it spells (read as UTF-8,
    not Latin-1): sent again in the body as event_id it is the same delivery; bytes that are
    not UTF-8 are 422 naming event_id."""
    create(client, "AE-1")
    key = "k\u00e9-1"
    first = client.post("/orders/AE-1/events/request_cancellation",
                        headers={**W, "Idempotency-Key": key.encode("utf-8")},  # type: ignore[dict-item]
                        json={"at": at(hours=1)})  # fmt: skip
    assert first.status_code == 200 and first.json()["event_id"] == key
    again = client.post("/orders/AE-1/events/request_cancellation", headers=W,
                        json={"at": at(hours=1), "event_id": key})  # fmt: skip
    assert again.status_code == 200 and again.json()["replay"] is True
    bad = client.post("/orders/AE-1/events/request_cancellation",
                      headers={**W, "Idempotency-Key": b"\xff\xfe"},  # type: ignore[dict-item]
                      json={"at": at(hours=1)})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "event_id"
