"""The examples in the package's docstrings run and stay true, in every module that has some."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import statemachine

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(statemachine.__path__, "statemachine.")
    if not m.name.endswith("__main__")
)
WITH_EXAMPLES = {
    "statemachine.declaration._calendar",
    "statemachine.declaration._checks",
    "statemachine.errors",
    "statemachine.declaration._policy",
    "statemachine.declaration._records",
    "statemachine.schema",
    "statemachine.testing.log",
    "statemachine.testing.paths",
    "statemachine.testing.plugin",
    "statemachine.testing.strategies",
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """Each module's doctests pass; the modules known to carry examples still have some."""
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0
    if name in WITH_EXAMPLES:
        assert result.attempted > 0
