"""The `orderfsm` command line, driven as installed: the console script in a subprocess, on real
SQLite files and on the real PostgreSQL server (fixtures of tests/conftest.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import EVENTS, RULES, Order, OrderError, StoreFault
from statemachine.cli import EXIT_CODES, ExitCode
from statemachine.cli._errors import exit_code
from statemachine.cli._trace import find_tests, trace
from statemachine.diagrams import journey_mermaid, lifecycle_dot, lifecycle_mermaid
from statemachine.store import SQLiteStore

from .helpers import ERRORS, read_only, skip_or_fail
from .store.store_helpers import raw

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sysconfig.get_path("scripts")


def _orderfsm() -> str:
    found = shutil.which("orderfsm", path=SCRIPTS) or shutil.which("orderfsm")
    if found is None:
        skip_or_fail("the orderfsm console script is not installed: pip install -e '.[cli]'")
    return found


ORDERFSM = _orderfsm()


def _env(**extra: str) -> dict[str, str]:
    """The environment a user's pipe has: no colours forced, no width, no store chosen."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    env.pop("ORDERFSM_DB", None)
    env.update(extra)
    return env


def run(
    *args: str,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed orderfsm; never a traceback, whatever happens."""
    done = subprocess.run(
        [ORDERFSM, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env or _env(),
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode != 70, done.stderr
    return done


def one_error_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The single stderr line of a failed command, checked against its exit status."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(params=["sqlite", "postgres"])
def store_args(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The store options of a command: a real SQLite file, or the real PostgreSQL server."""
    if request.param == "sqlite":
        return ["--db", str(tmp_path / "orders.db")]
    return ["--dsn", request.getfixturevalue("pg_dsn")]


def jsonl(*objects: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def create(order_id: str, paid_at: str = "2026-03-02T10:00:00+08:00", amount: str = "25.00"):  # type: ignore[no-untyped-def]
    return {"kind": "create", "order_id": order_id, "amount": amount, "currency": "USD",
            "paid_at": paid_at}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Help, completion, exit codes


COMMANDS = ("demo", "apply", "import", "show", "sweep", "outbox", "diagram", "rules",
            "definitions", "migrate", "check-log")  # fmt: skip


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_command_has_help(command: str) -> None:
    """--help: every command explains itself and exits 0; the group lists every exit status
    and how to turn shell completion on."""
    done = run(*([command] if command else []), "--help")
    assert done.returncode == 0
    assert "Usage:" in done.stdout
    if not command:
        for name in COMMANDS:
            assert name in done.stdout
        for code in ExitCode:
            assert re.search(rf"^\s+{code.value}\s", done.stdout, re.M), code
        assert "_ORDERFSM_COMPLETE=bash_source orderfsm" in done.stdout


def test_shell_completion_completes_commands_and_options() -> None:
    """Shell completion: click's _ORDERFSM_COMPLETE hook completes command and option names."""
    source = run(env=_env(_ORDERFSM_COMPLETE="bash_source"))
    assert source.returncode == 0 and "_ORDERFSM_COMPLETE" in source.stdout
    words = run(env=_env(_ORDERFSM_COMPLETE="bash_complete", COMP_WORDS="orderfsm sh",
                         COMP_CWORD="1"))  # fmt: skip
    assert "show" in words.stdout
    options = run(env=_env(_ORDERFSM_COMPLETE="bash_complete", COMP_WORDS="orderfsm sweep --ev",
                           COMP_CWORD="2"))  # fmt: skip
    assert "--every" in options.stdout


def test_exit_codes_are_documented_in_readme_and_docs() -> None:
    """Exit codes: the README's table is ExitCode, status for status and word for word, and
    EXIT_CODES (kept for its importers) is the same list."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| (.*) \|$", readme, re.M)
    assert [(int(c), text) for c, text in rows] == [(c.value, c.meaning) for c in ExitCode]
    assert list(EXIT_CODES) == [(c.value, c.meaning) for c in ExitCode]


def test_usage_errors_are_one_line_with_status_2(tmp_path: Path) -> None:
    """Bad command lines (unknown command, a bad --now, two stores, no store) are one stderr
    line naming the fault, exit status 2."""
    db = str(tmp_path / "o.db")
    assert "bogus" in one_error_line(run("bogus"), 2)
    line = one_error_line(run("show", "AE-1", "--db", db, "--now", "tomorrow"), 2)
    assert "--now" in line and "ISO 8601" in line
    line = one_error_line(run("show", "AE-1", "--db", db, "--now", "2026-03-02T10:00"), 2)
    assert "UTC offset" in line
    assert "not both" in one_error_line(run("show", "AE-1", "--db", db, "--dsn", "x"), 2)
    assert "ORDERFSM_DB" in one_error_line(run("show", "AE-1"), 2)


def test_store_and_input_errors_are_one_line_with_their_status(tmp_path: Path) -> None:
    """A missing file (3), an unknown order (3), no such database (4), a file that is not a
    store (4), a database of a newer schema (4): one line each, never a traceback."""
    db = tmp_path / "o.db"
    assert (
        run("import", "--create", "--db", str(db), "-", stdin=jsonl(create("AE-1"))).returncode == 0
    )
    assert "no-such.jsonl" in one_error_line(
        run("apply", "--create", "--db", str(db), "no-such.jsonl"), 3
    )
    assert "'AE-9'" in one_error_line(run("show", "--db", str(db), "AE-9"), 3)
    assert "no such file" in one_error_line(run("show", "--db", str(tmp_path / "x.db"), "A"), 4)
    assert not (tmp_path / "x.db").exists()
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    assert "not a SQLite database" in one_error_line(run("outbox", "--db", str(text)), 4)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    line = one_error_line(run("show", "--db", str(db), "AE-1"), 4)
    assert "schema version 99" in line and "upgrade" in line


EXIT_OF: dict[str, int] = {
    "InvalidInput": 3,
    "EventTooFarAhead": 3,
    "EventRejected": 1,
    "UnknownOrder": 3,
    "OrderExists": 3,
    "VersionConflict": 3,
    "NotPermitted": 3,
    "StoreUnavailable": 4,
    "ConcurrentUpdate": 4,
    "CorruptOrder": 4,
    "SchemaVersionError": 4,
    "TableError": 1,
    "GraphvizMissing": 5,
}
"""The exit status of each error of the package (ExitCode)."""


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_exits_with_the_status_of_its_branch(error: OrderError) -> None:
    """Every store fault exits 4 (the operator's to fix); a request error 3 (the input's), a
    refusal 1 (a finding); a missing program 5."""
    assert exit_code(error) == EXIT_OF[type(error).__name__]
    assert (exit_code(error) == ExitCode.STORE) == isinstance(error, StoreFault)


def test_a_corrupt_stored_order_exits_4_naming_it(store_args: list[str]) -> None:
    """A stored row that is no order the machine could produce is a store fault, not the
    caller's input: `show` is one line naming the order, exit 4 (an unknown order is 3);
    `apply` reports the lines before it and stops at its line, exit 4."""
    assert (
        run(
            "import", "--create", *store_args, "-", stdin=jsonl(create("AE-1"), create("AE-2"))
        ).returncode
        == 0
    )
    raw(("sqlite" if store_args[0] == "--db" else "postgres", store_args[1]),
        "UPDATE orders SET state = 'dispatched' WHERE order_id = 'AE-1'")  # fmt: skip
    line = one_error_line(run("show", *store_args, "AE-1"), 4)
    assert "'AE-1'" in line and "corrupt" in line
    error = json.loads(one_error_line(run("show", "--json", *store_args, "AE-1"), 4))
    assert (error["exit"], error["error"]["type"], error["error"]["order_id"]) == (
        4,
        "CorruptOrder",
        "AE-1",
    )
    cancel = {"event": "request_cancellation", "at": "2026-03-02T11:00:00+08:00"}
    events = jsonl({"order_id": "AE-2", **cancel}, {"order_id": "AE-1", **cancel},
                   {"order_id": "AE-9", **cancel})  # fmt: skip
    done = run("apply", "--create", *store_args, "-", stdin=events)
    assert done.returncode == 4, done.stderr
    assert done.stdout.splitlines()[-1] == "applied 1, duplicate 0, rejected 0, invalid 0"
    assert "stopped at line 2" in done.stderr and "'AE-1' is corrupt" in done.stderr
    shown = json.loads(run("show", *store_args, "AE-2", "--json").stdout)
    assert shown["order"]["state"] == "cancel_requested"


def test_json_errors_are_one_json_line_on_stderr(tmp_path: Path) -> None:
    """--json: a failure is one JSON object on stderr, the error's to_dict() and the status."""
    done = run("show", "--json", "--db", str(tmp_path / "none.db"), "AE-1")
    line = json.loads(one_error_line(done, 4))
    assert line["exit"] == 4 and line["error"]["type"] == "StoreUnavailable"


def test_each_run_has_an_invocation_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ctx.obj: --json is kept on the run's own Invocation, so in one process a run with
    --json answers its error as JSON and the next run, without it, as a plain line."""
    from statemachine.cli._run import run as run_in_process

    missing = str(tmp_path / "none.db")
    assert run_in_process(["show", "--json", "--db", missing, "AE-1"]) == ExitCode.STORE
    assert json.loads(capsys.readouterr().err)["exit"] == ExitCode.STORE
    assert run_in_process(["show", "--db", missing, "AE-1"]) == ExitCode.STORE
    assert capsys.readouterr().err.startswith("orderfsm: error: cannot use the store")


def test_every_command_is_a_module_of_its_own() -> None:
    """The command line is rooms of one purpose: each command in its own module under
    statemachine/cli/commands (named after it), no module of statemachine/cli over 800
    lines."""
    from statemachine.cli._group import cli

    package = ROOT / "statemachine" / "cli"
    assert set(cli.commands) == {*COMMANDS, "serve"}
    modules = {name: "import_" if name == "import" else name.replace("-", "_") for name in
               cli.commands}  # fmt: skip
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"statemachine.cli._commands.{modules[name]}"
    files = {p.stem for p in (package / "_commands").glob("*.py")}
    assert files == {"__init__", *modules.values()}
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in package.rglob("*.py")}
    assert max(sizes.values()) <= 800, sizes


def test_python_m_statemachine_is_the_same_command_line() -> None:
    """python -m statemachine runs orderfsm (the demo when given no command)."""
    done = subprocess.run(
        [sys.executable, "-m", "statemachine", "rules", "--json"],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [r["rule"] for r in json.loads(done.stdout)["rules"]] == list(RULES)


# --------------------------------------------------------------------------------------------
# demo


def test_demo_tells_every_story_through_a_store_and_keeps_it(tmp_path: Path) -> None:
    """demo: the eight stories end to end through a SQLite file (R2, R3, R7, R8, R10, R11,
    R12, R4 refusals and clock events shown), a journey per order, the store kept to explore."""
    done = run("demo", "--db", "shop.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for n in range(1, 9):
        assert f"─ {n}. " in out
    for needle in ("R2 (state)", "cancellation_lapsed", "duplicate: nothing written",
                   "incident dispatched_after_cancellation", "R8 (data)", "R10 (data)",
                   "R11 (data)", "dispatch_deadline_expired", "repayment_overdue"):  # fmt: skip
        assert needle in out, needle
    journeys = sorted(p.name for p in (tmp_path / "shop-journeys").glob("*.mmd"))
    assert journeys == [f"AE-100{n}.mmd" for n in range(1, 9)]
    shown = json.loads(run("show", "--db", "shop.db", "AE-1004", "--json", cwd=tmp_path).stdout)
    assert shown["order"]["state"] == "refund_pending"
    assert [i["kind"] for i in shown["order"]["incidents"]] == ["dispatched_after_cancellation"]
    assert "test_demo" not in out


def test_demo_closing_hint_names_a_command_that_runs_from_here(tmp_path: Path) -> None:
    """The demo's closing hint works as written where the user is: with `orderfsm` not on
    PATH (a checkout has it in .venv/bin only), the hint names the script by its path from the
    current folder, and running the hinted `show` shows the story's order (R2's refund)."""
    here = tmp_path / "checkout"
    (here / "bin").mkdir(parents=True)
    script = here / "bin" / "orderfsm"
    script.symlink_to(ORDERFSM)
    env = _env(PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                     if not shutil.which("orderfsm", path=p)))  # fmt: skip
    done = subprocess.run(
        ["bin/orderfsm", "demo", "--db", "my shop.db"],
        cwd=here, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    hint = " ".join(done.stdout.split()).split("look at one with `", 1)[1].split("`", 1)[0]
    assert hint == "bin/orderfsm show --db 'my shop.db' AE-1004"
    shown = subprocess.run(
        [*shlex.split(hint), "--json"], cwd=here, capture_output=True, text=True, env=env,
        check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["order"]["state"] == "refund_pending"


def test_demo_json_is_one_object_per_story(tmp_path: Path) -> None:
    """demo --json: JSON lines, one per story, with its steps and the order's to_dict()."""
    done = run("demo", "--json", "--db", str(tmp_path / "d.db"))
    stories = [json.loads(line) for line in done.stdout.splitlines()]
    assert [s["story"] for s in stories] == list(range(1, 9))
    assert Order.from_dict(stories[7]["order"]).state == "refund_pending"
    refused = [s["refusal"]["rule"] for s in stories[6]["steps"] if s["refusal"]]
    assert refused == ["R8", "R10"]


def test_demo_refuses_to_write_into_an_existing_database(tmp_path: Path) -> None:
    """demo writes into a new file only: an existing one is a usage error (2), left alone."""
    db = tmp_path / "kept.db"
    db.write_bytes(b"precious")
    assert "already exists" in one_error_line(run("demo", "--db", str(db)), 2)
    assert db.read_bytes() == b"precious"


def test_demo_without_dot_writes_mermaid_journeys_only(tmp_path: Path) -> None:
    """Fresh machine: without Graphviz's dot the demo still runs and writes Mermaid only."""
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run("demo", "--db", str(tmp_path / "d.db"), env=_env(PATH=str(empty)))
    assert done.returncode == 0, done.stderr
    written = {p.suffix for p in (tmp_path / "d-journeys").iterdir()}
    assert written == {".mmd"}


@pytest.mark.usefixtures("dot_program")
def test_demo_with_dot_writes_svg_journeys(tmp_path: Path) -> None:
    """With Graphviz's dot, each story's journey is an SVG picture as well."""
    run("demo", "--db", str(tmp_path / "d.db"))
    assert len(list((tmp_path / "d-journeys").glob("*.svg"))) == 8


# --------------------------------------------------------------------------------------------
# apply and import

EVENTS_FILE = jsonl(
    create("AE-1"),
    {"order_id": "AE-1", "event": "request_cancellation", "at": "2026-03-03T09:00:00+08:00",
     "event_id": "wh-1"},
    {"order_id": "AE-1", "event": "dispatch", "at": "2026-03-03T11:00:00+08:00",
     "event_id": "wh-2", "tracking_number": "LP1"},
    {"order_id": "AE-1", "event": "dispatch", "at": "2026-03-03T11:00:00+08:00",
     "event_id": "wh-2", "tracking_number": "LP1"},
    {"order_id": "AE-1", "event": "request_cancellation", "at": "2026-03-04T08:00:00+08:00"},
    {"order_id": "AE-9", "event": "dispatch", "at": "2026-03-04T08:00:00+08:00",
     "tracking_number": "LP9"},
    {"order_id": "AE-1", "event": "confirm_delivery", "at": "2026-03-09 18:00"},
    {"order_id": "AE-1", "event": "confirm_delivery", "at": "2026-03-09T18:00:00+08:00",
     "colour": "red"},
) + "\n" + '{"order_id": "AE-1", "event": \n'  # fmt: skip


def test_apply_reports_every_line_and_goes_on(store_args: list[str], tmp_path: Path) -> None:
    """apply: R15 duplicates, R2 refusals with their kind, unknown orders, naive times,
    unknown fields and bad JSON are each reported with the line number; the rest is applied;
    the last line counts them and the status is 1."""
    events = tmp_path / "events.jsonl"
    events.write_text(EVENTS_FILE)
    done = run("apply", "--create", *store_args, str(events))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "applied 3, duplicate 1, rejected 1, invalid 4"
    out = done.stdout
    assert "line 4: AE-1 dispatch duplicate: event id wh-2" in out
    assert "line 5: AE-1 request_cancellation rejected by R2 (state)" in out
    assert "line 6: AE-9 dispatch invalid: no order 'AE-9' is stored" in out
    assert "line 7: AE-1 confirm_delivery invalid: at '2026-03-09 18:00' has no UTC offset" in out
    assert "line 8: AE-1 confirm_delivery invalid:" in out and "colour" in out
    assert "line 10: invalid: not JSON" in out
    again = run("apply", "--create", *store_args, str(events))
    assert again.stdout.splitlines()[-1] == "applied 0, duplicate 4, rejected 1, invalid 4"
    shown = json.loads(run("show", *store_args, "AE-1", "--json").stdout)
    assert shown["order"]["state"] == "dispatched" and shown["version"] == 3


def test_apply_json_lines_and_exit_zero_when_all_applied(store_args: list[str]) -> None:
    """apply --json from standard input: one JSON object per line with the result's
    to_dict(), then the summary; exit 0 when nothing was rejected or invalid."""
    lines = jsonl(
        create("AE-2"),
        {"order_id": "AE-2", "event": "dispatch", "at": "2026-03-03T11:00:00+08:00",
         "tracking_number": "LP2"},
    )  # fmt: skip
    done = run("apply", "--create", *store_args, "-", "--json", stdin=lines)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o.get("outcome") for o in out[:2]] == ["applied", "applied"]
    assert out[1]["result"]["dest"] == "dispatched" and out[1]["seq"] == 1
    assert out[-1] == {"summary": {"applied": 2, "duplicate": 0, "rejected": 0, "invalid": 0}}


def test_apply_reads_json_numbers_as_the_decimals_written(tmp_path: Path) -> None:
    """Amounts given as JSON numbers are read exactly as written (12.30 is "12.30", never a
    float); the minor unit and the canonical spelling still apply; NaN is refused."""
    db = str(tmp_path / "o.db")
    lines = (
        '{"kind": "create", "order_id": "N-1", "amount": 12.30, "currency": "USD", '
        '"paid_at": "2026-03-02T10:00:00Z"}\n'
        '{"kind": "create", "order_id": "N-2", "amount": 12.345, "currency": "USD", '
        '"paid_at": "2026-03-02T10:00:00Z"}\n'
        '{"kind": "create", "order_id": "N-3", "amount": 1e1, "currency": "USD", '
        '"paid_at": "2026-03-02T10:00:00Z"}\n'
        '{"kind": "create", "order_id": "N-4", "amount": NaN, "currency": "USD", '
        '"paid_at": "2026-03-02T10:00:00Z"}\n'
        '{"kind": "create", "order_id": "N-5", "amount": 7, "currency": "JPY", '
        '"paid_at": "2026-03-02T10:00:00Z"}\n'
    )
    done = run("apply", "--create", "--db", db, "-", "--json", stdin=lines)
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o.get("outcome") for o in outcomes[:5]] == [
        "applied", "invalid", "invalid", "invalid", "applied"
    ]  # fmt: skip
    assert "'12.345'" in outcomes[1]["error"]["message"]
    store = SQLiteStore(db)
    assert str(store.get("N-1").amount) == "12.30" and str(store.get("N-5").amount) == "7"
    store.close()


_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=12)
_AT = st.sampled_from(["2026-03-02T10:00:00+08:00", "2026-03-05T10:00:00Z", "2026-03-20T10:00",
                       "yesterday", "", "2026-02-30T00:00:00Z"])  # fmt: skip
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(), _TEXT, _AT,
                   st.sampled_from(["25.00", "0", "-1", "12.345", "1e3"]))  # fmt: skip
_IDS = st.sampled_from(["R-1", "R-2", "R-3"])
_LINE = st.one_of(
    st.fixed_dictionaries(
        {"order_id": _IDS, "event": st.sampled_from(sorted(EVENTS)), "at": _AT},
        optional={"event_id": st.sampled_from(["e1", "e2"]), "tracking_number": _VALUE,
                  "amount": _VALUE, "reason": st.sampled_from(["damaged_in_transit", "x"]),
                  "listing_altered": _VALUE, "kind": st.sampled_from(["event", "other"]),
                  "extra": _VALUE},
    ).map(json.dumps),
    st.fixed_dictionaries(
        {"kind": st.just("create"), "order_id": st.sampled_from(["R-1", "R-2", "R-3", ""]),
         "amount": _VALUE, "currency": st.sampled_from(["USD", "JPY", "XXX"]), "paid_at": _AT},
    ).map(json.dumps),
    st.sampled_from(["{", "[]", "null", "42", '"text"', "{}", '{"order_id": 1}']),
    _TEXT.filter(lambda s: bool(s.strip())),
)  # fmt: skip


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_LINE, min_size=1, max_size=12))
def test_random_lines_never_crash_apply_and_the_counts_add_up(
    tmp_path: Path, lines: list[str]
) -> None:
    """Any JSON lines (valid, wrong or junk): apply never prints a traceback, reports one
    outcome per line, its summary adds up to the lines read, and the status is 0 exactly when
    nothing was rejected or invalid."""
    db = tmp_path / f"h{abs(hash(tuple(lines)))}.db"
    done = run("apply", "--create", "--db", str(db), "-", "--json", stdin="\n".join(lines) + "\n")
    assert done.returncode in (0, 1), done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    summary = out[-1]["summary"]
    assert len(out) - 1 == len([line for line in lines if line.strip()])
    assert sum(summary.values()) == len(out) - 1
    assert (done.returncode == 0) == (summary["rejected"] == summary["invalid"] == 0)
    for o in out[:-1]:
        assert (o["error"] is not None) == (o["outcome"] in ("rejected", "invalid"))


def test_import_creates_all_orders_or_none(store_args: list[str], tmp_path: Path) -> None:
    """import: add_many in one transaction; a bad line or a taken id imports nothing (3)."""
    orders = tmp_path / "orders.jsonl"
    orders.write_text(jsonl(create("I-1"), {**create("I-2"), "kind": "create"}))
    done = run("import", "--create", *store_args, str(orders))
    assert (done.returncode, done.stdout) == (0, "imported 2 orders\n")
    again = run("import", "--create", *store_args, str(orders))
    assert "'I-1' (line 1) is already stored" in one_error_line(again, 3)
    bad = jsonl(create("I-3"), {"order_id": "I-4"}, create("I-3"))
    done = run("import", "--create", *store_args, "-", stdin=bad)
    assert "3 bad lines" not in done.stderr and "2 bad lines" in one_error_line(done, 3)
    assert "line 2: invalid: amount is required" in done.stdout
    assert "line 3: invalid: order 'I-3' is given again (first on line 1)" in done.stdout
    assert run("show", *store_args, "I-3").returncode == 3


def test_import_takes_an_orders_whole_json_form(tmp_path: Path) -> None:
    """import also takes an order's to_dict() (as show --json prints it), history and all."""
    source = tmp_path / "a.db"
    run("apply", "--create", "--db", str(source), "-", stdin=EVENTS_FILE)
    shown = json.loads(run("show", "--db", str(source), "AE-1", "--json").stdout)
    target = tmp_path / "b.db"
    done = run(
        "import", "--create", "--db", str(target), "-", stdin=json.dumps(shown["order"]) + "\n"
    )
    assert done.returncode == 0, done.stderr
    copied = json.loads(run("show", "--db", str(target), "AE-1", "--json").stdout)
    assert copied["order"] == shown["order"]
    assert [e["event"] for e in copied["log"]] == ["request_cancellation", "dispatch"]


# --------------------------------------------------------------------------------------------
# show, sweep, outbox


def test_show_gives_deadlines_ledgers_and_why_not(store_args: list[str]) -> None:
    """show: state, local-time deadlines, timeline, the events allowed at --now and, for the
    others, the refusal with its rule and kind (R2 after dispatch, R8 before delivery)."""
    run("apply", "--create", *store_args, "-", stdin=EVENTS_FILE)
    done = run("show", *store_args, "AE-1", "--now", "2026-03-05T10:00:00+08:00")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "AE-1: dispatched, 25.00 USD, version 3" in out
    assert "2026-03-11 23:59 (R1)" in out and "Asia/Shanghai" in out
    assert "allowed: confirm_delivery" in out
    assert re.search(r"request_cancellation\s+R2\s+state", out)
    assert re.search(r"open_claim\s+R8\s+state", out)
    data = json.loads(run("show", *store_args, "AE-1", "--json", "--now",
                          "2026-03-05T10:00:00+08:00").stdout)  # fmt: skip
    assert data["allowed"] == ["confirm_delivery"]
    assert data["refused"]["request_cancellation"]["rule"] == "R2"
    assert data["refused"]["request_cancellation"]["kind"] == "state"
    assert [e["source"] for e in data["log"]] == ["orderfsm", "orderfsm"]


def test_sweep_fires_the_clock_events_that_are_due(store_args: list[str]) -> None:
    """sweep: nothing before the R1 deadline (Spring Festival skipped); after it, R12 closes
    the order; --json gives the store's Swept.to_dict()."""
    run(
        "import",
        "--create",
        *store_args,
        "-",
        stdin=jsonl(create("C-1", "2026-02-13T10:00:00+08:00")),
    )
    before = run("sweep", *store_args, "--now", "2026-03-02T23:00:00+08:00")
    assert before.returncode == 0 and "fired 0" in before.stdout
    after = run("sweep", *store_args, "--now", "2026-03-03T00:00:01+08:00", "--json")
    swept = json.loads(after.stdout)
    assert [a["result"]["event"] for a in swept["applied"]] == ["dispatch_deadline_expired"]
    assert swept["skipped"] == []
    again = run("sweep", *store_args, "--now", "2026-03-03T00:00:01+08:00")
    assert "fired 0" in again.stdout


def test_apply_interrupted_prints_the_summary_so_far_and_where_it_stopped(
    tmp_path: Path,
) -> None:
    """R1 R15: Ctrl-C while `apply -` waits for more lines stops it with status 130, the
    summary of what it did, and the line it stopped after; no traceback. What it reported is
    in the store, and sending the lines again applies nothing twice."""
    db = tmp_path / "o.db"
    lines = jsonl(create("C-1"), create("C-2"), create("C-3"))
    proc = subprocess.Popen(
        [ORDERFSM, "apply", "--create", "--db", str(db), "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(),
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(lines)
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the three lines applied, the command waits for more
        with contextlib.suppress(sqlite3.OperationalError):  # the file made, its tables not yet
            if db.exists() and raw(("sqlite", str(db)), "SELECT count(*) FROM orders")[0][0] == 3:
                break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert out.strip().splitlines()[-1] == "applied 3, duplicate 0, rejected 0, invalid 0"
    assert err.strip() == (
        "orderfsm apply: interrupted after line 3; the lines up to it were applied as "
        "reported, the rest were not read"
    )
    again = run("apply", "--create", "--db", str(db), "-", stdin=lines)
    assert again.stdout.strip().splitlines()[-1] == "applied 0, duplicate 3, rejected 0, invalid 0"


def test_show_writes_a_hostile_id_and_tracking_number_as_escapes(tmp_path: Path) -> None:
    """R1: an order stored with an id and a tracking number that hold an ESC sequence, a
    right-to-left override and a line break (by an older release, or a direct library call:
    the parser refuses them today) is shown with those characters as escapes, never raw, so
    it can neither steer the terminal nor pass for another order."""
    import datetime as dt

    from statemachine import Order
    from statemachine.store import SQLiteStore

    oid, tracking = "AE-\x1b[2J\u202e1\nX", "LP\x1b]0;owned\x07"
    paid = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    with SQLiteStore(tmp_path / "o.db") as store:
        store.add(Order.create(oid, "25.00", "USD", paid))
        store.apply(oid, "dispatch", at=paid + dt.timedelta(hours=1), tracking_number=tracking,
                    event_id="wh-\u200b1")  # fmt: skip
    done = run("show", "--db", str(tmp_path / "o.db"), oid, "--now", "2026-03-03T09:00:00+00:00")
    assert done.returncode == 0, done.stderr
    assert not any(c in done.stdout for c in "\x1b\x07\u202e\u200b")
    for escaped in ("AE-\\u001b[2J\\u202e1\\u000aX", "LP\\u001b]0;owned\\u0007", "\\u200b"):
        assert escaped in done.stdout.replace("\n", "").replace(" ", ""), escaped


def test_apply_max_skew_refuses_an_event_dated_too_far_ahead(tmp_path: Path) -> None:
    """R16: with --max-skew, an event dated further ahead of the machine's clock (a mistyped
    year) is invalid, of kind time, naming `at`, and the order is unchanged (status 1); the
    check is off unless asked for, as the package never reads the clock on its own."""
    db = str(tmp_path / "o.db")
    typo = {"order_id": "C-1", "event": "dispatch", "at": "2036-03-03T09:00:00+08:00",
            "tracking_number": "LP1", "event_id": "d-1"}  # fmt: skip
    done = run("apply", "--create", "--db", db, "--max-skew", "300", "--json", "-",
               stdin=jsonl(create("C-1"), typo))  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = [json.loads(line) for line in done.stdout.splitlines()][1]
    assert report["outcome"] == "invalid"
    assert (report["error"]["kind"], report["error"]["field"]) == ("time", "at")
    assert raw(("sqlite", db), "SELECT state FROM orders") == [("paid",)]
    again = run("apply", "--create", "--db", db, "-", stdin=jsonl(typo))
    assert again.returncode == 0 and "applied 1" in again.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["apply", "--db", ":memory:", "-"], 2),
        (["import", "--db", ":memory:", "-"], 2),
        (["show", "--db", ":memory:", "C-1"], 2),
        (["sweep", "--db", ":memory:"], 2),
        (["serve", "--db", ":memory:"], 2),
        (["apply", "--create", "--db", "file::memory:", "-"], 2),
        (["import", "--create", "--db", "file:kept.db?mode=memory", "-"], 2),
        (["sweep", "--create", "--db", "FILE:x.db"], 2),
        (["serve", "--create", "--db", "file::memory:"], 2),
    ],
    ids=[
        "apply",
        "import",
        "show",
        "sweep",
        "serve",
        "apply-uri",
        "import-uri",
        "sweep-uri",
        "serve-uri",
    ],
)
def test_a_database_in_memory_is_refused_where_nothing_would_be_kept(
    tmp_path: Path, args: list[str], code: int
) -> None:
    """R1: `--db :memory:` (or a SQLite URI such as `file::memory:`) would report `applied 1`
    and keep nothing: every command that keeps orders refuses it in one line naming why,
    status 2, before reading anything or making any file."""
    done = run(*args, stdin=jsonl(create("C-1")), cwd=tmp_path,
               env=_env(ORDERFSM_TOKEN="write-token"))  # fmt: skip
    line = one_error_line(done, code)
    assert "in memory or a URI" in line and "keeps nothing" in line
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [["apply", "-"], ["import", "-"], ["sweep"], ["serve"], ["show", "C-1"], ["outbox"],
     ["diagram", "C-1"]],
    ids=lambda a: a[0],
)  # fmt: skip
def test_a_missing_database_file_is_refused_and_not_made(tmp_path: Path, args: list[str]) -> None:
    """R1: a mistyped path, or a file lost under a running service, never silently becomes a
    new empty store (which looks like every order gone): each command refuses a SQLite file
    that does not exist with status 4 and one line naming --create, and makes no file."""
    missing = tmp_path / "typo.db"
    done = run(args[0], "--db", str(missing), *args[1:], stdin=jsonl(create("C-1")),
               cwd=tmp_path, env=_env(ORDERFSM_TOKEN="write-token"))  # fmt: skip
    line = one_error_line(done, 4)
    assert "no such file" in line and "--create" in line
    assert list(tmp_path.iterdir()) == []
    by_env = run(args[0], *args[1:], stdin=jsonl(create("C-1")), cwd=tmp_path,
                 env=_env(ORDERFSM_DB=str(missing), ORDERFSM_TOKEN="write-token"))  # fmt: skip
    assert "no such file" in one_error_line(by_env, 4)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_store_is_status_4_and_left_as_it_was(tmp_path: Path) -> None:
    """R1: a store the command cannot write (a read-only file, a read-only volume) stops
    `apply` and `import` with status 4 and a line saying so, never status 70 (a bug) or a
    traceback; the file's bytes are unchanged, and reading it still works."""
    import hashlib

    db = tmp_path / "orders.db"
    assert (
        run("import", "--create", "--db", str(db), "-", stdin=jsonl(create("C-1"))).returncode == 0
    )
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for command in ("apply", "import"):
        argv = read_only(db, [ORDERFSM, command, "--db", str(db), "-"])
        done = subprocess.run(argv, input=jsonl(create("C-2")), capture_output=True, text=True,
                              env=_env(), timeout=60, check=False)  # fmt: skip
        assert done.returncode == 4, (done.stdout, done.stderr)
        assert "read-only" in done.stderr and "Traceback" not in done.stderr
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    argv = read_only(db, [ORDERFSM, "show", "--db", str(db), "C-1"])
    shown = subprocess.run(
        argv, capture_output=True, text=True, env=_env(), timeout=60, check=False
    )
    assert shown.returncode == 0 and "C-1: paid" in shown.stdout


@pytest.mark.parametrize("command", ["apply", "import"])
def test_create_makes_a_new_store_that_later_commands_open(tmp_path: Path, command: str) -> None:
    """R1: with --create, apply and import make the missing file a new store; show opens it
    afterwards without --create, and a second --create on it changes nothing already stored."""
    db = str(tmp_path / "new.db")
    assert run(command, "--create", "--db", db, "-", stdin=jsonl(create("C-1"))).returncode == 0
    shown = json.loads(run("show", "--db", db, "--json", "C-1").stdout)
    assert shown["order"]["order_id"] == "C-1"
    again = run("apply", "--create", "--db", db, "-", stdin=jsonl(create("C-2")))
    assert again.returncode == 0
    assert raw(("sqlite", db), "SELECT order_id FROM orders ORDER BY 1") == [("C-1",), ("C-2",)]


@pytest.mark.parametrize(
    "args",
    [["show", "C-1"], ["apply", "--create", "-"], ["import", "--create", "-"], ["sweep"],
     ["outbox"]],
    ids=lambda a: a[0],
)  # fmt: skip
@pytest.mark.parametrize(
    "kind", ["crm", "own-schema_version", "look-alike", "a-view-only"]
)  # fmt: skip
def test_another_applications_file_is_left_as_it_was(
    tmp_path: Path, args: list[str], kind: str
) -> None:
    """R1: pointed at another application's SQLite file (a CRM's; one whose migration tool
    keeps a table of its own named schema_version, as Flyway does; one with a one-column
    schema_version beside an orders table of its own; one holding only a view), every command
    stops with status 4 and one line, before changing anything in it: no table added, not
    even the switch to WAL mode; the file's bytes are the same afterwards (--create
    included)."""
    import hashlib

    crm = tmp_path / "crm.db"
    conn = sqlite3.connect(crm)
    statements = {
        "crm": ["CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
                "INSERT INTO customers (name) VALUES ('Ada')"],
        "own-schema_version": [
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
            "CREATE TABLE schema_version (installed_rank INT, version TEXT, script TEXT)",
            "INSERT INTO schema_version VALUES (1, '1', 'V1__init.sql')"],
        "look-alike": ["CREATE TABLE schema_version (version INT)",
                       "INSERT INTO schema_version VALUES (1)",
                       "CREATE TABLE orders (x INT)"],
        "a-view-only": ["CREATE VIEW customers AS SELECT 1 AS id"],
    }[kind]  # fmt: skip
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    before = hashlib.sha256(crm.read_bytes()).hexdigest()
    done = run(args[0], "--db", str(crm), *args[1:], stdin=jsonl(create("C-1")), cwd=tmp_path)
    line = one_error_line(done, 4)
    assert "another application's tables (" in line
    assert hashlib.sha256(crm.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db"]  # no -wal, no -shm


def test_stored_text_is_never_read_as_markup_or_steers_a_sweep(tmp_path: Path) -> None:
    """R1 R12: stored text that looks like Rich markup (a hidden link, a closing tag) is shown
    as written, never crashing `show` (it used to exit 70); `sweep` reports an order whose id
    holds an ESC sequence with the escape written out."""
    import datetime as dt

    from statemachine import Order
    from statemachine.store import SQLiteStore

    db = tmp_path / "o.db"
    paid = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    with SQLiteStore(db) as store:
        store.add(Order.create("AE-1", "25.00", "USD", paid))
        store.apply("AE-1", "dispatch", at=paid + dt.timedelta(hours=1), event_id="[/x]",
                    tracking_number="[link=https://evil.example/]TRK-1[/link]")  # fmt: skip
        store.add(Order.create("AE-\x1b[31mEVIL", "25.00", "USD", paid))
    shown = run("show", "--db", str(db), "AE-1", env=_env(FORCE_COLOR="1"))
    assert shown.returncode == 0, shown.stderr
    assert "[link=https://evil.example/]TRK-1[/link]" in shown.stdout
    assert "[/x]" in shown.stdout and "\x1b]8;" not in shown.stdout  # no hidden hyperlink
    swept = run("sweep", "--db", str(db), "--now", "2026-03-20T00:00:00+08:00")
    assert swept.returncode == 0, swept.stderr
    assert "AE-\\u001b[31mEVIL: dispatch_deadline_expired" in swept.stdout
    assert "\x1b" not in swept.stdout


def test_apply_max_skew_refuses_a_payment_dated_too_far_ahead(tmp_path: Path) -> None:
    """R16: a new order paid in 2099 would refuse every real event dated before its payment;
    with --max-skew it is invalid, of kind time, naming paid_at, and nothing is stored."""
    db = str(tmp_path / "o.db")
    done = run("apply", "--create", "--db", db, "--max-skew", "300", "--json", "-",
               stdin=jsonl(create("C-1", paid_at="2099-01-01T00:00:00+00:00")))  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout.splitlines()[0])
    assert (report["outcome"], report["error"]["kind"], report["error"]["field"]) == (
        "invalid", "time", "paid_at"
    )  # fmt: skip
    assert raw(("sqlite", db), "SELECT count(*) FROM orders") == [(0,)]


def test_sweep_every_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    """sweep --every: a real SIGINT (Ctrl-C) stops it between sweeps, with status 0 and a
    last line saying how many sweeps ran; no traceback."""
    db = str(tmp_path / "o.db")
    run("import", "--create", "--db", db, "-", stdin=jsonl(create("C-1")))
    proc = subprocess.Popen(
        [ORDERFSM, "sweep", "--db", db, "--every", "0.05", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    assert [a["result"]["event"] for a in first["applied"]] == ["dispatch_deadline_expired"]
    json.loads(proc.stdout.readline())  # a second sweep ran: the loop is going
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert re.search(r"stopped after \d+ sweeps", err)
    for line in out.splitlines():
        assert json.loads(line)["applied"] == []


def test_outbox_lists_and_acknowledges(store_args: list[str]) -> None:
    """outbox: the notifications waiting, oldest first (R6, R3); --ack marks them delivered."""
    run("apply", "--create", *store_args, "-", stdin=EVENTS_FILE)
    listed = json.loads(run("outbox", *store_args, "--json").stdout)
    kinds = [i["notification"]["kind"] for i in listed["items"]]
    assert kinds == ["cancellation_request_received", "cancellation_lapsed"]
    assert listed["acked"] == 0
    text = run("outbox", *store_args, "--ack").stdout
    assert "cancellation_lapsed" in text and "acknowledged 2" in text
    assert run("outbox", *store_args).stdout == "the outbox is empty\n"


def test_outbox_shows_dead_letters_their_tries_and_sends_them_again(store_args: list[str]) -> None:
    """R6: `outbox --dead` lists the dead letters, `--tries ID` every try kept, `--redeliver
    ID` sends one again (its count of tries starting over, its tries kept) and `--all-dead`
    every one; naming one that is not a dead letter, or none stored, is reported and left as
    it is (status 1); two of these options at once is a usage error (2)."""
    run("apply", "--create", *store_args, "-", stdin=EVENTS_FILE)
    kind, target = ("sqlite", store_args[1]) if store_args[0] == "--db" else ("pg", store_args[1])
    from statemachine.store import PostgresStore

    with SQLiteStore(target) if kind == "sqlite" else PostgresStore(target) as store:
        first, second = (item.id for item in store.outbox())
        moment = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)
        for nid in (first, second):
            store.record_delivery(nid, status="retrying", error="HTTP 500",
                                  next_attempt_at=moment, now=moment)  # fmt: skip
            store.record_delivery(nid, status="dead", error="HTTP 503", next_attempt_at=None,
                                  now=moment)  # fmt: skip
    dead = json.loads(run("outbox", *store_args, "--dead", "--json").stdout)["dead"]
    assert sorted(d["notification_id"] for d in dead) == [first, second]
    tries = json.loads(run("outbox", *store_args, "--tries", str(first), "--json").stdout)
    assert [t["answer"] for t in tries["tries"]] == ["HTTP 500", "HTTP 503"]
    assert tries["notification"]["standing"] == "dead"
    shown = run("outbox", *store_args, "--tries", str(first)).stdout
    assert f"#{first} AE-1: dead, 2 tries; last: HTTP 503" in shown and "failed: HTTP 500" in shown
    again = run("outbox", *store_args, "--redeliver", str(first), "--redeliver", "9999")
    assert again.returncode == 1
    assert "#9999: no such notification, not a dead letter" in again.stdout
    assert "sent again: 1 dead letter" in again.stdout
    waiting = json.loads(run("outbox", *store_args, "--json").stdout)["items"]
    assert [i["id"] for i in waiting] == [first]
    run("outbox", *store_args, "--ack")  # the redelivered one, as a relay would
    told = run("outbox", *store_args).stdout
    assert told == "the outbox is empty; 1 dead letter (orderfsm outbox --dead)\n"
    rest = json.loads(run("outbox", *store_args, "--all-dead", "--json").stdout)
    assert rest == {"redelivered": 1, "refused": []}
    both = run("outbox", *store_args, "--dead", "--all-dead")
    assert both.returncode == 2 and "not several" in both.stderr


# --------------------------------------------------------------------------------------------
# diagram, rules, check-log


def test_diagram_draws_the_lifecycle_and_a_stored_journey(tmp_path: Path) -> None:
    """diagram: the lifecycle as Mermaid and DOT from the table; ORDER_ID its journey."""
    assert run("diagram").stdout == lifecycle_mermaid()
    assert run("diagram", "--format", "dot").stdout == lifecycle_dot()
    db = tmp_path / "o.db"
    run("apply", "--create", "--db", str(db), "-", stdin=EVENTS_FILE)
    out = tmp_path / "j.mmd"
    assert run("diagram", "AE-1", "--db", str(db), "-o", str(out)).returncode == 0
    store = SQLiteStore(db)
    assert out.read_text(encoding="utf-8") == journey_mermaid(store.get("AE-1"))
    store.close()


@pytest.mark.usefixtures("dot_program")
def test_diagram_renders_svg_and_png_with_dot(tmp_path: Path) -> None:
    """diagram --format svg/png (or from -o's suffix) renders with Graphviz's dot."""
    svg = run("diagram", "--format", "svg").stdout
    assert "<title>paid</title>" in svg
    png = tmp_path / "l.png"
    assert run("diagram", "-o", str(png)).returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diagram_svg_without_dot_names_how_to_install_it(tmp_path: Path) -> None:
    """Without dot, an SVG is one line naming apt and brew, exit status 5."""
    empty = tmp_path / "bin"
    empty.mkdir()
    line = one_error_line(run("diagram", "--format", "svg", env=_env(PATH=str(empty))), 5)
    assert "apt install graphviz" in line and "brew install graphviz" in line


def test_rules_traces_every_rule_to_the_table_and_the_tests() -> None:
    """rules: each of R1..R16 with its transitions, what enforces it and the tests naming it
    (read from this checkout's tests/); one rule in full by its id."""
    data = json.loads(run("rules", "--json").stdout)
    assert Path(data["tests"]) == ROOT / "tests"
    by_id = {r["rule"]: r for r in data["rules"]}
    assert list(by_id) == list(RULES)
    assert "request_cancellation: paid -> cancel_requested" in by_id["R2"]["transitions"]
    assert "not_yet_dispatched" in by_id["R2"]["enforced_by"]
    assert by_id["R15"]["transitions"] == ["every event (Order.fire)"]
    proof = "tests/test_cli.py::test_rules_traces_every_rule_to_the_table_and_the_tests"
    assert all(by_id[rid]["tests"] for rid in RULES), "a rule without a test"
    assert proof not in by_id["R2"]["tests"]
    one = run("rules", "R7")
    assert "Late-cancellation risk" in one.stdout
    assert "tests/test_order.py::test_r7_dispatch_after_cancellation_is_an_incident" in one.stdout
    assert "R99" in one_error_line(run("rules", "R99"), 2)


def test_rules_without_a_test_suite_says_so(tmp_path: Path) -> None:
    """An installed package has no tests/ beside it: the trace has no tests, and says so."""
    assert find_tests(tmp_path) is None
    assert all(t.tests == () for t in trace(None))
    empty = tmp_path / "tests"
    empty.mkdir()
    data = json.loads(run("rules", "--json", "--tests", str(empty)).stdout)
    assert all(r["tests"] == [] for r in data["rules"])


def test_check_log_streams_a_file_and_fails_on_findings(tmp_path: Path) -> None:
    """check-log: R7 finding reported with its line, status 1; a clean log 0; stdin works."""
    created = {"order_id": "A1", "event": "created", "at": "2026-03-02T10:00:00+08:00",
               "data": {"amount": "25.00", "currency": "USD"}, "state": "paid"}  # fmt: skip
    early = {"order_id": "A1", "event": "reimburse_customer", "at": "2026-03-02T12:00:00+08:00",
             "data": {"amount": "25.00"}, "state": "paid"}  # fmt: skip
    log = tmp_path / "log.jsonl"
    log.write_text(jsonl(created, early))
    done = run("check-log", str(log))
    assert done.returncode == 1
    assert "line 2: order A1: reimburse_customer refused by R7 in paid" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("1 finding in 2 records of 1 order")
    clean = run("check-log", "-", "--json", stdin=jsonl(created))
    assert clean.returncode == 0 and json.loads(clean.stdout)["ok"] is True
    assert "nope.jsonl" in one_error_line(run("check-log", str(tmp_path / "nope.jsonl")), 3)


# --------------------------------------------------------------------------------------------
# The store from the environment, and PostgreSQL by URL


def test_orderfsm_db_names_the_store(tmp_path: Path, pg_dsn: str) -> None:
    """ORDERFSM_DB: a path is a SQLite file, a postgresql:// URL the PostgreSQL server."""
    from psycopg.conninfo import conninfo_to_dict

    db = str(tmp_path / "env.db")
    assert (
        run(
            "import", "--create", "-", stdin=jsonl(create("E-1")), env=_env(ORDERFSM_DB=db)
        ).returncode
        == 0
    )
    assert "E-1" in run("show", "E-1", env=_env(ORDERFSM_DB=db)).stdout
    params = conninfo_to_dict(pg_dsn)
    options = str(params["options"]).replace("=", "%3D")
    url = (f"postgresql://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
           f"?options={options}")  # fmt: skip
    assert (
        run(
            "import", "--create", "-", stdin=jsonl(create("E-2")), env=_env(ORDERFSM_DB=url)
        ).returncode
        == 0
    )
    shown = run("show", "E-2", "--json", env=_env(ORDERFSM_DB=url))
    assert json.loads(shown.stdout)["order"]["order_id"] == "E-2"


# --------------------------------------------------------------------------------------------
# The README's first screen is real output


def _first_screen() -> Iterator[tuple[str, list[str]]]:
    """The README's first console block: each `$ command` with the lines shown after it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- first-screen -->\n```console\n(.*?)```", readme, re.S)
    assert block, "README.md has no first-screen console block"
    command: str | None = None
    shown: list[str] = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, shown
            command, shown = line[2:], []
        else:
            shown.append(line)
    assert command is not None
    yield command, shown


def _matches(shown: list[str], real: list[str]) -> bool:
    """Whether ``real`` is ``shown``, where a `...` line stands for lines left out."""
    segments: list[list[str]] = [[]]
    for line in shown:
        if line == "...":
            segments.append([])
        else:
            segments[-1].append(line)
    head, *middle, tail = segments if len(segments) > 1 else (segments[0], segments[0])
    if len(segments) == 1:
        return real == head
    if real[: len(head)] != head or (tail and real[-len(tail) :] != tail):
        return False
    at, end = len(head), len(real) - len(tail)
    for segment in middle:
        found = next(
            (i for i in range(at, end - len(segment) + 1) if real[i : i + len(segment)] == segment),
            None,
        )
        if found is None:
            return False
        at = found + len(segment)
    return at <= end


@pytest.mark.usefixtures("dot_program")
def test_readme_first_screen_is_the_real_output(tmp_path: Path) -> None:
    """README: the first screen's `orderfsm demo` and `orderfsm apply` print exactly what it
    shows (a `...` line stands for lines left out); `cat FILE` blocks make the files."""
    env = _env(PATH=f"{Path(ORDERFSM).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    ran = []
    for command, shown in _first_screen():
        if command.startswith("cat "):
            (tmp_path / command[4:]).write_text("\n".join(shown) + "\n", encoding="utf-8")
            continue
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, check=False)  # fmt: skip
        real = (done.stdout + done.stderr).rstrip("\n").splitlines()
        assert _matches(shown, real), (
            f"README first screen is stale for `{command}`:\n" + "\n".join(real)
        )
        ran.append(command.split()[1])
    assert ran[:2] == ["demo", "apply"]


def test_apply_on_a_terminal_draws_a_progress_bar(tmp_path: Path) -> None:
    """apply on a terminal (a real pseudo-terminal): a progress bar while it runs, then the
    same summary line and status as in a pipe."""
    import pty

    events = tmp_path / "events.jsonl"
    events.write_text(jsonl(*(create(f"T-{i}") for i in range(200))))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [ORDERFSM, "apply", "--create", "--db", str(tmp_path / "t.db"), str(events)],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=_env(TERM="xterm"),
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = seen.decode("utf-8", "replace")
    assert "applying" in text and "200 lines" in text
    assert "applied 200, duplicate 0, rejected 0, invalid 0" in text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    "args",
    [["sweep", "--every", "nan"], ["sweep", "--every", "inf"], ["sweep", "--every", "1e10"],
     ["apply", "--max-skew", "nan", "-"], ["apply", "--max-skew", "inf", "-"]],
    ids=lambda a: " ".join(a[1:3]),
)  # fmt: skip
def test_seconds_that_are_no_time_are_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    """R12 R16: `--every` and `--max-skew` take a finite number of seconds in their range;
    nan (which compares false to every bound: a sweep loop without a pause), inf or ten
    thousand years are status 2 in one line, before the store is opened."""
    db = tmp_path / "o.db"
    done = run(args[0], "--db", str(db), *args[1:], stdin="")
    line = one_error_line(done, 2)
    assert args[2] in line.lower() or "range" in line
    assert not db.exists()


def test_apply_logs_who_sent_each_event(tmp_path: Path) -> None:
    """Every applied event records who sent it: `--actor NAME`, else the system user; `show`
    names them in the timeline; a name that could fool a terminal is status 2."""
    import getpass

    db = str(tmp_path / "o.db")
    run("apply", "--create", "--db", db, "-", stdin=jsonl(create("C-1")))
    line = {"order_id": "C-1", "event": "request_cancellation", "at": "2026-03-02T12:00:00+08:00"}
    assert run("apply", "--db", db, "--actor", "ops-anna", "-", stdin=jsonl(line)).returncode == 0
    withdraw = {**line, "event": "withdraw_cancellation", "at": "2026-03-02T13:00:00+08:00"}
    assert run("apply", "--db", db, "-", stdin=jsonl(withdraw)).returncode == 0
    with SQLiteStore(db) as store:
        actors = [(e.event, e.actor, e.source) for e in store.history("C-1")]
    assert actors == [
        ("request_cancellation", "ops-anna", "orderfsm"),
        ("withdraw_cancellation", getpass.getuser(), "orderfsm"),
    ]
    shown = run("show", "--db", db, "C-1", env=_env(COLUMNS="200")).stdout
    assert "ops-anna (orderfsm)" in shown
    sneaky = run("apply", "--db", db, "--actor", "ann\x1b[2Ja", "-", stdin=jsonl(line))
    assert "--actor" in one_error_line(sneaky, 2)
