"""The errors (statemachine.errors): one root, two branches by who can act, data on every
error, JSON forms."""

from __future__ import annotations

import json
import pickle
import re

import pytest

from statemachine import EventRejected, InvalidInput, OrderError, RequestError, StoreFault
from statemachine import errors as errors_module
from statemachine.errors import (
    ConcurrentUpdate,
    CorruptOrder,
    EventTooFarAhead,
    GraphvizMissing,
    NotPermitted,
    OrderExists,
    RefusalKind,
    SchemaVersionError,
    StoreUnavailable,
    TableError,
    UnknownOrder,
    VersionConflict,
)

from .helpers import ERRORS, reach, t

KEYS = {"type", "message", "rule", "kind", "event", "state", "order_id", "field", "facts"}

TREE: dict[type[OrderError], type[OrderError]] = {
    RequestError: OrderError,
    InvalidInput: RequestError,
    EventTooFarAhead: InvalidInput,
    EventRejected: RequestError,
    UnknownOrder: RequestError,
    OrderExists: RequestError,
    VersionConflict: RequestError,
    NotPermitted: RequestError,
    StoreFault: OrderError,
    StoreUnavailable: StoreFault,
    ConcurrentUpdate: StoreFault,
    CorruptOrder: StoreFault,
    SchemaVersionError: StoreFault,
    TableError: OrderError,
    GraphvizMissing: OrderError,
}
"""Each error class and its parent in the package's tree."""

BUILTIN: dict[type[OrderError], type[Exception]] = {
    InvalidInput: ValueError,
    EventTooFarAhead: ValueError,
    TableError: ValueError,
    GraphvizMissing: RuntimeError,
}
"""The errors that are also a built-in exception, for callers who catch those."""


def _parent(cls: type[OrderError]) -> type[OrderError]:
    (parent,) = [base for base in cls.__bases__ if issubclass(base, OrderError)]
    return parent


def test_every_error_has_its_place_in_the_tree() -> None:
    """Every error sits on the branch of who can act: the caller's (RequestError), the
    operator's (StoreFault), or on the root for a broken table and a missing program."""
    defined = {c for c in vars(errors_module).values() if isinstance(c, type)}
    assert {c for c in defined if issubclass(c, OrderError)} == {OrderError, *TREE}
    for cls, parent in TREE.items():
        assert _parent(cls) is parent, cls
        also = {b for b in cls.__mro__ if b.__module__ == "builtins"} - set(Exception.__mro__)
        assert also == ({BUILTIN[cls]} if cls in BUILTIN else set()), cls
        assert not (issubclass(cls, RequestError) and issubclass(cls, StoreFault)), cls
    assert {type(e) for e in ERRORS} == {c for c in TREE if c not in (RequestError, StoreFault)}


@pytest.mark.parametrize("cls", [UnknownOrder, OrderExists, CorruptOrder])
def test_stored_orders_errors_are_not_invalid_input(cls: type[OrderError]) -> None:
    """A missing, taken or damaged order is not malformed input: none is an InvalidInput or a
    ValueError, so `except InvalidInput` no longer hides a corrupt row."""
    assert not issubclass(cls, InvalidInput)
    assert not issubclass(cls, ValueError)


def test_the_drawn_tree_is_the_real_one() -> None:
    """The hierarchy drawn in the module docstring names every error under its real parent."""
    doc = errors_module.__doc__ or ""
    drawn: dict[str, str] = {}
    parents = ["OrderError"]
    for line in doc.splitlines():
        found = re.match(r"^ {4}([│ ]*)[├└]── (\w+)", line)
        if found is None:
            continue
        depth = len(found.group(1)) // 4 + 1
        del parents[depth:]
        drawn[found.group(2)] = parents[-1]
        parents.append(found.group(2))
    assert drawn == {cls.__name__: parent.__name__ for cls, parent in TREE.items()}


def test_branches_are_exported_where_callers_look() -> None:
    """RequestError and StoreFault are public names of statemachine and statemachine.errors;
    TableError and GraphvizMissing are also importable beside what raises them, and the store
    errors from statemachine.store: the same classes, one tree."""
    import statemachine.declaration
    import statemachine.diagrams
    import statemachine.store

    for name in ("RequestError", "StoreFault"):
        assert name in statemachine.__all__ and name in errors_module.__all__
        assert getattr(statemachine, name) is getattr(errors_module, name)
    assert statemachine.declaration.TableError is TableError
    assert statemachine.diagrams.GraphvizMissing is GraphvizMissing
    for cls in (
        UnknownOrder,
        OrderExists,
        VersionConflict,
        ConcurrentUpdate,
        CorruptOrder,
        StoreUnavailable,
        SchemaVersionError,
    ):
        assert getattr(statemachine.store, cls.__name__) is cls


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_pickles_with_its_data_and_branch(error: OrderError) -> None:
    """An error sent to another process comes back the same class, on the same branch, with
    the same message and the same to_dict()."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert isinstance(copy, _parent(type(error)))
    assert str(copy) == str(error) and repr(copy) == repr(error)
    assert copy.to_dict() == error.to_dict()


@pytest.mark.parametrize(
    "error", [*ERRORS, OrderError.__new__(OrderError)], ids=lambda e: type(e).__name__
)
def test_every_error_has_the_same_json_keys(error: OrderError) -> None:
    """R15: every OrderError's to_dict has the same keys (None where one does not apply), so
    a service maps any of them to one problem document."""
    if not hasattr(error, "message"):
        error.message = "bare"
    data = json.loads(json.dumps(error.to_dict()))
    assert set(data) == KEYS
    assert data["type"] == type(error).__name__
    assert data["field"] == getattr(error, "field", None)


def test_stored_orders_errors_keep_their_data() -> None:
    """UnknownOrder, OrderExists and CorruptOrder left InvalidInput with their data: the
    order id, and the field (`order_id`, or what the row got wrong)."""
    assert UnknownOrder("AE-9").to_dict() == {
        "type": "UnknownOrder",
        "message": "no order 'AE-9' is stored",
        "rule": None,
        "kind": None,
        "event": None,
        "state": None,
        "order_id": "AE-9",
        "field": "order_id",
        "facts": {},
    }
    taken = OrderExists("AE-1").to_dict()
    assert (taken["order_id"], taken["field"]) == ("AE-1", "order_id")
    corrupt = CorruptOrder("AE-7", "its body is not JSON", field="body")
    assert (corrupt.order_id, corrupt.problem, corrupt.field) == (
        "AE-7",
        "its body is not JSON",
        "body",
    )
    assert corrupt.to_dict()["message"] == "stored order 'AE-7' is corrupt: its body is not JSON"


def test_refusal_to_dict_carries_rule_kind_and_facts() -> None:
    """R2: a refusal's JSON form has its type, message, rule, kind, event, state, order id and
    facts, in plain JSON types."""
    order = reach("dispatched")
    with pytest.raises(EventRejected) as caught:
        order.request_cancellation(at=t(5))
    data = json.loads(json.dumps(caught.value.to_dict()))
    assert set(data) == KEYS
    assert data["type"] == "EventRejected"
    assert (data["rule"], data["kind"], data["event"], data["state"], data["order_id"]) == (
        "R2",
        "state",
        "request_cancellation",
        "dispatched",
        "AE-1",
    )
    assert data["facts"]["tracking_number"] == "LP1"
    assert data["message"] == str(caught.value)


def test_refusal_kinds_are_the_documented_three() -> None:
    """The kinds a service maps to HTTP statuses are exactly state, data and time, and the
    EventRejected docstring documents each with order_id and facts."""
    assert set(RefusalKind.__args__) == {"state", "data", "time"}  # type: ignore[attr-defined]
    doc = EventRejected.__doc__ or ""
    for word in ('"state"', '"data"', '"time"', "order_id", "facts"):
        assert word in doc
