"""Helpers for the package's own tests: a clock in Shanghai and orders in every state."""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn
from zoneinfo import ZoneInfo

import pytest

from statemachine import Order, Policy
from statemachine.errors import (
    ConcurrentUpdate,
    CorruptOrder,
    EventRejected,
    EventTooFarAhead,
    GraphvizMissing,
    InvalidInput,
    NotPermitted,
    OrderError,
    OrderExists,
    SchemaVersionError,
    StoreUnavailable,
    TableError,
    UnknownOrder,
    VersionConflict,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
PAID_AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SH)
"""A Monday; the R1 deadline is the end of Wednesday 2026-03-11."""


def t(days: float = 0, hours: float = 0) -> dt.datetime:
    """A moment ``days`` and ``hours`` after :data:`PAID_AT`."""
    return PAID_AT + dt.timedelta(days=days, hours=hours)


def new_order(
    order_id: str = "AE-1",
    amount: str = "100.00",
    currency: str = "USD",
    paid_at: dt.datetime = PAID_AT,
    policy: Policy | None = None,
) -> Order:
    """A fresh order in ``paid``."""
    return Order.create(order_id, amount, currency, paid_at, policy=policy)


# Each variant is reached by events dated t(1) .. t(4), before the R1 deadline.
VARIANTS: dict[str, tuple[str, str]] = {
    "paid": ("paid", ""),
    "cancel_requested": ("cancel_requested", ""),
    "refund_pending:cancellation": ("refund_pending", "cancellation"),
    "refund_pending:claim": ("refund_pending", "damaged_in_transit"),
    "cancelled": ("cancelled", ""),
    "dispatched": ("dispatched", ""),
    "delivered": ("delivered", ""),
    "refunded": ("refunded", ""),
}


def reach(variant: str, policy: Policy | None = None) -> Order:
    """An order brought to ``variant`` (a key of :data:`VARIANTS`) by real events."""
    order = new_order(policy=policy)
    if variant == "paid":
        return order
    if variant in ("cancel_requested", "refund_pending:cancellation", "cancelled"):
        order.request_cancellation(at=t(1))
        if variant != "cancel_requested":
            order.supplier_accepts_cancellation(at=t(2))
        if variant == "cancelled":
            order.settle_refund(at=t(3))
        return order
    order.dispatch(tracking_number="LP1", at=t(1))
    if variant == "dispatched":
        return order
    order.confirm_delivery(at=t(2))
    if variant == "delivered":
        return order
    order.open_claim(reason="damaged_in_transit", amount="40.00", at=t(3))
    if variant == "refunded":
        order.settle_refund(at=t(4))
    return order


def under_ci() -> bool:
    """Whether the tests run under CI (``CI=true``), where every optional part must be tested."""
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test on a developer machine that lacks something; fail it under CI, which must
    test everything (``.ci/run`` installs Graphviz and PostgreSQL)."""
    if under_ci():
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


_READ_ONLY_MOUNT: Final = (
    'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
)


def read_only(path: Path, argv: Sequence[str]) -> list[str]:
    """The command ``argv`` with the file ``path`` read-only to it, as an operator meets it
    (a file restored without write permission, a read-only volume). For a user, the file's
    mode is made read-only. Root writes such files anyway, so as root the command runs in a
    mount namespace of its own (``unshare -m``) where the file is a read-only bind mount of
    itself; the test's own process can still read and check it. Skipped (failed under CI)
    where neither can be done."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return list(argv)
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("mount") is None:
        skip_or_fail("running as root, a read-only file needs util-linux's unshare and mount")
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        skip_or_fail(
            "running as root without the right to make a mount namespace (unshare -m): run the "
            "tests as a normal user, for whom a file's mode makes it read-only"
        )
    return [unshare, "-m", "sh", "-c", _READ_ONLY_MOUNT, "sh", str(path), *argv]


DOT_MISSING: Final = (
    "Graphviz's `dot` is not on PATH; install it to run this test: `apt install graphviz` "
    "(Debian, Ubuntu) or `brew install graphviz` (macOS)"
)


def require_dot() -> str:
    """The path of Graphviz's ``dot``; without it the test is skipped naming how to install it
    (and fails under CI)."""
    found = shutil.which("dot")
    if found is None:
        skip_or_fail(DOT_MISSING)
    return found


def edited(body: Mapping[str, Any], path: Sequence[str | int], value: Any) -> dict[str, Any]:
    """A deep copy of a stored order's ``body`` with the value at ``path`` replaced (``...``
    deletes it): a corrupted or hand-edited row."""
    data: Any = copy.deepcopy(dict(body))
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    result: dict[str, Any] = data
    return result


ERRORS: Final[tuple[OrderError, ...]] = (
    InvalidInput("amount must be positive", field="amount"),
    EventTooFarAhead(
        "dispatch is dated 2036-03-03T09:00:00+08:00, more than 300 seconds ahead",
        field="at",
        facts={
            "at": "2036-03-03T09:00:00+08:00",
            "now": "2026-03-03T09:00:00+00:00",
            "max_skew_seconds": "300",
        },
    ),
    EventRejected(
        "R2: no",
        rule="R2",
        event="request_cancellation",
        state="dispatched",
        order_id="AE-1",
        facts={"tracking_number": "LP1"},
    ),
    UnknownOrder("AE-9"),
    OrderExists("AE-1"),
    VersionConflict("AE-1", 1, 2, "dispatch"),
    NotPermitted(
        "the supplier role may not send reimburse_customer, the merchant's event",
        role="supplier",
        event="reimburse_customer",
        party="merchant",
    ),
    StoreUnavailable("/srv/orders.db", "the file is not a SQLite database"),
    ConcurrentUpdate(
        "could not take the write lock of /srv/orders.db within 5s", None, None, attempts=1
    ),
    CorruptOrder("AE-7", "amount: got 'lots-of-money'", field="amount"),
    SchemaVersionError("SQLite /srv/orders.db", 9, 2),
    TableError(["state 'x' cannot be reached from 'paid'"]),
    GraphvizMissing("dot", "png"),
)
"""One error of every class the package raises, as its front ends meet them."""
