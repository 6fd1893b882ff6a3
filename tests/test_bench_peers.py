"""The contenders of ``make bench`` (``bench/peers.py``) do the same work as ours.

Each contender runs its check mode (a few orders, no timing) in its own process, with the
Python its runner uses (``bench/.venv-psm`` for python-statemachine), and prints every step's
outcome and the order's final history, ledger, blame and incidents as JSON; each peer's must
equal ours. Nothing here is timed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _load_peers() -> ModuleType:
    if str(BENCH) not in sys.path:  # the scripts import their shared bench/report.py
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_peers", BENCH / "peers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


peers = _load_peers()
RUNNERS = {runner.name: runner for runner in peers.CONTENDERS}


def _check(name: str) -> dict[str, Any]:
    """The contender's check-mode report, run in its own process."""
    runner = RUNNERS[name]
    python = runner.python if runner.python == peers.PSM_PYTHON else Path(sys.executable)
    if not python.exists():
        reason = f"{python.relative_to(ROOT)} is missing; create it with `make bench-venv`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the {name} contender: {reason}")
        pytest.skip(reason)
    command = [str(python), *runner.command("--check")[1:]]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["contender"] == name
    return report


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    """Ours' check-mode report, run once for the module."""
    return _check("ours")


def _outcomes(report: dict[str, Any], scenario: str) -> list[tuple[str, str, str]]:
    return [(s["event"], s["outcome"], s["state"]) for s in report["scenarios"][scenario]["steps"]]


def test_ours_check_mode_tells_the_story_the_rules_give(ours: dict[str, Any]) -> None:
    """R1 R2 R8 R9 R11 R13 R15 R16: ours refunds the claim path and refuses what they refuse."""
    scenarios = ours["scenarios"]
    claim = scenarios["claim_path"]
    assert claim["final"]["state"] == "refunded"
    assert claim["final"]["refunds"] == [["25.00", "damaged_in_transit", "supplier"]]
    assert [s["blame"] for s in claim["steps"]] == [None, None, "supplier", None]
    altered = scenarios["claim_partial_listing_altered"]["final"]
    assert altered["refunds"] == [["8.00", "not_as_described", "merchant"]]
    assert scenarios["late_dispatch"]["final"]["incidents"] == ["late_dispatch"]
    assert (
        _outcomes(ours, "late_cancellation")[1:]
        == [("request_cancellation", "refused R2", "dispatched")] * 2
    )
    assert [o for _, o, _ in _outcomes(ours, "duplicate_event_id")] == [
        "applied",
        "duplicate",
        "duplicate",
        "applied",
        "invalid event_id",
    ]
    assert [o for _, o, _ in _outcomes(ours, "time_backwards")] == [
        "applied",
        "refused R16",
        "refused R16",
        "applied",
    ]
    assert _outcomes(ours, "wrong_reason")[2][1] == "refused R8"
    assert _outcomes(ours, "claim_before_delivery")[1][1] == "refused R8"
    assert [o for _, o, _ in _outcomes(ours, "claim_window")][2:] == ["refused R13", "applied"]
    assert [o for _, o, _ in _outcomes(ours, "amount_caps")][2:] == [
        "refused R11",
        "refused R11",
        "applied",
        "refused R11",
        "applied",
    ]
    refused = [
        step for s in scenarios.values() for step in s["steps"] if step["outcome"] != "applied"
    ]
    assert refused and all(step["unchanged"] for step in refused)


@pytest.mark.parametrize("name", peers.PEERS)
def test_peer_does_the_same_work_as_ours(ours: dict[str, Any], name: str) -> None:
    """R1 R2 R8 R9 R11 R13 R15 R16: the peer's states, ledger, blame and refusals equal ours."""
    theirs = _check(name)["scenarios"]
    assert list(theirs) == list(ours["scenarios"])
    for scenario, expected in ours["scenarios"].items():
        steps = zip(expected["steps"], theirs[scenario]["steps"], strict=True)
        for i, (want, got) in enumerate(steps):
            assert got == want, f"{name}, {scenario}, step {i + 1}"
        assert theirs[scenario]["final"] == expected["final"], f"{name}, {scenario}"


def test_shared_bench_modules_import_only_the_standard_library() -> None:
    """The harness and the peers' rules import no state-machine library, so each contender
    measures its own library alone, and the python-statemachine one runs without ours."""
    local = {"harness", "peer_rules"}
    for path in (BENCH / "harness.py", BENCH / "peer_rules.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for module in names:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top in local, (path.name, module)


def test_psm_contender_imports_neither_ours_nor_transitions() -> None:
    """The python-statemachine contender's ``statemachine`` is python-statemachine's only."""
    source = (BENCH / "contender_psm.py").read_text()
    tree = ast.parse(source)
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "transitions" not in imported
    assert not any(name.startswith("contender_") for name in imported)
    assert "from statemachine import State, StateMachine" in source


def test_runner_rewrites_only_its_own_readme_section() -> None:
    """bench/peers.py (through bench/report.py) replaces what lies between its markers and keeps
    the scale section."""
    readme = (BENCH / "README.md").read_text()
    for name in ("peers", "scale"):
        assert readme.count(f"<!-- bench:{name}:start -->") == 1
        assert readme.count(f"<!-- bench:{name}:end -->") == 1
    text = (
        "intro\n<!-- bench:peers:start -->\nold\n<!-- bench:peers:end -->\n"
        "<!-- bench:scale:start -->\nscale table\n<!-- bench:scale:end -->\n"
    )
    import report

    new = report.replace_section(text, "peers", "| new |\n")
    assert new == text.replace("\nold\n", "\n| new |\n")
    with pytest.raises(ValueError, match="expected one"):
        report.replace_section("no markers", "peers", "x")


def test_rounds_rotate_and_spread_reports_median_and_quartiles() -> None:
    """Over as many rounds as contenders, each contender runs once in every position; the
    median and quartiles of 1..5 are 3, 2 and 4."""
    n = len(peers.CONTENDERS)
    positions = {
        r.name: {peers.round_order(k).index(r) for k in range(n)} for r in peers.CONTENDERS
    }
    assert all(p == set(range(n)) for p in positions.values())
    assert peers.spread([5.0, 1.0, 4.0, 2.0, 3.0]) == (3.0, 2.0, 4.0)
