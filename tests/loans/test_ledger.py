"""The replay ledger on its own: allocation order, penalties, days past due, buckets."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from loans.ledger import Ledger, Line, Overpaid, Payment, PenaltyRule, par_bucket, replay

D = Decimal


def three_lines():
    return [Line(1, date(2024, 2, 10), D("400.00"), D("12.00")),
            Line(2, date(2024, 3, 10), D("400.00"), D("12.00")),
            Line(3, date(2024, 4, 10), D("400.00"), D("12.00"), fee=D("5.00"))]


def test_allocation_follows_the_product_order_installment_by_installment():
    _, allocated = replay(three_lines(), [Payment(1, date(2024, 2, 1), D("500.00"))],
                          order=("penalty", "fee", "interest", "principal"))
    assert [(a.line_key, a.component, a.amount) for a in allocated] == [
        (1, "interest", D("12.00")), (1, "principal", D("400.00")),
        (2, "interest", D("12.00")), (2, "principal", D("76.00"))]


def test_principal_first_order_is_honoured():
    _, allocated = replay(three_lines(), [Payment(1, date(2024, 2, 1), D("405.00"))],
                          order=("principal", "interest", "fee", "penalty"))
    assert [(a.line_key, a.component, a.amount) for a in allocated] == [
        (1, "principal", D("400.00")), (1, "interest", D("5.00"))]


def test_payment_larger_than_everything_owed_is_refused():
    book = Ledger(three_lines())
    with pytest.raises(Overpaid) as refused:
        book.pay(Payment(1, date(2024, 2, 1), D("1241.01")))
    assert refused.value.owed == D("1241.00")


def test_flat_penalty_is_charged_once_after_the_grace_days():
    rule = PenaltyRule(method="flat", amount=D("50.00"), grace_days=3)
    book = Ledger(three_lines(), rule)
    assert book.position(date(2024, 2, 13)).penalty_due == D("0.00")
    assert book.position(date(2024, 2, 14)).penalty_due == D("50.00")
    assert book.position(date(2024, 3, 9)).penalty_due == D("50.00")


def test_percent_penalty_is_charged_each_period_on_what_is_still_unpaid():
    rule = PenaltyRule(method="percent", rate=D("2"), grace_days=0, frequency="month")
    book = Ledger(three_lines(), rule)
    allocated = book.pay(Payment(1, date(2024, 2, 20), D("212.00")))
    # 10 Feb: 412.00 unpaid -> 8.24, paid first on 20 Feb; 191.76 then goes to principal
    assert [(a.component, a.amount) for a in allocated] == [
        ("penalty", D("8.24")), ("interest", D("12.00")), ("principal", D("191.76"))]
    # 10 Mar: line 1 still owes 208.24 -> 4.16; line 2 owes 412.00 -> 8.24
    position = book.position(date(2024, 3, 11))
    assert position.penalty_due == D("12.40")
    assert position.days_past_due == 30


def test_days_past_due_counts_from_the_oldest_unpaid_installment():
    book, _ = replay(three_lines(), [Payment(1, date(2024, 3, 1), D("412.00"))])
    assert book.position(date(2024, 3, 10)).days_past_due == 0
    assert book.position(date(2024, 3, 11)).days_past_due == 1
    assert book.position(date(2024, 4, 11)).days_past_due == 32
    assert book.position(date(2024, 4, 11)).arrears == D("829.00")


@pytest.mark.parametrize("days, bucket", [(0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
                                          (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+")])
def test_par_buckets_have_their_edges_where_the_programme_draws_them(days, bucket):
    assert par_bucket(days) == bucket


amounts = st.decimals(min_value=D("0.01"), max_value=D("600.00"), places=2)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), amounts), min_size=1, max_size=8),
       st.sampled_from([PenaltyRule(), PenaltyRule("flat", amount=D("25")),
                        PenaltyRule("percent", rate=D("1.5"), grace_days=2)]))
def test_every_cent_paid_is_allocated_once_and_nothing_is_overpaid(payments, rule):
    book = Ledger(three_lines(), rule)
    start = date(2024, 1, 15)
    total_paid = D("0")
    for key, (offset, amount) in enumerate(sorted(payments), start=1):
        payment = Payment(key, start + timedelta(days=offset), amount)
        try:
            allocated = book.pay(payment)
        except Overpaid:
            continue
        assert sum(a.amount for a in allocated) == amount
        total_paid += amount
    for state in book.states:
        for component in ("principal", "interest", "fee"):
            assert D("0") <= state.paid(component) <= getattr(state.line, component)
    assert sum(s.paid(c) for s in book.states for c in ("principal", "interest", "fee", "penalty")) \
        == total_paid
    outstanding = book.position(date(2025, 1, 1)).outstanding_principal
    assert outstanding == D("1200.00") - sum(s.paid("principal") for s in book.states)
