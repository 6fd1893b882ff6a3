"""``python -m statemachine``: runs the seed's stories (the command line will replace this)."""

from .demo import main

main()
