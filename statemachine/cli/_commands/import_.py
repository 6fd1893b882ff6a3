"""``orderfsm import``: orders created in bulk, in one transaction: all of them, or none."""

from __future__ import annotations

import json

import click
from rich.text import Text

from ...application import NewOrder
from ...declaration._definition import resolve
from ...errors import InvalidInput, OrderError, OrderExists
from ...runtime._order import Order
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._input import opened_input, progress
from .._lines import CREATE_KEYS, parse_request, read_json, read_lines
from .._options import create_option, json_option, store_options
from .._output import emit
from .._store import SOURCE, opened

__all__ = ["import_cmd"]


@click.command("import")
@click.argument("orders", metavar="ORDERS.jsonl")
@store_options
@create_option
@json_option('{"imported": N}, or the bad lines as {"line": N, "error": ...} objects.')
@pass_invocation
def import_cmd(invocation: Invocation, orders: str) -> ExitCode:
    """Bulk-create orders in one transaction: all of them, or none.

    ORDERS.jsonl (`-` for standard input) holds one order per line: {"order_id", "amount",
    "currency", "paid_at"} (a "kind": "create" is allowed), or an order's whole JSON form
    (`order.to_dict()`, as `orderfsm show --json` prints it under "order"), history and all.
    Every line is checked first; if any is bad, each bad line is reported and nothing is
    imported (exit 3). An order id already stored also imports nothing.
    """
    ref = invocation.store_ref()  # a store named twice or not at all: before the file is read
    console = invocation.console
    loaded: list[Order] = []
    lines: dict[str, int] = {}
    bad: list[tuple[int, OrderError]] = []
    with opened_input(orders) as (stream, size), progress("reading", size) as advance:
        for number, text, length in read_lines(stream):
            advance(length)
            try:
                order = _order_of(number, text, invocation.new_orders)
            except InvalidInput as refused:
                bad.append((number, refused))
                continue
            first = lines.setdefault(order.order_id, number)
            if first != number:
                bad.append(
                    (
                        number,
                        InvalidInput(
                            f"order {order.order_id!r} is given again (first on line {first})",
                            field="order_id",
                        ),
                    )
                )
                continue
            loaded.append(order)
    if bad:
        for number, exc in bad:
            if invocation.json:
                emit({"line": number, "error": exc.to_dict()})
            else:
                console.print(Text(f"line {number}: invalid: {exc.message}", style="red"))
        raise InvalidInput(
            f"{len(bad)} bad line{'s' if len(bad) != 1 else ''} in {orders}; nothing was imported",
            field="line",
        )
    with opened(ref, create=invocation.create) as store:
        try:
            count = store.add_many(loaded, source=SOURCE)
        except OrderExists as exc:
            raise InvalidInput(
                f"order {exc.order_id!r} (line {lines.get(exc.order_id, '?')}) is already "
                "stored; nothing was imported",
                field="order_id",
            ) from None
    if invocation.json:
        emit({"imported": count})
    else:
        console.print(Text(f"imported {count} order{'s' if count != 1 else ''}"))
    return ExitCode.OK


def _order_of(number: int, text: str | None, definition: str | None = None) -> Order:
    """The order line ``number`` of ``orderfsm import`` describes: the fields of a create
    line (its "kind" may be left out), or an order's whole JSON form."""
    if text is None:
        raise InvalidInput("not UTF-8 text", field="line")
    raw = read_json(text)
    if not isinstance(raw, dict):
        raise InvalidInput("a line is a JSON object: an order", field="line")
    if set(raw) <= CREATE_KEYS:
        request = parse_request(raw, kind="create")
        if not isinstance(request, NewOrder):
            raise InvalidInput("an import line creates an order", field="kind")
        return Order.begin(
            request.order_id,
            request.amount,
            request.currency,
            request.paid_at,
            table=None if definition is None else resolve(definition).table,
        )
    return Order.from_dict(json.loads(text))
