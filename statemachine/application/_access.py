"""Who may do what: the roles a front end gives its callers, checked against the parties the
table declares for each event (RULES.md, "Who sends each event").

| role | may |
|---|---|
| ``read`` | read |
| ``support`` | read; fire any event of a customer, supplier, carrier, merchant or funder (not the clock's), with a note; send dead letters again |
| ``write`` | what ``support`` may; create orders; bulk work |
| ``supplier`` | fire the supplier's events only, and ``settle_refund`` of a refund the supplier funds (R9) |

The check runs in the use cases (:func:`~statemachine.application.fire`,
:func:`~statemachine.application.create`), so every front end gives the same verdict; the
front end says who the caller is (:class:`Actor`).
"""  # noqa: E501

from __future__ import annotations

import typing
from typing import Final, Literal

import attrs

from ..declaration import Party
from ..declaration._definition import event_spec
from ..errors import InvalidInput, NotPermitted
from ..runtime._order import Order

__all__ = ["ROLES", "Actor", "Role", "check_may", "check_may_fire", "needs_order"]

Role = Literal["read", "support", "write", "supplier"]
"""What a credential may do (see the module docstring)."""

ROLES: Final[tuple[Role, ...]] = typing.get_args(Role)
"""Every role."""

Action = Literal["read", "create", "redeliver", "bulk", "migrate"]
"""What a caller asks to do besides firing an event."""

_MAY: Final[dict[Role, frozenset[Action]]] = {
    "read": frozenset({"read"}),
    "support": frozenset({"read", "redeliver"}),
    "write": frozenset({"read", "redeliver", "create", "bulk", "migrate"}),
    "supplier": frozenset(),
}
_FIRES: Final[dict[Role, frozenset[Party]]] = {
    "read": frozenset(),
    "support": frozenset({"customer", "supplier", "carrier", "merchant", "funder"}),
    "write": frozenset({"customer", "supplier", "carrier", "merchant", "funder"}),
    "supplier": frozenset({"supplier"}),
}
"""The parties a role may send events for; ``funder`` stands for whoever funds the pending
refund, which the supplier role may send only when it is the supplier."""


@attrs.frozen
class Actor:
    """Who asks: the name of their credential (logged with every event they send) and its
    role."""

    name: str
    role: Role

    def __attrs_post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidInput(
                f"role must be one of {', '.join(ROLES)}, got {self.role!r}", field="role"
            )


def check_may(actor: Actor, action: Action) -> None:
    """:class:`NotPermitted` unless ``actor``'s role may ``action``."""
    if action not in _MAY[actor.role]:
        raise NotPermitted(
            f"the {actor.role} role may not {_WORDS[action]} (credential {actor.name!r})",
            role=actor.role,
        )


_WORDS: Final[dict[Action, str]] = {
    "read": "read orders",
    "create": "create orders",
    "redeliver": "send notifications again",
    "bulk": "run bulk work",
    "migrate": "run migration plans",
}


def needs_order(actor: Actor, event: str) -> bool:
    """Whether :func:`check_may_fire` needs the order to judge: the ``supplier`` role
    sending the event of whoever funds the pending refund (``settle_refund``)."""
    spec = event_spec(event)
    return spec is not None and actor.role == "supplier" and spec.party == "funder"


def check_may_fire(actor: Actor, event: str, order: Order | None = None) -> None:
    """:class:`NotPermitted` unless ``actor``'s role may send ``event`` (to ``order``, for an
    event whose sender depends on it: the funder of the pending refund). The clock's events
    are nobody's: a sweep fires them."""
    spec = event_spec(event) if order is None else order.table.events.get(event)
    if spec is None:
        return  # the parser names an unknown event
    party = spec.party
    allowed = _FIRES[actor.role]
    if party == "funder" and "funder" not in allowed and "supplier" in allowed:
        sender = None if order is None else spec.sender(order)
        if sender == "supplier":
            return
        raise NotPermitted(
            f"the {actor.role} role may send {event} only for a refund the supplier funds "
            f"(R9); {'no refund is pending' if sender is None else 'the merchant funds this one'}"
            f" (credential {actor.name!r})",
            role=actor.role,
            event=event,
            party=str(sender or party),
            order_id=None if order is None else order.order_id,
        )
    if party is None or party not in allowed:
        raise NotPermitted(
            f"the {actor.role} role may not send {event}, the {party}'s event "
            f"(credential {actor.name!r})",
            role=actor.role,
            event=event,
            party=party,
        )
