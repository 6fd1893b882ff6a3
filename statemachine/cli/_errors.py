"""What an error means to ``orderfsm``: the exit status of each error of the package, and the
command line's own error for a program or an extra that is not installed."""

from __future__ import annotations

import click

from ..errors import EventRejected, GraphvizMissing, OrderError, RequestError, StoreFault
from ._codes import ExitCode

__all__ = ["exit_code", "missing", "os_message"]


class _Missing(click.ClickException):
    """A program or an extra the command needs is not installed (exit status 5); it never
    reaches a caller of the package: :func:`~._run.run` prints it as one line."""

    exit_code = ExitCode.MISSING


def missing(message: str) -> click.ClickException:
    """The error that a program or an extra the command needs is not installed, saying how to
    install it (exit status 5)."""
    return _Missing(message)


def exit_code(exc: OrderError) -> ExitCode:
    """The exit status an error of the package means, by its branch: a store fault is the
    operator's (4), a request error the input's (3; a refusal is a finding, 1)."""
    if isinstance(exc, StoreFault):
        return ExitCode.STORE
    if isinstance(exc, GraphvizMissing):
        return ExitCode.MISSING
    if isinstance(exc, RequestError) and not isinstance(exc, EventRejected):
        return ExitCode.INPUT
    return ExitCode.FINDINGS


def os_message(exc: OSError) -> str:
    """An operating system's error in one line: the file and what is wrong with it."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__
