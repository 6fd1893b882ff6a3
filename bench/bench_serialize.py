"""What reading an order back costs: ``Order.from_dict`` now (it replays the history through the
machine and compares every field) against the baseline release (field-by-field checks only).

Run with ``make bench``; it writes its table into ``bench/README.md`` between the markers
``<!-- bench:serialize:start -->`` and ``<!-- bench:serialize:end -->`` (and prints it).

Each measurement runs in a process of its own, the baseline's package taken with ``git archive``
(see ``bench_scale.py``), interleaved over several rounds; the table gives medians.

Usage: python bench/bench_serialize.py [--rounds N] [--number N] [--baseline REV] [--no-readme]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import timeit
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHAPES = ("paid", "claim path", "cancelled + 8 reimbursements")


def _order(shape: str) -> Any:
    from zoneinfo import ZoneInfo

    from statemachine import Order

    paid = dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    hour = dt.timedelta(hours=1)
    order = Order.create("AE-1", "100.00", "USD", paid)
    if shape == "claim path":
        order.dispatch(tracking_number="LP1", at=paid + hour, event_id="e1")
        order.confirm_delivery(at=paid + 2 * hour, event_id="e2")
        order.open_claim(reason="damaged_in_transit", amount="25.00", at=paid + 3 * hour)
        order.settle_refund(at=paid + 4 * hour, event_id="e4")
    elif shape.startswith("cancelled"):
        order.request_cancellation(at=paid + hour)
        order.supplier_accepts_cancellation(at=paid + 2 * hour)
        order.settle_refund(at=paid + 3 * hour)
        for i in range(8):
            order.reimburse_customer(amount="1.00", at=paid + (4 + i) * hour, event_id=f"r{i}")
    return order


def worker(number: int) -> None:
    """Print, as JSON, microseconds per from_dict of each shape (in this process's package)."""
    from statemachine import Order

    out: dict[str, float] = {}
    for shape in SHAPES:
        body = json.loads(json.dumps(_order(shape).to_dict()))
        Order.from_dict(body)
        best = min(timeit.repeat(lambda b=body: Order.from_dict(b), number=number, repeat=3))
        out[shape] = best / number * 1e6
    print(json.dumps(out))


def main() -> None:
    """Measure, print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=500)
    parser.add_argument("--baseline", default="2b1b15f")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.number)
        return
    sys.path.insert(0, str(HERE))
    from bench_scale import baseline_package
    from report import machine

    now: list[dict[str, float]] = []
    before: list[dict[str, float]] = []
    with baseline_package(args.baseline) as baseline:
        for _ in range(args.rounds):
            now.append(_run(None, args.number))
            before.append(_run(baseline, args.number))
    lines = [
        "## Reading an order back: `Order.from_dict`",
        "",
        f"`python bench/bench_serialize.py` on {dt.date.today()}: {machine()}. Medians of "
        f"{args.rounds} interleaved rounds, each the best of 3 runs of {args.number} reads, in a "
        f"process of its own. Baseline: the package at `{args.baseline}`, which checked a few "
        "contradictions field by field; now `from_dict` replays the whole history through the "
        "machine and compares every field it determines. The stores keep the orders they "
        "validated, so a row is replayed once per change, not once per read.",
        "",
        "| order | events | `from_dict` now | at baseline | now / baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    events = {"paid": 0, "claim path": 4, "cancelled + 8 reimbursements": 11}
    for shape in SHAPES:
        a = statistics.median(r[shape] for r in now)
        b = statistics.median(r[shape] for r in before)
        lines.append(f"| {shape} | {events[shape]} | {a:,.0f} µs | {b:,.0f} µs | {a / b:.1f}x |")
    section = "\n".join(lines)
    print(section)
    if not args.no_readme:
        from report import write_section

        write_section("serialize", section)


def _run(package: Path | None, number: int) -> dict[str, float]:
    """The worker in a fresh process; ``package`` holds another release's ``statemachine``."""
    import os
    import subprocess
    import tempfile

    env = dict(os.environ)
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(package), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, __file__, "--worker", "--number", str(number)],
        env=env,
        cwd=tempfile.gettempdir(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
