"""``bench/bench_wrk.py`` (run by ``make bench``) drives a real service with wrk: its Lua
scripts must send requests the service accepts, every one of them (the bench refuses a run
with any answer that is not 2xx). Nothing here is timed: one short round, printed only."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _load() -> ModuleType:
    if str(BENCH) not in sys.path:  # the scripts import their shared bench/report.py
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_wrk", BENCH / "bench_wrk.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_wrk_bench_sends_requests_the_service_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """R1 R15: a one-second round on SQLite: wrk's creates (a new id each) and dispatches
    (each with its own Idempotency-Key, on paid orders stored beforehand) are all answered 2xx,
    and the table has its three rows with their targets."""
    if shutil.which("wrk") is None:
        message = "wrk is not installed: `apt-get install wrk` (Debian) runs this check"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    bench = _load()
    code = bench.main(["--seconds", "1", "--rounds", "1", "--stores", "sqlite", "--no-readme"])
    assert code == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| SQLite |")]
    assert [row.split("|")[2].strip() for row in rows] == [
        "`GET /orders/{id}`",
        "`POST /orders`, a new id each",
        "`POST /orders/{id}/events/dispatch`, a new order each",
    ]
    assert all("≥ 0." in row for row in rows)
