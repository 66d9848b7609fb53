"""Loan pages: thin. Parse the form, call a service, flash, redirect or render.

Every write goes through ``commit_with_retry`` with a work function that loads the loan
itself: on SQLite a write that meets another writer is run again from the start, in a
fresh transaction, so the loan it changes must be read again too.

Who may do what on a loan of a district they are assigned to: loan officers (and the
project office) apply, approve, disburse, reverse, write off and reschedule; facilitators,
who collect money at the meetings, may post repayments too; viewers only read.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import contains_eager

from loans import credit as credit_service
from loans import portfolio as portfolio_service
from loans import schedules, services
from loans.forms import (ALLOCATION_ORDERS, ApplyForm, ApproveForm, DisburseForm, LenderForm,
                         ProductForm, RepaymentForm, RescheduleForm, ReverseForm, WriteOffForm)
from loans.ledger import BUCKETS
from loans.models import STATUSES, Installment, Lender, Loan, LoanProduct, Repayment
from shg.accounts import access
from shg.errors import Invalid
from shg.extensions import db
from shg.urls import bounded_int, date_arg
from shg.labels import choices
from shg.pagination import paginate
from shg.registry import services as registry_services
from shg.registry.models import Group, Household, Member, Village
from shg.timeutil import today
from shg.transactions import commit_with_retry

bp = Blueprint("loans", __name__)

#: roles that set loans up and change their course; facilitators only post repayments
OFFICER_ROLES = ("admin", "loan_officer")
#: a service's field names that the page's forms call otherwise
FIELD_ALIASES = {"balloon_on": "balloon_month"}


@bp.before_request
@login_required
def _login_first():
    """Every loan page needs a logged-in user."""


# ---------------------------------------------------------------- helpers


def can_manage(user, district_id: int) -> bool:
    """May the user approve, disburse, reverse, write off or reschedule loans of this district?"""
    return user.role in OFFICER_ROLES and access.can_change(user, district_id)


def can_collect(user, district_id: int) -> bool:
    """May the user post repayments on loans of this district (facilitators too)?"""
    return access.can_change_registry(user) and access.can_change(user, district_id)


def _loan_for(loan_id: int, manage: bool = False) -> Loan:
    """The loan for a change: 404, or 403 out of the user's districts, for a viewer, and
    (``manage``) for a facilitator."""
    loan = services.get_loan(loan_id, current_user, change=True)
    if manage and current_user.role not in OFFICER_ROLES:
        abort(403, _("Only a loan officer may do this."))
    return loan


def _show_errors(form, exc: Invalid) -> None:
    """Put a service's refusals beside the form's fields (or above the form)."""
    db.session.rollback()
    for field, messages in exc.errors.items():
        field = FIELD_ALIASES.get(field, field)
        if form is not None and field in form:
            form[field].errors = list(form[field].errors) + messages
        else:
            for message in messages:
                flash(message, "danger")




def _currency_of(member: Optional[Member]) -> str:
    membership = member.current_membership if member else None
    return membership.group.village.district.region.country.currency if membership else ""


def installment_state(installment: Installment, on: date) -> str:
    """paid (fully), late (due before ``on`` and not fully paid) or due."""
    if installment.paid_on is not None:
        return "paid"
    return "late" if installment.due_on < on else "due"


def preview_schedule(product: LoanProduct, principal: Decimal, disbursed_on: date,
                     first_due_on: Optional[date] = None,
                     installments: Optional[int] = None) -> list[schedules.Line]:
    """The schedule a loan of this product would have if paid out on that day, with nothing
    saved: the same terms ``apply_for_loan`` copies, built by the same engine.

    Raises ``Invalid`` with the engine's refusal beside the field it is about.
    """
    data = {key: getattr(product, key) for key in services.TERM_FIELDS}
    if installments is not None:
        data["installments"] = installments
    balloon_on = services._balloon_date(product.balloon_month, disbursed_on, data["frequency"])
    try:
        return schedules.build_schedule(
            services._terms(data, principal, disbursed_on, first_due_on, balloon_on))
    except schedules.ScheduleError as exc:
        raise services.schedule_error(exc)


def planned_schedule(loan: Loan) -> list[schedules.Line]:
    """A loan not yet paid out: its schedule if it were paid out today (or on its approval
    day, if later). A first repayment date already past is left to the disbursement."""
    on = max(today(), loan.approved_on or loan.applied_on)
    first_due_on = loan.first_due_on if loan.first_due_on and loan.first_due_on > on else None
    try:
        return schedules.build_schedule(
            services._terms(loan, loan.principal, on, first_due_on, loan.balloon_on))
    except schedules.ScheduleError as exc:
        raise services.schedule_error(exc)


def _district_options():
    rows = db.session.scalars(registry_services.districts_query(current_user)).all()
    return [(d.id, d.name) for d in rows]


def _village_options(district_id=None):
    """Villages to filter by: for a user who reaches the whole programme, only once a
    district is chosen (1,250 villages in one drop-down cost more than the list itself)."""
    if district_id is None and access.district_ids(current_user) is None:
        return []
    rows = db.session.scalars(registry_services.villages_query(current_user,
                                                               district_id=district_id)).all()
    return [(v.id, v.name) for v in rows]


def _group_options(district_id=None, village_id=None):
    """Groups to filter by, likewise only once a district or village narrows them."""
    if district_id is None and village_id is None and access.district_ids(current_user) is None:
        return []
    rows = db.session.scalars(registry_services.groups_query(
        current_user, district_id=district_id, village_id=village_id)).all()
    return [(g.id, f"{g.name} — {g.village.name}") for g in rows]


# ---------------------------------------------------------------- the list of loans


def loans_query(user, q: str = "", status=None, district_id=None, village_id=None,
                group_id=None):
    """Loans in the user's districts, newest application first."""
    query = (select(Loan).join(Member, Loan.member_id == Member.id)
             .join(Group, Loan.group_id == Group.id).join(Village, Group.village_id == Village.id)
             .options(contains_eager(Loan.member),
                      contains_eager(Loan.group).contains_eager(Group.village))
             .order_by(Loan.applied_on.desc(), Loan.id.desc()))
    query = access.scope(query, user, Village.district_id)
    if q:
        query = query.where(or_(Member.full_name.ilike(f"%{q}%"), Member.phone.ilike(f"%{q}%")))
    if status:
        query = query.where(Loan.status == status)
    if district_id:
        query = query.where(Village.district_id == district_id)
    if village_id:
        query = query.where(Group.village_id == village_id)
    if group_id:
        query = query.where(Loan.group_id == group_id)
    return query


@bp.route("/loans")
def index():
    args = request.args
    f = {"q": args.get("q", "").strip(), "status": args.get("status") or None,
         "district_id": args.get("district", type=bounded_int), "village_id": args.get("village", type=bounded_int),
         "group_id": args.get("group", type=bounded_int)}
    page = paginate(loans_query(current_user, **f), args.get("page", 1, type=bounded_int))
    on = today()
    positions = {loan.id: services.position(loan, on) for loan in page.items
                 if loan.disbursed_on is not None}
    return render_template("loans/index.html", page=page, f=f, positions=positions,
                           districts=_district_options(),
                           villages=_village_options(f["district_id"]),
                           groups=_group_options(f["district_id"], f["village_id"]),
                           statuses=choices(STATUSES),
                           may_apply=current_user.role in OFFICER_ROLES)


# ---------------------------------------------------------------- applying


def _member_options(member: Optional[Member]):
    query = registry_services.members_query(current_user, status="active").options(
        contains_eager(Member.household).contains_eager(Household.village))
    rows = [(m.id, f"{m.full_name} — {m.household.village.name}")
            for m in db.session.scalars(query)]
    if member is not None and member.id not in {r[0] for r in rows}:
        rows.insert(0, (member.id, member.full_name))  # she has left: the service says so
    return [(None, "—")] + rows


@bp.route("/loans/new", methods=["GET", "POST"])
def apply():
    if current_user.role not in OFFICER_ROLES:
        abort(403, _("Only a loan officer may do this."))
    member_id = request.args.get("member", type=bounded_int)
    member = (registry_services.get_member(member_id, current_user, change=True)
              if member_id else None)
    form = ApplyForm()
    form.member_id.choices = _member_options(member)
    products = db.session.scalars(select(LoanProduct).where(LoanProduct.is_active)
                                  .order_by(LoanProduct.name)).all()
    form.product_id.choices = [(p.id, p.name) for p in products]
    lenders = db.session.scalars(select(Lender).order_by(Lender.name))
    form.lender_id.choices = [(lender.id, lender.name) for lender in lenders]
    if request.method == "GET":
        form.applied_on.data = today()
        form.member_id.data = member.id if member else None
    schedule = None
    if form.validate_on_submit():
        data = {"member_id": form.member_id.data, "product_id": form.product_id.data,
                "lender_id": form.lender_id.data, "principal": form.principal.data,
                "purpose": form.purpose.data, "applied_on": form.applied_on.data,
                "first_due_on": form.first_due_on.data, "installments": form.installments.data}
        if request.form.get("action") == "preview":
            try:
                schedule = preview_schedule(db.session.get(LoanProduct, data["product_id"]),
                                            data["principal"], data["applied_on"],
                                            data["first_due_on"], data["installments"])
            except Invalid as exc:
                _show_errors(form, exc)
        else:
            try:
                loan = commit_with_retry(lambda: services.apply_for_loan(data, by=current_user))
            except Invalid as exc:
                _show_errors(form, exc)
            else:
                flash(_("The application is saved."), "success")
                return redirect(url_for("loans.show", loan_id=loan.id))
    chosen = db.session.get(Member, form.member_id.data) if form.member_id.data else member
    return render_template("loans/apply.html", form=form, member=member, schedule=schedule,
                           currency=_currency_of(chosen))


# ---------------------------------------------------------------- the loan page


def _loan_page(loan: Loan, **forms):
    """The loan with its position, schedule, repayments and the actions its status allows;
    ``forms`` are forms sent back with their refusals."""
    on = today()
    as_of = date_arg("as_of") or on
    district_id = loan.district_id
    manage, collect = can_manage(current_user, district_id), can_collect(current_user, district_id)
    defaults = {
        "approve": ApproveForm(prefix="approve", formdata=None, approved_on=on),
        "disburse": DisburseForm(prefix="disburse", formdata=None, disbursed_on=on,
                                 first_due_on=loan.first_due_on),
        "repay": RepaymentForm(prefix="repay", formdata=None, paid_on=on),
        "write_off": WriteOffForm(prefix="write_off", formdata=None, written_off_on=on),
        "reschedule": RescheduleForm(prefix="reschedule", formdata=None, rescheduled_on=on),
        "reverse": ReverseForm(prefix="reverse", formdata=None),
    }
    defaults.update(forms)
    position = services.position(loan, as_of) if loan.disbursed_on else None
    preview, preview_error = None, None
    if loan.status in ("applied", "approved"):
        try:
            preview = planned_schedule(loan)
        except Invalid as exc:
            preview_error = "; ".join(m for ms in exc.errors.values() for m in ms)
    versions: dict[int, list[Installment]] = {}
    for installment in loan.installments_all:
        versions.setdefault(installment.version, []).append(installment)
    older = sorted(((v, lines) for v, lines in versions.items() if v != loan.schedule_version),
                   reverse=True)
    states = {i.id: installment_state(i, on) for i in loan.installments_all}
    return render_template(
        "loans/loan.html", loan=loan, as_of=as_of, today=on, position=position,
        schedule=versions.get(loan.schedule_version, []), older=older, states=states,
        preview=preview, preview_error=preview_error, forms=defaults,
        reverse_for=request.view_args.get("repayment_id"),
        manage=manage, collect=collect, currency=loan.currency)


@bp.route("/loans/<int:loan_id>")
def show(loan_id):
    return _loan_page(services.get_loan(loan_id, current_user))


def _action(loan_id: int, name: str, form, work, done: str, manage: bool = True):
    """Run one action of the loan page: check the form, run ``work(loan)`` and commit, or
    show the loan page again with the refusal beside the field."""
    _loan_for(loan_id, manage=manage)  # 404/403 before reading anything
    if form.validate_on_submit():
        try:
            commit_with_retry(lambda: work(_loan_for(loan_id, manage=manage)))
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(done, "success")
            return redirect(url_for("loans.show", loan_id=loan_id))
    return _loan_page(services.get_loan(loan_id, current_user), **{name: form})


@bp.route("/loans/<int:loan_id>/approve", methods=["POST"])
def approve(loan_id):
    form = ApproveForm(prefix="approve")
    return _action(loan_id, "approve", form, lambda loan: services.approve_loan(
        loan, form.approved_on.data, by=current_user), _("The loan is approved."))


@bp.route("/loans/<int:loan_id>/disburse", methods=["POST"])
def disburse(loan_id):
    form = DisburseForm(prefix="disburse")
    return _action(loan_id, "disburse", form, lambda loan: services.disburse_loan(
        loan, form.disbursed_on.data, by=current_user, first_due_on=form.first_due_on.data),
        _("The loan is paid out; its schedule is fixed."))


@bp.route("/loans/<int:loan_id>/repayments", methods=["POST"])
def repay(loan_id):
    form = RepaymentForm(prefix="repay")
    return _action(loan_id, "repay", form, lambda loan: services.post_repayment(
        loan, form.amount.data, form.paid_on.data, by=current_user,
        receipt_no=form.receipt_no.data), _("The repayment is recorded."), manage=False)


@bp.route("/loans/<int:loan_id>/repayments/<int:repayment_id>/reverse", methods=["POST"])
def reverse(loan_id, repayment_id):
    form = ReverseForm(prefix="reverse")

    def work(loan):
        repayment = db.session.get(Repayment, repayment_id)
        if repayment is None or repayment.loan_id != loan.id:
            abort(404)
        return services.reverse_repayment(repayment, form.reason.data, by=current_user)
    return _action(loan_id, "reverse", form, work, _("The repayment is reversed."))


@bp.route("/loans/<int:loan_id>/write-off", methods=["POST"])
def write_off(loan_id):
    form = WriteOffForm(prefix="write_off")
    return _action(loan_id, "write_off", form, lambda loan: services.write_off(
        loan, form.written_off_on.data, form.reason.data, by=current_user),
        _("The loan is written off."))


@bp.route("/loans/<int:loan_id>/reschedule", methods=["POST"])
def reschedule(loan_id):
    form = RescheduleForm(prefix="reschedule")
    return _action(loan_id, "reschedule", form, lambda loan: services.reschedule(
        loan, form.rescheduled_on.data,
        {"installments": form.installments.data, "first_due_on": form.first_due_on.data},
        by=current_user), _("The loan is rescheduled; the old schedule is kept."))


# ---------------------------------------------------------------- the morning worklist


@bp.route("/loans/overdue")
def overdue():
    args = request.args
    f = {"district_id": args.get("district", type=bounded_int), "village_id": args.get("village", type=bounded_int),
         "group_id": args.get("group", type=bounded_int),
         "bucket": args.get("bucket") if args.get("bucket") in portfolio_service.BUCKET_DAYS
         else None}
    query = portfolio_service.overdue_query(current_user, village_id=f["village_id"],
                                            group_id=f["group_id"], district_id=f["district_id"],
                                            bucket=f["bucket"])
    page = paginate(query, args.get("page", 1, type=bounded_int))
    return render_template("loans/overdue.html", page=page,
                           rows=portfolio_service.overdue_rows(page.items), f=f,
                           districts=_district_options(),
                           villages=_village_options(f["district_id"]),
                           groups=_group_options(f["district_id"], f["village_id"]),
                           buckets=choices([b for b in BUCKETS if b != "current"]))


# ---------------------------------------------------------------- credit history


@bp.route("/members/<int:member_id>/credit")
def credit(member_id):
    member = registry_services.get_member(member_id, current_user)
    history = credit_service.credit_history(member.id)
    return render_template("loans/credit.html", member=member, history=history,
                           rules=credit_service.GRADE_RULES,
                           may_apply=can_manage(current_user, member.district_id)
                           and member.current_membership is not None)


# ---------------------------------------------------------------- portfolio


@bp.route("/loans/portfolio")
def portfolio():
    args = request.args
    as_of = date_arg("as_of") or today()
    start = date_arg("from")
    f = {"country_id": args.get("country", type=bounded_int), "district_id": args.get("district", type=bounded_int),
         "village_id": args.get("village", type=bounded_int), "group_id": args.get("group", type=bounded_int)}
    figures = portfolio_service.portfolio(as_of, start, user=current_user, **f)
    return render_template("loans/portfolio.html", figures=sorted(figures.values(),
                                                                  key=lambda x: x.currency),
                           as_of=as_of, start=start, f=f, districts=_district_options(),
                           villages=_village_options(f["district_id"]),
                           buckets=[b for b in BUCKETS if b != "current"])


# ---------------------------------------------------------------- products and lenders (admin)


@bp.route("/loans/products")
def products():
    access.require_admin(current_user)
    rows = db.session.scalars(select(LoanProduct).order_by(LoanProduct.is_active.desc(),
                                                           LoanProduct.name)).all()
    return render_template("loans/products.html", products=rows)


@bp.route("/loans/products/new", methods=["GET", "POST"])
@bp.route("/loans/products/<int:product_id>", methods=["GET", "POST"])
def edit_product(product_id=None):
    access.require_admin(current_user)
    product = db.get_or_404(LoanProduct, product_id) if product_id else None
    form = ProductForm(obj=product)
    if product is not None and product.allocation_order not in dict(ALLOCATION_ORDERS):
        form.allocation_order.choices = list(form.allocation_order.choices) + [
            (product.allocation_order, product.allocation_order)]
    if form.validate_on_submit():
        data = {"name": form.name.data, **{k: form[k].data for k in ProductForm.TERMS}}

        def work():
            current = db.session.get(LoanProduct, product_id) if product_id else None
            return services.save_product(current, data, by=current_user)
        try:
            product = commit_with_retry(work)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("The loan product is saved."), "success")
            return redirect(url_for("loans.products"))
    return render_template("loans/product_form.html", form=form, product=product)


@bp.route("/loans/lenders")
def lenders():
    access.require_admin(current_user)
    rows = db.session.scalars(select(Lender).order_by(Lender.name)).all()
    return render_template("loans/lenders.html", lenders=rows)


@bp.route("/loans/lenders/new", methods=["GET", "POST"])
@bp.route("/loans/lenders/<int:lender_id>", methods=["GET", "POST"])
def edit_lender(lender_id=None):
    access.require_admin(current_user)
    lender = db.get_or_404(Lender, lender_id) if lender_id else None
    form = LenderForm(obj=lender)
    if form.validate_on_submit():
        data = {"name": form.name.data, "kind": form.kind.data}

        def work():
            current = db.session.get(Lender, lender_id) if lender_id else None
            return services.save_lender(current, data, by=current_user)
        try:
            commit_with_retry(work)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("The lender is saved."), "success")
            return redirect(url_for("loans.lenders"))
    return render_template("loans/lender_form.html", form=form, lender=lender)
