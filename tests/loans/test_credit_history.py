"""A member's credit history and grade, read before a new loan."""
from datetime import date
from decimal import Decimal

import pytest

from loans import services
from loans.credit import credit_history, grade
from shg.extensions import db

D = Decimal


@pytest.fixture
def officer(create_user):
    return create_user("admin")


def test_history_lists_every_installment_with_due_date_paid_date_and_days_late(
        create_member, create_loan, officer):
    member = create_member(full_name="Гүлнара Өмүрбекова")
    loan = create_loan(member=member, principal=D("1200.00"), installments=3, rate=D("12"))
    services.post_repayment(loan, D("412.00"), date(2024, 2, 10), by=officer)   # on time
    services.post_repayment(loan, D("412.00"), date(2024, 3, 25), by=officer)   # 15 days late
    db.session.commit()
    history = credit_history(member.id, as_of=date(2024, 4, 20))
    rows = history.loans[0].installments
    assert [(r.number, r.due_on, r.paid_on, r.days_late) for r in rows] == [
        (1, date(2024, 2, 10), date(2024, 2, 10), 0),
        (2, date(2024, 3, 10), date(2024, 3, 25), 15),
        (3, date(2024, 4, 10), None, 10)]
    assert history.fallen_due == D("1236.00")
    assert history.paid_on_time == D("412.00")
    assert history.on_time_rate == D("412.00") / D("1236.00")
    assert history.worst_days_past_due == 15
    assert history.current_days_past_due == 10
    assert history.current_arrears == D("412.00")
    assert history.grade == "C"  # less than 80 % paid on time


def test_member_who_always_paid_on_time_is_graded_a(create_member, create_loan, officer):
    member = create_member()
    loan = create_loan(member=member, principal=D("1200.00"), installments=3, rate=D("12"))
    for day in (date(2024, 2, 8), date(2024, 3, 10), date(2024, 4, 9)):
        services.post_repayment(loan, D("412.00"), day, by=officer)
    history = credit_history(member.id, as_of=date(2024, 6, 1))
    assert history.grade == "A" and history.on_time_rate == 1
    assert history.loans[0].loan.status == "closed"


def test_written_off_loan_makes_the_grade_d_and_is_counted(create_member, create_loan, officer):
    member = create_member()
    loan = create_loan(member=member, principal=D("1200.00"), installments=3, rate=D("12"))
    services.write_off(loan, date(2024, 5, 1), "left for Russia, no contact", by=officer)
    history = credit_history(member.id, as_of=date(2024, 6, 1))
    assert history.written_off_count == 1
    assert history.written_off_amount == D("1200.00")
    assert history.grade == "D"


def test_new_borrower_has_no_grade_yet(create_member, create_loan):
    member = create_member()
    create_loan(member=member, disbursed_on=date(2024, 1, 10))
    assert credit_history(member.id, as_of=date(2024, 1, 20)).grade is None


@pytest.mark.parametrize("rate, worst, current, written_off, expected", [
    (D("1"), 0, 0, 0, "A"), (D("0.96"), 7, 0, 0, "A"), (D("0.94"), 0, 0, 0, "B"),
    (D("1"), 8, 0, 0, "B"), (D("0.79"), 0, 0, 0, "C"), (D("1"), 31, 0, 0, "C"),
    (D("1"), 91, 0, 0, "D"), (D("1"), 10, 31, 0, "D"), (D("1"), 0, 0, 1, "D"),
])
def test_grade_follows_the_written_rule(rate, worst, current, written_off, expected):
    assert grade(rate, worst, current, written_off, True)[0] == expected
