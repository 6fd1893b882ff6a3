"""ValidatedOrders (statemachine.store._cache): the bounded cache of rows a store has checked."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st
from store_helpers import PAID, new_order

from statemachine.store import _cache
from statemachine.store._cache import ValidatedOrders

BODY = '{"order": "as stored"}'


def test_docstring_example_runs() -> None:
    """The module's doctest passes."""
    result = doctest.testmod(_cache, verbose=False)
    assert (result.attempted > 0, result.failed) == (True, 0)


def test_recall_needs_the_same_version_and_body() -> None:
    """A remembered order comes back only for its own version and an equal body."""
    cache = ValidatedOrders()
    order = new_order()
    cache.remember(order, 3, BODY)
    assert cache.recall("AE-1", 3, BODY) == order
    assert cache.recall("AE-1", 4, BODY) is None
    assert cache.recall("AE-1", 3, BODY.replace("as stored", "changed behind the store")) is None
    assert cache.recall("AE-2", 3, BODY) is None


def test_remember_replaces_the_entry_of_the_same_order() -> None:
    """Remembering an order again keeps only the newest version and body."""
    cache = ValidatedOrders()
    order = new_order()
    cache.remember(order, 1, BODY)
    order.fire("request_cancellation", at=PAID)
    cache.remember(order, 2, "newer body")
    assert len(cache) == 1
    assert cache.recall("AE-1", 1, BODY) is None
    recalled = cache.recall("AE-1", 2, "newer body")
    assert recalled is not None
    assert recalled.state == "cancel_requested"


def test_copies_in_and_out() -> None:
    """Changing the order given to remember, or one recalled, never changes the cache."""
    cache = ValidatedOrders()
    order = new_order()
    cache.remember(order, 1, BODY)
    order.fire("request_cancellation", at=PAID)
    first = cache.recall("AE-1", 1, BODY)
    assert first is not None
    assert first.state == "paid"
    first.fire("dispatch", at=PAID, tracking_number="LP1")
    again = cache.recall("AE-1", 1, BODY)
    assert again is not None
    assert again.state == "paid"
    assert again is not first


def test_least_recently_used_goes_first() -> None:
    """Beyond its capacity the cache drops the order used longest ago; a recall counts as use."""
    cache = ValidatedOrders(capacity=2)
    for name in ("AE-1", "AE-2"):
        cache.remember(new_order(name), 1, BODY)
    assert cache.recall("AE-1", 1, BODY) is not None  # AE-2 is now the least recent
    cache.remember(new_order("AE-3"), 1, BODY)
    assert ("AE-1" in cache, "AE-2" in cache, "AE-3" in cache) == (True, False, True)


def test_capacity_zero_remembers_nothing() -> None:
    """A cache of capacity 0 is off: every read is a full read."""
    cache = ValidatedOrders(capacity=0)
    cache.remember(new_order(), 1, BODY)
    assert len(cache) == 0
    assert cache.recall("AE-1", 1, BODY) is None


@pytest.mark.parametrize("capacity", [-1, 1.5, True, "8"])
def test_capacity_must_be_a_whole_number(capacity: object) -> None:
    """A negative or non-integer capacity is refused when the cache is made."""
    with pytest.raises(ValueError, match="capacity"):
        ValidatedOrders(capacity=capacity)  # type: ignore[arg-type]


@given(
    capacity=st.integers(min_value=1, max_value=5),
    uses=st.lists(st.tuples(st.sampled_from("ABCDEFG"), st.booleans()), max_size=40),
)
def test_behaves_like_a_bounded_lru(capacity: int, uses: list[tuple[str, bool]]) -> None:
    """Against a model list: the cache holds the ``capacity`` most recently used ids, and a
    recall finds exactly the ids it holds."""
    cache = ValidatedOrders(capacity=capacity)
    model: list[str] = []
    for name, write in uses:
        if write:
            cache.remember(new_order(name), 1, BODY)
        else:
            hit = cache.recall(name, 1, BODY) is not None
            assert hit == (name in model)
            if not hit:
                continue
        if name in model:
            model.remove(name)
        model.append(name)
        del model[:-capacity]
        assert sorted(model) == sorted(n for n in "ABCDEFG" if n in cache)
    assert len(cache) == len(model) <= capacity
