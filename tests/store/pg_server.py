"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl into a temp folder.

The server never runs as root: as root, every server command runs as the ``postgres`` user
(``runuser``). It listens on 127.0.0.1 on a free port and is stopped, and its folder removed,
on :meth:`TempPostgres.stop`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostgresUnavailable", "TempPostgres", "find_bindir"]


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found; install them with "
        "`apt-get install postgresql`, or point ORDER_SM_PG_DSN at a server"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TempPostgres:
    """A PostgreSQL server in a temporary folder; ``dsn`` points at its database."""

    def __init__(self, *, durable: bool = False, dbname: str = "order_sm") -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="order-sm-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.dbname = dbname
        self.durable = durable
        self._as_postgres = os.geteuid() == 0
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> TempPostgres:
        """Create the cluster, start the server, create the database."""
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.resume()
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.dbname
        )
        return self

    def resume(self) -> None:
        """Start the server on its cluster (again, after :meth:`halt`)."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        if not self.durable:  # tests: nothing here needs to survive a power cut
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start")

    def halt(self) -> None:
        """Stop the server, keeping its cluster (:meth:`resume` starts it again)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
