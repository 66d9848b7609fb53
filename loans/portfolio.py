"""Portfolio figures and the morning overdue list, from the same positions as every page.

Figures are per currency: a portfolio in KGS and one in TJS are never added together here
(roll-ups across currencies use the project office's exchange rates, in reports).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Optional

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from loans import services
from loans.ledger import BUCKETS, Position
from loans.models import Loan
from shg.accounts import access
from shg.extensions import db
from shg.registry.models import District, Group, Member, Region, Village
from shg.timeutil import today

ZERO = Decimal("0.00")


@dataclass
class Figures:
    currency: str
    disbursed_count: int = 0
    disbursed_amount: Decimal = ZERO
    #: gender -> [count, amount] of loans disbursed in the period
    disbursed_by_gender: dict = field(default_factory=lambda: {"female": [0, ZERO], "male": [0, ZERO]})
    active_loans: int = 0
    gross_outstanding: Decimal = ZERO
    at_risk_30: Decimal = ZERO
    #: bucket -> [loans, outstanding principal]
    buckets: dict = field(default_factory=lambda: {b: [0, ZERO] for b in BUCKETS})
    fallen_due: Decimal = ZERO
    paid_on_time: Decimal = ZERO
    paid: Decimal = ZERO
    written_off_count: int = 0
    written_off_amount: Decimal = ZERO

    @property
    def par30(self) -> Optional[Decimal]:
        """Outstanding principal of loans more than 30 days late (and restructured ones, by
        the setting) over the gross outstanding principal; None with nothing outstanding."""
        return self.at_risk_30 / self.gross_outstanding if self.gross_outstanding else None

    @property
    def on_time_rate(self) -> Optional[Decimal]:
        return self.paid_on_time / self.fallen_due if self.fallen_due else None

    @property
    def collection_rate(self) -> Optional[Decimal]:
        return self.paid / self.fallen_due if self.fallen_due else None


def _scoped(query, user=None, group_id=None, village_id=None, district_id=None, country_id=None):
    query = query.join(Group, Loan.group_id == Group.id).join(Village).join(District).join(Region)
    if user is not None:
        query = access.scope(query, user, Village.district_id)
    if group_id:
        query = query.where(Loan.group_id == group_id)
    if village_id:
        query = query.where(Group.village_id == village_id)
    if district_id:
        query = query.where(Village.district_id == district_id)
    if country_id:
        query = query.where(Region.country_id == country_id)
    return query


def portfolio(as_of: Optional[date] = None, period_start: Optional[date] = None, user=None,
              group_id=None, village_id=None, district_id=None, country_id=None,
              restructured_at_risk: Optional[bool] = None) -> dict[str, Figures]:
    """The portfolio of a group, village, district or country on a day, per currency.

    ``period_start``: loans disbursed and amounts fallen due are counted from this day
    (default: from the start); outstanding and PAR are as of ``as_of``.
    """
    as_of = as_of or today()
    if restructured_at_risk is None:
        restructured_at_risk = current_app.config.get("PAR_COUNTS_RESTRUCTURED", True)
    query = _scoped(select(Loan), user, group_id, village_id, district_id, country_id).where(
        Loan.disbursed_on.is_not(None), Loan.disbursed_on <= as_of)
    query = query.options(selectinload(Loan.installments_all), selectinload(Loan.repayments),
                          selectinload(Loan.member)).order_by(Loan.id)
    result: dict[str, Figures] = {}
    for loan in db.session.scalars(query):
        figures = result.setdefault(loan.currency, Figures(loan.currency))
        if period_start is None or loan.disbursed_on >= period_start:
            figures.disbursed_count += 1
            figures.disbursed_amount += loan.principal
            gender = figures.disbursed_by_gender.setdefault(loan.member.gender, [0, ZERO])
            gender[0] += 1
            gender[1] += loan.principal
        books = services.replay(loan)
        position = services.position(loan, as_of)
        if loan.written_off_on and loan.written_off_on <= as_of:
            figures.written_off_count += 1
            figures.written_off_amount += services.position(loan, loan.written_off_on).outstanding_principal
            continue
        superseded_on = {i.id: i.superseded_on for i in loan.installments_all}
        for book, _ in books.values():
            for state in book.states:
                line = state.line
                superseded = superseded_on[line.key]
                until = min(as_of, superseded) if superseded else as_of
                if line.due_on >= until or (period_start and line.due_on < period_start):
                    continue
                due = line.total if not superseded else line.total - state.unpaid(by=until)
                figures.fallen_due += due
                figures.paid_on_time += line.total - state.unpaid(by=line.due_on)
                figures.paid += min(due, line.total - state.unpaid(by=as_of))
        if position.outstanding_principal <= 0:
            continue
        figures.active_loans += 1
        figures.gross_outstanding += position.outstanding_principal
        bucket = figures.buckets[position.bucket]
        bucket[0] += 1
        bucket[1] += position.outstanding_principal
        if position.days_past_due > 30 or (restructured_at_risk and loan.restructured):
            figures.at_risk_30 += position.outstanding_principal
    return result


# ---------------------------------------------------------------- the overdue worklist


@dataclass(frozen=True)
class OverdueRow:
    loan: Loan
    position: Position

    @property
    def member(self):
        return self.loan.member


BUCKET_DAYS = {"1-30": (1, 30), "31-60": (31, 60), "61-90": (61, 90), "90+": (91, None)}


def overdue_query(user, village_id=None, group_id=None, district_id=None, bucket=None,
                  as_of: Optional[date] = None):
    """Loans in arrears today in the user's districts, the longest late first.

    Reads the due date of the oldest unpaid installment that every posting keeps on the loan,
    so the list needs no schedule scan: the page a loan officer opens every morning. That
    date counts every payment recorded so far, so ``as_of`` is today or later; a loan's
    standing on an earlier day is ``services.position(loan, day)``.
    """
    if as_of is not None and as_of < today():
        raise ValueError("the overdue list is for today or later; use services.position "
                         "for a loan's standing on an earlier day")
    as_of = as_of or today()
    query = (select(Loan).join(Member, Loan.member_id == Member.id)
             .where(Loan.status == "disbursed", Loan.oldest_unpaid_due_on < as_of)
             .options(contains_eager(Loan.member))
             .order_by(Loan.oldest_unpaid_due_on, Loan.id))
    if group_id:
        query = query.where(Loan.group_id == group_id)
    # the places are joined only when something narrows by them: counting the admin's
    # pages of the whole programme then reads the loans alone
    if village_id or district_id or access.district_ids(user) is not None:
        query = query.join(Group, Loan.group_id == Group.id).join(Village)
        query = access.scope(query, user, Village.district_id)
        if village_id:
            query = query.where(Group.village_id == village_id)
        if district_id:
            query = query.where(Village.district_id == district_id)
    if bucket in BUCKET_DAYS:
        low, high = BUCKET_DAYS[bucket]
        query = query.where(Loan.oldest_unpaid_due_on <= as_of - timedelta(days=low))
        if high is not None:
            query = query.where(Loan.oldest_unpaid_due_on >= as_of - timedelta(days=high))
    return query


def overdue_rows(loans, as_of: Optional[date] = None) -> list[OverdueRow]:
    """One page of the worklist with each loan's position (days late, arrears, penalty).

    The page's schedules, repayments and places are read in a few queries, not per row.
    """
    as_of = as_of or today()
    loans = list(loans)
    if loans:
        db.session.scalars(
            select(Loan).where(Loan.id.in_([loan.id for loan in loans]))
            .options(selectinload(Loan.installments_all), selectinload(Loan.repayments),
                     selectinload(Loan.group).selectinload(Group.village)
                     .selectinload(Village.district))).all()
    return [OverdueRow(loan, services.position(loan, as_of)) for loan in loans]


@dataclass(frozen=True)
class LateToday:
    loan_id: int
    days_past_due: int
    #: fallen due and unpaid, penalties apart (``Position.arrears``)
    arrears: Decimal


def late_today(loans, as_of: Optional[date] = None) -> dict[int, LateToday]:
    """Days late and arrears of these loans on ``as_of`` (today or later), read from what
    every posting keeps (the loan's oldest unpaid due date, the installments' paid amounts)
    instead of replaying each loan: a whole district's overdue loans for the morning digest
    in one query. Equal to ``services.position(loan, as_of)`` on those days (tested); for an
    earlier day, or the penalty, use ``overdue_rows``."""
    from loans.models import Installment

    as_of = as_of or today()
    if as_of < today():
        raise ValueError("stored amounts count every payment so far: today or later only")
    loans = {loan.id: loan for loan in loans}
    arrears = {loan_id: Decimal("0.00") for loan_id in loans}
    ids = list(loans)
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            select(Installment.loan_id, Installment.principal, Installment.interest,
                   Installment.fee, Installment.principal_paid, Installment.interest_paid,
                   Installment.fee_paid)
            .join(Loan, Loan.id == Installment.loan_id)
            .where(Installment.loan_id.in_(ids[start:start + 500]),
                   Installment.version == Loan.schedule_version, Installment.due_on < as_of,
                   Installment.paid_on.is_(None)))
        for loan_id, principal, interest, fee, p_paid, i_paid, f_paid in rows:
            arrears[loan_id] += principal + interest + fee - p_paid - i_paid - f_paid
    result = {}
    for loan_id, loan in loans.items():
        oldest = loan.oldest_unpaid_due_on
        days = (as_of - oldest).days if oldest is not None and oldest < as_of else 0
        result[loan_id] = LateToday(loan_id, days, arrears[loan_id])
    return result
