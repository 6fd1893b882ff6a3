"""Worked examples shipped with the package; none is registered until it is named.

- :mod:`statemachine.examples.risk_hold`: ``orders@2``, ``orders@1`` with a risk hold, and the
  plan that moves ``orders@1`` orders to it (``orders-1-to-2.toml``).
"""

__all__: list[str] = []
