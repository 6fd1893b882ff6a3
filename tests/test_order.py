"""Each rule R1 to R16 on real orders: the allowed case and the refused case."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statemachine import EventRejected, InvalidInput, Order, Policy
from statemachine.runtime._machine import MAX_ID_LENGTH, MAX_TEXT_LENGTH

from .helpers import PAID_AT, SH, new_order, reach, t

END_OF_R1 = dt.datetime(2026, 3, 11, 23, 59, 59, 999999, tzinfo=SH)


def snapshot(order: Order) -> str:
    """The order's full data as text, to prove a refusal changed nothing."""
    return json.dumps(order.to_dict(), sort_keys=True)


def refused(order: Order, event: str, *, at: dt.datetime, **data: object) -> EventRejected:
    """Fire ``event`` expecting a refusal; check the order is unchanged; return the error."""
    before = snapshot(order)
    with pytest.raises(EventRejected) as info:
        order.fire(event, at=at, **data)
    assert snapshot(order) == before
    return info.value


# R1 ------------------------------------------------------------------------------------------


def test_r1_dispatch_deadline_is_seven_business_days(order: Order) -> None:
    """R1: paid on Monday 2026-03-02, the deadline is the end of Wednesday 2026-03-11."""
    assert order.dispatch_deadline == END_OF_R1


def test_r1_dispatch_in_time_records_no_incident(order: Order) -> None:
    """R1: a dispatch at the last instant of the window is on time."""
    order.dispatch(tracking_number="LP1", at=END_OF_R1)
    assert order.state == "dispatched"
    assert order.incidents == ()
    assert order.tracking_number == "LP1"


def test_r1_late_dispatch_is_accepted_and_recorded(order: Order) -> None:
    """R1: a dispatch one microsecond late is accepted, with a late_dispatch incident."""
    result = order.dispatch(tracking_number="LP1", at=END_OF_R1 + dt.timedelta(microseconds=1))
    assert order.state == "dispatched"
    assert [i.kind for i in result.incidents] == ["late_dispatch"]
    assert order.incidents[0].rule == "R1"
    assert "LP1" in order.incidents[0].detail


# R2 ------------------------------------------------------------------------------------------


def test_r2_cancellation_requested_before_dispatch(order: Order) -> None:
    """R2: an undispatched order takes a cancellation request."""
    order.request_cancellation(at=t(1))
    assert order.state == "cancel_requested"


@pytest.mark.parametrize("variant", ["dispatched", "delivered", "refund_pending:claim"])
def test_r2_no_cancellation_after_dispatch(variant: str) -> None:
    """R2: once dispatched, a cancellation is refused with the dispatch date and tracking."""
    order = reach(variant)
    error = refused(order, "request_cancellation", at=t(5))
    assert error.rule == "R2"
    assert str(error).startswith("R2: order AE-1 was dispatched on 2026-03-03 (tracking LP1)")
    assert "not_as_described or damaged_in_transit" in str(error)
    assert error.facts["tracking_number"] == "LP1"


# R3 ------------------------------------------------------------------------------------------


def test_r3_supplier_declines_and_deadline_is_unchanged(order: Order) -> None:
    """R3: a declined request puts the order back in paid; the R1 deadline does not move."""
    order.request_cancellation(at=t(1))
    order.supplier_declines_cancellation(at=t(2))
    assert order.state == "paid"
    assert order.dispatch_deadline == END_OF_R1


def test_r3_withdrawn_request_keeps_deadline(order: Order) -> None:
    """R3: a withdrawn request puts the order back in paid with the same deadline."""
    order.request_cancellation(at=t(1))
    order.withdraw_cancellation(at=t(2))
    assert (order.state, order.dispatch_deadline) == ("paid", END_OF_R1)


def test_r3_dispatch_while_pending_lapses_request(order: Order) -> None:
    """R3: a dispatch while the request is pending wins; the request lapses, with a notice."""
    order.request_cancellation(at=t(1))
    result = order.dispatch(tracking_number="LP7", at=t(2))
    assert order.state == "dispatched"
    assert [n.kind for n in result.notifications] == ["cancellation_lapsed"]
    assert "LP7" in result.notifications[0].message


def test_r3_only_the_supplier_cancels(order: Order) -> None:
    """R3: a requested cancellation is not settled before the supplier accepts it."""
    order.request_cancellation(at=t(1))
    error = refused(order, "settle_refund", at=t(2))
    assert error.rule is None
    assert "cancel_requested" in str(error)


# R4 ------------------------------------------------------------------------------------------


def test_r4_repayment_window_opens_on_acceptance(order: Order) -> None:
    """R4: accepted on Tuesday 2026-03-03, repayment is expected from 2026-03-06 and due by the
    end of 2026-03-24 (15 business days)."""
    order.request_cancellation(at=t(1))
    order.supplier_accepts_cancellation(at=t(1, 2))
    pending = order.pending_refund
    assert pending is not None
    assert pending.repayment_earliest == dt.date(2026, 3, 6)
    assert pending.repayment_deadline == dt.datetime(2026, 3, 24, 23, 59, 59, 999999, tzinfo=SH)


def test_r4_overdue_escalates_once() -> None:
    """R4: after the deadline the clock escalates once; a second escalation is refused."""
    order = reach("refund_pending:cancellation")
    pending = order.pending_refund
    assert pending is not None and pending.repayment_deadline is not None
    late = pending.repayment_deadline + dt.timedelta(seconds=1)
    assert order.tick(pending.repayment_deadline) == []
    results = order.tick(late)
    assert [r.event for r in results] == ["repayment_overdue"]
    assert [n.kind for n in results[0].notifications] == ["repayment_overdue"]
    assert order.tick(late + dt.timedelta(days=3)) == []
    error = refused(order, "repayment_overdue", at=late + dt.timedelta(days=4))
    assert error.rule == "R4"
    assert "once" in str(error)


def test_r4_overdue_refused_before_deadline() -> None:
    """R4: the overdue escalation is refused while the supplier still has time."""
    order = reach("refund_pending:cancellation")
    assert refused(order, "repayment_overdue", at=t(5)).rule == "R4"


# R5 ------------------------------------------------------------------------------------------


def test_r5_cancellation_refund_is_full_amount() -> None:
    """R5: the pending cancellation refund is the whole amount paid and is settled in full."""
    order = reach("refund_pending:cancellation")
    assert order.pending_refund is not None
    assert order.pending_refund.amount == Decimal("100.00")
    order.settle_refund(at=t(5), amount="100.00")
    assert order.state == "cancelled"
    assert order.refunded_total == Decimal("100.00")


def test_r5_partial_settlement_of_cancellation_refused() -> None:
    """R5: settling a cancellation refund with less than the full amount is refused."""
    order = reach("refund_pending:cancellation")
    error = refused(order, "settle_refund", at=t(5), amount="60.00")
    assert error.rule == "R5"
    assert error.facts == {"amount": "60.00", "pending": "100.00"}


def test_r5_cancellation_refund_cannot_be_declined() -> None:
    """R5: decline_claim is refused for a cancellation refund."""
    order = reach("refund_pending:cancellation")
    assert refused(order, "decline_claim", at=t(5)).rule == "R5"


# R6 ------------------------------------------------------------------------------------------


def test_r6_request_confirmed_by_message_and_completion_by_email(order: Order) -> None:
    """R6: a request emits a message confirmation; the completed cancellation an email."""
    order.request_cancellation(at=t(1))
    order.supplier_accepts_cancellation(at=t(2))
    order.settle_refund(at=t(3))
    kinds = [(n.kind, n.channel, n.rule) for n in order.notifications]
    assert kinds == [
        ("cancellation_request_received", "message", "R6"),
        ("cancellation_complete", "email", "R6"),
    ]


def test_r6_no_completion_email_for_claim_refund() -> None:
    """R6: settling a claim refund is not a cancellation; no completion email is sent."""
    order = reach("refunded")
    assert all(n.kind != "cancellation_complete" for n in order.notifications)


# R7 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["refund_pending:cancellation", "cancelled", "refunded"])
def test_r7_customer_reimbursed_once_supplier_cannot_ship(variant: str) -> None:
    """R7: reimbursing the customer is allowed once the refund is agreed and cannot ship."""
    order = reach(variant)
    state = order.state
    order.reimburse_customer(amount="30.00", at=t(5))
    assert order.state == state
    assert order.customer_refunded_total == Decimal("30.00")


@pytest.mark.parametrize(
    "variant", ["paid", "cancel_requested", "dispatched", "delivered", "refund_pending:claim"]
)
def test_r7_early_reimbursement_refused(variant: str) -> None:
    """R7: reimbursing while the goods may still ship or the claim may be declined is refused."""
    order = reach(variant)
    error = refused(order, "reimburse_customer", at=t(5), amount="30.00")
    assert error.rule == "R7"
    assert "must not be reimbursed" in str(error)


@pytest.mark.parametrize("variant", ["refund_pending:cancellation", "cancelled"])
def test_r7_dispatch_after_cancellation_is_an_incident(variant: str) -> None:
    """R7: a dispatch after the cancellation was accepted records an incident and a notice;
    the state does not change."""
    order = reach(variant)
    state = order.state
    result = order.dispatch(tracking_number="LP9", at=t(5))
    assert order.state == state == result.dest == result.source
    assert [i.kind for i in result.incidents] == ["dispatched_after_cancellation"]
    assert [n.kind for n in result.notifications] == ["dispatched_after_cancellation"]
    assert "recover" in result.notifications[0].message
    assert order.history[-1].event == "dispatch"


def test_r7_dispatch_after_refund_of_delivered_goods_is_refused() -> None:
    """R7/R14: a refunded order was delivered; a dispatch there is refused as final."""
    assert refused(reach("refunded"), "dispatch", at=t(5), tracking_number="LP9").rule == "R14"


# R8 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["not_as_described", "damaged_in_transit"])
def test_r8_claim_reasons_accepted(reason: str) -> None:
    """R8: after delivery, the two claim reasons are accepted."""
    order = reach("delivered")
    order.open_claim(reason=reason, amount="20.00", at=t(5))
    assert order.pending_refund is not None
    assert order.pending_refund.reason == reason


@pytest.mark.parametrize("reason", ["changed_mind", "goodwill", "cancellation", ""])
def test_r8_other_claim_reasons_refused_with_pointer_to_r10(reason: str) -> None:
    """R8: any other reason is refused and points to the goodwill refund of R10."""
    order = reach("delivered")
    if not reason:
        with pytest.raises(InvalidInput):
            order.open_claim(reason=reason, amount="20.00", at=t(5))
        return
    error = refused(order, "open_claim", at=t(5), reason=reason, amount="20.00")
    assert error.rule == "R8"
    assert "R10" in str(error)


def test_r8_claim_before_delivery_refused() -> None:
    """R8: a claim on a dispatched, undelivered order is refused."""
    order = reach("dispatched")
    error = refused(order, "open_claim", at=t(5), reason="damaged_in_transit", amount="5.00")
    assert error.rule == "R8"


def test_r8_is_checked_before_r13_and_r11() -> None:
    """R8 then R13 then R11: a late claim with a wrong reason and a huge amount names R8."""
    order = reach("delivered")
    error = refused(order, "open_claim", at=t(60), reason="changed_mind", amount="999.00")
    assert error.rule == "R8"
    error = refused(order, "open_claim", at=t(60), reason="damaged_in_transit", amount="999.00")
    assert error.rule == "R13"


# R9 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "altered", "blame"),
    [
        ("not_as_described", False, "supplier"),
        ("not_as_described", True, "merchant"),
        ("damaged_in_transit", False, "supplier"),
        ("damaged_in_transit", True, "supplier"),
    ],
)
def test_r9_claim_blame(reason: str, altered: bool, blame: str) -> None:
    """R9: the supplier funds claims unless the merchant altered the listing (not_as_described)."""
    order = reach("delivered")
    order.open_claim(reason=reason, amount="20.00", listing_altered=altered, at=t(5))
    assert order.pending_refund is not None
    assert order.pending_refund.blame == blame


def test_r9_goodwill_and_cancellation_blame() -> None:
    """R9: goodwill is the merchant's; cancellation and not_dispatched are the supplier's."""
    goodwill = reach("delivered")
    goodwill.offer_goodwill_refund(amount="5.00", at=t(5))
    assert goodwill.pending_refund is not None and goodwill.pending_refund.blame == "merchant"
    cancelled = reach("refund_pending:cancellation")
    assert cancelled.pending_refund is not None
    assert cancelled.pending_refund.blame == "supplier"
    auto = new_order()
    auto.tick(END_OF_R1 + dt.timedelta(seconds=1))
    assert auto.pending_refund is not None
    assert (auto.pending_refund.reason, auto.pending_refund.blame) == ("not_dispatched", "supplier")


# R10 -----------------------------------------------------------------------------------------


def test_r10_goodwill_partial_refund_allowed() -> None:
    """R10: a goodwill refund below the amount paid is accepted and settles to refunded."""
    order = reach("delivered")
    order.offer_goodwill_refund(amount="99.99", at=t(5))
    order.settle_refund(at=t(6))
    assert (order.state, order.refunded_total) == ("refunded", Decimal("99.99"))


def test_r10_goodwill_full_refund_refused() -> None:
    """R10: a goodwill refund equal to what is left is not partial and is refused."""
    order = reach("delivered")
    error = refused(order, "offer_goodwill_refund", at=t(5), amount="100.00")
    assert error.rule == "R10"
    assert error.facts["cap"] == "100.00"


def test_r10_goodwill_before_delivery_refused() -> None:
    """R10: a goodwill refund is for goods received; before delivery it is refused."""
    assert refused(reach("dispatched"), "offer_goodwill_refund", at=t(5), amount="1.00").rule == (
        "R10"
    )


# R11 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00"])
@pytest.mark.parametrize(
    ("variant", "event", "extra"),
    [
        ("delivered", "open_claim", {"reason": "damaged_in_transit"}),
        ("delivered", "offer_goodwill_refund", {}),
        ("refund_pending:claim", "settle_refund", {}),
        ("refund_pending:cancellation", "settle_refund", {}),
        ("cancelled", "reimburse_customer", {}),
    ],
)
def test_r11_non_positive_amounts_refused_under_r11(
    variant: str, event: str, extra: dict[str, str], amount: str
) -> None:
    """R11: an amount of 0 or less is refused under R11, not as invalid input."""
    order = reach(variant)
    assert refused(order, event, at=t(5), amount=amount, **extra).rule == "R11"


def test_r11_claim_capped_by_amount_minus_refunded() -> None:
    """R11: a claim may take what is left of the amount paid, not a cent more."""
    order = reach("delivered")
    order.open_claim(reason="damaged_in_transit", amount="100.00", at=t(5))
    assert order.pending_refund is not None
    order2 = reach("delivered")
    error = refused(order2, "open_claim", at=t(5), reason="damaged_in_transit", amount="100.01")
    assert error.rule == "R11"
    assert error.facts["cap"] == "100.00"


def test_r11_second_claim_capped_by_what_is_left() -> None:
    """R11: after a partial settlement and a declined claim, a new claim is capped by the rest."""
    order = reach("delivered")
    order.open_claim(reason="damaged_in_transit", amount="70.00", at=t(5))
    order.decline_claim(at=t(6))
    order.offer_goodwill_refund(amount="20.00", at=t(7))
    assert order.refunded_total == Decimal("0.00")
    order.decline_claim(at=t(8))
    order.open_claim(reason="not_as_described", amount="100.00", at=t(9))
    assert order.pending_refund is not None and order.pending_refund.amount == Decimal("100.00")


def test_r11_settlement_lower_allowed_higher_refused() -> None:
    """R11: a claim settles for less than pending, never more."""
    order = reach("refund_pending:claim")  # 40.00 pending
    assert refused(order, "settle_refund", at=t(5), amount="40.01").rule == "R11"
    order.settle_refund(at=t(5), amount="25.00")
    assert (order.state, order.refunded_total) == ("refunded", Decimal("25.00"))


def test_r11_reimbursement_capped_by_customer_ledger() -> None:
    """R11: reimbursements add up to the amount paid at most."""
    order = reach("cancelled")
    order.reimburse_customer(amount="60.00", at=t(5))
    error = refused(order, "reimburse_customer", at=t(6), amount="40.01")
    assert error.rule == "R11"
    order.reimburse_customer(amount="40.00", at=t(6))
    assert order.customer_refunded_total == order.amount


# R12 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["paid", "cancel_requested"])
def test_r12_unshipped_order_auto_closes_after_deadline(variant: str) -> None:
    """R12: past the R1 deadline the clock closes the order with a full refund and opens R4."""
    order = reach(variant)
    assert order.tick(END_OF_R1) == []
    now = END_OF_R1 + dt.timedelta(microseconds=1)
    results = order.tick(now)
    assert [r.event for r in results] == ["dispatch_deadline_expired"]
    pending = order.pending_refund
    assert pending is not None
    assert (pending.reason, pending.amount, pending.opened_at) == (
        "not_dispatched",
        Decimal("100.00"),
        now,
    )
    assert pending.repayment_earliest == dt.date(2026, 3, 17)


def test_r12_auto_close_refused_before_deadline(order: Order) -> None:
    """R12: firing the clock event by hand before the deadline is refused."""
    error = refused(order, "dispatch_deadline_expired", at=END_OF_R1)
    assert error.rule == "R12"
    assert "not late yet" in str(error)


def test_r12_policy_switch_off_keeps_order_open() -> None:
    """R12: with auto_close_unshipped off the clock leaves a late order open."""
    order = new_order(policy=Policy(auto_close_unshipped=False))
    assert order.tick(END_OF_R1 + dt.timedelta(days=30)) == []
    assert order.state == "paid"


# R13 -----------------------------------------------------------------------------------------


def test_r13_claim_on_last_day_of_window_allowed() -> None:
    """R13: delivered on 2026-03-04 (Shanghai), a claim at the end of 2026-03-19 is on time."""
    order = reach("delivered")
    last = dt.datetime(2026, 3, 19, 23, 59, 59, 999999, tzinfo=SH)
    assert order.claim_deadline == last
    order.open_claim(reason="not_as_described", amount="10.00", at=last)
    assert order.state == "refund_pending"


def test_r13_claim_after_window_refused() -> None:
    """R13: one microsecond after the window closes the claim is refused with the dates."""
    order = reach("delivered")
    late = dt.datetime(2026, 3, 20, tzinfo=SH)
    error = refused(order, "open_claim", at=late, reason="not_as_described", amount="10.00")
    assert error.rule == "R13"
    assert "2026-03-04" in str(error)
    assert "open_claim" not in order.allowed_events(late)
    assert "open_claim" in order.allowed_events(late - dt.timedelta(microseconds=1))


def test_r13_window_counted_in_policy_time_zone() -> None:
    """R13: a delivery late on 2026-03-04 UTC is already 2026-03-05 in Shanghai."""
    order = reach("dispatched")
    order.confirm_delivery(at=dt.datetime(2026, 3, 4, 20, 0, tzinfo=dt.UTC))
    assert order.claim_deadline == dt.datetime(2026, 3, 20, 23, 59, 59, 999999, tzinfo=SH)


# R14 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["cancelled", "refunded"])
def test_r14_final_states_refuse_and_clock_fires_nothing(variant: str) -> None:
    """R14: a final state refuses events with a message naming the state; no clock fires."""
    order = reach(variant)
    error = refused(order, "confirm_delivery", at=t(5))
    assert error.rule == "R14"
    assert f"is {order.state}, a final state" in str(error)
    assert order.tick(t(400)) == []


def test_r14_final_state_still_records_late_facts() -> None:
    """R14: the late facts of R7 are still recorded in a final state."""
    order = reach("cancelled")
    order.dispatch(tracking_number="LP2", at=t(5))
    order.reimburse_customer(amount="100.00", at=t(6))
    assert order.state == "cancelled"
    assert [h.event for h in order.history[-2:]] == ["dispatch", "reimburse_customer"]


# R15 -----------------------------------------------------------------------------------------


def test_r15_duplicate_event_id_changes_nothing(order: Order) -> None:
    """R15: the same webhook twice is applied once; the second call says duplicate."""
    first = order.dispatch(tracking_number="LP1", at=t(1), event_id="wh-1")
    before = snapshot(order)
    again = order.dispatch(tracking_number="LP1", at=t(1), event_id="wh-1")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert (again.source, again.dest) == ("paid", "dispatched")
    assert snapshot(order) == before


def test_r15_replay_with_old_timestamp_is_duplicate_not_r16(order: Order) -> None:
    """R15 before R16: a webhook replayed with its original, now older, timestamp is a
    duplicate."""
    order.request_cancellation(at=t(1), event_id="c-1")
    order.supplier_declines_cancellation(at=t(2))
    assert order.request_cancellation(at=t(1), event_id="c-1").duplicate
    assert order.state == "paid"


def test_r15_event_id_reused_for_another_event_is_invalid(order: Order) -> None:
    """R15: the same event id with a different event name is invalid input."""
    order.request_cancellation(at=t(1), event_id="x-1")
    before = snapshot(order)
    with pytest.raises(InvalidInput) as info:
        order.withdraw_cancellation(at=t(2), event_id="x-1")
    assert info.value.field == "event_id"
    assert snapshot(order) == before


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["25.00", "25.0", "25", "10.00", "10.01", "0.01"]),
    st.sampled_from(["25.00", "25.0", "25", "10.00", "10.01", "0.01", None]),
    st.sampled_from(["damaged_in_transit", "not_as_described"]),
    st.sampled_from(["damaged_in_transit", "not_as_described"]),
    st.booleans(),
    st.sampled_from([True, False, None]),
    st.integers(0, 48),
)
def test_r15_a_key_reused_with_other_data_is_invalid_input(
    first_amount: str,
    retry_amount: str | None,
    first_reason: str,
    retry_reason: str,
    altered: bool,
    retry_altered: bool | None,
    later_hours: int,
) -> None:
    """R15: a retry with the same event id is a duplicate exactly when its data parses to the
    first request's (25.0 is 25.00; an omitted flag is its default; the time is not compared);
    otherwise InvalidInput naming event_id and the field that differs, changing nothing."""
    order = reach("delivered")
    order.open_claim(
        reason=first_reason, amount=first_amount, listing_altered=altered, at=t(3), event_id="k"
    )
    before = snapshot(order)
    data: dict[str, object] = {"reason": retry_reason}
    if retry_amount is not None:
        data["amount"] = retry_amount
    if retry_altered is not None:
        data["listing_altered"] = retry_altered
    same = (
        retry_amount is not None
        and Decimal(retry_amount) == Decimal(first_amount)
        and retry_reason == first_reason
        and (retry_altered if retry_altered is not None else False) == altered
    )
    if retry_amount is None:  # the amount is required: the retry is malformed
        with pytest.raises(InvalidInput) as caught:
            order.fire("open_claim", at=t(3, later_hours), event_id="k", **data)
        assert caught.value.field == "amount"
    elif same:
        assert order.fire("open_claim", at=t(3, later_hours), event_id="k", **data).duplicate
    else:
        with pytest.raises(InvalidInput, match="R15") as caught:
            order.fire("open_claim", at=t(3, later_hours), event_id="k", **data)
        assert caught.value.field == "event_id"
        first_differing = next(
            name
            for name, mine, theirs in (
                ("reason", first_reason, retry_reason),
                ("amount", Decimal(first_amount), Decimal(retry_amount)),
                ("listing_altered", altered, bool(retry_altered)),
            )
            if mine != theirs
        )
        assert f"this request has {first_differing}=" in str(caught.value)
    assert snapshot(order) == before


def test_r15_settlement_retry_without_its_optional_amount_is_a_duplicate(order: Order) -> None:
    """R15 R5: settle_refund's amount defaults to the pending amount: a retry that omits it,
    or gives the amount the first settled, is a duplicate; another amount is InvalidInput."""
    claimed = reach("refund_pending:claim")
    claimed.settle_refund(at=t(5), amount="30.00", event_id="s-1")
    assert claimed.settle_refund(at=t(6), event_id="s-1").duplicate
    assert claimed.settle_refund(at=t(6), amount="30.0", event_id="s-1").duplicate
    with pytest.raises(InvalidInput, match="amount") as caught:
        claimed.settle_refund(at=t(6), amount="40.00", event_id="s-1")
    assert caught.value.field == "event_id"


def test_r15_refused_event_does_not_claim_its_id(order: Order) -> None:
    """R15: an event id of a refused event is not consumed; it can be used later."""
    refused(order, "confirm_delivery", at=t(1))
    with pytest.raises(EventRejected):
        order.confirm_delivery(at=t(1), event_id="e-9")
    assert not order.request_cancellation(at=t(2), event_id="e-9").duplicate


# R16 -----------------------------------------------------------------------------------------


def test_r16_naive_datetime_is_invalid(order: Order) -> None:
    """R16: a naive timestamp is invalid input naming the field."""
    with pytest.raises(InvalidInput) as info:
        order.request_cancellation(at=dt.datetime(2026, 3, 3, 10, 0))
    assert info.value.field == "at"
    with pytest.raises(InvalidInput):
        Order.create("AE-2", "1.00", "USD", dt.datetime(2026, 3, 3))


def test_r16_event_before_payment_refused(order: Order) -> None:
    """R16: an event dated before the payment is refused."""
    error = refused(order, "request_cancellation", at=PAID_AT - dt.timedelta(seconds=1))
    assert error.rule == "R16"


def test_r16_event_before_last_record_refused_same_instant_allowed(order: Order) -> None:
    """R16: an event older than the last record is refused; the same instant is accepted."""
    order.request_cancellation(at=t(2))
    assert refused(order, "withdraw_cancellation", at=t(1)).rule == "R16"
    order.withdraw_cancellation(at=t(2))
    assert order.state == "paid"
    assert order.allowed_events(t(1)) == ()


def test_r16_time_checked_before_state(order: Order) -> None:
    """R16 before R14: a stale event on a final order names R16."""
    final = reach("cancelled")
    assert refused(final, "confirm_delivery", at=t(0)).rule == "R16"


# Public surface ------------------------------------------------------------------------------


def test_allowed_events_lists_caller_events_only() -> None:
    """allowed_events: state and time guards decide; clock events and data are not judged."""
    assert new_order().allowed_events(t(1)) == ("request_cancellation", "dispatch")
    assert reach("refund_pending:cancellation").allowed_events(t(5)) == (
        "dispatch",
        "settle_refund",
        "reimburse_customer",
    )
    assert reach("refund_pending:claim").allowed_events(t(5)) == (
        "decline_claim",
        "settle_refund",
    )
    assert reach("refunded").allowed_events(t(5)) == ("reimburse_customer",)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"tracking_number": "  "}, "tracking_number"),
        ({}, "tracking_number"),
        ({"tracking_number": "LP1", "carrier": "x"}, "carrier"),
    ],
)
def test_bad_event_data_is_invalid_input(order: Order, data: dict[str, str], field: str) -> None:
    """Blank, missing or unknown keyword data is invalid input naming the keyword."""
    before = snapshot(order)
    with pytest.raises(InvalidInput) as info:
        order.fire("dispatch", at=t(1), **data)
    assert info.value.field == field
    assert snapshot(order) == before


@pytest.mark.parametrize("amount", [10.5, "ten", "10.005", Decimal("NaN"), 10])
def test_bad_amounts_are_invalid_input(amount: object) -> None:
    """Floats, non-decimals and amounts finer than the minor unit are invalid input."""
    order = reach("delivered")
    with pytest.raises(InvalidInput) as info:
        order.fire("offer_goodwill_refund", at=t(5), amount=amount)
    assert info.value.field == "amount"


def test_unknown_event_is_invalid_input(order: Order) -> None:
    """An unknown event name is invalid input, not a refusal."""
    with pytest.raises(InvalidInput) as info:
        order.fire("ship_it", at=t(1))
    assert info.value.field == "event"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("  ", "1.00", "USD"), "order_id"),
        (("AE-1", "0.00", "USD"), "amount"),
        (("AE-1", "-1.00", "USD"), "amount"),
        (("AE-1", "1.00", " "), "currency"),
        (("AE-1", "1.00", "usd"), "currency"),
    ],
)
def test_create_refuses_bad_input(args: tuple[str, str, str], field: str) -> None:
    """Order.create: blank id, non-positive amount or blank currency are invalid input."""
    with pytest.raises(InvalidInput) as info:
        Order.create(*args, PAID_AT)
    assert info.value.field == field


def test_history_keeps_every_applied_event_with_its_data() -> None:
    """History records event, source, dest, at, event_id and the data that mattered."""
    order = reach("refund_pending:claim")
    record = order.history[-1]
    assert (record.event, record.source, record.dest) == (
        "open_claim",
        "delivered",
        "refund_pending",
    )
    assert record.data["amount"] == "40.00"
    assert record.data["reason"] == "damaged_in_transit"
    assert record.data["blame"] == "supplier"
    assert [h.event for h in order.history] == ["dispatch", "confirm_delivery", "open_claim"]


def test_r9_ledgers_record_who_funds_each_refund() -> None:
    """R9: settled refunds keep who funds them; reimbursements are the merchant's money."""
    supplier = reach("cancelled")
    supplier.reimburse_customer(amount="100.00", at=t(5))
    assert [(e.reason, e.blame) for e in supplier.refunds] == [("cancellation", "supplier")]
    assert [(e.reason, e.blame) for e in supplier.customer_refunds] == [
        ("cancellation", "merchant")
    ]
    merchant = reach("delivered")
    merchant.open_claim(reason="not_as_described", amount="30.00", listing_altered=True, at=t(5))
    merchant.settle_refund(at=t(6))
    assert [(e.amount, e.blame) for e in merchant.refunds] == [(Decimal("30.00"), "merchant")]


# --------------------------------------------------------------------------------------------
# Text a store cannot keep is refused at the boundary

BAD_TEXT = st.one_of(
    st.text(min_size=1, max_size=8).map(lambda t: t + "\x00"),
    st.text(max_size=8).map(lambda t: "id" + t + "\ud800"),
    st.just("x" * (MAX_TEXT_LENGTH + 1)),
)


@settings(max_examples=150, deadline=None)
@given(BAD_TEXT, st.sampled_from(["order_id", "event_id", "tracking_number", "reason"]))
def test_text_no_store_can_keep_is_invalid_input(text: str, field: str) -> None:
    """R15 R8: a NUL, a lone surrogate or over-long text in an id or text data is InvalidInput
    naming the field, before anything changes; never UnicodeEncodeError from a store later."""
    if field == "order_id":
        with pytest.raises(InvalidInput) as caught:
            Order.create(text, "10.00", "USD", PAID_AT)
        assert caught.value.field == "order_id"
        return
    order = reach("delivered") if field == "reason" else new_order()
    before = order.to_dict()
    event, kwargs = {
        "event_id": ("withdraw_cancellation", {"event_id": text}),
        "tracking_number": ("dispatch", {"tracking_number": text}),
        "reason": ("open_claim", {"reason": text, "amount": "1.00"}),
    }[field]
    with pytest.raises(InvalidInput) as caught:
        order.fire(event, at=t(5), **kwargs)
    assert caught.value.field == field
    assert order.to_dict() == before


def test_id_length_limit_is_the_documented_one() -> None:
    """R15: ids up to MAX_ID_LENGTH characters are kept, one more is InvalidInput; the README
    states the limits."""
    longest = "A" * MAX_ID_LENGTH
    order = Order.create(longest, "10.00", "USD", PAID_AT)
    order.dispatch(tracking_number="LP1", at=t(1), event_id=longest)
    assert order.history[-1].event_id == longest
    with pytest.raises(InvalidInput, match=f"at most {MAX_ID_LENGTH}"):
        Order.create(longest + "A", "10.00", "USD", PAID_AT)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"{MAX_ID_LENGTH} characters" in readme and f"{MAX_TEXT_LENGTH} characters" in readme


@pytest.mark.parametrize("key", ["event_name", "self", "colour"])
def test_event_data_named_like_a_parameter_is_invalid_input(key: str) -> None:
    """R15: a JSON payload spread into fire() whose key collides with fire's own parameter
    names is InvalidInput naming the key, not a TypeError."""
    order = new_order()
    with pytest.raises(InvalidInput) as caught:
        order.fire("dispatch", at=t(1), tracking_number="LP1", **{key: "x"})
    assert caught.value.field == key
