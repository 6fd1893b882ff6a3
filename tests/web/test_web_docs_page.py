"""``/docs`` (statemachine.web._docs): Swagger UI from the swagger-ui-py package, started by a
script file of the service, under the pages' content security policy, rendered in a real
Chromium with every operation of the document and no console error (issue 16, point 2)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from web_helpers import ThreadServer

from conftest import SETTINGS
from statemachine.store import AsyncSQLiteStore
from statemachine.web import create_app

_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
"""
"""Every content security policy violation, as a console error (Chromium logs most of them
anyway; this catches the rest)."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on a SQLite file."""
    store = AsyncSQLiteStore(tmp_path_factory.mktemp("docs") / "orders.db")
    with ThreadServer(create_app(store, settings=SETTINGS)) as server:
        yield server.url
    store.sync.close()


def test_docs_is_public_and_loads_no_inline_script_and_nothing_from_elsewhere(site: str) -> None:
    """/docs answers without a token (like /openapi.json), with a policy that runs only the
    service's own script files; its page has no inline script or style and names no other
    origin; its files are served with Swagger UI's licence beside them, and no other file of
    the package is."""
    page = httpx.get(f"{site}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe-eval" not in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/docs/' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in page.text and " style=" not in page.text
    assert "http://" not in page.text and "https://" not in page.text
    for name, kind in (
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("docs.js", "text/javascript"),
        ("LICENSE", "text/plain"),
    ):
        answer = httpx.get(f"{site}/docs/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(kind), name
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "Apache License" in httpx.get(f"{site}/docs/LICENSE").text
    for name in ("index.html", "swagger-editor-bundle.js", "..%2F_docs.py", "core.py"):
        assert httpx.get(f"{site}/docs/{name}").status_code == 404, name


def test_docs_renders_every_operation_without_a_csp_violation(browser: Any, site: str) -> None:
    """In Chromium, /docs renders Swagger UI on the served document: every operation of
    /openapi.json appears under its operationId, the webhook too, and the console shows no
    error, no content security policy violation and no request to another origin."""
    doc = httpx.get(f"{site}/openapi.json").json()
    expected = {op["operationId"] for methods in doc["paths"].values() for op in methods.values()}
    context = browser.new_context(base_url=site, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    elsewhere: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request", lambda r: None if r.url.startswith((site, "data:")) else elsewhere.append(r.url)
    )
    page.add_init_script(_REPORT_VIOLATIONS)
    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    shown = page.eval_on_selector_all(".opblock", "nodes => nodes.map(n => n.id)")
    ids = {re.sub(r"^operations-[^-]+-", "", s) for s in shown if s.startswith("operations-")}
    assert ids == expected | {"relayNotification"}  # and the webhook
    assert page.locator(".info .title").inner_text().startswith("order-statemachine")
    assert page.locator(".errors-wrapper").count() == 0  # Swagger UI read the document whole
    claim = page.locator("#operations-events-fireOpenClaim")
    claim.locator(".opblock-summary").click()
    claim.locator(".responses-table").first.wait_for()
    for status in ("200", "400", "401", "403", "404", "409", "412", "413", "415", "422", "503"):
        assert claim.locator(f"tr.response[data-code='{status}']").count() == 1, status
    claim.locator(".try-out__btn").click()  # the request form, with its body's example
    claim.locator("textarea.body-param__text").wait_for()
    page.locator("#operations-orders-listOrders .opblock-summary").click()
    page.locator("#operations-orders-listOrders select").first.wait_for()
    options = page.locator("#operations-orders-listOrders select").first.inner_text()
    assert "refund_pending" in options  # the state parameter lists the table's states
    page.wait_for_timeout(300)  # let a late violation reach the console
    context.close()
    assert problems == []
    assert elsewhere == []
