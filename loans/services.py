"""Loans: products, the loan's life (apply, approve, disburse, repay, reverse, write off,
reschedule) and its position on any day.

Every posting replays the loan's repayments over its schedule (``loans.ledger``) and
rewrites the allocations and the paid columns from that replay, so what the pages show is
always what the rules give. Functions add and flush; the caller commits.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Iterable, Optional

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from loans import ledger as L
from loans import messages as _messages  # noqa: F401  (catalogue entries)
from loans import schedules
from loans.models import (COMPONENTS, DEFAULT_ORDER, LENDER_KINDS, Allocation, Installment, Lender,
                          Loan, LoanProduct, Repayment)
from shg.accounts import access
from shg.accounts.models import User
from shg.errors import Invalid
from shg.extensions import db
from shg.money import CURRENCIES
from shg.registry.models import Member
from shg.timeutil import today, utcnow

TERM_FIELDS = ("method", "rate", "rate_period", "frequency", "installments", "grace_on_principal",
               "grace_on_interest", "balloon_interest", "day_count", "in_multiples_of",
               "penalty_method", "penalty_rate", "penalty_amount", "penalty_grace_days",
               "allocation_order")


# ---------------------------------------------------------------- loaders


def get_loan(loan_id: int, user: User, change: bool = False) -> Loan:
    """The loan, after checking the user's district; 404 if missing, 403 if out of reach."""
    loan = db.session.get(Loan, loan_id)
    if loan is None:
        abort(404)
    if change:
        if not access.can_change_registry(user):
            abort(403, _("Your role may not change this record."))
        access.require_change(user, loan.district_id)
    else:
        access.require_read(user, loan.district_id)
    return loan


# ---------------------------------------------------------------- lenders and products


def save_lender(lender: Optional[Lender], data: dict, by: User) -> Lender:
    access.require_admin(by)
    name = (data.get("name") or (lender.name if lender else "") or "").strip()
    kind = data.get("kind") or (lender.kind if lender else None)
    errors: dict = {}
    if not name:
        errors["name"] = [_("A name is required.")]
    if kind not in LENDER_KINDS:
        errors["kind"] = [_("Choose an MFI, a bank or the group's own fund.")]
    clash = db.session.scalar(select(Lender).where(Lender.name == name)) if name else None
    if clash is not None and clash is not lender:
        errors["name"] = [_("This lender is already recorded.")]
    if errors:
        raise Invalid(errors)
    if lender is None:
        lender = Lender()
        db.session.add(lender)
    lender.name, lender.kind = name, kind
    db.session.flush()
    return lender


def _order(text: Optional[str]) -> str:
    parts = [p.strip() for p in (text or DEFAULT_ORDER).split(",")]
    if sorted(parts) != sorted(COMPONENTS):
        raise Invalid({"allocation_order": [
            _("List penalty, fee, interest and principal once each, in the order paid.")]})
    return ",".join(parts)


def _check_penalty(data: dict, errors: dict) -> None:
    method = data.get("penalty_method") or "none"
    if method not in ("none", "percent", "flat"):
        errors["penalty_method"] = [_("Choose no penalty, a percent or a flat amount.")]
    rate = data.get("penalty_rate") or Decimal("0")
    if rate < 0 or rate > 100:
        errors["penalty_rate"] = [_("The penalty rate must be between 0 and 100 percent.")]
    if method == "percent" and rate == 0:
        errors["penalty_rate"] = [_("Enter the penalty rate.")]
    amount = data.get("penalty_amount") or Decimal("0")
    if amount < 0:
        errors["penalty_amount"] = [_("The penalty cannot be negative.")]
    if method == "flat" and amount == 0:
        errors["penalty_amount"] = [_("Enter the penalty amount.")]
    if not 0 <= (data.get("penalty_grace_days") or 0) <= 365:
        errors["penalty_grace_days"] = [_("Grace days must be between 0 and 365.")]
    if amount >= Decimal("1000000000"):
        errors["penalty_amount"] = [_("The penalty is too large.")]


def schedule_error(exc: schedules.ScheduleError, terms=None) -> Invalid:
    """A schedule engine refusal, in the user's language, beside the field it is about."""
    message = str(exc)
    if "grace" in message.lower() and terms is not None:
        get = terms.get if isinstance(terms, dict) else (lambda k: getattr(terms, k, None))
        longest = max(("grace_on_principal", "grace_on_interest"), key=lambda k: get(k) or 0)
        return Invalid({longest: [_(message)]})
    field = "_schema"
    # most specific words first: "installment multiple" is about the multiple
    for words, name in (("multiple", "in_multiples_of"), ("rounding", "in_multiples_of"),
                        ("amount", "principal"), ("rate", "rate"), ("grace", "grace_on_principal"),
                        ("first repayment", "first_due_on"), ("harvest", "balloon_on"),
                        ("installment", "installments")):
        if words in message.lower():
            field = name
            break
    return Invalid({field: [_(message)]})


def save_product(product: Optional[LoanProduct], data: dict, by: User) -> LoanProduct:
    """Create or change a loan product; its terms are checked by building a sample schedule."""
    access.require_admin(by)
    current = {} if product is None else {k: getattr(product, k) for k in TERM_FIELDS + (
        "name", "balloon_month", "reminder_days_before", "is_active")}
    data = {**current, **{k: v for k, v in data.items()}}
    errors: dict = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("A name is required.")]
    else:
        clash = db.session.scalar(select(LoanProduct).where(LoanProduct.name == name))
        if clash is not None and clash is not product:
            errors["name"] = [_("A product with this name exists.")]
    _check_penalty(data, errors)
    month = data.get("balloon_month")
    if month is not None and not 1 <= month <= 12:
        errors["balloon_month"] = [_("Choose the harvest month (1 to 12).")]
    if not 0 <= (data.get("reminder_days_before") if data.get("reminder_days_before") is not None else 3) <= 30:
        errors["reminder_days_before"] = [_("Remind between 0 and 30 days before.")]
    try:
        data["allocation_order"] = _order(data.get("allocation_order"))
    except Invalid as exc:
        errors.update(exc.errors)
    if not errors:
        try:
            sample = _terms(data, Decimal("10000"), date(2024, 1, 10), None,
                            _balloon_date(month, date(2024, 1, 10), data.get("frequency")))
            schedules.build_schedule(sample)
        except schedules.ScheduleError as exc:
            errors.update(schedule_error(exc, data).errors)
        except (TypeError, KeyError):
            errors["_schema"] = [_("The terms are incomplete.")]
    if errors:
        raise Invalid(errors)
    if product is None:
        product = LoanProduct()
        db.session.add(product)
    for key in TERM_FIELDS:
        setattr(product, key, data.get(key))
    product.name, product.balloon_month = name, month
    product.reminder_days_before = data.get("reminder_days_before") if data.get(
        "reminder_days_before") is not None else 3
    product.is_active = bool(data.get("is_active", True))
    for key, default in (("grace_on_principal", 0), ("grace_on_interest", 0),
                         ("penalty_grace_days", 0), ("penalty_rate", Decimal("0")),
                         ("penalty_amount", Decimal("0")), ("penalty_method", "none"),
                         ("balloon_interest", "interest_only"), ("day_count", "per_period"),
                         ("rate_period", "year")):
        if getattr(product, key) is None:
            setattr(product, key, default)
    db.session.flush()
    return product


def _balloon_date(month: Optional[int], start: date, frequency) -> Optional[date]:
    """The first harvest month after the loan starts, for a product's harvest month."""
    if not month:
        return None
    year = start.year if month > start.month else start.year + 1
    return date(year, month, 1)


def _terms(source, principal: Decimal, disbursed_on: date, first_due_on: Optional[date],
           balloon_on: Optional[date]) -> schedules.Terms:
    get = (lambda k: source.get(k)) if isinstance(source, dict) else (lambda k: getattr(source, k))
    return schedules.Terms(
        principal=principal, rate=get("rate"), rate_period=get("rate_period") or "year",
        method=get("method"), frequency=get("frequency"), installments=get("installments"),
        disbursed_on=disbursed_on, first_due_on=first_due_on,
        grace_on_principal=get("grace_on_principal") or 0,
        grace_on_interest=get("grace_on_interest") or 0,
        balloon_month=balloon_on, balloon_interest=get("balloon_interest") or "interest_only",
        day_count=get("day_count") or "per_period", decimals=2,
        in_multiples_of=get("in_multiples_of"))


def terms_of(loan: Loan, disbursed_on: Optional[date] = None) -> schedules.Terms:
    return _terms(loan, loan.principal, disbursed_on or loan.disbursed_on or loan.applied_on,
                  loan.first_due_on, loan.balloon_on)


def preview(loan: Loan, disbursed_on: Optional[date] = None) -> list[schedules.Line]:
    """The schedule the loan would have if disbursed on that day (default: as planned)."""
    try:
        return schedules.build_schedule(terms_of(loan, disbursed_on))
    except schedules.ScheduleError as exc:
        raise schedule_error(exc, loan)


# ---------------------------------------------------------------- the loan's life


def apply_for_loan(data: dict, by: User) -> Loan:
    """A member applies: the loan takes its product's terms, with any terms given here.

    Refused for a member who has left her group: a loan is made through an active group.
    """
    errors: dict = {}
    member = db.session.get(Member, data.get("member_id") or 0)
    membership = member.current_membership if member else None
    if member is None:
        errors["member_id"] = [_("Choose the borrower.")]
    elif membership is None:
        errors["member_id"] = [_("She has left her group; a loan needs an active member.")]
    elif not access.can_change_registry(by) or not access.can_change(by, membership.group.district_id):
        errors["member_id"] = [_("This member is in a district you are not assigned to.")]
    product = db.session.get(LoanProduct, data.get("product_id") or 0)
    if product is None or not product.is_active:
        errors["product_id"] = [_("Choose a loan product.")]
    lender = db.session.get(Lender, data.get("lender_id") or 0)
    if lender is None:
        errors["lender_id"] = [_("Choose the lender.")]
    principal = data.get("principal")
    if principal is None or principal <= 0:
        errors["principal"] = [_("The loan amount must be greater than zero.")]
    elif principal != principal.quantize(Decimal("0.01")):
        errors["principal"] = [_("At most two decimal places.")]
    purpose = (data.get("purpose") or "").strip()
    if not purpose:
        errors["purpose"] = [_("Say what the loan is for.")]
    applied_on = data.get("applied_on") or today()
    if applied_on > today():
        errors["applied_on"] = [_("This date is in the future.")]
    currency = data.get("currency") or (
        membership.group.village.district.region.country.currency if membership else None)
    if currency not in CURRENCIES:
        errors["currency"] = [_("Choose one of the ledger's currencies.")]
    if product is not None:
        terms = {k: data[k] if data.get(k) is not None else getattr(product, k) for k in TERM_FIELDS}
        _check_penalty(terms, errors)
        try:
            _order(terms.get("allocation_order"))
        except Invalid as exc:
            errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    loan = Loan(member=member, group=membership.group, lender=lender, product=product,
                purpose=purpose[:200], principal=principal, currency=currency,
                applied_on=applied_on, status="applied", created_by_id=by.id)
    for key in TERM_FIELDS:
        setattr(loan, key, data[key] if data.get(key) is not None else getattr(product, key))
    loan.first_due_on = data.get("first_due_on")
    loan.balloon_on = data.get("balloon_on") or _balloon_date(product.balloon_month, applied_on,
                                                             loan.frequency)
    preview(loan, data.get("disbursed_on") or applied_on)  # refuses terms with no schedule
    db.session.add(loan)
    db.session.flush()
    return loan


def _require_status(loan: Loan, *allowed: str) -> None:
    if loan.status not in allowed:
        from shg.labels import label
        raise Invalid({"status": [_("Not possible for a loan that is %(status)s.",
                                    status=label(loan.status))]})


def approve_loan(loan: Loan, on: Optional[date], by: User) -> Loan:
    _lock(loan)
    _require_status(loan, "applied")
    on = on or today()
    if on > today() or on < loan.applied_on:
        raise Invalid({"approved_on": [_("The approval date must be between the application and today.")]})
    loan.status, loan.approved_on = "approved", on
    db.session.flush()
    return loan


def disburse_loan(loan: Loan, on: Optional[date], by: User, first_due_on: Optional[date] = None) -> Loan:
    """Pay the loan out: its schedule is fixed from this day."""
    _lock(loan)
    _require_status(loan, "approved")
    on = on or today()
    if on > today():
        raise Invalid({"disbursed_on": [_("This date is in the future.")]})
    if on < (loan.approved_on or loan.applied_on):
        raise Invalid({"disbursed_on": [_("The loan cannot be paid out before it was approved.")]})
    if first_due_on is not None:
        loan.first_due_on = first_due_on
    if loan.first_due_on is not None and loan.first_due_on <= on:
        loan.first_due_on = None if first_due_on is None else loan.first_due_on
    lines = preview(loan, on)
    loan.status, loan.disbursed_on = "disbursed", on
    loan.first_due_on = lines[0].due_on
    loan.installments_all.extend(
        Installment(version=1, in_force_from=on, number=line.number, due_on=line.due_on,
                    principal=line.principal, interest=line.interest, fee=Decimal("0"))
        for line in lines)
    loan.outstanding_principal = loan.principal
    loan.oldest_unpaid_due_on = lines[0].due_on
    db.session.flush()
    return loan


def write_off(loan: Loan, on: Optional[date], reason: str, by: User) -> Loan:
    _lock(loan)
    _require_status(loan, "disbursed")
    on = on or today()
    errors: dict = {}
    if not (reason or "").strip():
        errors["reason"] = [_("Give the reason for the write-off.")]
    if on > today() or on < loan.disbursed_on:
        errors["written_off_on"] = [_("The date must be between the disbursement and today.")]
    if errors:
        raise Invalid(errors)
    loan.status, loan.written_off_on, loan.write_off_reason = "written_off", on, reason.strip()[:300]
    db.session.flush()
    return loan


# ---------------------------------------------------------------- repayments


def _lock(loan: Loan) -> None:
    """Take the loan for this transaction: two officers posting at once take turns.

    An UPDATE, not SELECT … FOR UPDATE: it takes the row lock on PostgreSQL and the write
    lock on SQLite alike; the loan and its schedule are then read again, fresh.
    """
    db.session.execute(update(Loan).where(Loan.id == loan.id)
                       .values(lock_version=Loan.lock_version + 1)
                       .execution_options(synchronize_session=False))
    db.session.refresh(loan)
    for installment in loan.installments_all:
        db.session.refresh(installment)
    db.session.expire(loan, ["repayments"])


def _rule(loan: Loan) -> L.PenaltyRule:
    return L.PenaltyRule(method=loan.penalty_method, rate=loan.penalty_rate,
                         amount=loan.penalty_amount, grace_days=loan.penalty_grace_days,
                         frequency=loan.frequency)


def _versions(loan: Loan) -> dict[int, list[Installment]]:
    versions: dict[int, list[Installment]] = {}
    for installment in loan.installments_all:
        versions.setdefault(installment.version, []).append(installment)
    return versions


def _payments_for(version: list[Installment], payments: Iterable[Repayment]) -> list[Repayment]:
    start, end = version[0].in_force_from, version[0].superseded_on
    return [p for p in payments if p.paid_on >= start and (end is None or p.paid_on < end)]


def replay(loan: Loan, extra: Iterable[Repayment] = ()) -> dict[int, tuple[L.Ledger, list[L.Allocated]]]:
    """Each schedule version's ledger after its repayments (not reversed), oldest first."""
    payments = [p for p in loan.repayments if not p.is_reversed] + list(extra)
    result = {}
    for version, lines in sorted(_versions(loan).items()):
        result[version] = L.replay(
            [L.Line(i.id or -i.number, i.due_on, i.principal, i.interest, i.fee) for i in lines],
            [L.Payment(p.id or 0, p.paid_on, p.amount) for p in _payments_for(lines, payments)],
            _rule(loan), loan.allocation_order.split(","))
    return result


def ledger(loan: Loan) -> L.Ledger:
    """The ledger of the schedule in force, with every repayment applied."""
    return replay(loan)[loan.schedule_version][0]


def position(loan: Loan, as_of: Optional[date] = None) -> L.Position:
    """The loan on a day: days past due, arrears, penalty due, outstanding, PAR bucket.

    The one function the overdue list, the credit history, the API, the PDFs and the SMS
    reminders read a loan's standing from.
    """
    as_of = as_of or today()
    ledgers = replay(loan)
    version = loan.schedule_version
    for v, lines in sorted(_versions(loan).items()):
        if lines[0].in_force_from <= as_of and (lines[0].superseded_on is None
                                                or as_of < lines[0].superseded_on):
            version = v
    if not ledgers:
        return L.Position(as_of, 0, None, L.ZERO, L.ZERO, L.ZERO, L.ZERO, loan.principal)
    return ledgers[version][0].position(as_of)


def _rewrite(loan: Loan) -> None:
    """Write the replay's allocations and paid columns; close or reopen the loan."""
    replayed = replay(loan)
    live = [p.id for p in loan.repayments if not p.is_reversed]
    if live:
        db.session.execute(delete(Allocation).where(Allocation.repayment_id.in_(live)))
    by_id = {i.id: i for i in loan.installments_all}
    for version, (book, allocated) in replayed.items():
        for a in allocated:
            db.session.add(Allocation(repayment_id=a.payment_key, installment_id=a.line_key,
                                      component=a.component, amount=a.amount))
        for state in book.states:
            installment = by_id[state.line.key]
            installment.principal_paid = state.paid("principal")
            installment.interest_paid = state.paid("interest")
            installment.fee_paid = state.paid("fee")
            installment.penalty_paid = state.paid("penalty")
            installment.paid_on = state.paid_on()
    current = replayed[loan.schedule_version][0]
    loan.outstanding_principal = sum((s.line.principal - s.paid("principal") for s in current.states),
                                     Decimal("0.00"))
    loan.oldest_unpaid_due_on = current.oldest_unpaid_due_on()
    paid_days = [p.paid_on for p in loan.repayments if not p.is_reversed]
    loan.last_paid_on = max(paid_days) if paid_days else None
    if loan.status in ("disbursed", "closed"):
        if current.fully_paid() and current.position(loan.last_paid_on or today()).penalty_due <= 0:
            loan.status, loan.closed_on = "closed", loan.last_paid_on
        else:
            loan.status, loan.closed_on = "disbursed", None
    db.session.flush()


def post_repayment(loan: Loan, amount: Decimal, paid_on: Optional[date], by: User,
                   receipt_no: Optional[str] = None, meeting_id: Optional[int] = None) -> Repayment:
    """Record a payment and allocate it; refused, with nothing written, if it cannot stand."""
    _lock(loan)
    errors: dict = {}
    if loan.status != "disbursed":
        errors["loan"] = [_("Repayments are recorded only on a disbursed loan that is not closed.")]
    paid_on = paid_on or today()
    if amount is None or not amount.is_finite() or amount <= 0:
        errors["amount"] = [_("The amount must be greater than zero.")]
    elif amount != amount.quantize(Decimal("0.01")):
        errors["amount"] = [_("At most two decimal places.")]
    if paid_on > today():
        errors["paid_on"] = [_("This date is in the future.")]
    elif loan.disbursed_on and paid_on < loan.disbursed_on:
        errors["paid_on"] = [_("The loan was paid out after this date.")]
    current = [i for i in loan.installments_all if i.version == loan.schedule_version]
    if "paid_on" not in errors and loan.schedule_version > 1 and paid_on < current[0].in_force_from:
        errors["paid_on"] = [_("The loan was rescheduled after this date.")]
    if errors:
        raise Invalid(errors)
    # By id, not by relationship: a refused payment must never reach the session.
    repayment = Repayment(loan_id=loan.id, paid_on=paid_on, amount=amount, recorded_by_id=by.id,
                          receipt_no=(receipt_no or "").strip()[:40] or None, meeting_id=meeting_id)
    try:
        replay(loan, extra=[repayment])
    except L.Overpaid as exc:
        raise Invalid({"amount": [_("This is more than she owes on that day (%(owed)s). "
                                    "Record at most what she owes.", owed=exc.owed)]})
    db.session.add(repayment)
    db.session.flush()
    db.session.expire(loan, ["repayments"])
    _rewrite(loan)
    return repayment


def reverse_repayment(repayment: Repayment, reason: str, by: User) -> Repayment:
    """Undo a wrong payment: it stays, marked reversed; the loan is as if it never came."""
    loan = repayment.loan
    _lock(loan)
    db.session.refresh(repayment)
    errors: dict = {}
    if repayment.is_reversed:
        errors["repayment"] = [_("This payment is already reversed.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Give the reason for the reversal.")]
    if loan.status not in ("disbursed", "closed"):
        errors["repayment"] = [_("Payments of a written-off loan cannot be reversed.")]
    current = [i for i in loan.installments_all if i.version == loan.schedule_version]
    if current and repayment.paid_on < current[0].in_force_from:
        errors["repayment"] = [_("The loan was rescheduled after this payment; it cannot be reversed.")]
    if errors:
        raise Invalid(errors)
    repayment.reversed_at, repayment.reversed_by_id = utcnow(), by.id
    repayment.reversal_reason = reason.strip()[:300]
    db.session.flush()
    db.session.expire(loan, ["repayments"])
    _rewrite(loan)
    return repayment


def reschedule(loan: Loan, on: Optional[date], changes: dict, by: User) -> Loan:
    """A new schedule for what is outstanding; the old one stays in the history.

    Interest and fees fallen due and unpaid, and the penalty due, are carried to the first
    installment of the new schedule, so nothing owed is lost.
    """
    _lock(loan)
    _require_status(loan, "disbursed")
    on = on or today()
    last = loan.last_paid_on
    errors: dict = {}
    current = [i for i in loan.installments_all if i.version == loan.schedule_version]
    if on > today() or on < current[0].in_force_from or (last and on <= last):
        errors["rescheduled_on"] = [_("The date must be after the last payment and not in the future.")]
    if errors:
        raise Invalid(errors)
    book = ledger(loan)
    pos = book.position(on)
    outstanding = pos.outstanding_principal
    carried_interest = sum((s.line.interest - s.paid("interest") for s in book.states
                            if s.line.due_on < on), Decimal("0.00"))
    carried_fee = sum((s.line.fee - s.paid("fee") for s in book.states if s.line.due_on < on),
                      Decimal("0.00")) + pos.penalty_due
    allowed = {k: v for k, v in changes.items() if k in TERM_FIELDS and v is not None}
    draft = _terms({**{k: getattr(loan, k) for k in TERM_FIELDS}, **allowed}, outstanding, on,
                   changes.get("first_due_on"), None)
    try:
        lines = schedules.build_schedule(draft)
    except schedules.ScheduleError as exc:
        raise schedule_error(exc, draft)
    for installment in current:
        installment.superseded_on = on
    version = loan.schedule_version + 1
    for line in lines:
        loan.installments_all.append(Installment(
            version=version, in_force_from=on, number=line.number, due_on=line.due_on,
            principal=line.principal,
            interest=line.interest + (carried_interest if line.number == 1 else 0),
            fee=carried_fee if line.number == 1 else Decimal("0")))
    for key, value in allowed.items():
        setattr(loan, key, value)
    loan.schedule_version, loan.restructured = version, True
    db.session.flush()
    _rewrite(loan)
    return loan


# ---------------------------------------------------------------- collection sheet


def collection_sheet(group_id: int, on: date) -> list[tuple[Loan, Decimal, Decimal]]:
    """Every disbursed loan of the group's members, with what fell due by the meeting day
    and is unpaid (penalties included) and everything she owes: the facilitator's sheet."""
    loans = db.session.scalars(
        select(Loan).where(Loan.group_id == group_id, Loan.status == "disbursed",
                           Loan.disbursed_on <= on).order_by(Loan.id)
        .options(selectinload(Loan.installments_all), selectinload(Loan.repayments),
                 selectinload(Loan.member))).all()
    rows = []
    for loan in loans:
        book = ledger(loan)
        pos = book.position(on)
        due_now = sum((s.unpaid(by=on) for s in book.states if s.line.due_on <= on),
                      Decimal("0.00")) + pos.penalty_due
        rows.append((loan, due_now, book.owed(on)))
    rows.sort(key=lambda r: (r[0].member.full_name, r[0].id))
    return rows


def post_collection(meeting, amounts: dict[int, Decimal], by: User) -> list[Repayment]:
    """Post the repayments collected at a meeting, dated the meeting day, all or none.

    A refusal names the loan: ``{"loan-<id>": [message]}``.
    """
    posted, errors = [], {}
    for loan_id, amount in sorted(amounts.items()):
        if amount is None or amount == 0:
            continue
        loan = db.session.get(Loan, loan_id)
        if loan is None or loan.group_id != meeting.group_id:
            errors[f"loan-{loan_id}"] = [_("This loan is not of a member of the group.")]
            continue
        try:
            posted.append(post_repayment(loan, amount, meeting.held_on, by=by,
                                         meeting_id=meeting.id))
        except Invalid as exc:
            errors[f"loan-{loan_id}"] = [m for ms in exc.errors.values() for m in ms]
    if errors:
        raise Invalid(errors)
    return posted
