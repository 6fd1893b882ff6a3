"""What every test of the project shares, the Markdown documents' examples included: each
starts with the definitions of the order machine the package registers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _definitions_as_shipped() -> Iterator[None]:
    """Each test starts with the definitions the package registers (orders@1) and leaves them
    so: a test that registers another version (orders@2 of the example) takes it away again,
    whatever order the tests run in."""
    from statemachine.declaration import _definition

    saved = dict(_definition.DEFINITIONS), dict(_definition._BY_TABLE)
    yield
    _definition.DEFINITIONS.clear()
    _definition.DEFINITIONS.update(saved[0])
    _definition._BY_TABLE.clear()
    _definition._BY_TABLE.update(saved[1])
