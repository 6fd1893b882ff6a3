"""The application layer: one parser and one set of use cases under every front end.

The command line (:mod:`statemachine.cli`) and the HTTP service (:mod:`statemachine.web`) are
thin adapters around this package: arguments or an HTTP request in, a request parsed here, a
use case run on a store, an answer rendered out. So the same input gets the same verdict and the
same words everywhere.

* Requests (:mod:`~statemachine.application._requests`): :func:`loads` reads JSON exactly
  (decimals as written, a key given twice refused); :func:`parse_new_order` and
  :func:`parse_event` turn a JSON object into a :class:`NewOrder` or an :class:`EventRequest`,
  or :class:`~statemachine.errors.InvalidInput` naming the field at fault.
* Who may do what (:mod:`~statemachine.application._access`): an :class:`Actor` (a
  credential's name and :data:`Role`), checked by the use cases against the party the table
  declares for each event (:func:`check_may_fire`).
* Use cases (:mod:`~statemachine.application._cases`): :func:`create` (or confirm the same
  order), :func:`fire`, :func:`explain`, :func:`show`, :func:`list_orders` (sorted and paged),
  :func:`find_orders` (by id, number, tracking number or amount), :func:`needs_attention`
  (the orders a person must look at, with why), :func:`sweep_all` (until a batch comes back
  short), :func:`relay_batch` and :func:`relay_one` (the relay:
  claim, deliver at once, record every try) and :func:`redeliver`.
"""

from __future__ import annotations

from ._access import ROLES, Actor, Role, check_may, check_may_fire
from ._cases import (
    MAX_PAGE,
    RELAY_DEFAULTS,
    Answer,
    AttentionPage,
    Created,
    Direction,
    Explained,
    Fired,
    Page,
    RelayPolicy,
    Shown,
    backoff,
    check_not_too_far_ahead,
    create,
    explain,
    find_orders,
    fire,
    first_result,
    list_orders,
    needs_attention,
    redeliver,
    relay_batch,
    relay_one,
    show,
    sweep_all,
)
from ._requests import (
    NEW_ORDER_FIELDS,
    EventRequest,
    NewOrder,
    loads,
    parse_event,
    parse_moment,
    parse_new_order,
    parse_order_id,
)
from ._summary import Summary, summarize

__all__ = [
    "MAX_PAGE",
    "NEW_ORDER_FIELDS",
    "RELAY_DEFAULTS",
    "ROLES",
    "Actor",
    "Answer",
    "AttentionPage",
    "Created",
    "Direction",
    "EventRequest",
    "Explained",
    "Fired",
    "NewOrder",
    "Page",
    "RelayPolicy",
    "Role",
    "Shown",
    "Summary",
    "backoff",
    "check_may",
    "check_may_fire",
    "check_not_too_far_ahead",
    "create",
    "explain",
    "find_orders",
    "fire",
    "first_result",
    "list_orders",
    "loads",
    "needs_attention",
    "parse_event",
    "parse_moment",
    "parse_new_order",
    "parse_order_id",
    "redeliver",
    "relay_batch",
    "relay_one",
    "show",
    "summarize",
    "sweep_all",
]
