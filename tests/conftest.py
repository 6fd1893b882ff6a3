"""Fixtures for the package's own tests; the helpers live in :mod:`tests.helpers`."""

from __future__ import annotations

import pytest

from statemachine import Order

from .helpers import new_order


@pytest.fixture
def order() -> Order:
    """A fresh order in ``paid``, paid at ``PAID_AT``."""
    return new_order()
