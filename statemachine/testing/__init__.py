"""A test kit for systems that follow the order lifecycle, derived from the machine's table.

* :mod:`statemachine.testing.paths`: generated event sequences (:func:`shortest_paths`,
  :func:`transition_cover`, :func:`refusal_cover`) that a fresh order accepts, with readable ids;
* :mod:`statemachine.testing.log`: :func:`check_log`, conformance of a recorded event log;
* :mod:`statemachine.testing.plugin`: the pytest plugin (fixtures ``order_factory`` and
  ``clock``, the ``order_paths`` marker), registered through the ``pytest11`` entry point;
* :mod:`statemachine.testing.strategies` and :mod:`statemachine.testing.stateful`: Hypothesis
  strategies and a ``RuleBasedStateMachine`` base class (install ``order-statemachine[testing]``).

This package imports neither pytest nor Hypothesis; the modules that need them do.
"""

from __future__ import annotations

from .log import LogProblem, LogRecord, LogRefusal, LogReport, StateMismatch, check_log, log_of
from .paths import (
    DEFAULT_PAID_AT,
    Path,
    RefusalCase,
    Start,
    Step,
    params,
    refusal_cover,
    refusal_targets,
    row_label,
    shortest_paths,
    transition_cover,
    transition_targets,
)

__all__ = [
    "DEFAULT_PAID_AT",
    "LogProblem",
    "LogRecord",
    "LogRefusal",
    "LogReport",
    "Path",
    "RefusalCase",
    "Start",
    "StateMismatch",
    "Step",
    "check_log",
    "log_of",
    "params",
    "refusal_cover",
    "refusal_targets",
    "row_label",
    "shortest_paths",
    "transition_cover",
    "transition_targets",
]
