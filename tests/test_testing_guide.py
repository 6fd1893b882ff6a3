"""docs/testing.md stays true: its worked example is the example file the suite runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- example: (?P<file>\S+) -->\n```python\n(?P<code>.*?)```\n", re.S)


def test_guide_includes_the_example_file_verbatim() -> None:
    """Every example block of the guide is exactly the file it names, which pytest runs."""
    guide = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    blocks = list(BLOCK.finditer(guide))
    assert [b["file"] for b in blocks] == ["tests/test_testing_guide_example.py"]
    for block in blocks:
        assert block["code"] == (ROOT / block["file"]).read_text(encoding="utf-8")


def test_guide_names_only_public_parts_that_exist() -> None:
    """The names the guide tells readers to use are importable where it says."""
    import statemachine.testing as kit
    from statemachine.testing import log, plugin, stateful, strategies

    for name in ("shortest_paths", "transition_cover", "refusal_cover", "check_log", "params"):
        assert hasattr(kit, name)
    assert hasattr(log, "log_of")
    assert hasattr(plugin, "Clock")
    assert hasattr(plugin, "OrderFactory")
    assert hasattr(stateful, "ReferenceMachine")
    for name in ("valid_paths", "valid_steps", "arbitrary_steps", "starts"):
        assert hasattr(strategies, name)
