"""The examples in the test kit's docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "statemachine.checks",
    "statemachine.testing.paths",
    "statemachine.testing.log",
    "statemachine.testing.plugin",
    "statemachine.testing.strategies",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """Each module's doctests pass (and each of these modules has some)."""
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 0
    assert result.failed == 0
