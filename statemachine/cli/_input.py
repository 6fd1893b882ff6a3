"""What the commands read: a file or standard input as bytes, with a progress bar on standard
error while it is read, when standard error is a terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

__all__ = ["opened_input", "progress"]


@contextlib.contextmanager
def opened_input(name: str) -> Iterator[tuple[IO[bytes], int | None]]:
    """The file ``name`` (``-``: standard input), read as bytes, with its size if known."""
    if name == "-":
        yield sys.stdin.buffer, None
        return
    with open(name, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        yield stream, size or None


@contextlib.contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error while the block runs, when standard error is a
    terminal; advance it with the function yielded (by bytes read)."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]} lines"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=False,
    )
    with bar:
        task = bar.add_task(label, total=total, lines=0)

        def advance(size: int) -> None:
            bar.update(task, advance=size, lines=bar.tasks[0].fields["lines"] + 1)

        yield advance
