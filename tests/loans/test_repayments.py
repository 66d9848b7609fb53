"""The loan's life through the services: disbursement, repayments, allocation, reversal."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from loans import services
from loans.models import Allocation, Installment, Repayment
from shg.errors import Invalid
from shg.extensions import db

D = Decimal


@pytest.fixture
def officer(create_user):
    return create_user("admin")


def snapshot(loan):
    """Everything about a loan's standing that a reversal must restore."""
    db.session.expire_all()
    rows = db.session.scalars(select(Installment).where(Installment.loan_id == loan.id)
                              .order_by(Installment.version, Installment.number)).all()
    return (loan.status, loan.closed_on, loan.outstanding_principal, loan.oldest_unpaid_due_on,
            [(i.principal_paid, i.interest_paid, i.fee_paid, i.penalty_paid, i.paid_on) for i in rows])


def test_disbursement_fixes_a_schedule_whose_principal_sums_to_the_loan(create_loan):
    loan = create_loan(principal=D("12000.00"), installments=12, rate=D("24"))
    assert loan.status == "disbursed"
    assert len(loan.schedule) == 12
    assert sum(i.principal for i in loan.schedule) == D("12000.00")
    assert loan.schedule[0].due_on == date(2024, 2, 10)
    assert loan.schedule[0].interest == D("240.00")  # flat 24 % a year on 12,000: 240 a month
    assert loan.outstanding_principal == D("12000.00")


def test_repayment_pays_interest_then_principal_oldest_installment_first(create_loan, officer):
    loan = create_loan(principal=D("12000.00"), installments=12, rate=D("24"))
    repayment = services.post_repayment(loan, D("1500.00"), date(2024, 3, 10), by=officer,
                                        receipt_no="A-17")
    db.session.commit()
    got = [(a.installment.number, a.component, a.amount) for a in repayment.allocations]
    assert got == [(1, "interest", D("240.00")), (1, "principal", D("1000.00")),
                   (2, "interest", D("240.00")), (2, "principal", D("20.00"))]
    first, second = loan.schedule[:2]
    assert first.paid_on == date(2024, 3, 10) and second.paid_on is None
    assert loan.outstanding_principal == D("10980.00")
    assert loan.oldest_unpaid_due_on == date(2024, 3, 10)


def test_partial_payment_leaves_the_installment_late_from_its_due_date(create_loan, officer):
    loan = create_loan(principal=D("12000.00"), installments=12, rate=D("24"))
    services.post_repayment(loan, D("1000.00"), date(2024, 2, 10), by=officer)
    position = services.position(loan, date(2024, 3, 1))
    assert position.days_past_due == 20  # 1 March - 10 February
    assert position.arrears == D("240.00")  # 1,240 fell due, 1,000 paid
    assert position.bucket == "1-30"
    on_time = services.position(loan, date(2024, 2, 10))
    assert on_time.days_past_due == 0  # due today is not late


def test_days_past_due_is_read_as_of_any_date(create_loan, officer):
    loan = create_loan(principal=D("12000.00"), installments=12, rate=D("24"))
    services.post_repayment(loan, D("1240.00"), date(2024, 2, 9), by=officer)
    services.post_repayment(loan, D("1240.00"), date(2024, 5, 20), by=officer)
    assert services.position(loan, date(2024, 3, 11)).days_past_due == 1
    assert services.position(loan, date(2024, 5, 19)).days_past_due == 70
    assert services.position(loan, date(2024, 5, 19)).bucket == "61-90"
    # the payment of 20 May covers March; April and May stay unpaid
    assert services.position(loan, date(2024, 5, 20)).days_past_due == 40
    assert services.position(loan, date(2024, 5, 20)).arrears == D("2480.00")


def test_overpayment_is_refused_and_nothing_is_written(create_loan, officer):
    loan = create_loan(principal=D("1200.00"), installments=3, rate=D("12"))
    owed = sum(i.total for i in loan.schedule)
    with pytest.raises(Invalid) as refused:
        services.post_repayment(loan, owed + D("0.01"), date(2024, 2, 1), by=officer)
    assert "more than she owes" in refused.value.errors["amount"][0]
    db.session.rollback()
    assert db.session.scalar(select(func.count(Repayment.id))) == 0
    assert db.session.scalar(select(func.count(Allocation.id))) == 0


@pytest.mark.parametrize("amount, paid_on, field", [
    (D("100"), date(2024, 1, 9), "paid_on"),      # before disbursement
    (D("100"), date(2099, 1, 1), "paid_on"),      # in the future
    (D("0"), date(2024, 2, 1), "amount"),
    (D("-5"), date(2024, 2, 1), "amount"),
    (D("1.005"), date(2024, 2, 1), "amount"),
])
def test_bad_repayment_is_refused_with_its_field(create_loan, officer, amount, paid_on, field):
    loan = create_loan()
    with pytest.raises(Invalid) as refused:
        services.post_repayment(loan, amount, paid_on, by=officer)
    assert field in refused.value.errors


def test_full_repayment_closes_the_loan_and_a_later_payment_is_refused(create_loan, officer):
    loan = create_loan(principal=D("1200.00"), installments=3, rate=D("12"))
    owed = sum(i.total for i in loan.schedule)
    services.post_repayment(loan, owed, date(2024, 2, 1), by=officer)
    assert loan.status == "closed" and loan.closed_on == date(2024, 2, 1)
    assert loan.outstanding_principal == D("0.00")
    with pytest.raises(Invalid) as refused:
        services.post_repayment(loan, D("10"), date(2024, 2, 2), by=officer)
    assert "loan" in refused.value.errors


def test_reversal_returns_the_loan_exactly_to_its_earlier_state(create_loan, officer):
    loan = create_loan(principal=D("12000.00"), installments=12, rate=D("24"))
    services.post_repayment(loan, D("1240.00"), date(2024, 2, 10), by=officer)
    db.session.commit()
    before = snapshot(loan)
    wrong = services.post_repayment(loan, D("5000.00"), date(2024, 3, 1), by=officer)
    services.post_repayment(loan, D("300.00"), date(2024, 3, 5), by=officer)
    db.session.commit()
    services.reverse_repayment(wrong, "typed 5000 instead of 500", by=officer)
    db.session.commit()
    after = snapshot(loan)
    assert wrong.reversed_at is not None and wrong.reversal_reason
    assert db.session.get(Repayment, wrong.id) is not None  # never deleted
    assert after[2] == D("12000.00") - D("1000.00") - (D("300.00") - D("240.00"))
    # and reversing the 300 too gives back exactly the state before the wrong payment
    three_hundred = [r for r in loan.repayments if r.amount == D("300.00")][0]
    services.reverse_repayment(three_hundred, "duplicate", by=officer)
    db.session.commit()
    assert snapshot(loan) == before


def test_reversing_the_payment_that_closed_a_loan_reopens_it(create_loan, officer):
    loan = create_loan(principal=D("1200.00"), installments=3, rate=D("12"))
    owed = sum(i.total for i in loan.schedule)
    payment = services.post_repayment(loan, owed, date(2024, 2, 1), by=officer)
    services.reverse_repayment(payment, "bounced", by=officer)
    assert loan.status == "disbursed" and loan.closed_on is None
    assert loan.outstanding_principal == D("1200.00")


def test_reversal_needs_a_reason_and_happens_once(create_loan, officer):
    loan = create_loan()
    payment = services.post_repayment(loan, D("100"), date(2024, 2, 1), by=officer)
    with pytest.raises(Invalid):
        services.reverse_repayment(payment, "  ", by=officer)
    services.reverse_repayment(payment, "wrong member", by=officer)
    with pytest.raises(Invalid):
        services.reverse_repayment(payment, "again", by=officer)


def test_percent_penalty_after_grace_days_is_paid_first(create_loan, officer):
    loan = create_loan(principal=D("1200.00"), installments=3, rate=D("12"), method="flat",
                       penalty_method="percent", penalty_rate=D("1"), penalty_grace_days=5)
    # installment 1: 400 + 12 = 412 due 10 Feb; unpaid after 15 Feb: 1 % = 4.12
    assert services.position(loan, date(2024, 2, 15)).penalty_due == D("0.00")
    assert services.position(loan, date(2024, 2, 16)).penalty_due == D("4.12")
    payment = services.post_repayment(loan, D("100.00"), date(2024, 2, 20), by=officer)
    assert [(a.component, a.amount) for a in payment.allocations][:2] == [
        ("penalty", D("4.12")), ("interest", D("12.00"))]


def test_payment_within_the_penalty_grace_days_is_not_penalised(create_loan, officer):
    loan = create_loan(principal=D("1200.00"), installments=3, rate=D("12"),
                       penalty_method="flat", penalty_amount=D("50"), penalty_grace_days=3)
    services.post_repayment(loan, D("412.00"), date(2024, 2, 13), by=officer)
    assert services.position(loan, date(2024, 3, 1)).penalty_due == D("0.00")


def test_write_off_needs_a_reason(create_loan, officer):
    loan = create_loan()
    with pytest.raises(Invalid):
        services.write_off(loan, date(2024, 6, 1), "", by=officer)
    services.write_off(loan, date(2024, 6, 1), "member emigrated", by=officer)
    assert loan.status == "written_off"
    with pytest.raises(Invalid):
        services.post_repayment(loan, D("10"), date(2024, 6, 2), by=officer)


def test_reschedule_keeps_the_old_schedule_and_carries_what_is_owed(create_loan, officer):
    loan = create_loan(principal=D("12000.00"), installments=12, rate=D("24"))
    services.post_repayment(loan, D("1240.00"), date(2024, 2, 10), by=officer)
    services.reschedule(loan, date(2024, 4, 1), {"installments": 6}, by=officer)
    old = [i for i in loan.installments_all if i.version == 1]
    new = loan.schedule
    assert len(old) == 12 and all(i.superseded_on == date(2024, 4, 1) for i in old)
    assert loan.restructured and loan.schedule_version == 2 and len(new) == 6
    assert sum(i.principal for i in new) == D("11000.00")
    # March's 240 of interest fell due unpaid and is carried to the first new installment
    assert new[0].interest - new[1].interest == D("240.00")
    assert loan.outstanding_principal == D("11000.00")
