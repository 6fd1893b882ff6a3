"""The runtime: orders living by the declaration (:mod:`statemachine.declaration`).

A :class:`Runtime` is one table under one policy, ready to run (:func:`runtime_for`): it fires
events, explains refusals, lists what an order takes and when the clock is due. An
:class:`Order` carries its table and is driven by its runtime; :func:`replay` and
:func:`rebuild` make an order again from what was kept of it (its JSON form, or a head and a
log), through the machine.
"""

from __future__ import annotations

from ._machine import MAX_ID_LENGTH, MAX_TEXT_LENGTH, Runtime, machine_for, runtime_for
from ._order import Order
from ._serialize import FORMAT_VERSION, HEAD_KEYS, Logged, head_of, rebuild, replay

__all__ = [
    "FORMAT_VERSION",
    "HEAD_KEYS",
    "MAX_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "Logged",
    "Order",
    "Runtime",
    "head_of",
    "machine_for",
    "rebuild",
    "replay",
    "runtime_for",
]
