"""The morning digest's figures from what the postings keep equal the replayed position."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from loans import services
from loans.portfolio import late_today
from shg.extensions import db
from shg.timeutil import today


def test_days_late_and_arrears_from_the_stored_amounts_equal_the_position(
        app, create_loan, create_user):
    officer = create_user("admin")
    day = today()
    never_paid = create_loan(disbursed_on=day - timedelta(days=100))
    partly = create_loan(disbursed_on=day - timedelta(days=100))
    services.post_repayment(partly, Decimal("1500.00"), day - timedelta(days=20), by=officer)
    ahead = create_loan(disbursed_on=day - timedelta(days=40))
    services.post_repayment(ahead, Decimal("2480.00"), day - timedelta(days=35), by=officer)
    rescheduled = create_loan(disbursed_on=day - timedelta(days=130))
    services.post_repayment(rescheduled, Decimal("700.00"), day - timedelta(days=60), by=officer)
    services.reschedule(rescheduled, day - timedelta(days=50), {"installments": 6}, by=officer)
    fresh = create_loan(disbursed_on=day - timedelta(days=5))
    db.session.commit()
    loans = [never_paid, partly, ahead, rescheduled, fresh]

    for on in (day, day + timedelta(days=9)):
        stored = late_today(loans, on)
        for loan in loans:
            position = services.position(loan, on)
            assert (stored[loan.id].days_past_due, stored[loan.id].arrears) == \
                (position.days_past_due, position.arrears), (loan.id, on)
    assert late_today(loans)[never_paid.id].days_past_due > 60
    assert late_today(loans)[ahead.id].days_past_due == 0


def test_a_past_day_is_refused(app, create_loan):
    with pytest.raises(ValueError):
        late_today([create_loan()], today() - timedelta(days=1))
