"""JSON-safe round trip of an :class:`~statemachine.runtime.Order` through cattrs.

Amounts travel as decimal strings, datetimes as ISO 8601 with their offset, dates as ISO dates.
Reading trusts nothing it can derive. It checks the layout (every key present, no other key,
each value of its type: cattrs), then **replays the history through the machine** from the
order's creation and compares every field the history determines (state, dispatch and
delivery facts, the pending refund, the ledgers, notifications, incidents, each history
record's data) with what is stored: the first field that differs is refused with
:class:`~statemachine.errors.InvalidInput` naming it. So an order read back is one the machine
could have produced, and the machine never continues from a state it could not reach.

What the history cannot give is taken as stored and checked for its shape: the deadlines,
computed once when their window opened (so a newer ``holidays`` release never moves them), and
the calendar warnings.

The order's table is not in the dict: the reader is given it (the shipped one by default) and
replays by it, so a body one table produces is refused by a table that cannot produce it.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import attrs
import cattrs
from cattrs.v import format_exception

from ..declaration._definition import definition_of, resolve
from ..declaration._jsonform import CONVERTER, json_fields
from ..declaration._policy import Policy
from ..declaration._records import DataValue, FireResult, HistoryRecord, OrderWarning
from ..declaration._spec import Table
from ..errors import EventRejected, InvalidInput
from ._migration import MIGRATED, first_dispatch_deadline, start_table, switch

if TYPE_CHECKING:
    from ._machine import Runtime
    from ._order import Order

__all__ = [
    "FORMAT_VERSION",
    "HEAD_KEYS",
    "Logged",
    "head_of",
    "rebuild",
    "replay",
    "structure_order",
    "unstructure_order",
]

FORMAT_VERSION: Final = 3
"""Version of the dict layout written by :func:`unstructure_order`.

1. The first layout.
2. A ledger entry's ``funded_by`` is called ``blame``, as on the pending refund (R9); layout 1
   is read by renaming it.
3. ``definition`` names the version of the machine the order runs under (``orders@1``), when
   its table is a registered definition; layouts 1 and 2 are read as ``orders@1``.
"""


_PATH = re.compile(r" @ \$\.?(.*)$")


def unstructure_order(order: Order) -> dict[str, Any]:
    """``order`` as a JSON-safe dict, with a ``format_version`` key."""
    data: dict[str, Any] = CONVERTER.unstructure(order)
    found = definition_of(order.table)
    if found is not None:
        data["definition"] = found.key
    data["format_version"] = FORMAT_VERSION
    return data


def _upgrade_1(body: dict[str, Any]) -> dict[str, Any]:
    """Layout 1 to 2: ledger entries' ``funded_by`` becomes ``blame``."""
    for name in ("refunds", "customer_refunds"):
        entries = body.get(name)
        if isinstance(entries, list):
            body[name] = [
                {("blame" if k == "funded_by" else k): v for k, v in e.items()}
                if isinstance(e, Mapping)
                else e
                for e in entries
            ]
    return body


def structure_order(data: Mapping[str, Any], cls: type[Order], table: Table | None = None) -> Order:
    """The order ``data`` describes, replayed by ``table`` (``None``: ``cls``'s default one)
    and compared; :class:`InvalidInput` names the first field that is missing, malformed or
    not what the order's history gives under that table."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"an order must be a mapping, got {type(data).__name__}", field=None)
    body = dict(data)
    oid = body.get("order_id", "?")
    if "format_version" not in body:
        raise InvalidInput(f"order {oid}: format_version: is missing", field="format_version")
    version = body.pop("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise InvalidInput(
            f"order {oid}: format_version: is {version!r}; this release reads 1 to "
            f"{FORMAT_VERSION} (a newer release may have written it)",
            field="format_version",
        )
    if version == 1:
        body = _upgrade_1(body)
    table = _table_of(body.pop("definition", None), version, table, oid)
    _require_keys(body, cls, "", oid)
    try:
        stored = CONVERTER.structure(body, cls)
    except InvalidInput:
        raise
    except Exception as exc:  # cattrs wraps every field error in ClassValidationError
        raise _invalid(exc, body) from exc
    if table is not None:
        stored.table = table  # the order's table is not in its JSON form: it is given
    states = stored.table.state_names
    if stored.state not in states:
        raise InvalidInput(
            f"order {oid}: state: unknown value {stored.state!r}; expected one of "
            f"{', '.join(states)}",
            field="state",
        )
    return _replay(stored, cls, version)


def _table_of(key: object, version: int, table: Table | None, oid: object) -> Table | None:
    """The table a body of layout ``version`` naming the definition ``key`` is read by:
    ``table`` if given (it must be that definition's), else the definition's; for a body
    naming none, ``table`` (``None``: the default one, ``orders@1``)."""
    if key is None:  # layouts 1 and 2, or a table that is no registered definition
        return table
    if version < 3:
        raise InvalidInput(
            f"order {oid}: definition: is not part of layout {version}", field="definition"
        )
    try:
        named = resolve(key)
    except InvalidInput as exc:
        raise InvalidInput(f"order {oid}: definition: {exc.message}", field="definition") from None
    if table is not None and table is not named.table:
        raise InvalidInput(
            f"order {oid}: definition: is {named.key}, but the table given is {_key(table)}",
            field="definition",
        )
    return named.table


# --------------------------------------------------------------------------------------------
# Every key, and no other


def _record_type(hint: Any) -> tuple[type | None, bool]:
    """The attrs class inside ``hint`` (``X``, ``X | None``, ``tuple[X, ...]``), and whether it
    is a sequence of them."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        return (args[0] if args and attrs.has(args[0]) else None), True
    if origin in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(hint) if isinstance(a, type) and attrs.has(a)]
        return (found[0] if found else None), False
    return (hint if isinstance(hint, type) and attrs.has(hint) else None), False


@lru_cache(maxsize=32)
def _layout(cls: type) -> tuple[tuple[str, type | None, bool], ...]:
    """Each key of ``cls``'s layout, with the record class it holds (if any) and whether it
    holds a list of them."""
    hints = typing.get_type_hints(cls)
    return tuple((a.name, *_record_type(hints[a.name])) for a in json_fields(cls))


def _require_keys(value: object, cls: type, path: str, oid: object) -> None:
    """Refuse a missing key anywhere in the layout: a stored order carries every field (a lost
    policy must not silently become the default one)."""
    if not isinstance(value, Mapping):
        return  # cattrs names the wrong type
    for name, inner, many in _layout(cls):
        if name not in value:
            raise InvalidInput(f"order {oid}: {path}{name}: is missing", field=f"{path}{name}")
        if inner is None:
            continue
        item = value[name]
        if many:
            if isinstance(item, list):
                for i, element in enumerate(item):
                    _require_keys(element, inner, f"{path}{name}[{i}].", oid)
        else:
            _require_keys(item, inner, f"{path}{name}.", oid)


# --------------------------------------------------------------------------------------------
# Replay

_GIVEN: Final = {
    "dispatch_deadline": dt.datetime.fromisoformat,
    "claim_deadline": dt.datetime.fromisoformat,
    "repayment_deadline": dt.datetime.fromisoformat,
    "repayment_earliest": dt.date.fromisoformat,
}
"""History data that records the end of a window the event opened, and how to read it."""


def _fail(oid: str, field: str, message: str) -> InvalidInput:
    return InvalidInput(f"order {oid}: {field}: {message}", field=field)


def _given(oid: str, i: int, data: Mapping[str, object]) -> dict[str, object]:
    given: dict[str, object] = {}
    for key, read in _GIVEN.items():
        if key in data:
            value = data[key]
            try:
                if not isinstance(value, str):
                    raise TypeError(value)
                given[key] = read(value)
            except (TypeError, ValueError):
                raise _fail(
                    oid, f"history[{i}].data.{key}", f"is not an ISO date or time: {value!r}"
                ) from None
    return given


def _start_of(order: Order, cls: type[Order]) -> Order:
    """A fresh order from ``order``'s creation: its id, amount, currency, payment, policy,
    the table it was created under (before any migration), and the R1 deadline it was given
    (never counted again)."""
    return cls.begin(
        order.order_id,
        order.amount,
        order.currency,
        order.paid_at,
        policy=order.policy,
        dispatch_deadline=first_dispatch_deadline(order),
        table=start_table(order.history, order.table),
    )


def _request_of(
    order: Order, i: int, record: HistoryRecord | Logged
) -> tuple[dict[str, object], dict[str, object]]:
    """What history record ``i`` asked the machine: the event's keyword data (not what the
    effects derived) and the ends of the windows it opened (taken, not counted again)."""
    oid = order.order_id
    spec = order.table.events.get(record.event)
    if spec is None:
        raise _fail(oid, f"history[{i}].event", f"unknown event {record.event!r}")
    params: dict[str, object] = {k: v for k, v in record.data.items() if k in spec.param_names}
    return params, _given(oid, i, record.data)


def replay(order: Order, *, upto: int | None = None) -> tuple[Order, list[FireResult]]:
    """``order`` made again by its own table from its creation and its first ``upto`` history
    records (all by default), with what the machine returned for each: the same decisions,
    since the machine decides the same way every time. Raises the machine's error where a
    record is refused."""
    again = _start_of(order, type(order))
    results = []
    for i, record in enumerate(order.history[:upto]):
        if record.event == MIGRATED:
            made = switch(again, record.at, record.source, record.dest, None, record.data)
            results.append(FireResult(MIGRATED, made.source, made.dest, made.at))
            continue
        params, given = _request_of(again, i, record)
        results.append(
            again.runtime.fire(again, record.event, record.at, record.event_id, params, given)
        )
    return again, results


def _replay(stored: Order, cls: type[Order], version: int) -> Order:
    """Replay ``stored``'s history by its table from its creation and compare what it gives."""
    oid = stored.order_id
    try:
        order = _start_of(stored, cls)
    except InvalidInput as exc:
        raise _fail(oid, exc.field or "order_id", exc.message) from None
    for i, record in enumerate(stored.history):
        if record.event == MIGRATED:
            _switch_stored(order, oid, i, record)
            continue
        params, given = _request_of(order, i, record)
        if version == 1:
            given = {**_v1_repayment(stored), **given}
        _fire_stored(order.runtime, order, oid, i, record, params, given)
    if order.table is not stored.table:
        raise _fail(
            oid,
            "definition",
            f"is {_key(stored.table)}, but its history ends under {_key(order.table)}",
        )
    _check_warnings(stored)
    _compare(stored, order, version)
    order.warnings = stored.warnings
    return order


def _fire_stored(
    runtime: Runtime,
    order: Order,
    order_id: str,
    i: int,
    record: HistoryRecord | Logged,
    params: dict[str, object],
    given: dict[str, object],
) -> FireResult:
    """Fire the stored history record ``i`` on ``order`` again; what the machine refuses, or a
    repeated event id (R15), is the corruption of that record, naming where it is."""
    try:
        result = runtime.fire(order, record.event, record.at, record.event_id, params, given)
    except EventRejected as exc:
        field = f"history[{i}].at" if exc.rule == "R16" else f"history[{i}]"
        raise _fail(order_id, field, f"the machine refuses it: {exc}") from None
    except InvalidInput as exc:
        field = f"history[{i}]"
        if exc.field in params or exc.field in _GIVEN:
            field = f"history[{i}].data.{exc.field}"
        elif exc.field in ("event_id", "at"):
            field = f"history[{i}].{exc.field}"
        raise _fail(order_id, field, exc.message) from None
    if result.duplicate:
        raise _fail(order_id, f"history[{i}].event_id", f"{record.event_id!r} is used twice (R15)")
    return result


def _switch_stored(order: Order, order_id: str, i: int, record: HistoryRecord | Logged) -> None:
    """Apply the stored migration record ``i`` to ``order`` again (:func:`switch`); what it
    refuses is the corruption of that record, naming where it is."""
    try:
        switch(order, record.at, record.source, record.dest, record.event_id, record.data)
    except InvalidInput as exc:
        part = exc.field or ""
        where = f"history[{i}]"
        if part in ("source", "dest", "at", "event_id"):
            where += f".{part}"
        elif part:
            where += f".data.{part}"
        raise _fail(order_id, where, exc.message) from None


def _v1_repayment(stored: Order) -> dict[str, object]:
    """Layout 1 did not record the repayment window in the history: take the stored pending
    refund's (an order has at most one cancellation refund: R5 refunds cannot be declined, and
    settling one ends the order)."""
    pending = stored.pending_refund
    if pending is None:
        return {}
    given: dict[str, object] = {}
    if pending.repayment_deadline is not None:
        given["repayment_deadline"] = pending.repayment_deadline
    if pending.repayment_earliest is not None:
        given["repayment_earliest"] = pending.repayment_earliest
    return given


_DEADLINE_FIELDS: Final = ("dispatch_deadline", "repayment_deadline")


def _check_warnings(stored: Order) -> None:
    _check_warnings_of(stored.order_id, stored.warnings)


def _check_warnings_of(order_id: str, warnings: tuple[OrderWarning, ...], where: str = "") -> None:
    for i, warning in enumerate(warnings):
        if warning.field not in _DEADLINE_FIELDS or not 1 <= warning.year <= 9999:
            raise _fail(
                order_id,
                f"{where}warnings[{i}]",
                f"names {warning.field!r} in year {warning.year}; a calendar warning is about "
                f"one of {', '.join(_DEADLINE_FIELDS)}",
            )


_V1_ONLY_IN_REPLAY: Final = frozenset({"repayment_earliest", "repayment_deadline"})


def _compare(stored: Order, replayed: Order, version: int) -> None:
    """Raise naming the first field where ``stored`` is not what its history gives."""
    kind: type = type(stored)
    for name, _, _ in _layout(kind):
        mine, theirs = getattr(stored, name), getattr(replayed, name)
        if name == "warnings" or (version > 1 and mine == theirs):
            continue  # equal: most fields of most orders; the walk below says where not
        path = _difference(mine, theirs, name, version)
        if path is not None:
            where, mine, theirs = path
            raise _fail(
                stored.order_id,
                where,
                f"is {_show(mine)} in the stored order, but its history gives {_show(theirs)}",
            )


def _show(value: object) -> str:
    text = value.isoformat() if isinstance(value, dt.datetime | dt.date) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _difference(
    mine: object, theirs: object, path: str, version: int
) -> tuple[str, object, object] | None:
    if isinstance(mine, tuple) and isinstance(theirs, tuple):
        for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            found = _difference(a, b, f"{path}[{i}]", version)
            if found is not None:
                return found
        if len(mine) != len(theirs):
            return (path, f"{len(mine)} entries", f"{len(theirs)} entries")
        return None
    kind: Any = type(mine)
    if attrs.has(kind) and kind is type(theirs):
        for a in attrs.fields(kind):
            found = _difference(
                getattr(mine, a.name), getattr(theirs, a.name), f"{path}.{a.name}", version
            )
            if found is not None:
                return found
        return None
    if isinstance(mine, dict) and isinstance(theirs, dict):
        if version == 1:
            theirs = {k: v for k, v in theirs.items() if k in mine or k not in _V1_ONLY_IN_REPLAY}
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key) or (key in mine) != (key in theirs):
                return (f"{path}.{key}", mine.get(key), theirs.get(key))
        return None
    if mine != theirs or type(mine) is not type(theirs):
        return (path, mine, theirs)
    return None


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException, type_: Any) -> str:
    """One field's problem in words: our own hooks' messages, else cattrs' wording."""
    text = str(exc)
    if " not in literal " in text:
        value, _, allowed = text.partition(" not in literal ")
        return f"unknown value {value!r}; expected one of {allowed.removeprefix('typing.')}"
    if isinstance(exc, ValueError) and text and type(exc) is ValueError:
        return text
    return format_exception(exc, type_)


def _invalid(exc: Exception, body: Mapping[str, Any]) -> InvalidInput:
    oid = body.get("order_id", "?")
    leaf = _first_leaf(exc)
    if isinstance(leaf, InvalidInput):
        where = f"policy.{leaf.field}" if leaf.field else "policy"
        return InvalidInput(f"order {oid}: {where}: {leaf.message}", field=where)
    messages = cattrs.transform_error(exc, path="$", format_exception=_describe)
    message = messages[0] if messages else str(leaf)
    match = _PATH.search(message)
    field = (match.group(1) or None) if match else None
    if match:
        message = message[: match.start()]
    extra = sorted(getattr(leaf, "extra_fields", ()) or ())
    if extra:
        field = f"{field}.{extra[0]}" if field else extra[0]
    return InvalidInput(f"order {oid}: {field or 'data'}: {message}", field=field)


# --------------------------------------------------------------------------------------------
# An order made from its head and its log (the stores' form)

HEAD_KEYS: Final = ("amount", "currency", "paid_at", "policy", "dispatch_deadline", "warnings")
"""What an order's history cannot give: what it was created with (its R1 deadline included,
counted once at payment) and the calendar warnings taken as stored. With the history, they
make the whole order (:func:`rebuild`)."""


_HEAD_TYPES: Final[Mapping[str, Any]] = {
    "amount": Decimal,
    "currency": str,
    "paid_at": dt.datetime,
    "policy": Policy,
    "dispatch_deadline": dt.datetime,
    "warnings": tuple[OrderWarning, ...],
}


_HEAD_HOOKS: Final[Mapping[str, Any]] = {
    key: CONVERTER.get_structure_hook(kind) for key, kind in _HEAD_TYPES.items()
}
"""The converter's own hook per head key, looked up once (the converter's dispatch is most of
the cost of structuring a scalar)."""


def head_of(order: Order) -> dict[str, Any]:
    """``order``'s head: the JSON form of the fields in :data:`HEAD_KEYS`, as the order was
    created (its R1 deadline the one counted at payment, which a hold's release or a
    migration may have moved since: the record that moved it keeps the new one)."""
    head = {key: CONVERTER.unstructure(getattr(order, key)) for key in HEAD_KEYS}
    first = first_dispatch_deadline(order)
    if first is not order.dispatch_deadline:
        head["dispatch_deadline"] = CONVERTER.unstructure(first)
    return head


class Logged(NamedTuple):
    """One event as a log keeps it, for :func:`rebuild`: a :class:`HistoryRecord`'s fields, in
    its order, made cheaply (a record is checked against what the machine makes, then let go)."""

    event: str
    source: str
    dest: str
    at: dt.datetime
    event_id: str | None
    data: Mapping[str, DataValue]


def rebuild(
    order_id: str,
    head: Mapping[str, Any],
    history: Sequence[HistoryRecord | Logged],
    cls: type[Order],
    table: Table | None = None,
) -> Order:
    """The order that ``head`` and ``history`` make under ``table`` (``None``: ``cls``'s
    default one): created from the head, then every record fired through the machine again,
    each giving exactly the record stored (its states, time, event id and data).
    :class:`InvalidInput` names the first thing that is not so (``head``, ``head.<key>``,
    ``history[i]``, ``history[i].<field>``).

    This is :meth:`Order.from_dict <statemachine.runtime.Order.from_dict>` for an order kept as
    a head and a log, with nothing to compare but the log: every other field is derived.
    """
    if not isinstance(head, Mapping):
        raise _fail(order_id, "head", f"is not an object: {_show(head)}")
    for key in HEAD_KEYS:
        if key not in head:
            raise _fail(order_id, f"head.{key}", "is missing")
    extra = sorted(set(head) - set(HEAD_KEYS))
    if extra:
        raise _fail(order_id, f"head.{extra[0]}", "is not part of an order's head")
    values: dict[str, Any] = {}
    for key, kind in _HEAD_TYPES.items():
        try:
            values[key] = (
                _policy(head[key]) if key == "policy" else _HEAD_HOOKS[key](head[key], kind)
            )
        except InvalidInput as exc:
            where = f"head.{key}.{exc.field}" if exc.field else f"head.{key}"
            raise _fail(order_id, where, exc.message) from None
        except Exception as exc:  # cattrs wraps a record's field errors in a group
            leaf = _first_leaf(exc)
            if isinstance(leaf, InvalidInput):
                where = f"head.{key}.{leaf.field}" if leaf.field else f"head.{key}"
                raise _fail(order_id, where, leaf.message) from None
            named = _invalid(exc, {"order_id": order_id})  # names the field inside a record
            inner = named.field or ""
            where = f"head.{key}{'' if inner.startswith('[') else '.'}{inner}".rstrip(".")
            message = named.message.removeprefix(f"order {order_id}: {named.field or 'data'}: ")
            raise _fail(order_id, where, message) from None
    amount, paid_at = values["amount"], values["paid_at"]
    policy, deadline, warnings = values["policy"], values["dispatch_deadline"], values["warnings"]
    current = table if table is not None else _default_table(cls)
    try:
        start = start_table(history, current)
    except InvalidInput as exc:
        raise _fail(order_id, exc.field or "history", exc.message) from None
    try:
        order = cls.begin(
            order_id, amount, values["currency"], paid_at, policy, deadline, table=start
        )
    except InvalidInput as exc:
        raise _fail(order_id, f"head.{exc.field or 'order_id'}", exc.message) from None
    for i, record in enumerate(history):
        if record.event == MIGRATED:
            _switch_stored(order, order_id, i, record)
        else:
            params, given = _request_of(order, i, record)
            _fire_stored(order.runtime, order, order_id, i, record, params, given)
        made = order.history[i]
        if (
            made.event != record.event
            or made.source != record.source
            or made.dest != record.dest
            or made.at != record.at
            or made.event_id != record.event_id
            or made.data != record.data
        ):
            stored = HistoryRecord(
                record.event, record.source, record.dest, record.at, record.event_id, record.data
            )
            found = _difference(stored, made, f"history[{i}]", FORMAT_VERSION)
            where, mine, theirs = found if found is not None else (f"history[{i}]", record, made)
            raise _fail(
                order_id,
                where,
                f"is {_show(mine)} in the log, but the machine gives {_show(theirs)}",
            )
    if order.table is not current:
        raise _fail(
            order_id,
            "definition",
            f"is {_key(current)}, but its log ends under {_key(order.table)}",
        )
    _check_warnings_of(order_id, warnings, "head.")
    order.warnings = warnings
    return order


def _default_table(cls: type[Order]) -> Table:
    table = attrs.fields(cls).table.default
    if not isinstance(table, Table):  # pragma: no cover - Order.table defaults to a table
        raise TypeError(f"{cls.__name__}.table defaults to {table!r}")
    return table


def _key(table: Table) -> str:
    found = definition_of(table)
    return "an unregistered table" if found is None else found.key


_POLICIES: Final[dict[str, Policy]] = {}
_POLICY_CACHE_SIZE: Final = 256


def _policy(value: Any) -> Policy:
    """The :class:`Policy` a head's JSON ``policy`` describes: structured (and so checked)
    once per distinct value, then shared, since a store holds many orders of few policies
    (a policy is immutable, and building one checks its calendar)."""
    key = repr(value)  # one text per JSON value (its keys in the order they were written)
    found = _POLICIES.get(key)
    if found is None:
        found = CONVERTER.structure(value, Policy)
        if len(_POLICIES) >= _POLICY_CACHE_SIZE:
            _POLICIES.pop(next(iter(_POLICIES)))
        _POLICIES[key] = found
    return found
