"""The curl session of ``docs/service.md``, run for real.

Between ``<!-- service:curl:start -->`` and ``<!-- service:curl:end -->`` every ```` ```sh ````
block is a shell command run against a fresh service (``python -m statemachine.web`` on a new
SQLite file, the tokens of the doc's ``export`` lines, no sweeper), in order, and the fenced
block right after it is what the command printed. ``python tests/web/service_doc.py --write``
(``make service-doc``) rewrites those answers; ``test_web_docs.py`` checks they still match.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from web_helpers import ProcessServer  # noqa: E402

DOC: Final = HERE.parents[1] / "docs" / "service.md"
START, END = "<!-- service:curl:start -->", "<!-- service:curl:end -->"
ADDRESS: Final = "127.0.0.1:8000"
ENV: Final = {
    "ORDERFSM_TOKEN": "write-3f9a1c",
    "ORDERFSM_READ_TOKEN": "read-77b2e0",
    "ORDERFSM_WEBHOOK_SECRET": "whsec-5c1d",
    "ORDERFSM_SWEEP_INTERVAL": "0",
}
"""The doc's exports (its first block says so); the sweeper is off so answers do not depend on
the day the doc is checked."""

_BLOCK = re.compile(r"```sh\n(?P<command>.*?)```\n\n```(?P<lang>[a-z]*)\n(?P<output>.*?)```", re.S)


def section(text: str) -> tuple[int, int]:
    """Where the curl session lies in the doc's text."""
    return text.index(START), text.index(END)


def examples(text: str) -> list[re.Match[str]]:
    """The (command, output) blocks of the session."""
    start, end = section(text)
    return list(_BLOCK.finditer(text, start, end))


def run(text: str, workdir: Path) -> list[str]:
    """Start a service and run every command of the session; what each printed."""
    env = {**os.environ, **ENV}
    env.pop("ORDERFSM_DB", None)
    env.pop("ORDERFSM_DSN", None)
    server = ProcessServer(db=str(workdir / "orders.db"), log=workdir / "server.log", env=env)
    server.start()
    address = f"127.0.0.1:{server.port}"
    outputs = []
    try:
        for block in examples(text):
            command = block["command"].replace(ADDRESS, address)
            done = subprocess.run(
                ["bash", "-c", command],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=workdir,
            )
            printed = done.stdout.replace(address, ADDRESS)
            if done.stderr:
                printed += done.stderr
            outputs.append(printed if printed.endswith("\n") else printed + "\n")
    finally:
        server.stop()
    return outputs


def rewrite(text: str, outputs: list[str]) -> str:
    """The doc with each command's output block replaced by what it printed."""
    pieces = []
    last = 0
    for block, output in zip(examples(text), outputs, strict=True):
        pieces.append(text[last : block.start("output")])
        pieces.append(output)
        last = block.end("output")
    pieces.append(text[last:])
    return "".join(pieces)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite docs/service.md")
    args = parser.parse_args()
    text = DOC.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        outputs = run(text, Path(folder))
    new = rewrite(text, outputs)
    if args.write:
        DOC.write_text(new, encoding="utf-8")
        print(f"{len(outputs)} answers written to {DOC}")
    elif new != text:
        print("docs/service.md is out of date: make service-doc")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
