"""marshmallow schemas of the loans API: products, lenders, loans with their schedules and
positions, repayments with their allocations, credit history, the overdue list, portfolio.

The fields are the registry's (``shg.registry.schemas``): unknown fields refused, refusals
flattened to {field: [message]}, every message in the user's language, money as a string
with two places that is refused, never rounded, when it has more. Input schemas only read
and type-check; the rules (a principal above zero, a grace shorter than the loan, nothing
paid before the disbursement or more than she owes) live in ``loans.services``, which the
pages share, and come back in the same shape.

Terms a loan may change from its product are the schedule's terms only; its penalty and
allocation order are the product's (the project office sets them, once, for everyone).
"""
from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from loans.ledger import BUCKETS
from loans.models import (BALLOON_INTEREST, DAY_COUNTS, FREQUENCIES, LENDER_KINDS, METHODS,
                          PENALTY_METHODS, RATE_PERIODS, STATUSES)
from shg.money import CURRENCIES, round_money
from shg.registry.schemas import (MONEY_LIMIT_DIGITS, Amount, Bool, Computed, Day, Id, Int,
                                  PartialSchema, QueryId, Schema, SortedRows, Str, _Filters,
                                  choice, page_figures, required)

COMPONENT_ORDER_EXAMPLE = "penalty,fee,interest,principal"
#: the longest a count in the terms may be (installments, grace, days): past the schedule
#: engine's own limits, and well inside the database's integer
COUNT_LIMIT = 10_000


# ---------------------------------------------------------------- fields of the loans


class Rate(Amount):
    """A percentage in, as "24" or "1.875" (at most four decimal places, as stored);
    out as a string with at least two places ("24.00", "1.875")."""

    PLACES = Decimal("0.0001")
    default_error_messages = {
        **Amount.default_error_messages,
        "invalid": _l("Enter a rate in percent, such as 24 or 2.5."),
        "special": _l("Enter a rate in percent, such as 24 or 2.5."),
        "places": _l("A rate has at most four decimal places."),
        "too_large": _l("This rate is too large."),
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.metadata.update({"example": "24", "description": self.metadata.get(
            "description", "Percent (24 for 24 %), at most four decimal places.")})

    def _validated(self, value):
        if isinstance(value, str):
            value = value.strip()
        try:
            num = Decimal(str(value)) if not isinstance(value, (bool, Decimal)) else value
        except (ArithmeticError, ValueError, TypeError):
            raise self.make_error("invalid") from None
        if isinstance(num, bool) or not isinstance(num, Decimal) or not num.is_finite():
            raise self.make_error("invalid")
        if num and num.adjusted() >= MONEY_LIMIT_DIGITS:
            raise self.make_error("too_large")
        if num != num.quantize(self.PLACES):
            raise self.make_error("places")
        return num.quantize(self.PLACES)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        text = format(Decimal(value).quantize(self.PLACES), "f").rstrip("0")
        whole, _dot, places = text.partition(".")
        return f"{whole}.{places.ljust(2, '0')}"


class Share(fields.Field):
    """A share from 0 to 1 out (on-time rate, PAR30), four places; null when undefined."""

    def __init__(self, **kwargs):
        metadata = kwargs.pop("metadata", {})
        super().__init__(dump_only=True, metadata={
            "type": "string", "format": "decimal", "nullable": True, "example": "0.9512",
            **metadata}, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format(round_money(value, 4), "f")


class ComputedDict(fields.Dict):
    """An object keyed by words (bucket, gender), its values documented by a schema."""

    def __init__(self, nested, compute, **kwargs):
        self.compute = compute
        kwargs.setdefault("dump_only", True)
        super().__init__(keys=fields.String(), values=fields.Nested(nested), **kwargs)

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return self.compute(obj)


def Count(**kwargs) -> Int:
    """A whole number of installments, days or months; the services judge its sense (at
    least one installment, a grace shorter than the loan), this keeps it within reason."""
    return Int(validate=validate.Range(min=0, max=COUNT_LIMIT, error=_l(
        "Enter a whole number from 0 to 10000.")), **kwargs)


def one_of(values, message, **kwargs) -> dict:
    """A closed list of words: refused here beside the field, and listed in the document."""
    metadata = kwargs.pop("metadata", {})
    return {"validate": validate.OneOf(values, error=message),
            "metadata": {"enum": list(values), **metadata}, **kwargs}


_METHOD = _l("Choose flat, declining_equal_installments or declining_equal_principal.")
_RATE_PERIOD = _l("Choose year or month.")
_FREQUENCY = _l("Choose week, 2weeks, 4weeks or month.")
_DAY_COUNT = _l("Choose per_period or actual_365.")
_BALLOON = _l("Choose interest_only or nothing.")
_PENALTY = _l("Choose none, percent or flat.")


# ---------------------------------------------------------------- terms


class TermsSchema(Schema):
    """The repayment terms, as a product and each loan made from it carry them."""

    method = Str(**choice(METHODS))
    rate = Rate()
    rate_period = Str(**choice(RATE_PERIODS))
    frequency = Str(**choice(FREQUENCIES))
    installments = Int()
    grace_on_principal = Int(metadata={"description": "The first N installments pay interest "
                                                      "only."})
    grace_on_interest = Int(metadata={"description": "The first N installments pay nothing; "
                                                     "their interest falls due after the grace."})
    balloon_interest = Str(**choice(BALLOON_INTEREST))
    day_count = Str(**choice(DAY_COUNTS))
    in_multiples_of = Amount(allow_none=True)
    penalty_method = Str(**choice(PENALTY_METHODS))
    penalty_rate = Rate()
    penalty_amount = Amount()
    penalty_grace_days = Int()
    allocation_order = Str(metadata={"example": COMPONENT_ORDER_EXAMPLE})


class ScheduleTermsInSchema(Schema):
    """The terms that shape a schedule: on a loan they override its product's."""

    method = Str(**one_of(METHODS, _METHOD))
    rate = Rate()
    rate_period = Str(**one_of(RATE_PERIODS, _RATE_PERIOD))
    frequency = Str(**one_of(FREQUENCIES, _FREQUENCY))
    installments = Count()
    grace_on_principal = Count()
    grace_on_interest = Count()
    balloon_interest = Str(**one_of(BALLOON_INTEREST, _BALLOON))
    day_count = Str(**one_of(DAY_COUNTS, _DAY_COUNT))
    in_multiples_of = Amount(allow_none=True, metadata={
        "description": "Round installments to this amount (1 for whole som); null: to the "
                       "tyiyn."})


# ---------------------------------------------------------------- lenders and products


class LenderSchema(Schema):
    id = Int(dump_only=True)
    name = Str()
    kind = Str(**choice(LENDER_KINDS))


class LenderInSchema(Schema):
    name = Str(max_length=120, **required(_l("A name is required.")))
    kind = Str(**required(_l("Choose an MFI, a bank or the group's own fund."),
                          metadata={"enum": list(LENDER_KINDS)}))


class LenderPatchSchema(LenderInSchema, PartialSchema):
    pass


class ProductSchema(TermsSchema):
    id = Int(dump_only=True)
    name = Str()
    balloon_month = Int(allow_none=True, metadata={
        "description": "Harvest-season product: principal falls due from this month (1-12)."})
    reminder_days_before = Int()
    is_active = Bool()


class ProductInSchema(ScheduleTermsInSchema):
    name = Str(max_length=120, **required(_l("A name is required.")))
    method = Str(**required(_METHOD, **one_of(METHODS, _METHOD)))
    rate = Rate(**required(_l("Enter the interest rate.")))
    frequency = Str(**required(_FREQUENCY, **one_of(FREQUENCIES, _FREQUENCY)))
    installments = Count(**required(_l("Enter the number of installments.")))
    penalty_method = Str(**one_of(PENALTY_METHODS, _PENALTY))
    penalty_rate = Rate(metadata={"description": "Percent of the overdue amount per period "
                                                 "late (penalty_method percent)."})
    penalty_amount = Amount(metadata={"description": "Once per late installment "
                                                     "(penalty_method flat)."})
    penalty_grace_days = Count()
    allocation_order = Str(max_length=40, metadata={
        "example": COMPONENT_ORDER_EXAMPLE,
        "description": "penalty, fee, interest and principal once each, in the order a "
                       "repayment pays them."})
    balloon_month = Int(allow_none=True, validate=validate.Range(
        min=1, max=12, error=_l("Choose the harvest month (1 to 12).")))
    reminder_days_before = Count(metadata={"description": "SMS reminder this many days "
                                                          "before a due date (0 to 30)."})
    is_active = Bool()


class ProductPatchSchema(ProductInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- schedules and positions


class ScheduleLineSchema(Schema):
    """One installment of a preview: nothing is saved."""

    number = Int()
    due_on = Day()
    principal = Amount()
    interest = Amount()
    total = Amount()
    balance_after = Amount()


class PreviewSchema(Schema):
    currency = Str(allow_none=True)
    principal = Amount()
    disbursed_on = Day()
    total_interest = Amount()
    total = Amount()
    installments = fields.List(fields.Nested(ScheduleLineSchema))


class PreviewInSchema(ScheduleTermsInSchema):
    product_id = Id(**required(_l("Choose a loan product.")))
    principal = Amount(**required(_l("The loan amount must be greater than zero.")))
    disbursed_on = Day(metadata={"description": "The planned disbursement. Default: today."})
    first_due_on = Day(allow_none=True, metadata={
        "description": "Default: one period after the disbursement."})
    balloon_on = Day(allow_none=True, metadata={
        "description": "Harvest-season loan: principal due from this month. Default: the "
                       "product's harvest month."})
    currency = Str(allow_none=True, **one_of(
        CURRENCIES, _l("Choose one of the ledger's currencies."),
        metadata={"description": "Shown with the schedule; not used in the arithmetic."}))


class InstallmentSchema(Schema):
    id = Int()
    number = Int()
    due_on = Day()
    principal = Amount()
    interest = Amount()
    fee = Amount()
    total = Amount()
    principal_paid = Amount()
    interest_paid = Amount()
    fee_paid = Amount()
    penalty_paid = Amount()
    paid = Amount(metadata={"description": "Principal, interest and fee paid."})
    owed = Amount(metadata={"description": "Principal, interest and fee still owed."})
    paid_on = Day(allow_none=True, metadata={"description": "The day it was fully paid."})


class ScheduleVersionSchema(Schema):
    version = Int()
    in_force_from = Day()
    superseded_on = Day(allow_none=True)
    installments = fields.List(fields.Nested(InstallmentSchema))


class PositionSchema(Schema):
    """The loan on a day (``loans.services.position``)."""

    as_of = Day()
    days_past_due = Int()
    oldest_late_due_on = Day(allow_none=True)
    bucket = Str(**choice(BUCKETS))
    arrears = Amount(metadata={"description": "Fallen due and not paid, penalties apart."})
    arrears_principal = Amount()
    arrears_interest = Amount()
    arrears_fee = Amount()
    penalty_due = Amount()
    outstanding_principal = Amount()


def loan_position(loan):
    """The position the view computed (as of ?as_of), or today's."""
    position = page_figures().get("positions", {}).get(loan.id)
    if position is None:
        from loans.services import position as position_of
        position = position_of(loan)
    return position


def schedule_versions(loan) -> list[dict]:
    """Every schedule the loan has had, oldest first; the last is the one in force."""
    versions: dict[int, list] = {}
    for installment in loan.installments_all:
        versions.setdefault(installment.version, []).append(installment)
    return [{"version": v, "in_force_from": rows[0].in_force_from,
             "superseded_on": rows[0].superseded_on, "installments": rows}
            for v, rows in sorted(versions.items())]


# ---------------------------------------------------------------- loans


class LoanSchema(Schema):
    id = Int(dump_only=True)
    member_id = Int()
    member_name = Str(attribute="member.full_name")
    group_id = Int()
    group_name = Str(attribute="group.name")
    village_id = Int(attribute="group.village_id")
    district_id = Int()
    lender_id = Int()
    lender_name = Str(attribute="lender.name")
    product_id = Int(allow_none=True)
    purpose = Str()
    principal = Amount()
    currency = Str(**choice(CURRENCIES))
    status = Str(**choice(STATUSES))
    applied_on = Day()
    approved_on = Day(allow_none=True)
    disbursed_on = Day(allow_none=True)
    first_due_on = Day(allow_none=True)
    balloon_on = Day(allow_none=True)
    closed_on = Day(allow_none=True)
    written_off_on = Day(allow_none=True)
    write_off_reason = Str(allow_none=True)
    restructured = Bool()
    schedule_version = Int()
    outstanding_principal = Amount(metadata={"description": "After every payment recorded."})
    oldest_unpaid_due_on = Day(allow_none=True)
    last_paid_on = Day(allow_none=True)
    terms = Computed(TermsSchema, lambda loan: loan)


class LoanDetailSchema(LoanSchema):
    """One loan: its schedule in force with the paid columns, the older versions, and its
    position as of ``?as_of`` (default today)."""

    schedule = fields.List(fields.Nested(InstallmentSchema), dump_only=True)
    older_versions = Computed(ScheduleVersionSchema, lambda loan: [
        v for v in schedule_versions(loan) if v["version"] != loan.schedule_version],
        many=True, metadata={"description": "Schedules replaced by a reschedule, oldest "
                                            "first."})
    position = Computed(PositionSchema, loan_position)


class LoanInSchema(ScheduleTermsInSchema):
    """An application: the loan takes its product's terms, with any given here."""

    member_id = Id(**required(_l("Choose the borrower.")))
    product_id = Id(**required(_l("Choose a loan product.")))
    lender_id = Id(**required(_l("Choose the lender.")))
    principal = Amount(**required(_l("The loan amount must be greater than zero.")))
    purpose = Str(max_length=200, **required(_l("Say what the loan is for.")))
    applied_on = Day(metadata={"description": "Default: today."})
    currency = Str(**choice(CURRENCIES, metadata={
        "description": "Default: the currency of her group's country."}))
    first_due_on = Day(allow_none=True, metadata={
        "description": "Default: one period after the disbursement."})
    balloon_on = Day(allow_none=True, metadata={
        "description": "Harvest-season loan: principal due from this month."})


class LoanFilters(_Filters):
    status = Str(validate=validate.OneOf(STATUSES, error=_l("Choose a status.")),
                 metadata={"enum": list(STATUSES)})
    member_id = QueryId()
    group_id = QueryId(metadata={"description": "The group she borrowed through."})
    village_id = QueryId()
    district_id = QueryId()


class AsOfArgs(_Filters):
    as_of = Day(metadata={"description": "The day the figures are for. Default: today."})


class ApproveSchema(Schema):
    approved_on = Day(metadata={"description": "Default: today."})


class DisburseSchema(Schema):
    disbursed_on = Day(metadata={"description": "Default: today. The schedule is fixed "
                                                "from this day."})
    first_due_on = Day(allow_none=True, metadata={
        "description": "Default: one period after the disbursement."})


class WriteOffSchema(Schema):
    written_off_on = Day(metadata={"description": "Default: today."})
    reason = Str(max_length=300, **required(_l("Give the reason for the write-off.")))


class RescheduleSchema(ScheduleTermsInSchema):
    """A new schedule for what is outstanding; the terms given replace the loan's."""

    rescheduled_on = Day(metadata={"description": "Default: today. After the last payment."})
    first_due_on = Day(allow_none=True, metadata={
        "description": "Default: one period after the reschedule."})


# ---------------------------------------------------------------- repayments


class AllocationSchema(Schema):
    installment_id = Int()
    version = Int(attribute="installment.version")
    number = Int(attribute="installment.number")
    due_on = Day(attribute="installment.due_on")
    component = Str(**choice(("penalty", "fee", "interest", "principal")))
    amount = Amount()


class RepaymentSchema(Schema):
    id = Int(dump_only=True)
    loan_id = Int()
    paid_on = Day()
    amount = Amount()
    receipt_no = Str(allow_none=True)
    meeting_id = Int(allow_none=True)
    recorded_by_id = Int(allow_none=True)
    recorded_at = fields.DateTime()
    is_reversed = Bool()
    reversed_at = fields.DateTime(allow_none=True)
    reversed_by_id = Int(allow_none=True)
    reversal_reason = Str(allow_none=True)
    allocations = SortedRows(fields.Nested(AllocationSchema), dump_only=True,
                             key=lambda a: a.id, metadata={
                                 "description": "Where the payment went. A reversed payment "
                                                "keeps them for the record; they no longer "
                                                "count."})


class RepaymentInSchema(Schema):
    paid_on = Day(**required(_l("Enter the date it was paid.")))
    amount = Amount(**required(_l("The amount must be greater than zero.")))
    receipt_no = Str(max_length=40, allow_none=True)


class RepaymentFilters(_Filters):
    loan_id = QueryId()
    member_id = QueryId()
    group_id = QueryId(metadata={"description": "The group she borrowed through."})
    village_id = QueryId()
    district_id = QueryId()
    date_from = Day(metadata={"description": "Paid on or after this day."})
    date_to = Day(metadata={"description": "Paid on or before this day."})
    reversed = Bool(metadata={"description": "true: reversed payments only; false: the "
                                             "others."})


class ReverseSchema(Schema):
    reason = Str(max_length=300, **required(_l("Give the reason for the reversal.")))


# ---------------------------------------------------------------- credit history


class InstallmentRecordSchema(Schema):
    version = Int()
    number = Int()
    due_on = Day()
    amount_due = Amount()
    paid = Amount(metadata={"description": "Paid by the as-of day."})
    paid_on = Day(allow_none=True, metadata={"description": "The day it was fully paid."})
    days_late = Int(metadata={"description": "Paid this many days after its due date (or, "
                                             "unpaid, waiting this long)."})
    paid_by_due_date = Amount()


class CreditLoanSchema(Schema):
    loan = Computed(LoanSchema, lambda record: record.loan)
    position = Computed(PositionSchema, lambda record: record.position)
    installments = fields.List(fields.Nested(InstallmentRecordSchema))


class GradeRuleSchema(Schema):
    grade = Str()
    rule = Str()


class CreditHistorySchema(Schema):
    member_id = Int()
    member_name = Str()
    as_of = Day()
    loans = fields.List(fields.Nested(CreditLoanSchema))
    fallen_due = Amount()
    paid_on_time = Amount()
    on_time_rate = Share(metadata={"description": "Paid by the due date over fallen due."})
    worst_days_past_due = Int()
    current_days_past_due = Int()
    current_arrears = Amount()
    written_off_count = Int()
    written_off_amount = Amount()
    grade = Str(allow_none=True, metadata={"enum": ["A", "B", "C", "D", None],
                                           "description": "Null before anything fell due."})
    grade_reason = Str(metadata={"description": "The rule that gave the grade."})
    grade_rules = fields.List(fields.Nested(GradeRuleSchema), metadata={
        "description": "The rules, checked top to bottom; the first that holds gives the "
                       "grade."})


# ---------------------------------------------------------------- overdue list and portfolio


class OverdueFilters(_Filters):
    village_id = QueryId()
    group_id = QueryId()
    district_id = QueryId()
    bucket = Str(validate=validate.OneOf(BUCKETS[1:], error=_l("Choose 1-30, 31-60, 61-90 "
                                                               "or 90+.")),
                 metadata={"enum": list(BUCKETS[1:])})


class OverdueRowSchema(Schema):
    loan_id = Int(attribute="loan.id")
    member_id = Int(attribute="loan.member_id")
    member_name = Str(attribute="loan.member.full_name")
    phone = Str(attribute="loan.member.phone", allow_none=True)
    group_id = Int(attribute="loan.group_id")
    group_name = Str(attribute="loan.group.name")
    village_name = Str(attribute="loan.group.village.name")
    currency = Str(attribute="loan.currency")
    days_past_due = Int(attribute="position.days_past_due")
    bucket = Str(attribute="position.bucket", **choice(BUCKETS))
    oldest_late_due_on = Day(attribute="position.oldest_late_due_on", allow_none=True)
    arrears = Amount(attribute="position.arrears")
    penalty_due = Amount(attribute="position.penalty_due")
    outstanding_principal = Amount(attribute="position.outstanding_principal")
    last_paid_on = Day(attribute="loan.last_paid_on", allow_none=True)


class PortfolioFilters(_Filters):
    as_of = Day(metadata={"description": "Outstanding and PAR on this day. Default: today."})
    period_start = Day(metadata={"description": "Loans disbursed and amounts fallen due "
                                                "from this day. Default: from the start."})
    country_id = QueryId()
    district_id = QueryId()
    village_id = QueryId()
    group_id = QueryId()


class CountAmountSchema(Schema):
    count = Int()
    amount = Amount()


class BucketSchema(Schema):
    loans = Int()
    outstanding_principal = Amount()


def _by_gender(figures) -> dict:
    return {gender: {"count": count, "amount": amount}
            for gender, (count, amount) in figures.disbursed_by_gender.items()}


def _buckets(figures) -> dict:
    return {bucket: {"loans": count, "outstanding_principal": amount}
            for bucket, (count, amount) in figures.buckets.items()}


class FiguresSchema(Schema):
    currency = Str(**choice(CURRENCIES))
    disbursed_count = Int()
    disbursed_amount = Amount()
    disbursed_by_gender = ComputedDict(CountAmountSchema, _by_gender, metadata={
        "description": "female and male: loans disbursed in the period and their amount."})
    active_loans = Int()
    gross_outstanding = Amount()
    at_risk_30 = Amount(metadata={"description": "Outstanding principal of loans more than "
                                                 "30 days late (and restructured ones)."})
    par30 = Share(metadata={"description": "at_risk_30 over gross_outstanding."})
    buckets = ComputedDict(BucketSchema, _buckets, metadata={
        "description": "current, 1-30, 31-60, 61-90 and 90+ days late: loans and their "
                       "outstanding principal."})
    fallen_due = Amount()
    paid_on_time = Amount()
    paid = Amount()
    on_time_rate = Share(metadata={"description": "paid_on_time over fallen_due."})
    collection_rate = Share(metadata={"description": "paid over fallen_due."})
    written_off_count = Int()
    written_off_amount = Amount()


class PortfolioSchema(Schema):
    as_of = Day()
    period_start = Day(allow_none=True)
    currencies = fields.List(fields.Nested(FiguresSchema), metadata={
        "description": "One entry per currency; currencies are never added together."})
