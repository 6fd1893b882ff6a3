"""One parser and one set of use cases under every front end: the same request, sent as a line
to `orderfsm apply` and as an HTTP request to the service, gets the same verdict (accepted, or
refused naming the same field or rule)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import WRITE, ThreadServer

from statemachine.store import AsyncSQLiteStore
from statemachine.web import Settings, create_app

PAID = "2026-03-02T10:00:00+08:00"
AT = "2026-03-03T09:00:00+08:00"
NEW = '{"order_id": "AE-1", "amount": "25.00", "currency": "USD", "paid_at": "' + PAID + '"}'

Verdict = tuple[str, str | None]
"""("accepted", None), or ("refused", the field or the rule named)."""

DELIVERED = [
    ("dispatch", {"at": AT, "tracking_number": "LP1"}),
    ("confirm_delivery", {"at": "2026-03-20T09:00:00+08:00"}),
]

CASES: list[tuple[str, list[tuple[str, dict[str, Any]]], str, str, Verdict]] = [
    # name, events before (on AE-1 created first), kind of request, its JSON text, verdict
    ("amount-whole-number", [], "create", NEW.replace('"25.00"', "25"), ("accepted", None)),
    ("amount-exact-number", [], "create", NEW.replace('"25.00"', "25.10"), ("accepted", None)),
    ("amount-past-minor-unit", [], "create", NEW.replace('"25.00"', "25.001"),
     ("refused", "amount")),
    ("amount-exponent", [], "create", NEW.replace('"25.00"', "1e2"), ("refused", "amount")),
    ("amount-exponent-text", [], "create", NEW.replace('"25.00"', '"1e2"'), ("refused", "amount")),
    ("amount-twice", [], "create", NEW.replace('"amount": "25.00"',
     '"amount": "25.00", "amount": "1.00"'), ("refused", "amount")),
    ("paid-at-without-offset", [], "create", NEW.replace("+08:00", ""), ("refused", "paid_at")),
    ("unknown-field", [], "create", NEW.replace("{", '{"colour": "red", ', 1),
     ("refused", "colour")),
    ("id-with-slash", [], "create", NEW.replace("AE-1", "AE/1"), ("refused", "order_id")),
    ("currency-without-money", [], "create", NEW.replace("USD", "XXX"), ("refused", "currency")),
    ("dispatch", [], "dispatch", '{"at": "' + AT + '", "tracking_number": "LP1"}',
     ("accepted", None)),
    ("dispatch-without-tracking", [], "dispatch", '{"at": "' + AT + '"}',
     ("refused", "tracking_number")),
    ("tracking-number-a-number", [], "dispatch", '{"at": "' + AT + '", "tracking_number": 5}',
     ("refused", "tracking_number")),
    ("event-without-at", [], "dispatch", '{"tracking_number": "LP1"}', ("refused", "at")),
    ("at-twice", [], "dispatch",
     '{"at": "' + AT + '", "at": "' + AT + '", "tracking_number": "LP1"}', ("refused", "at")),
    ("event-unknown-field", [], "dispatch",
     '{"at": "' + AT + '", "tracking_number": "LP1", "colour": "red"}', ("refused", "colour")),
    ("event-id-a-number", [], "dispatch",
     '{"at": "' + AT + '", "tracking_number": "LP1", "event_id": 7}', ("refused", "event_id")),
    ("at-past-year-9999", [], "dispatch",
     '{"at": "9999-12-31T23:00:00-05:00", "tracking_number": "LP1"}', ("refused", "at")),
    ("claim-reason-not-r8", DELIVERED, "open_claim",
     '{"at": "2026-03-21T09:00:00+08:00", "reason": "bored", "amount": "5.00"}',
     ("refused", "R8")),
    ("goodwill-whole-number", DELIVERED, "offer_goodwill_refund",
     '{"at": "2026-03-21T09:00:00+08:00", "amount": 5}', ("accepted", None)),
    ("amount-true", [], "create", NEW.replace('"25.00"', "true"), ("refused", "amount")),
    ("amount-negative-zero", [], "create", NEW.replace('"25.00"', "-0"), ("refused", "amount")),
    ("goodwill-negative-zero", DELIVERED, "offer_goodwill_refund",
     '{"at": "2026-03-21T09:00:00+08:00", "amount": -0}', ("refused", "R11")),
    ("id-only-dots", [], "create", NEW.replace("AE-1", ".."), ("refused", "order_id")),
    ("paid-at-offset-seconds", [], "create", NEW.replace("+08:00", "+08:00:30"),
     ("refused", "paid_at")),
    ("at-compact-offset", [], "dispatch",
     '{"at": "2026-03-03T09:00:00+0800", "tracking_number": "LP1"}', ("refused", "at")),
    ("claim-reason-a-number", DELIVERED, "open_claim",
     '{"at": "2026-03-21T09:00:00+08:00", "reason": 5, "amount": "5.00"}',
     ("refused", "reason")),
    ("listing-altered-a-number", DELIVERED, "open_claim",
     '{"at": "2026-03-21T09:00:00+08:00", "reason": "not_as_described", "amount": "5.00",'
     ' "listing_altered": 1}', ("refused", "listing_altered")),
    ("id-with-escape-sequence", [], "create", NEW.replace("AE-1", "AE-\\u001b[31m1"),
     ("refused", "order_id")),
    ("id-with-newline", [], "create", NEW.replace("AE-1", "AE-\\n1"), ("refused", "order_id")),
    ("id-with-right-to-left-override", [], "create", NEW.replace("AE-1", "AE-\\u202e1"),
     ("refused", "order_id")),
    ("id-with-no-break-space", [], "create", NEW.replace("AE-1", "AE\\u00a01"),
     ("refused", "order_id")),
    ("tracking-with-zero-width-space", [], "dispatch",
     '{"at": "' + AT + '", "tracking_number": "LP\\u200b1"}', ("refused", "tracking_number")),
    ("tracking-with-bell", [], "dispatch",
     '{"at": "' + AT + '", "tracking_number": "LP\\u00071"}', ("refused", "tracking_number")),
    ("id-with-grapheme-joiner", [], "create", NEW.replace("AE-1", "AE\\u034f-1"),
     ("refused", "order_id")),
    ("id-with-hangul-filler", [], "create", NEW.replace("AE-1", "AE\\u3164-1"),
     ("refused", "order_id")),
    ("tracking-in-another-script", [], "dispatch",
     '{"at": "' + AT + '", "tracking_number": "LP-\\u4e2d\\u56fd-1"}', ("accepted", None)),
]  # fmt: skip


def _orderfsm() -> str:
    found = shutil.which("orderfsm", path=sysconfig.get_path("scripts"))
    assert found is not None, "orderfsm is not installed in this environment"
    return found


def _line(kind: str, text: str) -> str:
    """The request as a JSON line of `orderfsm apply` (the same text, its target added)."""
    target = (
        '{"kind": "create", ' if kind == "create" else f'{{"order_id": "AE-1", "event": "{kind}", '
    )
    return target + text.lstrip()[1:]


def _cli_verdict(tmp_path: Path, before: list[tuple[str, dict[str, Any]]], kind: str,
                 text: str) -> Verdict:  # fmt: skip
    lines = [] if kind == "create" else [_line("create", NEW)]
    lines += [_line(event, json.dumps(data)) for event, data in before]
    lines.append(_line(kind, text))
    env = {k: v for k, v in os.environ.items() if k != "ORDERFSM_DB"}
    done = subprocess.run(
        [_orderfsm(), "apply", "--create", "--json", "--db", str(tmp_path / "cli.db"), "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    last = [r for r in reports if "summary" not in r][-1]
    for earlier in reports[: len(lines) - 1]:
        assert earlier.get("outcome") in ("applied", "duplicate"), earlier
    if last["outcome"] in ("applied", "duplicate"):
        return ("accepted", None)
    error = last["error"]
    return ("refused", error.get("rule") or error.get("field"))


def _http_verdict(client: httpx.Client, before: list[tuple[str, dict[str, Any]]], kind: str,
                  text: str) -> Verdict:  # fmt: skip
    headers = {"Authorization": f"Bearer {WRITE}", "Content-Type": "application/json"}
    if kind != "create":
        assert client.post("/orders", content=NEW, headers=headers).status_code == 201
        for event, data in before:
            answer = client.post(f"/orders/AE-1/events/{event}", json=data, headers=headers)
            assert answer.status_code == 200, answer.text
    path = "/orders" if kind == "create" else f"/orders/AE-1/events/{kind}"
    answer = client.post(path, content=text, headers=headers)
    if answer.status_code < 300:
        return ("accepted", None)
    problem = answer.json()
    return ("refused", problem.get("rule") or problem.get("field"))


@pytest.mark.parametrize(
    ("before", "kind", "text", "verdict"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_command_line_and_the_service_give_the_same_verdict(
    tmp_path: Path, before: list[tuple[str, dict[str, Any]]], kind: str, text: str,
    verdict: Verdict,
) -> None:  # fmt: skip
    """R8 R11 R15 R16: a hostile or unusual request gets the same verdict as a line of
    `orderfsm apply` and as an HTTP request: accepted by both, or refused by both naming the
    same field or rule."""
    store = AsyncSQLiteStore(tmp_path / "http.db")
    app = create_app(store, settings=Settings(token=WRITE, sweep_interval=0))
    try:
        with ThreadServer(app) as server, httpx.Client(base_url=server.url) as client:
            over_http = _http_verdict(client, before, kind, text)
    finally:
        store.sync.close()
    on_the_line = _cli_verdict(tmp_path, before, kind, text)
    assert (on_the_line, over_http) == (verdict, verdict)
