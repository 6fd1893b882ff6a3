"""The served OpenAPI document (statemachine.web._openapi) says exactly what the service
answers: a schema for every answer and every problem status, the machine's names as enums,
stable operation ids, the relay's webhook; and the contract check the web tests run on every
answer is no formality (issue 16, point 2)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from contract import Contract
from web_helpers import R, ThreadServer, at, create, fire

from conftest import SETTINGS, contract_of
from statemachine.declaration._records import CLAIM_REASONS, Notification
from statemachine.declaration._table import EVENTS, STATES, TABLE
from statemachine.schema import event_schema, order_schema
from statemachine.store import AsyncSQLiteStore, OutboxItem
from statemachine.web import Settings, create_app, verify_signature
from statemachine.web._background import Relay
from statemachine.web._service import Service
from tests.helpers import skip_or_fail

EVENT_PROBLEMS = {400, 401, 403, 404, 409, 412, 413, 415, 422, 503}
"""What an event's route can answer besides 200 (issue 16: each listed, each a Problem)."""


@pytest.fixture(scope="module")
def served_doc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """The service on a SQLite file, and the document it serves at /openapi.json."""
    store = AsyncSQLiteStore(tmp_path_factory.mktemp("openapi") / "orders.db")
    with ThreadServer(create_app(store, settings=SETTINGS)) as server:
        yield server.url, httpx.get(f"{server.url}/openapi.json").json()
    store.sync.close()


@pytest.fixture
def doc(served_doc: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """The served OpenAPI document."""
    return served_doc[1]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the document's paths."""
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def camel(event: str) -> str:
    return "".join(word.capitalize() for word in event.split("_"))


def test_operation_ids_are_stable_and_one_per_caller_event(doc: dict[str, Any]) -> None:
    """Each operation has the operationId a client generator names its function after: the
    resource's verb and noun, and fire<Event> for each caller event of the table."""
    found = {(method, path): op["operationId"] for method, path, op in operations(doc)}
    expected = {
        ("post", "/orders"): "createOrder",
        ("get", "/orders"): "listOrders",
        ("get", "/orders/{order_id}"): "getOrder",
        ("get", "/orders/{order_id}/history"): "getOrderHistory",
        ("get", "/orders/{order_id}/explain/{event}"): "explainEvent",
        ("get", "/orders/{order_id}/journey.svg"): "getOrderJourneySvg",
        ("get", "/orders/{order_id}/journey.mmd"): "getOrderJourneyMermaid",
        ("get", "/lifecycle.svg"): "getLifecycleSvg",
        ("get", "/healthz"): "getHealth",
        ("get", "/readyz"): "getReadiness",
        ("get", "/notifications"): "listNotifications",
        ("get", "/notifications/{notification_id}"): "getNotification",
        ("post", "/notifications/{notification_id}/redeliver"): "redeliverNotification",
        ("post", "/migrations"): "dryRunMigration",
        ("get", "/attention"): "listAttention",
    }
    expected |= {
        ("post", f"/orders/{{order_id}}/events/{e}"): f"fire{camel(e)}" for e in TABLE.caller_events
    }
    assert found == expected
    assert found[("post", "/orders/{order_id}/events/open_claim")] == "fireOpenClaim"
    assert len(set(found.values())) == len(found)


def test_every_answer_has_its_schema_and_every_problem_is_a_problem(doc: dict[str, Any]) -> None:
    """No answer is the empty schema {}: each 2xx names its body's component (or its SVG or
    text), each 4xx and 5xx is a Problem as application/problem+json, and every reference
    leads to a component."""
    schemas = doc["components"]["schemas"]
    for method, path, operation in operations(doc):
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            where = f"{method} {path} {status}"
            if status.startswith(("4", "5")):
                assert content == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, where
            elif status == "304":
                assert content == {}, where
            else:
                assert content, where
                for media, body in content.items():
                    assert body["schema"] != {}, where
                    if media == "application/json":
                        assert body["schema"]["$ref"].rsplit("/", 1)[1] in schemas, where
    refs = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            refs.update(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schemas)
    assert all(r.startswith("#/components/schemas/") for r in refs)
    assert "HTTPValidationError" not in schemas and "$defs" not in json.dumps(doc)


def test_each_route_lists_the_problem_statuses_it_can_give(doc: dict[str, Any]) -> None:
    """Events list 400, 401, 403, 404, 409, 412, 413, 415, 422 and 503; creating lists 409
    (another order with this id); reads list 401 and 404 but never 403 or 413; the health
    checks list no credentials problem."""
    for method, path, operation in operations(doc):
        statuses = {int(s) for s in operation["responses"] if s[0] in "45"}
        if "/events/" in path:
            assert statuses >= EVENT_PROBLEMS, path
        elif method == "get" and path.startswith("/orders/"):
            assert {401, 404, 422} <= statuses and not statuses & {403, 413, 415}, path
        elif path in ("/healthz", "/readyz", "/lifecycle.svg"):
            assert 401 not in statuses and "security" not in operation, path
    create = doc["paths"]["/orders"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "415", "422", "503"} <= set(create)
    assert set(create["201"]["headers"]) == {"ETag", "Location", "Idempotent-Replayed"}


def test_the_machine_s_names_are_enums_from_its_table(doc: dict[str, Any]) -> None:
    """States and events are enums read from the table (a later table adds its own); R8's
    claim reasons are an enum in open_claim's payload; parameters that name a state or an
    event refer to them."""
    schemas = doc["components"]["schemas"]
    assert schemas["StateName"]["enum"] == list(STATES) == list(TABLE.state_names)
    assert schemas["EventName"]["enum"] == list(EVENTS) == list(TABLE.events)
    assert schemas["ClaimReason"]["enum"] == list(CLAIM_REASONS)
    claim = schemas["open_claim_payload"]
    assert claim["properties"]["reason"] == {"$ref": "#/components/schemas/ClaimReason"}
    for name in ("EventApplied", "LogEntry", "FireResult"):
        assert schemas[name]["properties"]["event"] == {"$ref": "#/components/schemas/EventName"}
    assert schemas["OrderRow"]["properties"]["state"] == {"$ref": "#/components/schemas/StateName"}
    listing = doc["paths"]["/orders"]["get"]["parameters"]
    state = next(p for p in listing if p["name"] == "state")
    assert state["schema"] == {"$ref": "#/components/schemas/StateName"}
    explain = doc["paths"]["/orders/{order_id}/explain/{event}"]["get"]["parameters"]
    event = next(p for p in explain if p["name"] == "event")
    assert event["schema"] == {"$ref": "#/components/schemas/EventName"}


def test_payloads_and_the_order_are_the_schema_module_s(doc: dict[str, Any]) -> None:
    """Every event's payload is event_schema(e) (open_claim's reason named as R8's enum), the
    order is order_schema(), each caller event's route takes its payload, and events accept
    a bearer token or a signature."""
    schemas = doc["components"]["schemas"]
    for event in TABLE.events:
        expected = event_schema(event)
        expected.pop("$schema")
        if event == "open_claim":
            expected["properties"]["reason"] = {"$ref": "#/components/schemas/ClaimReason"}
        assert schemas[f"{event}_payload"] == expected
    for event in TABLE.caller_events:
        operation = doc["paths"][f"/orders/{{order_id}}/events/{event}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{event}_payload"}
        assert operation["security"] == [{"bearer": []}, {"signature": []}]
    assert set(order_schema()["properties"]) == set(schemas["Order"]["properties"])
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "signature"}
    assert doc["paths"]["/orders"]["get"]["security"] == [{"bearer": []}]


def test_the_webhooks_section_describes_the_relay_s_signed_post(doc: dict[str, Any]) -> None:
    """webhooks.notification is the relay's request as it sends it: an OutboxItem body, its
    Idempotency-Key and Orderfsm-Signature headers (a signature a receiver can check), a 2xx
    that acknowledges it and anything else retried."""
    operation = doc["webhooks"]["notification"]["post"]
    assert operation["operationId"] == "relayNotification"
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OutboxItem"}
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Idempotency-Key", "Orderfsm-Signature"}
    assert all(h["required"] for h in headers.values())
    assert "2xx" in operation["responses"]["200"]["description"]
    assert "retried" in operation["responses"]["default"]["description"]

    settings = Settings(relay_url="https://shop.test/hooks/orders", relay_secret="s3")

    async def request() -> tuple[bytes, dict[str, str]]:
        relay = Relay(Service(None, settings), anyio.Event())  # type: ignore[arg-type]
        moment = dt.datetime.fromisoformat("2026-03-10T09:00:00+08:00")
        note = Notification("cancellation_lapsed", "message", moment, "R3", "lapsed")
        return relay.request(OutboxItem(17, "AE-1042", 0, note))

    sent, sent_headers = anyio.run(request)
    Contract(doc).validate(json.loads(sent), body)
    assert set(headers) <= set(sent_headers)
    assert sent_headers["Idempotency-Key"] == "17"
    assert verify_signature(
        "s3",
        sent_headers["Orderfsm-Signature"],
        method="POST",
        path="/hooks/orders",
        key="17",
        body=sent,
        tolerance=60,
    ) is None  # fmt: skip


def test_the_contract_check_refuses_what_the_document_does_not_say(
    served_doc: tuple[str, dict[str, Any]],
) -> None:
    """The check every web test's client runs is no formality: an unlisted status, another
    media type, a body missing a member or with a state outside the table are refused."""
    url, _ = served_doc
    check = contract_of(url).check
    request = httpx.Request("GET", f"{url}/orders/AE-1")
    good = {"version": 1, "order": None}
    for status, headers, body, why in (
        (418, {}, b"{}", "does not list"),
        (200, {"content-type": "text/html"}, b"<p>", "as text/html"),
        (200, {"content-type": "application/json"}, b'{"version": 1}', "'order' is a required"),
        (200, {"content-type": "application/json"}, json.dumps(good).encode(), "None is not"),
    ):
        answer = httpx.Response(status, headers=headers, content=body, request=request)
        with pytest.raises(AssertionError, match=why):
            check(answer)
    row = {
        "order_id": "AE-1",
        "state": "shipped",
        "version": 1,
        "dispatch_deadline": "2026-03-11T23:59:59.999999+08:00",
        "repayment_deadline": None,
        "due_at": None,
        "timezone": "Asia/Shanghai",
    }
    page = httpx.Response(
        200,
        json={"orders": [row], "next_cursor": None},
        request=httpx.Request("GET", f"{url}/orders"),
    )
    with pytest.raises(AssertionError, match="'shipped' is not one of"):
        check(page)
    health = httpx.Request("GET", f"{url}/healthz")
    check(httpx.Response(200, json={"status": "ok"}, request=health))  # and the right one passes


def _cli_refusal(tmp_path: Path, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The error ``orderfsm apply --json`` reports for the last of ``lines``."""
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("orderfsm", path=scripts) or shutil.which("orderfsm")
    if found is None:
        skip_or_fail("the orderfsm console script is not installed: pip install -e '.[dev]'")
    done = subprocess.run(
        [found, "apply", "--create", "--db", str(tmp_path / "cli.db"), "-", "--json"],
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "ORDERFSM_DB"},
    )
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    error: dict[str, Any] = next(o["error"] for o in outcomes if o.get("outcome") == "rejected")
    return error


def test_a_reason_outside_r8_is_read_as_text_and_refused_as_on_the_command_line(
    client: httpx.Client, tmp_path: Path
) -> None:
    """R8: the document lists the claim reasons, yet the service reads any text and refuses
    another reason with the machine's own refusal, 422 rule R8 kind data, in the very words
    `orderfsm apply` reports it."""
    create(client, "AE-1")
    fire(client, "AE-1", "dispatch", at=at(days=1), tracking_number="LP1")
    fire(client, "AE-1", "confirm_delivery", at=at(days=2))
    claim = {"at": at(days=3), "reason": "changed_my_mind", "amount": "5.00"}
    answer = fire(client, "AE-1", "open_claim", **claim)
    assert answer.status_code == 422
    problem = answer.json()
    assert (problem["error"], problem["rule"], problem["kind"]) == ("EventRejected", "R8", "data")
    order = {"kind": "create", "order_id": "AE-1", "amount": "25.00", "currency": "USD"}
    cli = _cli_refusal(
        tmp_path,
        [
            order | {"paid_at": at()},
            {"order_id": "AE-1", "event": "dispatch", "at": at(days=1), "tracking_number": "LP1"},
            {"order_id": "AE-1", "event": "confirm_delivery", "at": at(days=2)},
            {"order_id": "AE-1", "event": "open_claim", **claim},
        ],
    )
    assert cli["type"] == problem["error"]
    assert cli["message"] == problem["detail"]
    shared = ("rule", "kind", "event", "state", "order_id", "field", "facts")
    assert {k: cli[k] for k in shared} == {k: problem[k] for k in shared}
    assert client.get("/orders/AE-1", headers=R).json()["order"]["state"] == "delivered"
