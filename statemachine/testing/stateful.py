"""A Hypothesis ``RuleBasedStateMachine`` that drives your service in step with the reference
machine (needs ``order-statemachine[testing]``).

Subclass :class:`ReferenceMachine`, implement three methods that talk to your service, and
collect its ``TestCase``::

    class CheckMyService(ReferenceMachine):
        def create(self, start):          # make the order in your service
            self.service = MyService(); self.service.create(start.order_id, ...)
        def send(self, step):             # send one event; raise to refuse it
            self.service.handle(step.event, at=step.at, **step.data)
        def service_state(self):          # the state your service says the order is in
            return self.service.state_of(self.start.order_id)

    TestMyService = CheckMyService.TestCase

Hypothesis then creates orders and sends steps to both your service and a reference
:class:`~statemachine.runtime.Order`: mostly steps the rules accept (drawn from the table), some
arbitrary ones (unknown events, bad data, naive or past timestamps). After each step it checks
that your service accepted exactly what the rules accept, and that both are in the same state;
with ``compare_rules = True`` also that a refusal names the same rule (read from the error's
``rule`` attribute by default, see :meth:`ReferenceMachine.refusal_rule`).
"""

from __future__ import annotations

from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ..declaration._policy import Policy
from ..errors import EventRejected, OrderError, RequestError
from ..runtime._order import Order
from .paths import Start, Step, next_steps
from .strategies import arbitrary_steps, starts, valid_steps

__all__ = ["ReferenceMachine"]


class ReferenceMachine(RuleBasedStateMachine):
    """Base class: drive your service and the reference machine with the same steps.

    Class attributes to adjust: ``start`` (a fixed :class:`Start`, else one is drawn per run),
    ``policy`` (the policy your service runs), ``compare_rules`` (also compare the rule id of
    refusals, read by :meth:`refusal_rule`), ``send_arbitrary`` (whether to send arbitrary,
    mostly invalid, steps too), ``json_only`` (arbitrary steps carry only data JSON can: no
    NaN, no ``Decimal``), ``refusal_errors`` (the exceptions of your service that mean
    "refused"; by default the package's own :class:`~statemachine.errors.RequestError`, so a
    service that crashes with a ``TypeError``, or whose store fails
    (:class:`~statemachine.errors.StoreFault`), fails the run instead of passing as a refusal).
    """

    start: ClassVar[Start | None] = None
    policy: ClassVar[Policy | None] = None
    compare_rules: ClassVar[bool] = False
    send_arbitrary: ClassVar[bool] = True
    json_only: ClassVar[bool] = False
    refusal_errors: ClassVar[tuple[type[BaseException], ...]] = (RequestError,)

    def __init__(self) -> None:
        super().__init__()
        self.reference: Order | None = None
        self.current: Start | None = None
        self.steps: list[Step] = []

    # ---------------------------------------------------------------------------------------
    # What a subclass implements

    def create(self, start: Start) -> None:
        """Create the order described by ``start`` in your service."""
        raise NotImplementedError("ReferenceMachine subclasses implement create(start)")

    def send(self, step: Step) -> None:
        """Send ``step`` to your service; raise one of ``refusal_errors`` if it refuses."""
        raise NotImplementedError("ReferenceMachine subclasses implement send(step)")

    def service_state(self) -> str:
        """The state your service says the order is in."""
        raise NotImplementedError("ReferenceMachine subclasses implement service_state()")

    def refusal_rule(self, error: BaseException) -> str | None:
        """The rule id your service's refusal names (default: its ``rule`` attribute)."""
        rule_id = getattr(error, "rule", None)
        return rule_id if isinstance(rule_id, str) else None

    # ---------------------------------------------------------------------------------------
    # The rules Hypothesis runs

    @initialize(data=st.data())
    def create_order(self, data: st.DataObject) -> None:
        """Create the same order in the reference machine and in the service."""
        start = self.start if self.start is not None else data.draw(starts(policy=self.policy))
        self.current = start
        self.reference = start.new_order()
        self.create(start)

    def _offers_a_step(self) -> bool:
        return self.reference is not None and bool(next_steps(self.reference))

    @precondition(_offers_a_step)
    @rule(data=st.data())
    def send_valid_step(self, data: st.DataObject) -> None:
        """A step the rules accept now."""
        assert self.reference is not None
        self._send_both(data.draw(valid_steps(self.reference), label="step"))

    @precondition(lambda self: self.reference is not None and self.send_arbitrary)
    @rule(data=st.data())
    def send_arbitrary_step(self, data: st.DataObject) -> None:
        """Any step, most of which the rules refuse."""
        assert self.reference is not None
        last = self.reference.history[-1].at if self.reference.history else None
        around = last or self.reference.paid_at
        step = arbitrary_steps(around=around, json_only=self.json_only)
        self._send_both(data.draw(step, label="step"))

    @invariant()
    def states_agree(self) -> None:
        """After every step, the service is in the state the rules give."""
        if self.reference is None:
            return
        ours, theirs = self.reference.state, self.service_state()
        if ours != theirs:
            raise AssertionError(
                f"after {self._trail()}, the service says {theirs!r} but the rules give {ours!r}"
            )

    # ---------------------------------------------------------------------------------------

    def _trail(self) -> str:
        return " > ".join(str(s) for s in self.steps) or "creation"

    def _send_both(self, step: Step) -> None:
        assert self.reference is not None
        state = self.reference.state
        self.steps.append(step)
        expected: OrderError | None = None
        try:
            step.fire(self.reference)
        except OrderError as exc:
            expected = exc
        got: BaseException | None = None
        try:
            self.send(step)
        except self.refusal_errors as exc:
            got = exc
        if expected is None and got is not None:
            raise AssertionError(
                f"the service refused {step} in {state} with {got!r}; the rules accept it "
                f"(after {self._trail()})"
            ) from got
        if expected is not None and got is None:
            raise AssertionError(
                f"the service accepted {step} in {state}; the rules refuse it: {expected}"
            )
        if (
            self.compare_rules
            and isinstance(expected, EventRejected)
            and got is not None
            and self.refusal_rule(got) != expected.rule
        ):
            raise AssertionError(
                f"the service refused {step} in {state} naming rule "
                f"{self.refusal_rule(got)!r}; the rules refuse it with {expected.rule!r}: "
                f"{expected}"
            )
