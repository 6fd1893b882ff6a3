"""A client in another language type-checks against the served document (issue 16, point 3).

``openapi-typescript`` (7) makes TypeScript types of ``/openapi.json`` as a live service serves
it, and ``tsc --strict`` (TypeScript 5) checks ``tests/web/ts/client.ts`` against them: it
reads ``order.state`` from a created order and ``rule`` and ``kind`` from a 409 problem
without a cast, and a claim whose reason is outside R8's fails to type-check (its
``@ts-expect-error`` would itself be an error otherwise). The compiled client then runs
against the service. Both tools are pinned by ``tests/web/ts/package-lock.json`` and
installed by ``npm ci`` (from npm's cache when it has them).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web_helpers import WRITE, ThreadServer

from conftest import SETTINGS
from statemachine.store import AsyncSQLiteStore
from statemachine.web import create_app
from tests.helpers import skip_or_fail

TS = Path(__file__).resolve().parent / "ts"
FILES = ("package.json", "package-lock.json", "tsconfig.json", "client.ts")
HINT = (
    "the TypeScript check needs Node.js (18 or later) and npm: `apt-get install nodejs npm` "
    "(Debian, Ubuntu; .ci/run installs them) or `brew install node` (macOS)"
)


GENERATE = [
    "node_modules/.bin/openapi-typescript",
    "openapi.json",
    "--output",
    "api.d.ts",
    # openapi-typescript 7 otherwise takes a member with a default (open_claim's
    # listing_altered) as required, in request bodies too (docs/service.md says so)
    "--default-non-nullable",
    "false",
]
"""How docs/service.md tells a TypeScript client to make its types."""


def _run(command: list[str], cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the client and the pinned tools installed (``npm ci``)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        skip_or_fail(HINT)
    folder = tmp_path_factory.mktemp("ts")
    for name in FILES:
        shutil.copy(TS / name, folder / name)
    _run(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], folder, timeout=600)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on a SQLite file."""
    store = AsyncSQLiteStore(tmp_path_factory.mktemp("ts-service") / "orders.db")
    with ThreadServer(create_app(store, settings=SETTINGS)) as server:
        yield server.url
    store.sync.close()


def test_a_typescript_client_type_checks_against_the_served_document(
    tools: Path, site: str
) -> None:
    """The generated types give a created order's state, a 409 problem's rule and kind, and
    R8's reasons as a union: client.ts passes `tsc --strict` with its `@ts-expect-error` lines
    (a reason outside R8, a state outside the table) each an error, and runs against the
    service as typed."""
    (tools / "openapi.json").write_text(httpx.get(f"{site}/openapi.json").text)
    bin_ = tools / "node_modules" / ".bin"
    _run(GENERATE, tools)
    types = (tools / "api.d.ts").read_text()
    assert 'reason: components["schemas"]["ClaimReason"]' in types
    assert 'ClaimReason: "not_as_described" | "damaged_in_transit"' in types
    assert not re.search(r'"application/(problem\+)?json": unknown', types)  # issue 16's bug
    _run([str(bin_ / "tsc"), "--strict", "-p", "tsconfig.json"], tools)
    printed = _run(["node", "out/client.js", site, WRITE], tools, timeout=60)
    answer = json.loads(printed)
    assert answer == {
        "state": "paid",
        "deadline": "2026-03-11T23:59:59.999999+08:00",
        "dest": "dispatched",
        "status": 409,
        "rule": "R2",
        "kind": "state",
    }


def test_without_its_ts_expect_error_the_r8_claim_does_not_compile(tools: Path, site: str) -> None:
    """The proof is not vacuous: with the `@ts-expect-error` above the claim's reason taken
    away, tsc refuses the file, naming the reason and R8's two."""
    (tools / "openapi.json").write_text(httpx.get(f"{site}/openapi.json").text)
    bin_ = tools / "node_modules" / ".bin"
    _run(GENERATE, tools)
    source = (tools / "client.ts").read_text()
    marker = "  // @ts-expect-error R8: a reason outside not_as_described and damaged_in_transit\n"
    assert marker in source
    (tools / "bare.ts").write_text(source.replace(marker, ""))
    done = subprocess.run(
        [str(bin_ / "tsc"), "--strict", "--noEmit", "--lib", "ES2022,DOM", "bare.ts"],
        cwd=tools,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert '"changed_my_mind"' in done.stdout and "damaged_in_transit" in done.stdout
    assert done.stdout.count("error TS") == 1, done.stdout
