"""What a schedule and its repayments come to on any day: pure functions, no database.

A loan's position is never stored as the truth: it is what replaying its repayments, in the
order they were paid, over its schedule gives. Posting, reversing, the overdue list, the credit
history and the portfolio figures all read positions made here, so they always agree.

Rules (DOMAIN.md):
- A repayment pays, installment by installment from the oldest, the components in the
  product's order (default penalty, fee, interest, principal). Money left after an
  installment goes to the next, also to installments not yet due (paying ahead).
- A payment larger than everything owed on its date is refused (``Overpaid``): the ledger
  keeps no credit balance; the officer records at most the amount owed.
- Penalty: assessed on an installment's unpaid amount (principal, interest, fee) as it
  stands after the payments made on or before each assessment day. The first assessment
  day is the due date plus the grace days, then one every period of the loan's frequency
  ("percent": rate % of the unpaid amount each time; "flat": the amount once).
  A penalty is charged once the assessment day has passed.
- Days past due (DPD) on day D: D minus the due date of the oldest installment due before D
  that is not fully paid by the payments made on or before D. Arrears: what fell due before
  D and was not paid by then.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Iterator, Optional

from loans.schedules import FREQUENCIES

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


class Overpaid(ValueError):
    """The payment is more than everything owed on its date."""

    def __init__(self, owed: Decimal):
        super().__init__(f"more than the {owed} owed")
        self.owed = owed


@dataclass(frozen=True)
class Line:
    """A schedule line as the ledger sees it."""

    key: int
    due_on: date
    principal: Decimal
    interest: Decimal
    fee: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee


@dataclass(frozen=True)
class Payment:
    key: int
    paid_on: date
    amount: Decimal


@dataclass(frozen=True)
class PenaltyRule:
    method: str = "none"          # none | percent | flat
    rate: Decimal = ZERO          # percent of the unpaid amount per period
    amount: Decimal = ZERO        # once per late installment
    grace_days: int = 0
    frequency: str = "month"


@dataclass(frozen=True)
class Allocated:
    payment_key: int
    line_key: int
    component: str
    amount: Decimal


@dataclass
class _Paid:
    """One payment's share of one line."""

    paid_on: date
    penalty: Decimal = ZERO
    fee: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO


@dataclass
class LineState:
    line: Line
    history: list[_Paid] = field(default_factory=list)

    def paid(self, component: str, by: Optional[date] = None) -> Decimal:
        return sum((getattr(h, component) for h in self.history
                    if by is None or h.paid_on <= by), ZERO)

    def unpaid(self, by: Optional[date] = None) -> Decimal:
        """Principal, interest and fee still owed after the payments made by that day."""
        paid = sum((h.principal + h.interest + h.fee for h in self.history
                    if by is None or h.paid_on <= by), ZERO)
        return self.line.total - paid

    def paid_on(self) -> Optional[date]:
        """The day the line was fully paid (penalties apart), or None."""
        running = ZERO
        for h in self.history:
            running += h.principal + h.interest + h.fee
            if running >= self.line.total:
                return h.paid_on
        return None if self.line.total > 0 else self.line.due_on


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def assessment_days(line: Line, rule: PenaltyRule, before: date) -> Iterator[date]:
    """The days a penalty is assessed on this line, up to (not including) ``before``.

    Generated one at a time: ``penalty_charged`` stops at the first day the line is paid,
    so a line paid on time costs one step, not one per month since it fell due."""
    if rule.method == "none":
        return
    first = line.due_on + timedelta(days=rule.grace_days)
    if rule.method == "flat":
        if first < before:
            yield first
        return
    step = FREQUENCIES[rule.frequency]
    k = 0
    while True:
        try:
            day = first + step.step(k)
        except (OverflowError, ValueError):  # past the calendar's end (year 9999)
            return
        if day >= before:
            return
        yield day
        k += 1


def penalty_charged(state: LineState, rule: PenaltyRule, as_of: date) -> Decimal:
    """The penalty charged on a line by ``as_of`` (assessment days before it)."""
    total = ZERO
    for day in assessment_days(state.line, rule, as_of):
        unpaid = state.unpaid(by=day)
        if unpaid <= 0:
            break
        total += rule.amount if rule.method == "flat" else _round(unpaid * rule.rate / 100)
    return total


class Ledger:
    """A schedule and the repayments applied to it so far, in the order they were paid."""

    def __init__(self, lines: Iterable[Line], rule: PenaltyRule = PenaltyRule(),
                 order: Iterable[str] = ("penalty", "fee", "interest", "principal")):
        self.states = [LineState(line) for line in sorted(lines, key=lambda l: (l.due_on, l.key))]
        self.rule = rule
        self.order = tuple(order)
        #: the day of the last payment applied: payments come in date order
        self._last_paid_on: Optional[date] = None

    # ------------------------------------------------------------ applying payments

    def owed(self, on: date) -> Decimal:
        """Everything owed on a day, penalties included: the most a payment may be."""
        return sum((s.unpaid() + self.penalty_due(s, on) for s in self.states), ZERO)

    def penalty_due(self, state: LineState, on: date) -> Decimal:
        return penalty_charged(state, self.rule, on) - state.paid("penalty")

    def pay(self, payment: Payment) -> list[Allocated]:
        """Allocate one payment; payments must come in the order they were paid."""
        if self._last_paid_on is not None and self._last_paid_on > payment.paid_on:
            raise ValueError("payments must be applied in date order")
        owed = self.owed(payment.paid_on)
        if payment.amount > owed:
            raise Overpaid(owed)
        left = payment.amount
        allocated: list[Allocated] = []
        for state in self.states:
            if left <= 0:
                break
            share = _Paid(payment.paid_on)
            for component in self.order:
                if component == "penalty":
                    due = self.penalty_due(state, payment.paid_on)
                else:
                    due = getattr(state.line, component) - state.paid(component)
                take = min(left, due)
                if take > 0:
                    setattr(share, component, take)
                    left -= take
                    allocated.append(Allocated(payment.key, state.line.key, component, take))
            if any((share.penalty, share.fee, share.interest, share.principal)):
                state.history.append(share)
        self._last_paid_on = payment.paid_on
        return allocated

    # ------------------------------------------------------------ reading the position

    def position(self, as_of: date) -> "Position":
        """The loan on a day, counting only the payments made on or before it."""
        oldest_late = None
        arrears = {"principal": ZERO, "interest": ZERO, "fee": ZERO}
        penalty = ZERO
        outstanding = ZERO
        for state in self.states:
            line = state.line
            outstanding += line.principal - state.paid("principal", by=as_of)
            penalty += penalty_charged(state, self.rule, as_of) - state.paid("penalty", by=as_of)
            if line.due_on < as_of and state.unpaid(by=as_of) > 0:
                oldest_late = oldest_late or line.due_on
                for component in arrears:
                    arrears[component] += getattr(line, component) - state.paid(component, by=as_of)
        dpd = (as_of - oldest_late).days if oldest_late else 0
        return Position(as_of=as_of, days_past_due=dpd, oldest_late_due_on=oldest_late,
                        arrears_principal=arrears["principal"], arrears_interest=arrears["interest"],
                        arrears_fee=arrears["fee"], penalty_due=penalty,
                        outstanding_principal=outstanding)

    def oldest_unpaid_due_on(self) -> Optional[date]:
        """Due date of the oldest line not fully paid (after every payment applied)."""
        return next((s.line.due_on for s in self.states if s.unpaid() > 0), None)

    def fully_paid(self) -> bool:
        return all(s.unpaid() <= 0 for s in self.states)


@dataclass(frozen=True)
class Position:
    as_of: date
    days_past_due: int
    oldest_late_due_on: Optional[date]
    arrears_principal: Decimal
    arrears_interest: Decimal
    arrears_fee: Decimal
    penalty_due: Decimal
    outstanding_principal: Decimal

    @property
    def arrears(self) -> Decimal:
        """The amount fallen due and not paid (penalties apart)."""
        return self.arrears_principal + self.arrears_interest + self.arrears_fee

    @property
    def bucket(self) -> str:
        return par_bucket(self.days_past_due)


def par_bucket(days_past_due: int) -> str:
    """current, 1-30, 31-60, 61-90 or 90+ days late."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def replay(lines: Iterable[Line], payments: Iterable[Payment], rule: PenaltyRule = PenaltyRule(),
           order: Iterable[str] = ("penalty", "fee", "interest", "principal")
           ) -> tuple[Ledger, list[Allocated]]:
    """Apply the payments in the order they were paid (date, then the order recorded)."""
    ledger = Ledger(lines, rule, order)
    allocated: list[Allocated] = []
    for payment in sorted(payments, key=lambda p: (p.paid_on, p.key)):
        allocated.extend(ledger.pay(payment))
    return ledger, allocated
