"""The checked-row cache of a store object: an order it has already made is not made again.

Every read of an order is checked: the order is made again from its head and its log through
the machine (:func:`~statemachine.runtime.rebuild`), and its derived columns compared, which
is most of the cost of an ``apply``. A store object that has just written or made an order knows
what its row holds; when it next reads the row and finds the same version and exactly the same
head, it may copy that order instead of making it again. :class:`ValidatedOrders` holds that
knowledge, for a bounded number of orders.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs

from ..runtime._order import Order

__all__ = ["DEFAULT_CAPACITY", "ValidatedOrders"]

_D = TypeVar("_D")

DEFAULT_CAPACITY: Final = 1024
"""How many orders a store object remembers by default."""


class ValidatedOrders:
    """The orders a store object last validated or wrote, by order id: a bounded LRU cache.

    Each entry is an order with the row version and the head (exactly as the database returns
    it: JSON text, or JSON data on PostgreSQL) it was read from or written as. :meth:`recall`
    hands out the order only for a row with that very version and the same head (compared
    strictly: ``1`` is not ``true``), so a head changed behind the store's back, even at the
    same version, is a miss and is made again in full. The store remembers an order only once it is
    known good: after validating a row, or after the transaction that wrote it committed.

    Orders are mutable, so the cache keeps a private copy and gives out a fresh copy each time:
    a caller changing the order it got never changes what the cache holds (what the copies
    share, the records, cannot be changed). At most ``capacity``
    orders are kept; using or remembering one makes it the most recent, and the least recently
    used one goes first.

    >>> import datetime as dt
    >>> from zoneinfo import ZoneInfo
    >>> paid = dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> cache = ValidatedOrders(capacity=2)
    >>> cache.remember(Order.create("AE-1", "25.00", "USD", paid), 1, '{"the": "body"}')
    >>> cache.recall("AE-1", 1, '{"the": "body"}').order_id
    'AE-1'
    >>> cache.recall("AE-1", 1, '{"the": "changed body"}') is None
    True
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"capacity must be a whole number of at least 0, got {capacity!r}")
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[int, Any, Order, list[Any]]] = OrderedDict()
        # each entry: version, body, the private copy, and a cell for what recall_with derives
        self._lock = threading.Lock()  # a pooled store reads and writes from many threads

    def recall(self, order_id: str, version: int, body: Any) -> Order | None:
        """A copy of the order remembered for ``order_id`` if it was read from or written as
        this ``version`` and this ``body``; ``None`` otherwise (then read the row in full)."""
        with self._lock:
            entry = self._entries.get(order_id)
            if entry is None or entry[0] != version or not _same(entry[1], body):
                return None
            self._entries.move_to_end(order_id)
        return attrs.evolve(entry[2])

    def recall_with(
        self, order_id: str, version: int, body: Any, derive: Callable[[Order], _D]
    ) -> tuple[Order, _D] | None:
        """:meth:`recall`, with ``derive`` of the remembered order: worked out once for each
        order remembered (the remembered copy never changes, so neither does what a pure
        function of it gives), then given again with every copy."""
        with self._lock:
            entry = self._entries.get(order_id)
            if entry is None or entry[0] != version or not _same(entry[1], body):
                return None
            self._entries.move_to_end(order_id)
        kept, cell = entry[2], entry[3]
        if not cell:  # two threads may both work it out: the same value
            cell.append(derive(kept))
        derived: _D = cell[0]
        return attrs.evolve(kept), derived

    def remember(self, order: Order, version: int, body: Any) -> None:
        """Keep a copy of ``order``, known to be what a row at ``version`` with ``body`` holds."""
        if not self.capacity:
            return
        copy = attrs.evolve(order)
        with self._lock:
            self._entries[order.order_id] = (version, body, copy, [])
            self._entries.move_to_end(order.order_id)
            if len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every order (after a commit failed that they may have been remembered by)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._entries

    def __repr__(self) -> str:
        return f"ValidatedOrders({len(self)} of {self.capacity})"


def _same(a: Any, b: Any) -> bool:
    """Whether two heads are the same: equal text, or equal JSON data of the same types all
    the way down (``==`` says ``1 == True`` and ``5 == 5.0``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
