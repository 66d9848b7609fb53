"""Loan repayment schedules: plain functions, Decimal money, no Flask, no database.

A schedule is computed from the loan's terms alone, so the loan officer's screen, the
member's printed schedule and the overdue list all read the same figures from
:func:`build_schedule`.

The arithmetic follows the cumulative schedule generator of Apache Fineract (the
core-banking engine behind Mifos X), so that a schedule printed here agrees to the cent
with the one a partner MFI prints from Mifos for the same terms. The published Fineract
schedules we check against are cited in ``tests/loans/test_schedules.py``. The rules
below are re-implemented from their description, not copied.

Rounding (one place, one named mode):

* Every amount is rounded half-to-even (banker's rounding, Fineract's default
  ``rounding-mode``) to the currency's ``decimals``.
* Interest rates are divided with 12 significant digits, half-to-even (Fineract's
  ``MathContext(12, HALF_EVEN)``), before they touch money: the rate per period is
  ``annual % / periods per year / 100 * weeks or months per installment``.
* Interest on a balance is ``balance * rate per period``, rounded to the currency.
* "Installment in multiples of" ``m`` rounds to the nearest multiple of ``m``,
  half-to-even (12.5 with m=1 gives 12, 312.5 gives 312). The last installment is never
  rounded: it takes whatever principal is left, so principal sums exactly to the loan
  amount, and (flat) whatever interest is left, so interest sums exactly to the total.
* Where those half-to-even shares would repay the loan before its last installment, or
  leave the last one negative (Fineract then silently shortens the loan or prints a
  negative amount), the shares are rounded down instead; see :func:`build_schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, localcontext

from dateutil.relativedelta import relativedelta

#: The one rounding mode for money and rates (Fineract's default, banker's rounding).
ROUNDING = ROUND_HALF_EVEN

#: Rates are divided with 12 significant digits, as Fineract's MoneyHelper MathContext.
RATE_CONTEXT = Context(prec=12, rounding=ROUNDING)

#: Products of money and rates are exact; only the final rounding to the currency rounds.
_EXACT = Context(prec=60, rounding=ROUNDING)

#: A sanity limit on the length of a schedule (ten years of weekly installments).
MAX_INSTALLMENTS = 520

METHODS = ("flat", "declining_equal_installments", "declining_equal_principal")
RATE_PERIODS = ("year", "month")
DAY_COUNTS = ("per_period", "actual_365")
BALLOON_INTEREST = ("interest_only", "nothing")


class ScheduleError(ValueError):
    """Terms from which no schedule can be built; the message is shown to the user."""


@dataclass(frozen=True)
class Frequency:
    """How often installments fall due, in Fineract's units.

    ``every`` weeks or months per installment; ``periods_per_year`` of that unit
    (52 weeks, 12 months); ``pmt_days`` is the length Fineract assumes for a period when
    it sizes equal installments on an actual/365 loan (30 days a month, 7 a week).
    """

    every: int
    unit: str  # "week" | "month"
    periods_per_year: int
    pmt_days: int

    def step(self, n: int) -> relativedelta | timedelta:
        if self.unit == "month":
            return relativedelta(months=self.every * n)
        return timedelta(weeks=self.every * n)


FREQUENCIES = {
    "week": Frequency(1, "week", 52, 7),
    "2weeks": Frequency(2, "week", 52, 14),
    "4weeks": Frequency(4, "week", 52, 28),
    "month": Frequency(1, "month", 12, 30),
}


@dataclass(frozen=True)
class Terms:
    """What a loan agreement says about repayment.

    ``rate`` is a percentage (``Decimal("24")`` for 24 %) per ``rate_period``.
    ``grace_on_principal``: the first N installments pay interest only.
    ``grace_on_interest``: the first N installments pay nothing at all (so no principal
    either); the interest they would have paid falls due with the first installment after
    the grace.
    ``balloon_month`` (harvest-season loan): installments due before that month pay
    interest only (``balloon_interest="interest_only"``) or nothing
    (``"nothing"``: the interest is deferred as in a grace on interest); the principal is
    repaid by the installments due in that month and after. ``installments`` is still the
    total count; :func:`installments_until_harvest` works it out for a form.
    ``day_count``: ``"per_period"`` divides the yearly rate over the periods (every month
    costs the same); ``"actual_365"`` charges for the days actually elapsed, over 365.
    ``decimals``: the currency's minor units (2 for KGS and TJS tyiyn/diram).
    ``in_multiples_of``: round installments to this amount (``Decimal("1")`` for whole
    som). It has no effect on ``declining_equal_principal``, whose installments differ
    every period by design (Fineract ignores it there too), nor on interest-only
    installments in a grace or before a harvest: they pay the interest as it is (Fineract's
    flat loans slip a few tyiyn of principal into them to make them round; we keep them
    interest only, as DOMAIN.md defines a grace on principal).
    """

    principal: Decimal
    rate: Decimal
    rate_period: str
    method: str
    frequency: str
    installments: int
    disbursed_on: date
    first_due_on: date | None = None
    grace_on_principal: int = 0
    grace_on_interest: int = 0
    balloon_month: date | None = None
    balloon_interest: str = "interest_only"
    day_count: str = "per_period"
    decimals: int = 2
    in_multiples_of: Decimal | None = None


@dataclass(frozen=True)
class Line:
    """One installment: what falls due on ``due_on`` and the principal still owed after it."""

    number: int
    due_on: date
    principal: Decimal
    interest: Decimal
    balance_after: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


# --- dates ---------------------------------------------------------------------------


def first_due_date(disbursed_on: date, frequency: str) -> date:
    """The default first repayment: one period after disbursement (clamped to month end)."""
    return disbursed_on + _frequency(frequency).step(1)


def due_dates(first_due_on: date, frequency: str, count: int) -> list[date]:
    """``count`` due dates, every period from ``first_due_on``.

    Monthly dates are ``first_due_on + n months``, never chained from the previous date:
    a loan first due on 31 January falls due on 28 (or 29) February, 31 March and 30 April,
    keeping the day of month of the first due date wherever the month has it.
    """
    step = _frequency(frequency)
    return [first_due_on + step.step(n) for n in range(count)]


def installments_until_harvest(
    first_due_on: date, frequency: str, balloon_month: date, principal_installments: int = 1
) -> int:
    """Total installments of a harvest-season loan: those due before the harvest month,
    plus ``principal_installments`` that repay the principal from that month on."""
    harvest = (balloon_month.year, balloon_month.month)
    step = _frequency(frequency)
    before = 0
    while _month(first_due_on + step.step(before)) < harvest:
        before += 1
        if before > MAX_INSTALLMENTS:
            raise ScheduleError("The harvest month is too far away.")
    return before + principal_installments


# --- rates and rounding ----------------------------------------------------------------


def round_money(amount: Decimal, decimals: int, rounding: str = ROUNDING) -> Decimal:
    """Round to the currency's minor unit, half-to-even unless told otherwise."""
    return amount.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def round_to_multiple(amount: Decimal, multiple: Decimal, rounding: str = ROUNDING) -> Decimal:
    """Round to the nearest multiple, half-to-even (Fineract's installment-in-multiples-of)."""
    with localcontext(_EXACT):
        return (amount / multiple).quantize(Decimal(1), rounding=rounding) * multiple


def annual_rate(terms: Terms) -> Decimal:
    """The nominal yearly rate in percent; a monthly rate counts twelve times a year."""
    return terms.rate * 12 if terms.rate_period == "month" else terms.rate


def period_rate(terms: Terms) -> Decimal:
    """Interest per installment period as a fraction, for ``per_period`` loans.

    annual % / periods in a year / 100, each division to 12 significant digits, times the
    weeks or months in one installment: 24 % a year paid weekly is 0.00461538461538.
    """
    freq = _frequency(terms.frequency)
    yearly = RATE_CONTEXT.divide(annual_rate(terms), freq.periods_per_year)
    return RATE_CONTEXT.divide(yearly, 100) * freq.every


def day_rate(terms: Terms, days: int) -> Decimal:
    """Interest for ``days`` elapsed as a fraction, for ``actual_365`` loans (annual / 365)."""
    daily = RATE_CONTEXT.divide(RATE_CONTEXT.divide(annual_rate(terms), 365), 100)
    return RATE_CONTEXT.multiply(daily, days)


def annuity_payment(balance: Decimal, rate: Decimal, periods: int) -> Decimal:
    """The equal installment that repays ``balance`` in ``periods`` at ``rate`` per period,
    unrounded: ``balance * r / (1 - (1 + r) ** -periods)``, or ``balance / periods`` at 0 %."""
    with localcontext(_EXACT):
        if rate == 0:
            return balance / periods
        return balance * rate / (1 - (1 + rate) ** -periods)


# --- validation ------------------------------------------------------------------------


def validate(terms: Terms) -> None:
    """Refuse terms no schedule can honour, with a short sentence for the user."""
    for value in (terms.principal, terms.rate, terms.in_multiples_of):
        if value is not None and not isinstance(value, Decimal):
            raise TypeError("Money and rates must be Decimal, never float.")
        if value is not None and not value.is_finite():
            raise ScheduleError("Amounts and rates must be numbers.")
    if terms.method not in METHODS:
        raise ScheduleError("Unknown interest method.")
    if terms.rate_period not in RATE_PERIODS:
        raise ScheduleError("The interest rate must be per year or per month.")
    if terms.frequency not in FREQUENCIES:
        raise ScheduleError("Unknown repayment frequency.")
    if terms.day_count not in DAY_COUNTS:
        raise ScheduleError("Unknown interest day count.")
    if terms.balloon_interest not in BALLOON_INTEREST:
        raise ScheduleError("Unknown interest rule for the months before the harvest.")
    if not 0 <= terms.decimals <= 6:
        raise ScheduleError("The currency decimals must be between 0 and 6.")
    if terms.principal <= 0:
        raise ScheduleError("The loan amount must be greater than zero.")
    if round_money(terms.principal, terms.decimals) != terms.principal:
        raise ScheduleError("The loan amount has more decimals than the currency allows.")
    if terms.rate < 0:
        raise ScheduleError("The interest rate cannot be negative.")
    monthly = terms.rate if terms.rate_period == "month" else terms.rate / 12
    if monthly > 100:
        raise ScheduleError("The interest rate cannot be more than 100% a month.")
    if isinstance(terms.installments, bool) or not isinstance(terms.installments, int):
        raise ScheduleError("The number of installments must be a whole number.")
    if terms.installments < 1:
        raise ScheduleError("A loan needs at least one installment.")
    if terms.installments > MAX_INSTALLMENTS:
        raise ScheduleError("A loan cannot have that many installments.")
    if terms.grace_on_principal < 0 or terms.grace_on_interest < 0:
        raise ScheduleError("A grace period cannot be negative.")
    if max(terms.grace_on_principal, terms.grace_on_interest) >= terms.installments:
        raise ScheduleError("The grace period must be shorter than the loan.")
    if terms.first_due_on is not None and terms.first_due_on <= terms.disbursed_on:
        raise ScheduleError("The first repayment date must be after the disbursement date.")
    multiple = terms.in_multiples_of
    if multiple is not None:
        if multiple <= 0:
            raise ScheduleError("The installment multiple must be greater than zero.")
        if round_money(multiple, terms.decimals) != multiple:
            raise ScheduleError(
                "The installment multiple has more decimals than the currency allows."
            )
    if terms.balloon_month is not None and (terms.grace_on_principal or terms.grace_on_interest):
        raise ScheduleError("A harvest-season loan cannot also have a grace period.")


# --- the schedule ----------------------------------------------------------------------


def build_schedule(terms: Terms) -> list[Line]:
    """The installments of a loan, oldest first; raises :class:`ScheduleError` on bad terms.

    Flat: interest is the original principal times the rate for the whole term, rounded,
    then split evenly over the installments (the last takes the remainder); principal is
    the loan over the installments that repay principal.
    Declining balance: each installment's interest is the outstanding principal times the
    period's rate. Equal installments: the installment is the annuity over the installments
    that repay principal, rounded to the currency (and to the multiple), computed once;
    principal is what is left after that period's interest. Equal principal: the loan over
    the installments that repay principal, rounded.
    In every method the last installment takes all principal still owed.

    The even shares (principal, flat interest, the equal installment) are rounded
    half-to-even, as Fineract does. Where that rounds up so far that the loan would be
    repaid before its last installment, or the last installment would turn negative
    (Fineract then silently shortens the loan), the shares are rounded down instead: the
    schedule keeps its length and the last installment takes the difference. Only if even
    that fails is the loan refused: too small for its rounding, or (equal installments on
    actual days with a very short first period) repaid before its last due date.
    """
    validate(terms)
    first = terms.first_due_on or first_due_date(terms.disbursed_on, terms.frequency)
    dates = due_dates(first, terms.frequency, terms.installments)
    grace = _grace(terms, dates)
    for share_rounding in (ROUNDING, ROUND_DOWN):
        try:
            return _installments(terms, dates, grace, share_rounding)
        except _Overshoot as overshoot:
            message = str(overshoot)
    raise ScheduleError(message)


class _Overshoot(Exception):
    """The rounded shares would repay the loan early or leave a negative remainder."""


_COARSE = "The installment rounding is too coarse for this loan."
_EARLY = "The installments would repay the loan before its last due date."


def _installments(
    terms: Terms, dates: list[date], grace: tuple[int, int], share_rounding: str
) -> list[Line]:
    """One pass over the installments with the given rounding of the even shares."""
    principal_grace, interest_grace = grace
    starts = [terms.disbursed_on, *dates[:-1]]
    repaying = terms.installments - principal_grace
    with localcontext(_EXACT):
        own_interest = _interest_source(terms, dates, share_rounding)
        principal_part = _principal_source(terms, repaying, share_rounding)
        balance, deferred, lines = terms.principal, Decimal(0), []
        for number, (start, due) in enumerate(zip(starts, dates), start=1):
            last = number == terms.installments
            own = own_interest(number, balance, start, due)
            if number <= interest_grace:
                deferred, interest = deferred + own, Decimal(0)
            else:
                interest, deferred = own + deferred, Decimal(0)
            if number <= principal_grace:
                principal = Decimal(0)
            elif last:
                principal = balance
            else:
                principal = principal_part(own, interest)
                if principal < 0 and terms.method == "declining_equal_installments":
                    # A long first period (or a huge rate) on actual days: Fineract refuses too.
                    raise ScheduleError("The equal installment does not cover the interest due.")
                if principal < 0:
                    raise _Overshoot(_COARSE)
                if principal >= balance:
                    raise _Overshoot(_EARLY)
            balance -= principal
            lines.append(Line(number, due, *_money(terms, principal, interest, balance)))
    return lines


def _grace(terms: Terms, dates: list[date]) -> tuple[int, int]:
    """(installments without principal, installments without interest).

    A grace on interest means nothing at all is paid, so it is a grace on principal too.
    A harvest-season loan is a grace on principal (and, for "nothing", on interest) for
    every installment due before the harvest month.
    """
    if terms.balloon_month is None:
        interest = terms.grace_on_interest
        return max(terms.grace_on_principal, interest), interest
    harvest = _month(terms.balloon_month)
    before = sum(1 for due in dates if _month(due) < harvest)
    if before == 0:
        raise ScheduleError("The harvest month must come after the first repayment.")
    if before >= len(dates):
        raise ScheduleError("The harvest month must fall within the loan.")
    return before, before if terms.balloon_interest == "nothing" else 0


def _interest_source(terms: Terms, dates: list[date], share_rounding: str):
    """A function giving one installment's own interest (before any deferral)."""
    decimals = terms.decimals
    if terms.method == "flat":
        total = flat_interest_total(terms, dates)
        share = round_money(total / terms.installments, decimals, share_rounding)
        last_share = total - share * (terms.installments - 1)
        if last_share < 0:
            raise _Overshoot(_COARSE)
        return lambda number, balance, start, due: (
            last_share if number == terms.installments else share
        )
    if terms.day_count == "actual_365":
        return lambda number, balance, start, due: round_money(
            balance * day_rate(terms, (due - start).days), decimals
        )
    rate = period_rate(terms)
    return lambda number, balance, start, due: round_money(balance * rate, decimals)


def _principal_source(terms: Terms, repaying: int, share_rounding: str):
    """A function giving the principal of an installment that repays principal (not the last).

    It is called with the installment's own interest and the interest due with it
    (which includes interest deferred by a grace).
    """
    decimals, multiple = terms.decimals, terms.in_multiples_of
    if terms.method == "declining_equal_installments":
        installment = equal_installment(terms, repaying, share_rounding)
        return lambda own, interest: installment - own
    share = round_money(terms.principal / repaying, decimals, share_rounding)
    if terms.method == "declining_equal_principal" or multiple is None:
        return lambda own, interest: share
    # Flat with a multiple: round the principal share and the interest due each to the
    # multiple and let principal absorb the interest's rounding, so the installment
    # (principal + interest) is a multiple (416.67 + 12.50 becomes 416.50 + 12.50 = 429).
    rounded_share = round_to_multiple(share, multiple, share_rounding)
    return lambda own, interest: rounded_share + round_to_multiple(interest, multiple) - interest


def flat_interest_total(terms: Terms, dates: list[date]) -> Decimal:
    """Flat interest for the whole loan: principal x rate x term, rounded once.

    The term counts periods (``per_period``) or the days from disbursement to the last due
    date (``actual_365``).
    """
    if terms.day_count == "actual_365":
        daily = RATE_CONTEXT.divide(RATE_CONTEXT.divide(annual_rate(terms), 365), 100)
        rate = daily * (dates[-1] - terms.disbursed_on).days
    else:
        rate = period_rate(terms) * terms.installments
    with localcontext(_EXACT):
        return round_money(terms.principal * rate, terms.decimals)


def equal_installment(terms: Terms, repaying: int, rounding: str = ROUNDING) -> Decimal:
    """The rounded equal installment of a declining-balance loan.

    The annuity of the whole principal over the installments that repay principal, at the
    period rate (for ``actual_365``, Fineract sizes it on a 30-day month or 7-day week),
    rounded to the multiple if any, then to the currency.
    """
    if terms.day_count == "actual_365":
        rate = day_rate(terms, _frequency(terms.frequency).pmt_days)
    else:
        rate = period_rate(terms)
    payment = annuity_payment(terms.principal, rate, repaying)
    if terms.in_multiples_of is not None:
        payment = round_to_multiple(payment, terms.in_multiples_of, rounding)
    return round_money(payment, terms.decimals, rounding)


def _money(terms: Terms, *amounts: Decimal) -> list[Decimal]:
    """Amounts as the currency writes them (0.00, not 0): the values are already rounded."""
    return [round_money(amount, terms.decimals) for amount in amounts]


def _frequency(name: str) -> Frequency:
    try:
        return FREQUENCIES[name]
    except KeyError:
        raise ScheduleError("Unknown repayment frequency.") from None


def _month(day: date) -> tuple[int, int]:
    return day.year, day.month
