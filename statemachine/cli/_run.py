"""Running ``orderfsm``: :func:`run` invokes the group with a fresh
:class:`~._context.Invocation` and turns whatever ends the run into its
:class:`~._codes.ExitCode`; every failure is one line on standard error (one JSON object with
``--json``), never a traceback."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from .._text import printable
from ..errors import OrderError
from ._codes import ExitCode
from ._context import Invocation
from ._errors import exit_code, os_message
from ._group import COMPLETE_VAR, cli

__all__ = ["run"]


def run(argv: Sequence[str] | None = None, *, prog_name: str = "orderfsm") -> int:
    """Run the command line; the exit status. Every error is one line on standard error."""
    args = list(sys.argv[1:] if argv is None else argv)
    invocation = Invocation()
    try:
        result = cli.main(
            args=args,
            prog_name=prog_name,
            complete_var=COMPLETE_VAR,
            standalone_mode=False,
            obj=invocation,
        )
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else prog_name
        return _fail(
            invocation,
            prog_name,
            f"{exc.format_message()} (see '{where} --help')",
            ExitCode.USAGE,
            {"type": "UsageError", "message": exc.format_message()},
        )
    except click.ClickException as exc:
        return _fail(invocation, prog_name, exc.format_message(), exc.exit_code, None)
    except (click.Abort, KeyboardInterrupt):
        return _fail(invocation, prog_name, "interrupted", ExitCode.INTERRUPTED, None)
    except OrderError as exc:
        return _fail(invocation, prog_name, str(exc), exit_code(exc), exc.to_dict())
    except OSError as exc:
        return _fail(
            invocation, prog_name, os_message(exc), ExitCode.INPUT, {"type": type(exc).__name__}
        )
    except Exception as exc:
        if os.environ.get("ORDERFSM_TRACEBACK"):
            raise
        message = (
            f"internal error: {type(exc).__name__}: {exc} (a bug in orderfsm; "
            "ORDERFSM_TRACEBACK=1 shows where)"
        )
        return _fail(
            invocation, prog_name, message, ExitCode.INTERNAL, {"type": type(exc).__name__}
        )
    return int(result or ExitCode.OK)


def _fail(
    invocation: Invocation, prog_name: str, message: str, code: int, data: dict[str, Any] | None
) -> int:
    """Print the one line an error is on standard error (what could steer a terminal written
    as escapes); its exit status."""
    line = printable(" ".join(message.split()))
    if invocation.json:
        error = dict(data or {"type": "Error"})
        error["message"] = line
        print(json.dumps({"error": error, "exit": int(code)}, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"{prog_name}: error: {line}", file=sys.stderr)
    return int(code)
