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
from sqlalchemy import and_, case, func, or_, select
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
              restructured_at_risk: Optional[bool] = None, method: Optional[str] = None
              ) -> dict[str, Figures]:
    """The portfolio of a group, village, district or country on a day, per currency.

    ``period_start``: loans disbursed and amounts fallen due are counted from this day
    (default: from the start); outstanding and PAR are as of ``as_of``.

    Two ways to the same Figures (``method``): "replay" replays every loan's repayments
    over its schedules (``services.replay``), which answers for any day; "sql" adds up
    the columns every posting keeps current (``_rewrite``: the paid columns of each
    installment, the loan's outstanding principal and oldest unpaid due date, the
    allocations of repayments not reversed), which is right only on a day no record
    comes after: today or later (nothing is posted, reversed, rescheduled or written off
    in the future). By default "sql" is taken for today or later and "replay" for an
    earlier day; tests prove both give the same Figures.
    """
    as_of = as_of or today()
    if restructured_at_risk is None:
        restructured_at_risk = current_app.config.get("PAR_COUNTS_RESTRUCTURED", True)
    if method is None:
        method = "sql" if as_of >= today() else "replay"
    scope = dict(user=user, group_id=group_id, village_id=village_id, district_id=district_id,
                 country_id=country_id)
    if method == "sql":
        if as_of < today():
            raise ValueError("the stored figures are today's; replay for an earlier day")
        return _summed_portfolio(as_of, period_start, restructured_at_risk, **scope)
    if method != "replay":
        raise ValueError("method is 'sql' or 'replay'")
    return _replayed_portfolio(as_of, period_start, restructured_at_risk, **scope)


def _replayed_portfolio(as_of: date, period_start: Optional[date], restructured_at_risk: bool,
                        user=None, group_id=None, village_id=None, district_id=None,
                        country_id=None) -> dict[str, Figures]:
    """Every loan replayed: the position on any day."""
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


#: what ``portfolio_by`` can split a scope by: the loan's group, village, district, country
BY = {"group": Loan.group_id, "village": Group.village_id, "district": Village.district_id,
      "country": Region.country_id}


def _loans_in(scope: dict, as_of: date, by: Optional[str] = None):
    """The loans paid out by ``as_of`` in a scope (with the key they are split by), as a
    subquery."""
    columns = [Loan.id] + ([BY[by].label("key")] if by else [])
    return _scoped(select(*columns), **scope).where(Loan.disbursed_on.is_not(None),
                                                   Loan.disbursed_on <= as_of).subquery()


def portfolio_by(by: str, as_of: Optional[date] = None, period_start: Optional[date] = None,
                 restructured_at_risk: Optional[bool] = None, **scope
                 ) -> dict[int, dict[str, Figures]]:
    """``portfolio`` of each group, village, district or country of a scope at once (the
    rows of a summary's table), keyed by that place's id; places without a loan are left
    out. Today's figures are summed in one pass over the scope; an earlier day replays
    each part (as ``portfolio`` does)."""
    if by not in BY:
        raise ValueError(f"by is one of {tuple(BY)}")
    as_of = as_of or today()
    if restructured_at_risk is None:
        restructured_at_risk = current_app.config.get("PAR_COUNTS_RESTRUCTURED", True)
    if as_of >= today():
        return _summed_portfolio(as_of, period_start, restructured_at_risk, by=by, **scope)
    keys = db.session.scalars(select(_loans_in(scope, as_of, by).c.key).distinct())
    return {key: _replayed_portfolio(as_of, period_start, restructured_at_risk,
                                     **{**scope, f"{by}_id": key})
            for key in sorted(k for k in keys if k is not None)}


def combine(parts) -> dict[str, Figures]:
    """The portfolio of disjoint parts together (the villages of a district): counts and
    amounts add up, per currency; the rates follow from the sums."""
    result: dict[str, Figures] = {}
    for part in parts:
        for currency, f in part.items():
            total = result.setdefault(currency, Figures(currency))
            for name in ("disbursed_count", "disbursed_amount", "active_loans",
                         "gross_outstanding", "at_risk_30", "fallen_due", "paid_on_time", "paid",
                         "written_off_count", "written_off_amount"):
                setattr(total, name, getattr(total, name) + getattr(f, name))
            for gender, (count, amount) in f.disbursed_by_gender.items():
                mine = total.disbursed_by_gender.setdefault(gender, [0, ZERO])
                mine[0] += count
                mine[1] += amount
            for bucket, (count, amount) in f.buckets.items():
                total.buckets[bucket][0] += count
                total.buckets[bucket][1] += amount
    return dict(sorted(result.items()))


def _summed_portfolio(as_of: date, period_start: Optional[date], restructured_at_risk: bool,
                      by: Optional[str] = None, **scope):
    """Today's Figures from the stored columns, in a few aggregate queries (no replay);
    with ``by``, a dict of them per place of that level.

    Each sum is the replay's own, term by term (see ``_replayed_portfolio``):
    - a written-off loan counts its principal outstanding on the write-off day (the
      version in force that day, less the principal its live repayments paid by then),
      and nothing else;
    - an installment of any version counts once it fell due before ``as_of`` and before
      its version was superseded: the whole of it in force, what was paid on a superseded
      one (the rest was carried to the new schedule); ``paid`` is what its live
      repayments paid, ``paid_on_time`` what they paid by its due date;
    - a loan with principal outstanding is active, in the bucket of its oldest unpaid
      installment's lateness.
    """
    from loans.models import Allocation, Installment, Repayment
    loans = _loans_in(scope, as_of, by)
    keys = [loans.c.key] if by else []
    result: dict = {}

    def figures(row):
        key = row[0] if by else None
        currency = row[1] if by else row[0]
        return result.setdefault(key, {}).setdefault(currency, Figures(currency))

    def values(row):
        return list(row[2:] if by else row[1:])

    def total(value):
        return value if value is not None else ZERO

    def grouped(*columns):
        return (select(*keys, Loan.currency, *columns).join(loans, loans.c.id == Loan.id)
                .group_by(*keys, Loan.currency))

    # disbursed in the period, by the borrower's gender (and every currency seen)
    in_period = (Loan.disbursed_on >= period_start) if period_start is not None else None
    count = func.sum(case((in_period, 1), else_=0)) if in_period is not None else func.count(Loan.id)
    amount = (func.sum(case((in_period, Loan.principal), else_=None)) if in_period is not None
              else func.sum(Loan.principal))
    query = (grouped(Member.gender, count, amount).join(Member, Loan.member_id == Member.id)
             .group_by(Member.gender).order_by(*keys, Loan.currency, Member.gender))
    for row in db.session.execute(query):
        f = figures(row)
        gender, n, money = values(row)
        if not n:
            continue
        f.disbursed_count += int(n)
        f.disbursed_amount += total(money)
        part = f.disbursed_by_gender.setdefault(gender, [0, ZERO])
        part[0] += int(n)
        part[1] += total(money)

    written_off = and_(Loan.written_off_on.is_not(None), Loan.written_off_on <= as_of)

    # written off: the principal of the version in force on the day, less what was paid
    in_force = and_(Installment.in_force_from <= Loan.written_off_on,
                    or_(Installment.superseded_on.is_(None),
                        Loan.written_off_on < Installment.superseded_on))
    principal = dict(db.session.execute(
        select(Loan.id, func.sum(Installment.principal)).join(loans, loans.c.id == Loan.id)
        .join(Installment, Installment.loan_id == Loan.id).where(written_off, in_force)
        .group_by(Loan.id)).all())
    repaid = dict(db.session.execute(
        select(Loan.id, func.sum(Allocation.amount)).join(loans, loans.c.id == Loan.id)
        .join(Installment, Installment.loan_id == Loan.id)
        .join(Allocation, Allocation.installment_id == Installment.id)
        .join(Repayment, Allocation.repayment_id == Repayment.id)
        .where(written_off, in_force, Allocation.component == "principal",
               Repayment.reversed_at.is_(None), Repayment.paid_on <= Loan.written_off_on)
        .group_by(Loan.id)).all())
    for row in db.session.execute(select(*keys, Loan.currency, Loan.id)
                                  .join(loans, loans.c.id == Loan.id).where(written_off)
                                  .order_by(Loan.id)):
        f = figures(row)
        (loan_id,) = values(row)
        f.written_off_count += 1
        f.written_off_amount += total(principal.get(loan_id)) - total(repaid.get(loan_id))

    # fallen due, paid and paid on time, installment by installment
    fell_due = and_(~written_off, Installment.due_on < as_of,
                    or_(Installment.superseded_on.is_(None),
                        Installment.due_on < Installment.superseded_on))
    if period_start is not None:
        fell_due = and_(fell_due, Installment.due_on >= period_start)
    in_force_now = Installment.superseded_on.is_(None)
    # paid on time: all of an installment fully paid by its due date (its stored paid_on);
    # of the others, what their live repayments paid by the due date (allocations)
    on_time_whole = and_(Installment.paid_on.is_not(None), Installment.paid_on <= Installment.due_on)
    # a superseded installment fell due only by what was paid on it (the rest was carried)
    lines = grouped(*(func.sum(case((in_force_now, column), else_=None))
                      for column in (Installment.principal, Installment.interest, Installment.fee)),
                    *(func.sum(column) for column in (Installment.principal_paid,
                                                      Installment.interest_paid,
                                                      Installment.fee_paid)),
                    *(func.sum(case((in_force_now, None), else_=column))
                      for column in (Installment.principal_paid, Installment.interest_paid,
                                     Installment.fee_paid)),
                    *(func.sum(case((on_time_whole, column), else_=None))
                      for column in (Installment.principal, Installment.interest, Installment.fee))
                    ).join(Installment, Installment.loan_id == Loan.id).where(fell_due)
    for row in db.session.execute(lines):
        f = figures(row)
        amounts = [total(v) for v in values(row)]
        f.fallen_due += sum(amounts[:3], ZERO) + sum(amounts[6:9], ZERO)
        f.paid += sum(amounts[3:6], ZERO)
        f.paid_on_time += sum(amounts[9:], ZERO)
    on_time = (grouped(func.sum(Allocation.amount))
               .join(Installment, Installment.loan_id == Loan.id)
               .join(Allocation, Allocation.installment_id == Installment.id)
               .join(Repayment, Allocation.repayment_id == Repayment.id)
               .where(fell_due, ~on_time_whole, Allocation.component != "penalty",
                      Repayment.reversed_at.is_(None), Repayment.paid_on <= Installment.due_on))
    for row in db.session.execute(on_time):
        figures(row).paid_on_time += total(values(row)[0])

    # outstanding, buckets and PAR: loans with principal still to repay
    oldest = Loan.oldest_unpaid_due_on
    late = oldest < as_of
    bucket = case((or_(oldest.is_(None), oldest >= as_of), "current"),
                  (oldest >= as_of - timedelta(days=30), "1-30"),
                  (oldest >= as_of - timedelta(days=60), "31-60"),
                  (oldest >= as_of - timedelta(days=90), "61-90"), else_="90+")
    at_risk = and_(late, Loan.oldest_unpaid_due_on < as_of - timedelta(days=30))
    if restructured_at_risk:
        at_risk = or_(at_risk, Loan.restructured)
    query = (grouped(bucket, func.count(Loan.id), func.sum(Loan.outstanding_principal),
                     func.sum(case((at_risk, Loan.outstanding_principal), else_=None)))
             .where(~written_off, Loan.outstanding_principal > 0).group_by(bucket))
    for row in db.session.execute(query):
        f = figures(row)
        name, n, outstanding, risky = values(row)
        f.active_loans += n
        f.gross_outstanding += total(outstanding)
        f.buckets[name][0] += n
        f.buckets[name][1] += total(outstanding)
        f.at_risk_30 += total(risky)
    parts = {key: dict(sorted(part.items())) for key, part in sorted(
        result.items(), key=lambda item: (item[0] is None, item[0] or 0))}
    return parts if by else parts.get(None, {})


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
