"""``python -m statemachine``: the ``orderfsm`` command line; with no command, the demo."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:] or ["demo"], prog_name="python -m statemachine"))
