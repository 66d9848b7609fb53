"""A member's credit history: every loan, every installment, and the grade a loan officer
reads before a new loan. One function; the page, the API and the statement PDF call it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from loans import services
from loans.ledger import Position
from loans.models import Installment, Loan
from shg.extensions import db
from shg.timeutil import today

#: The rule, as the page prints it. Checked top to bottom; the first that holds gives the grade.
GRADE_RULES = (
    ("D", _l("a loan written off, more than 90 days late at any time, or more than 30 days late now")),
    ("C", _l("more than 30 days late at some time, or less than 80 percent of what fell due paid on time")),
    ("B", _l("more than 7 days late at some time, or less than 95 percent of what fell due paid on time")),
    ("A", _l("never more than 7 days late, and 95 percent or more of what fell due paid on time")),
)


@dataclass(frozen=True)
class InstallmentRecord:
    #: the schedule version (1, then 2 after a reschedule …)
    version: int
    number: int
    due_on: date
    amount_due: Decimal
    paid: Decimal
    #: the day it was fully paid, or None
    paid_on: Optional[date]
    #: days after the due date it was paid (or, unpaid and due, has been waiting)
    days_late: int
    #: part of it paid on or before its due date
    paid_by_due_date: Decimal


@dataclass(frozen=True)
class LoanRecord:
    loan: Loan
    position: Position
    installments: list[InstallmentRecord]


@dataclass(frozen=True)
class CreditHistory:
    as_of: date
    loans: list[LoanRecord]
    fallen_due: Decimal
    paid_on_time: Decimal
    on_time_rate: Optional[Decimal]
    worst_days_past_due: int
    current_days_past_due: int
    current_arrears: Decimal
    written_off_count: int
    written_off_amount: Decimal
    grade: Optional[str]
    grade_reason: str


def grade(on_time_rate: Optional[Decimal], worst_dpd: int, current_dpd: int,
          written_off: int, has_due: bool) -> tuple[Optional[str], str]:
    """The grade A-D by GRADE_RULES; None for a member with nothing fallen due yet."""
    if not has_due and not written_off:
        return None, str(_l("no installment has fallen due yet"))
    rate = on_time_rate if on_time_rate is not None else Decimal(1)
    if written_off or worst_dpd > 90 or current_dpd > 30:
        return GRADE_RULES[0][0], str(GRADE_RULES[0][1])
    if worst_dpd > 30 or rate < Decimal("0.80"):
        return GRADE_RULES[1][0], str(GRADE_RULES[1][1])
    if worst_dpd > 7 or rate < Decimal("0.95"):
        return GRADE_RULES[2][0], str(GRADE_RULES[2][1])
    return GRADE_RULES[3][0], str(GRADE_RULES[3][1])


def credit_history(member_id: int, as_of: Optional[date] = None) -> CreditHistory:
    """Every loan of the member with every installment of its schedule in force."""
    as_of = as_of or today()
    loans = db.session.scalars(
        select(Loan).where(Loan.member_id == member_id, Loan.disbursed_on.is_not(None),
                           Loan.disbursed_on <= as_of)
        .options(selectinload(Loan.installments_all), selectinload(Loan.repayments))
        .order_by(Loan.disbursed_on, Loan.id)).all()
    records, fallen_due, on_time = [], Decimal("0.00"), Decimal("0.00")
    worst = current = 0
    arrears = Decimal("0.00")
    written_off, written_off_amount = 0, Decimal("0.00")
    for loan in loans:
        position = services.position(loan, as_of)
        rows = []
        numbers = {i.id: (i.version, i.number, i.superseded_on) for i in loan.installments_all}
        # every schedule version: a rescheduled loan keeps its old installments in history
        states = [s for book, _ in services.replay(loan).values() for s in book.states]
        for state in states:
            line = state.line
            paid_on = state.paid_on()
            if paid_on is not None and paid_on > as_of:
                paid_on = None
            superseded = numbers[line.key][2]
            until = min(as_of, superseded) if superseded else as_of
            if paid_on is not None:
                late = max(0, (paid_on - line.due_on).days)
            else:
                late = max(0, (until - line.due_on).days)
            rows.append(InstallmentRecord(
                version=numbers[line.key][0], number=numbers[line.key][1], due_on=line.due_on, amount_due=line.total,
                paid=line.total - state.unpaid(by=as_of), paid_on=paid_on, days_late=late,
                paid_by_due_date=line.total - state.unpaid(by=line.due_on)))
            by_due = line.total - state.unpaid(by=line.due_on)
            if line.due_on < until:
                # what a reschedule carried to the new schedule falls due there, not here
                fallen_due += line.total if not superseded else line.total - state.unpaid(by=until)
                on_time += by_due
            worst = max(worst, late)
        if loan.written_off_on and loan.written_off_on <= as_of:
            written_off += 1
            written_off_amount += services.position(loan, loan.written_off_on).outstanding_principal
        else:  # on the as-of day the loan was still out (also if written off since)
            current = max(current, position.days_past_due)
            arrears += position.arrears
        records.append(LoanRecord(loan, position, rows))
    rate = (on_time / fallen_due) if fallen_due else None
    letter, reason = grade(rate, worst, current, written_off, bool(fallen_due))
    return CreditHistory(as_of=as_of, loans=records, fallen_due=fallen_due, paid_on_time=on_time,
                         on_time_rate=rate, worst_days_past_due=worst,
                         current_days_past_due=current, current_arrears=arrears,
                         written_off_count=written_off, written_off_amount=written_off_amount,
                         grade=letter, grade_reason=reason)
