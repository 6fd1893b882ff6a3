"""The validated-row cache of a store object: a row it has already checked is not parsed again.

Every read of an order row is validated (:meth:`Order.from_dict` over the body, then the real
columns against it), and parsing the body is most of the cost of an ``apply``. A store object
that has just written or validated a row knows the order the row holds; when it next reads the
row and finds the same version and, byte for byte, the same body, it may copy that order instead
of parsing it again. :class:`ValidatedOrders` holds that knowledge, for a bounded number of
orders.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Final

import attrs

from ..order import Order

__all__ = ["DEFAULT_CAPACITY", "ValidatedOrders"]

DEFAULT_CAPACITY: Final = 1024
"""How many orders a store object remembers by default."""


class ValidatedOrders:
    """The orders a store object last validated or wrote, by order id: a bounded LRU cache.

    Each entry is an order with the row version and the body (exactly as the database returns
    it) it was read from or written as. :meth:`recall` hands out the order only for a row with
    that very version and an equal body, so a body changed behind the store's back, even at the
    same version, is a miss and gets read in full. The store remembers an order only once it is
    known good: after validating a row, or after the transaction that wrote it committed.

    Orders are mutable, so the cache keeps a private copy and gives out a fresh copy each time:
    a caller changing the order it got never changes what the cache holds. At most ``capacity``
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
        self._entries: OrderedDict[str, tuple[int, Any, Order]] = OrderedDict()
        self._lock = threading.Lock()  # a pooled store reads and writes from many threads

    def recall(self, order_id: str, version: int, body: Any) -> Order | None:
        """A copy of the order remembered for ``order_id`` if it was read from or written as
        this ``version`` and this ``body``; ``None`` otherwise (then read the row in full)."""
        with self._lock:
            entry = self._entries.get(order_id)
            if entry is None or entry[0] != version or entry[1] != body:
                return None
            self._entries.move_to_end(order_id)
        return attrs.evolve(entry[2])

    def remember(self, order: Order, version: int, body: Any) -> None:
        """Keep a copy of ``order``, known to be what a row at ``version`` with ``body`` holds."""
        if not self.capacity:
            return
        copy = attrs.evolve(order)
        with self._lock:
            self._entries[order.order_id] = (version, body, copy)
            self._entries.move_to_end(order.order_id)
            if len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._entries

    def __repr__(self) -> str:
        return f"ValidatedOrders({len(self)} of {self.capacity})"
