"""What every benchmark script shares: the machine it ran on, a PostgreSQL schema of its own,
and its own section of ``bench/README.md`` (between ``<!-- bench:NAME:start -->`` and
``<!-- bench:NAME:end -->``), which it rewrites while leaving the other scripts' sections
alone."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """One line: CPU model, cores, Python version, system."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with what lies between ``<!-- bench:NAME:start -->`` and its end marker
    replaced by ``body``; the markers and everything outside them are kept."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"expected one {start} followed by one {end}")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{body.rstrip()}\n{end}{tail}"


def write_section(name: str, body: str) -> None:
    """Put ``body`` in section ``name`` of bench/README.md (added at the end if missing)."""
    text = README.read_text(encoding="utf-8")
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    if start not in text:
        text = f"{text.rstrip()}\n\n{start}\n{end}\n"
    README.write_text(replace_section(text, name, body), encoding="utf-8")


@contextmanager
def postgres_schema(dsn: str, prefix: str) -> Iterator[str]:
    """A DSN whose search_path is a new, empty schema in ``dsn``'s database, dropped with all
    it holds afterwards: a bench's store never opens, migrates or leaves behind tables in the
    database it was pointed at."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"{prefix}_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield make_conninfo(dsn, options=f"-csearch_path={name}")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")
