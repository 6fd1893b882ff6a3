"""The inspector is a page people can use (issue 20, point 4): ``axe-core`` (npm, pinned in
``tests/web/axe``, injected by Playwright with ``bypass_csp``) finds no serious or critical
violation on the home, list, order and action pages, at a desktop's width and a phone's; at
390 px nothing scrolls sideways; every link, button and field is reached with the keyboard;
and the pages need no script: the Content-Security-Policy forbids them.

axe is installed by ``npm ci`` from the lockfile, from npm's cache when it has them; without
Node.js and npm the tests skip on a developer's machine and fail under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import READ, WRITE, ThreadServer

from statemachine._demo import tell_all
from statemachine.store import AsyncSQLiteStore, SQLiteStore
from statemachine.web import Settings, create_app
from statemachine.web._credentials import Credential
from tests.helpers import skip_or_fail

AXE = Path(__file__).with_name("axe")
HINT = (
    "the accessibility check needs Node.js and npm to install axe-core: `apt-get install "
    "nodejs npm` (.ci/run installs them)"
)
ALICE = "alice-support-secret-0001"
WIDTHS = ((1280, 800), (390, 844))


@pytest.fixture(scope="module")
def axe_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's browser script, installed from the lockfile (``npm ci``)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        skip_or_fail(HINT)
    folder = tmp_path_factory.mktemp("axe")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(AXE / name, folder / name)
    subprocess.run(
        ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return (folder / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on the demo's store, with a support credential for the action pages."""
    path = tmp_path_factory.mktemp("a11y") / "orders.db"
    with SQLiteStore(path, create=True) as store:
        tell_all(store)
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


def _signed_in(browser: Any, site: str, token: str, width: int, height: int, **extra: Any) -> Any:
    """A page signed in to the inspector with ``token`` through its login form."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=site, **extra
    )
    page = context.new_page()
    page.goto("/inspect/login")
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert not page.url.endswith("/login"), "the sign-in was refused"
    return page


PAGES = ("/inspect/", "/inspect/orders", "/inspect/orders/AE-1004", "/inspect/orders/AE-1006")
"""Home, the list, an order owing money and a finished one (the demo's)."""


SERIOUS = ("serious", "critical")
ACTION = "the action page"


@pytest.mark.parametrize(("width", "height"), WIDTHS, ids=["desktop", "phone"])
def test_axe_finds_no_serious_violation(
    browser: Any, site: str, axe_source: str, width: int, height: int
) -> None:
    """R14: every inspector page (home, list, orders, and the preview of an event a support
    agent sends), read by axe-core in Chromium, has no serious or critical accessibility
    violation, at 1280 and at 390 px wide."""
    page = _signed_in(browser, site, ALICE, width, height, bypass_csp=True)
    found: dict[str, list[str]] = {}
    for path in [*PAGES, ACTION]:
        if path == ACTION:  # the preview of an event, from the order page's own form
            page.goto("/inspect/orders/AE-1002")
            with page.expect_navigation():
                page.get_by_role("button", name="Preview confirm_delivery").click()
            assert "confirm_delivery" in page.content()
        else:
            page.goto(path)
        page.add_script_tag(content=axe_source)
        violations = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
        )
        bad = [v for v in violations if v["impact"] in SERIOUS]
        if bad:
            found[path] = [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in bad]
    page.context.close()
    assert found == {}


@pytest.mark.parametrize("path", ["/inspect/", "/inspect/orders", "/inspect/orders/AE-1004"])
def test_nothing_scrolls_sideways_on_a_phone(browser: Any, site: str, path: str) -> None:
    """At 390 px wide the page fits: no horizontal scrolling."""
    page = _signed_in(browser, site, READ, 390, 844)
    page.goto(path)
    width = page.evaluate("document.scrollingElement.scrollWidth")
    page.context.close()
    assert width <= 390, f"{path} is {width} px wide at 390"


def test_every_control_is_reached_with_the_keyboard(browser: Any, site: str) -> None:
    """Tab alone reaches every link, button and field of the order page, in order."""
    page = _signed_in(browser, site, ALICE, 1280, 800)
    page.goto("/inspect/orders/AE-1004")
    wanted = page.evaluate(
        "Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]),"
        " select, textarea')).filter(e => !e.disabled && e.offsetParent !== null).length"
    )
    reached = set()
    for _ in range(wanted + 5):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                "(() => { const e = document.activeElement;"
                " return e ? e.outerHTML.slice(0, 200) + '@' +"
                " Array.from(document.querySelectorAll('*')).indexOf(e) : '' })()"
            )
        )
    page.context.close()
    assert len(reached) >= wanted


def test_the_pages_run_no_script(site: str) -> None:
    """The inspector's pages are served with a policy that runs no script and no inline
    style, and hold none: their style is one sheet of the service's own."""
    with httpx.Client(base_url=site, headers={"Authorization": f"Bearer {READ}"}) as client:
        answer = client.get("/inspect/login")
    policy = answer.headers["content-security-policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy and "style-src 'self'" in policy
    assert "<script" not in answer.text.lower() and "<style" not in answer.text.lower()
    with httpx.Client(base_url=site) as client:
        sheet = client.get("/inspect/inspect.css")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")


SHOTS = (
    ("inspector-home", "/inspect/", 1280, 800),
    ("inspector-home-phone", "/inspect/", 390, 844),
    ("inspector-order-first-screen", "/inspect/orders/AE-1004", 1280, 800),
    ("inspector-order-phone", "/inspect/orders/AE-1004", 390, 844),
)
"""The pictures ``make screenshots`` refreshes in docs/images: the home page and the order
page of the demo's AE-1004 (paid back, refund still owed), on a desktop and on a phone."""


@pytest.mark.parametrize(("name", "path", "width", "height"), SHOTS, ids=[s[0] for s in SHOTS])
def test_the_first_screens_as_pictures(
    browser: Any, site: str, name: str, path: str, width: int, height: int
) -> None:
    """R11: the first screen of the home and order pages, as a support agent sees it at a
    desktop's and a phone's size (written to ORDERFSM_SCREENSHOTS by `make screenshots`):
    a picture of exactly the viewport, the order's money in words on it."""
    page = _signed_in(browser, site, ALICE, width, height)
    page.goto(path)
    shot = page.screenshot()
    text = page.inner_text("main")
    page.context.close()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(shot[16:20], "big") == width  # the PNG's width: no sideways scroll
    if "orders/" in path:
        assert "30.00" in text
    target = os.environ.get("ORDERFSM_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"{name}.png").write_bytes(shot)
