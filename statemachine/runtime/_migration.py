"""An order moved from one definition to another: the ``definition_migrated`` history record,
and how replay switches versions at it.

A migrated order's history spans two versions (or more, one record per move): the records
before a ``definition_migrated`` record were decided by its ``from`` version, those after it by
its ``to`` version. The record carries what the move decided and the machine cannot count
again: the state the order was mapped to (its ``dest``) and the deadlines of the clocks running
then (``dispatch_deadline``, ``claim_deadline``, ``repayment_deadline`` and
``repayment_earliest``, each present exactly when the order had it). Replay
(:func:`~statemachine.runtime.rebuild`, :meth:`Order.from_dict
<statemachine.runtime.Order.from_dict>`) applies it with :func:`switch`, the one function a
migration (:mod:`statemachine.migration`) applies it with too.

Nobody fires ``definition_migrated``: it is not an event of any table, so a caller sending it
is refused as an unknown event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

import attrs

from ..declaration._calendar import given_window_end
from ..declaration._definition import definition_of, resolve
from ..declaration._records import DataValue, FrozenData, HistoryRecord
from ..declaration._spec import Table
from ..errors import InvalidInput

if TYPE_CHECKING:
    from ._order import Order
    from ._serialize import Logged

__all__ = [
    "BEFORE",
    "DEADLINE_KEYS",
    "MIGRATED",
    "decided_by",
    "first_dispatch_deadline",
    "migration_data",
    "start_table",
    "switch",
]

MIGRATED: Final = "definition_migrated"
"""The event name of the history record that moves an order to another definition."""

DEADLINE_KEYS: Final = (
    "dispatch_deadline",
    "claim_deadline",
    "repayment_earliest",
    "repayment_deadline",
)
"""The deadlines a migration record carries, each exactly when the order has it."""

_PLAN_KEYS: Final = ("from", "to", "plan")

BEFORE: Final = "dispatch_deadline_before"
"""The data key of a record that moved the R1 deadline (a migration, a hold's release): the
deadline it replaced. The first such record's is the deadline counted at payment."""


def first_dispatch_deadline(order: Order) -> dt.datetime:
    """The R1 deadline ``order`` was created with: the one its first deadline-moving record
    replaced (:data:`BEFORE`), else its own (nothing moved it)."""
    for record in order.history:
        before = record.data.get(BEFORE)
        if before is not None:
            value = _when(before, BEFORE)
            if isinstance(value, dt.datetime):
                return value
    return order.dispatch_deadline


def start_table(history: Sequence[HistoryRecord | Logged], current: Table) -> Table:
    """The table an order with ``history`` was created under: the ``from`` version of its
    first migration record, else ``current`` (the order never moved)."""
    for i, record in enumerate(history):
        if record.event == MIGRATED:
            return resolve(record.data.get("from"), f"history[{i}].data.from").table
    return current


def key_of(order: Order) -> str:
    """The key of the definition ``order`` runs under; :class:`InvalidInput` if its table is
    not a registered definition (a migration moves between registered versions only)."""
    found = definition_of(order.table)
    if found is None:
        raise InvalidInput(
            f"order {order.order_id} runs on a table that is not a registered definition",
            field="definition",
        )
    return found.key


def _when(value: object, field: str) -> dt.datetime | dt.date:
    if isinstance(value, str):
        try:
            if field == "repayment_earliest":
                return dt.date.fromisoformat(value)
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(f"{field} is not an ISO date or time: {value!r}", field=field)


def switch(
    order: Order,
    at: dt.datetime,
    source: str,
    dest: str,
    event_id: str | None,
    data: Mapping[str, DataValue],
) -> HistoryRecord:
    """Apply a ``definition_migrated`` record to ``order`` (all checked before anything
    changes) and append it to the history; :class:`InvalidInput` naming the field that is
    wrong. ``data`` holds ``from``, ``to``, ``plan`` and the deadlines (:data:`DEADLINE_KEYS`).
    """
    if event_id is not None:
        raise InvalidInput(
            f"a {MIGRATED} record has no event id, got {event_id!r}", field="event_id"
        )
    for key in _PLAN_KEYS:
        if not isinstance(data.get(key), str) or not data[key]:
            raise InvalidInput(f"{MIGRATED} needs the text {key!r}", field=key)
    extra = sorted(set(data) - {*_PLAN_KEYS, *DEADLINE_KEYS, BEFORE})
    if extra:
        raise InvalidInput(f"{MIGRATED} takes no {extra[0]!r}", field=extra[0])
    here = key_of(order)
    if data["from"] != here:
        raise InvalidInput(
            f"moves the order from {data['from']}, but it runs under {here} there", field="from"
        )
    target = resolve(data["to"], "to")
    if target.key == here:
        raise InvalidInput(f"moves the order from {here} to itself", field="to")
    if order.is_final:
        raise InvalidInput(
            f"the order is {order.state}, a final state: a finished order is never migrated",
            field="source",
        )
    if source != order.state:
        raise InvalidInput(f"says the order was {source}, but it was {order.state}", field="source")
    if dest not in target.table.state_names or dest in target.table.final_states:
        states = ", ".join(
            s for s in target.table.state_names if s not in target.table.final_states
        )
        raise InvalidInput(
            f"maps the order to {dest!r}, which is no unfinished state of {target.key} ({states})",
            field="dest",
        )
    from ._machine import time_objection

    refused = time_objection(order, MIGRATED, at)
    if refused is not None:
        raise InvalidInput(refused.message, field="at")
    before = data.get(BEFORE)
    if not isinstance(before, str) or _when(before, BEFORE) != order.dispatch_deadline:
        raise InvalidInput(
            f"says the R1 deadline it replaced was {before!r}, but it was "
            f"{order.dispatch_deadline.isoformat()}",
            field=BEFORE,
        )
    tz = order.policy.timezone
    pending = order.pending_refund
    has = {
        "dispatch_deadline": True,
        "claim_deadline": order.claim_deadline is not None,
        "repayment_earliest": pending is not None and pending.repayment_earliest is not None,
        "repayment_deadline": pending is not None and pending.repayment_deadline is not None,
    }
    moments: dict[str, dt.datetime] = {}
    earliest: dt.date | None = None
    for key in DEADLINE_KEYS:
        if has[key] != (key in data):
            said = "has" if has[key] else "has no"
            raise InvalidInput(
                f"the order {said} a {key}, so the record must {'' if has[key] else 'not '}"
                "carry one",
                field=key,
            )
        if key in data:
            value = _when(data[key], key)
            if isinstance(value, dt.datetime):
                opened = {
                    "dispatch_deadline": order.paid_at,
                    "claim_deadline": order.delivered_at,
                    "repayment_deadline": None if pending is None else pending.opened_at,
                }[key]
                assert opened is not None  # has[key] says the window was opened
                moments[key] = given_window_end(value, opened, tz, key)
            else:
                earliest = value
    # Checked: change the order.
    order.table = target.table
    order.state = dest
    order.dispatch_deadline = moments["dispatch_deadline"]
    if "claim_deadline" in moments:
        order.claim_deadline = moments["claim_deadline"]
    if pending is not None and (has["repayment_deadline"] or has["repayment_earliest"]):
        order.pending_refund = attrs.evolve(
            pending,
            repayment_earliest=earliest if has["repayment_earliest"] else None,
            repayment_deadline=moments.get("repayment_deadline"),
        )
    record = HistoryRecord(MIGRATED, source, dest, at, None, FrozenData(data))
    order.record(record)
    return record


def decided_by(order: Order) -> tuple[str, ...]:
    """The version that decided each of ``order``'s history records, in order: the version
    the order ran under right after it (a migration record's is the version it moved to)."""
    current = key_of(order)
    out: list[str] = []
    for record in reversed(order.history):
        out.append(current)
        if record.event == MIGRATED:
            start = record.data.get("from")
            current = start if isinstance(start, str) else current
    out.reverse()
    return tuple(out)


def migration_data(
    order: Order, target: str, plan: str, deadlines: Mapping[str, dt.datetime | dt.date]
) -> dict[str, DataValue]:
    """The data of a ``definition_migrated`` record moving ``order`` to ``target`` under
    ``plan``, with ``deadlines`` (each of :data:`DEADLINE_KEYS` the order has) as text."""
    data: dict[str, DataValue] = {"from": key_of(order), "to": target, "plan": plan}
    data[BEFORE] = order.dispatch_deadline.isoformat()
    for key in DEADLINE_KEYS:
        if key in deadlines:
            data[key] = deadlines[key].isoformat()
    return data
