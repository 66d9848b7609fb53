"""Loans endpoints of the JSON API: loan products, lenders, loans through their life
(apply, approve, disburse, repay, reverse, write off, reschedule), the schedule preview, a
member's credit history, the overdue worklist and the portfolio figures.

Thin, as the registry's (``shg.registry.api``, whose helpers and conventions these share):
load with the schema, call ``loans.services`` (the functions the pages call), dump with the
schema. Every write runs in ``shg.transactions.commit_with_retry``, and its work function
loads the loan itself, so two officers posting to one loan at the same moment take turns and
both payments count, on PostgreSQL and SQLite alike. A refusal rolls everything back.

A loan belongs to the district of the group she borrowed through: another district's loan
answers 403; a borrower out of reach, named in an application, answers 422 beside
``member_id``.
"""
from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound

from loans import credit, portfolio, services
from loans.models import Allocation, Lender, Loan, LoanProduct, Repayment
from loans.schemas import (ApproveSchema, AsOfArgs, CreditHistorySchema, DisburseSchema,
                           LenderInSchema, LenderPatchSchema, LenderSchema, LoanDetailSchema,
                           LoanFilters, LoanInSchema, LoanSchema, OverdueFilters,
                           OverdueRowSchema, PortfolioFilters, PortfolioSchema, PreviewInSchema,
                           PreviewSchema, ProductInSchema, ProductPatchSchema, ProductSchema,
                           RepaymentFilters, RepaymentInSchema, RepaymentSchema,
                           RescheduleSchema, ReverseSchema, WriteOffSchema)
from shg.accounts import access
from shg.errors import Invalid
from shg.extensions import db
from shg.registry import services as registry
from shg.registry.api import ITEM, _blueprint, _me, _page, _reads, _writes
from shg.registry.models import Group, Village
from shg.registry.schemas import page_figures
from shg.timeutil import today
from shg.transactions import commit_with_retry


def _commit(work):
    """Run a write and commit it (again from the start if SQLite was busy); a refusal or an
    error leaves nothing behind, not even what the service changed before it refused."""
    try:
        return commit_with_retry(work)
    except Exception:
        db.session.rollback()
        raise


# ---------------------------------------------------------------- lenders


lenders = _blueprint("lenders", "/lenders", "Who lends: an MFI, a bank, or the group's own "
                                            "fund. Recorded by the project office.")


@lenders.route("")
class Lenders(MethodView):
    @_reads(lenders)
    @lenders.response(200, LenderSchema(many=True))
    @lenders.paginate()
    def get(self, pagination_parameters):
        """List lenders"""
        return _page(select(Lender).order_by(Lender.name, Lender.id), pagination_parameters)

    @_writes(lenders)
    @lenders.arguments(LenderInSchema)
    @lenders.response(201, LenderSchema)
    def post(self, data):
        """Record a lender"""
        return _commit(lambda: services.save_lender(None, data, by=_me()))


def _lender(lender_id: int) -> Lender:
    lender = db.session.get(Lender, lender_id)
    if lender is None:
        raise NotFound()
    return lender


@lenders.route(ITEM.format("lender_id"))
class LenderItem(MethodView):
    @_reads(lenders, item=True)
    @lenders.response(200, LenderSchema)
    def get(self, lender_id):
        """Read a lender"""
        return _lender(lender_id)

    @_writes(lenders, item=True)
    @lenders.arguments(LenderPatchSchema)
    @lenders.response(200, LenderSchema)
    def patch(self, data, lender_id):
        """Change a lender's name or kind"""
        return _commit(lambda: services.save_lender(_lender(lender_id), data, by=_me()))


# ---------------------------------------------------------------- loan products


products = _blueprint("loan_products", "/loan-products",
                      "Loan products: the terms each new loan copies. A change never changes "
                      "a loan already applied for. Changes are for the project office; rates "
                      "are percent, as strings (\"24\", \"1.875\").")


def _product(product_id: int) -> LoanProduct:
    product = db.session.get(LoanProduct, product_id)
    if product is None:
        raise NotFound()
    return product


@products.route("")
class Products(MethodView):
    @_reads(products)
    @products.response(200, ProductSchema(many=True))
    @products.paginate()
    def get(self, pagination_parameters):
        """List loan products"""
        return _page(select(LoanProduct).order_by(LoanProduct.name, LoanProduct.id),
                     pagination_parameters)

    @_writes(products)
    @products.arguments(ProductInSchema)
    @products.response(201, ProductSchema)
    def post(self, data):
        """Set up a loan product (its terms are checked by building a sample schedule)"""
        return _commit(lambda: services.save_product(None, data, by=_me()))


@products.route(ITEM.format("product_id"))
class ProductItem(MethodView):
    @_reads(products, item=True)
    @products.response(200, ProductSchema)
    def get(self, product_id):
        """Read a loan product"""
        return _product(product_id)

    @_writes(products, item=True)
    @products.arguments(ProductPatchSchema)
    @products.response(200, ProductSchema)
    def patch(self, data, product_id):
        """Change a loan product (new loans only)"""
        return _commit(lambda: services.save_product(_product(product_id), data, by=_me()))


# ---------------------------------------------------------------- loans


loans = _blueprint("loans_api", "/loans",
                   "Loans through their life: applied, approved, disbursed (the schedule is "
                   "fixed), repaid, closed, or written off; rescheduled with the old schedule "
                   "kept. Money is a string with two decimal places; dates are YYYY-MM-DD.")


def _loans_query(user, status=None, member_id=None, group_id=None, village_id=None,
                 district_id=None):
    """Loans in the user's districts (the district of the group she borrowed through)."""
    query = (select(Loan).join(Group, Loan.group_id == Group.id)
             .join(Village, Group.village_id == Village.id)
             .options(selectinload(Loan.member), selectinload(Loan.lender),
                      selectinload(Loan.group).selectinload(Group.village))
             .order_by(Loan.applied_on.desc(), Loan.id.desc()))
    query = access.scope(query, user, Village.district_id)
    if status:
        query = query.where(Loan.status == status)
    if member_id:
        query = query.where(Loan.member_id == member_id)
    if group_id:
        query = query.where(Loan.group_id == group_id)
    if village_id:
        query = query.where(Group.village_id == village_id)
    if district_id:
        query = query.where(Village.district_id == district_id)
    return query


def _on_loan(loan_id: int, action):
    """A write on one loan: the work function loads the loan (404 or 403 first) each time it
    runs, so a retry starts again from what is in the database."""
    return _commit(lambda: action(services.get_loan(loan_id, _me(), change=True)))


@loans.route("")
class Loans(MethodView):
    @_reads(loans)
    @loans.arguments(LoanFilters, location="query")
    @loans.response(200, LoanSchema(many=True))
    @loans.paginate()
    def get(self, args, pagination_parameters):
        """List the loans the user reaches, newest application first"""
        return _page(_loans_query(_me(), **args), pagination_parameters)

    @_writes(loans)
    @loans.arguments(LoanInSchema)
    @loans.response(201, LoanDetailSchema)
    def post(self, data):
        """Apply for a loan: its product's terms, with any schedule terms given here"""
        return _commit(lambda: services.apply_for_loan(data, by=_me()))


@loans.route("/preview")
class LoanPreview(MethodView):
    @_writes(loans)
    @loans.arguments(PreviewInSchema)
    @loans.response(200, PreviewSchema)
    def post(self, data):
        """The schedule a product gives for an amount and dates; nothing is saved

        No borrower is needed: this is what an officer shows a member before she applies.
        """
        product = db.session.get(LoanProduct, data["product_id"])
        if product is None or not product.is_active:
            raise Invalid({"product_id": [_("Choose a loan product.")]})
        disbursed_on = data.get("disbursed_on") or today()
        # A loan that is never added to the session: the services' own preview of it.
        draft = Loan(principal=data["principal"], currency=data.get("currency"),
                     applied_on=disbursed_on, first_due_on=data.get("first_due_on"))
        for key in services.TERM_FIELDS:
            value = data.get(key)
            setattr(draft, key, value if value is not None else getattr(product, key))
        draft.balloon_on = data.get("balloon_on") or services._balloon_date(
            product.balloon_month, disbursed_on, draft.frequency)
        lines = services.preview(draft, disbursed_on)
        interest = sum((line.interest for line in lines), Decimal("0.00"))
        return {"currency": draft.currency, "principal": draft.principal,
                "disbursed_on": disbursed_on, "total_interest": interest,
                "total": draft.principal + interest, "installments": lines}


@loans.route("/overdue")
class Overdue(MethodView):
    @_reads(loans)
    @loans.arguments(OverdueFilters, location="query")
    @loans.response(200, OverdueRowSchema(many=True))
    @loans.paginate()
    def get(self, args, pagination_parameters):
        """The morning worklist: loans in arrears today, the longest late first"""
        rows = _page(portfolio.overdue_query(_me(), **args), pagination_parameters)
        return portfolio.overdue_rows(rows)


@loans.route(ITEM.format("loan_id"))
class LoanItem(MethodView):
    @_reads(loans, item=True)
    @loans.arguments(AsOfArgs, location="query")
    @loans.response(200, LoanDetailSchema)
    def get(self, args, loan_id):
        """Read a loan: terms, schedule in force with what is paid, older schedules, and
        its position (days past due, arrears, penalty, outstanding) as of a day"""
        loan = services.get_loan(loan_id, _me())
        as_of = args.get("as_of") or today()
        page_figures()["positions"] = {loan.id: services.position(loan, as_of)}
        return loan


@loans.route(ITEM.format("loan_id") + "/approve")
class LoanApprove(MethodView):
    @_writes(loans, item=True)
    @loans.arguments(ApproveSchema)
    @loans.response(200, LoanDetailSchema)
    def post(self, data, loan_id):
        """Approve an application"""
        return _on_loan(loan_id, lambda loan: services.approve_loan(
            loan, data.get("approved_on"), by=_me()))


@loans.route(ITEM.format("loan_id") + "/disburse")
class LoanDisburse(MethodView):
    @_writes(loans, item=True)
    @loans.arguments(DisburseSchema)
    @loans.response(200, LoanDetailSchema)
    def post(self, data, loan_id):
        """Pay the loan out: its schedule is fixed from this day"""
        return _on_loan(loan_id, lambda loan: services.disburse_loan(
            loan, data.get("disbursed_on"), by=_me(), first_due_on=data.get("first_due_on")))


@loans.route(ITEM.format("loan_id") + "/write-off")
class LoanWriteOff(MethodView):
    @_writes(loans, item=True)
    @loans.arguments(WriteOffSchema)
    @loans.response(200, LoanDetailSchema)
    def post(self, data, loan_id):
        """Write the loan off, with the reason"""
        return _on_loan(loan_id, lambda loan: services.write_off(
            loan, data.get("written_off_on"), data["reason"], by=_me()))


@loans.route(ITEM.format("loan_id") + "/reschedule")
class LoanReschedule(MethodView):
    @_writes(loans, item=True)
    @loans.arguments(RescheduleSchema)
    @loans.response(200, LoanDetailSchema)
    def post(self, data, loan_id):
        """A new schedule for what is outstanding; the old one stays in the history

        Interest and fees fallen due and unpaid, and the penalty due, are carried to the
        first installment of the new schedule.
        """
        on = data.pop("rescheduled_on", None)
        return _on_loan(loan_id, lambda loan: services.reschedule(loan, on, data, by=_me()))


@loans.route(ITEM.format("loan_id") + "/repayments")
class LoanRepayments(MethodView):
    @_reads(loans, item=True)
    @loans.response(200, RepaymentSchema(many=True))
    @loans.paginate()
    def get(self, pagination_parameters, loan_id):
        """The loan's repayments in the order paid, with where each went"""
        loan = services.get_loan(loan_id, _me())
        query = (select(Repayment).where(Repayment.loan_id == loan.id)
                 .options(selectinload(Repayment.allocations)
                          .selectinload(Allocation.installment))
                 .order_by(Repayment.paid_on, Repayment.id))
        return _page(query, pagination_parameters)

    @_writes(loans, item=True)
    @loans.arguments(RepaymentInSchema)
    @loans.response(201, RepaymentSchema)
    def post(self, data, loan_id):
        """Record a repayment: penalties, fees, interest, then principal, oldest first

        Refused, with nothing written, on a loan not disbursed or closed, before the
        disbursement, in the future, or for more than she owes on the day.
        """
        return _on_loan(loan_id, lambda loan: services.post_repayment(
            loan, data["amount"], data["paid_on"], by=_me(), receipt_no=data.get("receipt_no")))


# ---------------------------------------------------------------- repayments


repayments = _blueprint("repayments", "/repayments",
                        "Repayments are never deleted: a wrong one is reversed, with a reason, "
                        "and the loan is as if it never came.")


def _repayment(repayment_id: int, change: bool = False) -> Repayment:
    repayment = db.session.get(Repayment, repayment_id)
    if repayment is None:
        raise NotFound()
    services.get_loan(repayment.loan_id, _me(), change=change)
    return repayment


def _repayments_query(user, loan_id=None, member_id=None, group_id=None, village_id=None,
                      district_id=None, date_from=None, date_to=None, reversed=None):
    """Repayments of the loans in the user's districts, the latest paid first."""
    query = (select(Repayment).join(Loan, Repayment.loan_id == Loan.id)
             .join(Group, Loan.group_id == Group.id)
             .join(Village, Group.village_id == Village.id)
             .options(selectinload(Repayment.allocations).selectinload(Allocation.installment))
             .order_by(Repayment.paid_on.desc(), Repayment.id.desc()))
    query = access.scope(query, user, Village.district_id)
    for column, value in ((Repayment.loan_id, loan_id), (Loan.member_id, member_id),
                          (Loan.group_id, group_id), (Group.village_id, village_id),
                          (Village.district_id, district_id)):
        if value:
            query = query.where(column == value)
    if date_from:
        query = query.where(Repayment.paid_on >= date_from)
    if date_to:
        query = query.where(Repayment.paid_on <= date_to)
    if reversed is True:
        query = query.where(Repayment.reversed_at.is_not(None))
    elif reversed is False:
        query = query.where(Repayment.reversed_at.is_(None))
    return query


@repayments.route("")
class Repayments(MethodView):
    @_reads(repayments)
    @repayments.arguments(RepaymentFilters, location="query")
    @repayments.response(200, RepaymentSchema(many=True))
    @repayments.paginate()
    def get(self, args, pagination_parameters):
        """List the repayments the user reaches, the latest paid first (a repayment is
        recorded on its loan: POST /loans/{loan_id}/repayments)"""
        return _page(_repayments_query(_me(), **args), pagination_parameters)


@repayments.route(ITEM.format("repayment_id"))
class RepaymentItem(MethodView):
    @_reads(repayments, item=True)
    @repayments.response(200, RepaymentSchema)
    def get(self, repayment_id):
        """Read a repayment with its allocations"""
        return _repayment(repayment_id)


@repayments.route(ITEM.format("repayment_id") + "/reverse")
class RepaymentReverse(MethodView):
    @_writes(repayments, item=True)
    @repayments.arguments(ReverseSchema)
    @repayments.response(200, RepaymentSchema)
    def post(self, data, repayment_id):
        """Reverse a wrong repayment: the loan is replayed without it"""
        return _commit(lambda: services.reverse_repayment(
            _repayment(repayment_id, change=True), data["reason"], by=_me()))


# ---------------------------------------------------------------- credit history


credit_history = _blueprint("credit_history", "/members",
                            "A member's credit history: what a loan officer reads before a "
                            "new loan.")


@credit_history.route(ITEM.format("member_id") + "/credit-history")
class CreditHistory(MethodView):
    @_reads(credit_history, item=True)
    @credit_history.arguments(AsOfArgs, location="query")
    @credit_history.response(200, CreditHistorySchema)
    def get(self, args, member_id):
        """Every loan and installment of a member, with days late, on-time rate, worst
        days past due, arrears, write-offs and her grade with the rule that gave it"""
        member = registry.get_member(member_id, _me())
        history = credit.credit_history(member.id, args.get("as_of"))
        return {**{name: getattr(history, name) for name in history.__dataclass_fields__},
                "member_id": member.id, "member_name": member.full_name,
                "grade_rules": [{"grade": grade, "rule": str(rule)}
                                for grade, rule in credit.GRADE_RULES]}


# ---------------------------------------------------------------- portfolio


portfolio_api = _blueprint("portfolio", "/portfolio",
                           "Portfolio figures per currency for the districts the user "
                           "reaches: PAR30, buckets, on-time and collection rates, "
                           "disbursements by gender, write-offs. Rates are shares from 0 to 1.")


@portfolio_api.route("")
class Portfolio(MethodView):
    @_reads(portfolio_api)
    @portfolio_api.arguments(PortfolioFilters, location="query")
    @portfolio_api.response(200, PortfolioSchema)
    def get(self, args):
        """The portfolio of a group, village, district or country on a day"""
        as_of = args.pop("as_of", None) or today()
        figures = portfolio.portfolio(as_of=as_of, user=_me(), **args)
        return {"as_of": as_of, "period_start": args.get("period_start"),
                "currencies": [figures[c] for c in sorted(figures)]}
