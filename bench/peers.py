"""``make bench``: order-statemachine against its peers on the same work, interleaved.

Each contender (``bench/contender_*.py``) runs in its own process: ``ours``,
``transitions-per-order``, ``transitions-shared`` and ``dict-floor`` in the package's
``.venv``; ``python-statemachine`` in ``bench/.venv-psm`` (``make bench-venv``), since it
installs a ``statemachine`` package too. A round runs every contender once; each round starts
one place further down the list, so no contender always runs first or last. Per round the
ratio of ours to each peer is taken; the table gives the median and the interquartile range of
every metric and every ratio over the rounds, with the targets of issue 8 beside the ratios
(shown, never asserted).

The table is printed and written to ``bench/README.md`` between ``<!-- bench:peers:start -->``
and ``<!-- bench:peers:end -->``; the rest of that file belongs to other scripts.

Usage: python bench/peers.py [--rounds 5] [--orders 1000] [--repeat 3] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from report import cpu_model, write_section

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MAIN_PYTHON = ROOT / ".venv" / "bin" / "python"
PSM_PYTHON = BENCH / ".venv-psm" / "bin" / "python"


@dataclass(frozen=True)
class Runner:
    """How to start one contender in its own process."""

    name: str
    python: Path
    script: str
    args: tuple[str, ...] = ()

    def command(self, *mode: str) -> list[str]:
        """The command line of this contender in ``mode`` (``--check`` or ``--measure ...``)."""
        return [str(self.python), str(BENCH / self.script), *self.args, *mode]


CONTENDERS: tuple[Runner, ...] = (
    Runner("ours", MAIN_PYTHON, "contender_ours.py"),
    Runner(
        "transitions-per-order",
        MAIN_PYTHON,
        "contender_transitions.py",
        ("--contender", "transitions-per-order"),
    ),
    Runner(
        "transitions-shared",
        MAIN_PYTHON,
        "contender_transitions.py",
        ("--contender", "transitions-shared"),
    ),
    Runner("python-statemachine", PSM_PYTHON, "contender_psm.py"),
    Runner("dict-floor", MAIN_PYTHON, "contender_dict.py"),
)
PEERS = tuple(r.name for r in CONTENDERS if r.name != "ours")


@dataclass(frozen=True)
class Metric:
    """One measured quantity: its key in a contender's output, and how to show it."""

    key: str
    title: str
    ratio_title: str
    higher_is_better: bool
    digits: int


METRICS: tuple[Metric, ...] = (
    Metric("events_per_s", "claim-path events/s", "events/s", True, 0),
    Metric("create_us", "create µs/order", "create time", False, 2),
    Metric("bytes_per_order", "bytes/order after the path", "bytes/order", False, 0),
    Metric("refusals_per_s", "late cancellations refused/s", "refusals/s", True, 0),
)
TARGETS: dict[tuple[str, str], str] = {
    ("events_per_s", "transitions-shared"): "≥ 1.5x (aim 2x)",
    ("events_per_s", "python-statemachine"): "≥ 10x",
    ("create_us", "transitions-shared"): "≤ 1.0x (no slower)",
    ("bytes_per_order", "transitions-shared"): "≤ 1.5x",
}
"""Issue 8's targets, as ratios of ours to the peer."""


# ------------------------------------------------------------------------------------------
# Running


def run_contender(runner: Runner, *mode: str) -> dict[str, Any]:
    """Start ``runner`` in its own process; its one JSON line."""
    if not runner.python.exists():
        hint = "make bench-venv" if runner.python == PSM_PYTHON else "make venv"
        raise SystemExit(f"{runner.name}: {runner.python} is missing; run `{hint}` first")
    done = subprocess.run(
        runner.command(*mode), capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"{runner.name} failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    if result.get("contender") != runner.name:
        raise SystemExit(f"{runner.name}: the script answered as {result.get('contender')!r}")
    return result


def round_order(r: int) -> list[Runner]:
    """Round ``r`` (from 0) starts ``r`` places down the list of contenders."""
    k = r % len(CONTENDERS)
    return [*CONTENDERS[k:], *CONTENDERS[:k]]


def run_rounds(rounds: int, orders: int, repeat: int) -> list[dict[str, dict[str, Any]]]:
    """Every contender once per round, in rotated order; per round, results by name."""
    measured: list[dict[str, dict[str, Any]]] = []
    for r in range(rounds):
        results: dict[str, dict[str, Any]] = {}
        for runner in round_order(r):
            print(f"round {r + 1}/{rounds}: {runner.name}", file=sys.stderr, flush=True)
            results[runner.name] = run_contender(
                runner, "--measure", "--orders", str(orders), "--repeat", str(repeat)
            )
        measured.append(results)
    return measured


# ------------------------------------------------------------------------------------------
# Statistics and the table


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Median, first and third quartile (inclusive method: the quartiles stay within the
    values, however few)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return median, q1, q3


def ratios(measured: list[dict[str, dict[str, Any]]], key: str, peer: str) -> list[float]:
    """Per round, ours divided by ``peer`` on ``key``."""
    return [float(r["ours"][key]) / float(r[peer][key]) for r in measured]


def _num(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _cell(values: Sequence[float], digits: int) -> str:
    median, q1, q3 = spread(values)
    return f"{_num(median, digits)} ({_num(q1, digits)}-{_num(q3, digits)})"


def machine_facts() -> dict[str, str]:
    """The CPU model, the number of cores and the kernel."""
    return {"cpu": cpu_model(), "cores": str(os.cpu_count()), "system": platform.platform()}


def _git_head() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' with uncommitted changes' if dirty else ''}" if head else "unknown"


def render(measured: list[dict[str, dict[str, Any]]], *, command: str, when: dt.datetime) -> str:
    """The Markdown section: where and how it ran, the contenders, then the ratios."""
    first = measured[0]
    versions: dict[str, str] = {}
    for result in first.values():
        versions.update(result["versions"])
    facts = machine_facts()
    orders, repeat = first["ours"]["orders"], first["ours"]["repeat"]
    lines = [
        f"Measured {when:%Y-%m-%d %H:%M} UTC with `{command}` at commit {_git_head()}: "
        f"{len(measured)} interleaved rounds, each contender in its own process, "
        f"{orders:,} orders per pass, best of {repeat} passes per round.",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['system']}; Python "
        f"{versions.get('python', '?')}, order-statemachine "
        f"{versions.get('order-statemachine', '?')}, transitions "
        f"{versions.get('transitions', '?')}, python-statemachine "
        f"{versions.get('python-statemachine', '?')}.",
        "",
        "Median over the rounds, interquartile range in brackets.",
        "",
        "| contender | " + " | ".join(m.title for m in METRICS) + " |",
        "|---|" + "---:|" * len(METRICS),
    ]
    for runner in CONTENDERS:
        cells = [_cell([float(r[runner.name][m.key]) for r in measured], m.digits) for m in METRICS]
        lines.append(f"| {runner.name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ours divided by the peer, per round (events/s and refusals/s: higher is better for "
        "ours; create time and bytes: lower is better for ours).",
        "",
        "| metric | peer | ours ÷ peer | interquartile range | target |",
        "|---|---|---:|---:|---|",
    ]
    for m in METRICS:
        for peer in PEERS:
            median, q1, q3 = spread(ratios(measured, m.key, peer))
            target = TARGETS.get((m.key, peer), "")
            lines.append(
                f"| {m.ratio_title} | {peer} | {median:.2f}x | {q1:.2f}x-{q3:.2f}x | {target} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run the rounds, print the table and write it into ``bench/README.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--orders", type=int, default=1000, help="orders per pass")
    parser.add_argument("--repeat", type=int, default=3, help="passes per round, best kept")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    measured = run_rounds(args.rounds, args.orders, args.repeat)
    command = shlex.join(["python", "bench/peers.py", *(argv or sys.argv[1:])])
    table = render(measured, command=command, when=dt.datetime.now(dt.UTC))
    print(table)
    if not args.no_write:
        write_section("peers", table)
        print("written to bench/README.md", file=sys.stderr)


if __name__ == "__main__":
    main()
