"""The package as installed: its public names, its typing marker, and the import-name clash."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import statemachine

ROOT = Path(statemachine.__file__).parent


def test_public_surface_names_of_rules_md() -> None:
    """The names RULES.md says callers import from statemachine are there."""
    for name in ("Order", "Policy", "OrderError", "EventRejected", "InvalidInput"):
        assert name in statemachine.__all__
        assert hasattr(statemachine, name)
    assert issubclass(statemachine.InvalidInput, ValueError)
    assert issubclass(statemachine.EventRejected, statemachine.OrderError)


def test_ships_py_typed() -> None:
    """The package ships the PEP 561 marker so callers' type checkers read its hints."""
    assert (ROOT / "py.typed").is_file()


def test_import_fails_at_once_when_python_statemachine_is_installed(tmp_path: Path) -> None:
    """Importing statemachine beside python-statemachine raises ImportError naming the clash."""
    dist = tmp_path / "python_statemachine-2.3.0.dist-info"
    dist.mkdir()
    metadata = "Metadata-Version: 2.1\nName: python-statemachine\nVersion: 2.3.0\n"
    (dist / "METADATA").write_text(metadata)
    (dist / "top_level.txt").write_text("statemachine\n")
    (dist / "RECORD").write_text("")
    code = textwrap.dedent(
        """
        try:
            import statemachine
        except ImportError as exc:
            print("CLASH:", exc)
        else:
            print("IMPORTED")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT.parent)])}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("CLASH:")
    assert "python-statemachine" in out
    assert "pip uninstall python-statemachine" in out


def test_import_succeeds_without_the_clash() -> None:
    """Without python-statemachine the import works in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", "import statemachine; print(statemachine.Order.__name__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "Order"
