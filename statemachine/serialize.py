"""JSON-safe round trip of an :class:`~statemachine.order.Order` through cattrs.

Amounts travel as decimal strings, datetimes as ISO 8601 with their offset, dates as ISO dates.
Reading validates everything: the types (through cattrs), then that the order is one the machine
could have produced (the history replays to the state, ledgers stay within the amount paid).
The first problem found raises :class:`~statemachine.errors.InvalidInput` naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import cattrs
from cattrs.strategies import configure_union_passthrough
from cattrs.v import format_exception

from .errors import InvalidInput
from .money import parse_amount, parse_currency
from .table import DELIVERED, DISPATCHED, FINAL_STATES, INITIAL_STATE, REFUND_PENDING, STATES, TABLE

if TYPE_CHECKING:
    from .order import Order

__all__ = ["FORMAT_VERSION", "structure_order", "unstructure_order"]

FORMAT_VERSION: Final = 2
"""Version of the dict layout written by :func:`unstructure_order`.

1. The first layout.
2. A ledger entry's ``funded_by`` is called ``blame``, as on the pending refund (R9); layout 1
   is read by renaming it.
"""


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"expected a decimal string, got {value!r}")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"expected a decimal string, got {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"expected a finite amount, got {value!r}")
    return amount


def _structure_datetime(value: object, _: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 datetime, got {value!r}") from None
    else:
        raise ValueError(f"expected an ISO 8601 datetime, got {value!r}")
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: a timezone offset is required (R16)")
    return moment


def _structure_date(value: object, _: type) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"expected a date, got the datetime {value!r}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected an ISO date, got {value!r}")


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, unstruct_collection_overrides={tuple: list})
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(dt.datetime, dt.datetime.isoformat)
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    configure_union_passthrough(str | bool, conv)
    return conv


_CONVERTER: Final = _make_converter()
_PATH = re.compile(r" @ \$\.?(.*)$")


def unstructure_order(order: Order) -> dict[str, Any]:
    """``order`` as a JSON-safe dict, with a ``format_version`` key."""
    data: dict[str, Any] = _CONVERTER.unstructure(order)
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


def structure_order(data: Mapping[str, Any], cls: type[Order]) -> Order:
    """The order ``data`` describes, fully validated; :class:`InvalidInput` names the field."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"an order must be a mapping, got {type(data).__name__}", field=None)
    body = dict(data)
    version = body.pop("format_version", FORMAT_VERSION)
    if version == 1:
        body = _upgrade_1(body)
    elif version != FORMAT_VERSION:
        raise InvalidInput(
            f"order data has format_version {version!r}; this release reads {FORMAT_VERSION} "
            "(a newer release may have written it)",
            field="format_version",
        )
    state = body.get("state")
    if isinstance(state, str) and state not in STATES:
        raise InvalidInput(
            f"order {body.get('order_id', '?')}: state: unknown value {state!r}; expected one of "
            f"{', '.join(STATES)}",
            field="state",
        )
    try:
        order = _CONVERTER.structure(body, cls)
    except InvalidInput:
        raise
    except Exception as exc:  # cattrs wraps every field error in ClassValidationError
        raise _invalid(exc, body) from exc
    _check_consistency(order)
    return order


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


def _fail(order: Order, field: str, message: str) -> InvalidInput:
    return InvalidInput(f"order {order.order_id}: {field}: {message}", field=field)


def _check_consistency(order: Order) -> None:
    """Raise :class:`InvalidInput` unless the machine could have produced ``order``."""
    if not order.order_id.strip():
        raise _fail(order, "order_id", "must not be blank")
    try:
        parse_currency(order.currency)
        amount = parse_amount(order.amount, order.currency)
        if amount <= 0:
            raise InvalidInput("amount must be positive", field="amount")
        for name in ("refunds", "customer_refunds"):
            for i, entry in enumerate(getattr(order, name)):
                parse_amount(entry.amount, order.currency, field=f"{name}[{i}].amount")
                if entry.amount <= 0:
                    raise InvalidInput("ledger amounts must be positive", field=f"{name}[{i}]")
    except InvalidInput as exc:
        raise _fail(order, exc.field or "amount", exc.message) from None

    state: str = INITIAL_STATE
    last_at = order.paid_at
    seen_ids: set[str] = set()
    for i, record in enumerate(order.history):
        field = f"history[{i}]"
        if record.source != state:
            raise _fail(order, field, f"starts in {record.source}, but the order was in {state}")
        if TABLE.row_taken(record.event, state, record.dest, order.policy) is None:
            raise _fail(
                order,
                field,
                f"{record.event} does not take an order from {record.source} to {record.dest}",
            )
        if record.at < last_at:
            raise _fail(order, f"{field}.at", "is earlier than the record before it (R16)")
        if record.event_id is not None:
            if record.event_id in seen_ids:
                raise _fail(order, f"{field}.event_id", f"{record.event_id!r} is used twice (R15)")
            seen_ids.add(record.event_id)
        state, last_at = record.dest, record.at
    if state != order.state:
        raise _fail(order, "state", f"is {order.state}, but the history ends in {state}")
    if (order.pending_refund is not None) != (order.state == REFUND_PENDING.name):
        raise _fail(order, "pending_refund", f"does not fit the state {order.state}")
    shipped = order.state in (DISPATCHED.name, DELIVERED.name) or (
        order.state in FINAL_STATES | {REFUND_PENDING.name} and order.delivered_at is not None
    )
    if shipped and (order.dispatched_at is None or order.tracking_number is None):
        raise _fail(order, "dispatched_at", f"is missing for a {order.state} order")
    if order.state == DELIVERED.name and (
        order.delivered_at is None or order.claim_deadline is None
    ):
        raise _fail(order, "delivered_at", "is missing for a delivered order")
    if order.refunded_total > order.amount:
        raise _fail(order, "refunds", "add up to more than the amount paid (R11)")
    if order.customer_refunded_total > order.amount:
        raise _fail(order, "customer_refunds", "add up to more than the amount paid (R11)")
