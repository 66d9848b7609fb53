"""Loans: products, loans with their schedules, repayments and how each was allocated.

A loan copies its product's terms when it is applied for: changing a product later never
changes a loan already agreed. A schedule is fixed at disbursement; a reschedule makes a
new version of it and keeps the old one for history.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shg.extensions import db
from shg.money import ExactDecimal, Money
from shg.timeutil import utcnow

LENDER_KINDS = ("mfi", "bank", "group_fund")
METHODS = ("flat", "declining_equal_installments", "declining_equal_principal")
RATE_PERIODS = ("year", "month")
FREQUENCIES = ("week", "2weeks", "4weeks", "month")
DAY_COUNTS = ("per_period", "actual_365")
BALLOON_INTEREST = ("interest_only", "nothing")
PENALTY_METHODS = ("none", "percent", "flat")
COMPONENTS = ("penalty", "fee", "interest", "principal")
DEFAULT_ORDER = "penalty,fee,interest,principal"
STATUSES = ("applied", "approved", "disbursed", "closed", "written_off")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Lender(db.Model):
    """Who lends: a microfinance institution, a bank, or the group's own fund."""

    __tablename__ = "lender"
    __table_args__ = (CheckConstraint(_in("kind", LENDER_KINDS), name="ck_lender_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(12))


class TermsMixin:
    """The repayment terms, the same columns on a product and on each loan made from it."""

    method: Mapped[str] = mapped_column(String(32))
    #: percent per ``rate_period`` (24 for 24 % a year)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    rate_period: Mapped[str] = mapped_column(String(5), default="year")
    frequency: Mapped[str] = mapped_column(String(8), default="month")
    installments: Mapped[int]
    #: the first N installments pay interest only
    grace_on_principal: Mapped[int] = mapped_column(default=0)
    #: the first N installments pay nothing; their interest falls due after the grace
    grace_on_interest: Mapped[int] = mapped_column(default=0)
    #: harvest-season loan: no principal before installments due in this month's number
    #: (1-12) on a product; the loan fixes the date
    balloon_interest: Mapped[str] = mapped_column(String(14), default="interest_only")
    day_count: Mapped[str] = mapped_column(String(10), default="per_period")
    #: round installments to this amount (1 = whole som); null: to the tyiyn
    in_multiples_of: Mapped[Optional[Decimal]] = mapped_column(ExactDecimal(2))
    penalty_method: Mapped[str] = mapped_column(String(8), default="none")
    #: percent of the overdue amount per period late (penalty_method "percent")
    penalty_rate: Mapped[Decimal] = mapped_column(ExactDecimal(4), default=Decimal("0"))
    #: charged once per late installment (penalty_method "flat")
    penalty_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    #: days after the due date before a penalty is charged
    penalty_grace_days: Mapped[int] = mapped_column(default=0)
    #: components a repayment pays, in order, installment by installment (oldest first)
    allocation_order: Mapped[str] = mapped_column(String(40), default=DEFAULT_ORDER)


def _terms_checks(prefix: str):
    return (
        CheckConstraint(_in("method", METHODS), name=f"ck_{prefix}_method"),
        CheckConstraint(_in("rate_period", RATE_PERIODS), name=f"ck_{prefix}_rate_period"),
        CheckConstraint(_in("frequency", FREQUENCIES), name=f"ck_{prefix}_frequency"),
        CheckConstraint(_in("day_count", DAY_COUNTS), name=f"ck_{prefix}_day_count"),
        CheckConstraint(_in("balloon_interest", BALLOON_INTEREST), name=f"ck_{prefix}_balloon"),
        CheckConstraint(_in("penalty_method", PENALTY_METHODS), name=f"ck_{prefix}_penalty"),
        CheckConstraint("rate >= 0", name=f"ck_{prefix}_rate"),
        CheckConstraint("installments > 0", name=f"ck_{prefix}_installments"),
        CheckConstraint("grace_on_principal >= 0 AND grace_on_interest >= 0",
                        name=f"ck_{prefix}_grace"),
    )


class LoanProduct(TermsMixin, db.Model):
    """A loan product the project office sets up: its terms become each new loan's terms."""

    __tablename__ = "loan_product"
    __table_args__ = _terms_checks("product")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: harvest-season product: principal falls due from this month of the year (1-12)
    balloon_month: Mapped[Optional[int]]
    #: SMS reminder this many days before an installment is due
    reminder_days_before: Mapped[int] = mapped_column(default=3)
    is_active: Mapped[bool] = mapped_column(default=True)


class Loan(TermsMixin, db.Model):
    __tablename__ = "loan"
    __table_args__ = _terms_checks("loan") + (
        CheckConstraint(_in("status", STATUSES), name="ck_loan_status"),
        CheckConstraint("principal > 0", name="ck_loan_principal"),
        Index("ix_loan_member", "member_id"),
        Index("ix_loan_group", "group_id"),
        #: the overdue worklist: loans out, oldest unpaid installment first
        Index("ix_loan_worklist", "status", "oldest_unpaid_due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    #: the group she borrowed through (kept if she later moves)
    group_id: Mapped[int] = mapped_column(ForeignKey("shg_group.id"))
    lender_id: Mapped[int] = mapped_column(ForeignKey("lender.id"))
    product_id: Mapped[Optional[int]] = mapped_column(ForeignKey("loan_product.id"))
    purpose: Mapped[str] = mapped_column(String(200))
    principal: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), default="applied")
    applied_on: Mapped[date]
    approved_on: Mapped[Optional[date]]
    disbursed_on: Mapped[Optional[date]]
    #: the date the first installment falls due (chosen, or one period after disbursement)
    first_due_on: Mapped[Optional[date]]
    #: harvest-season loan: principal due from installments in this month
    balloon_on: Mapped[Optional[date]]
    closed_on: Mapped[Optional[date]]
    written_off_on: Mapped[Optional[date]]
    write_off_reason: Mapped[Optional[str]] = mapped_column(String(300))
    #: rescheduled at least once: counts as at risk in PAR when the setting says so
    restructured: Mapped[bool] = mapped_column(default=False)
    #: the schedule in force; older versions stay for history
    schedule_version: Mapped[int] = mapped_column(default=1)
    #: kept current on every posting so the morning worklist needs no schedule scan:
    #: principal not yet repaid, and the due date of the oldest installment not fully paid
    outstanding_principal: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    oldest_unpaid_due_on: Mapped[Optional[date]]
    last_paid_on: Mapped[Optional[date]]
    #: bumped first thing by every posting, so two officers posting at once take turns
    lock_version: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped["Member"] = relationship()  # noqa: F821
    group: Mapped["Group"] = relationship()  # noqa: F821
    lender: Mapped[Lender] = relationship()
    product: Mapped[Optional[LoanProduct]] = relationship()
    installments_all: Mapped[list["Installment"]] = relationship(
        back_populates="loan", order_by="(Installment.version, Installment.number)",
        cascade="all, delete-orphan")
    repayments: Mapped[list["Repayment"]] = relationship(
        back_populates="loan", order_by="(Repayment.paid_on, Repayment.id)")

    @property
    def schedule(self) -> list["Installment"]:
        """The installments in force (the current schedule version)."""
        return [i for i in self.installments_all if i.version == self.schedule_version]

    @property
    def district_id(self) -> int:
        return self.group.village.district_id


class Installment(db.Model):
    """One line of a schedule, with what has been paid against it so far.

    The paid columns are the sum of the allocations of repayments not reversed; they are
    rewritten whenever a repayment is posted or reversed (``services.reallocate``).
    """

    __tablename__ = "installment"
    __table_args__ = (
        UniqueConstraint("loan_id", "version", "number"),
        CheckConstraint("principal >= 0 AND interest >= 0 AND fee >= 0", name="ck_installment_amounts"),
        CheckConstraint("principal_paid <= principal AND interest_paid <= interest AND fee_paid <= fee",
                        name="ck_installment_not_overpaid"),
        Index("ix_installment_due", "due_on", "loan_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    #: the schedule version this line belongs to applies from this day (disbursement, or
    #: the day of a reschedule) until ``superseded_on`` (the next reschedule), if any
    in_force_from: Mapped[date]
    superseded_on: Mapped[Optional[date]]
    number: Mapped[int]
    due_on: Mapped[date]
    principal: Mapped[Decimal] = mapped_column(Money())
    interest: Mapped[Decimal] = mapped_column(Money())
    fee: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    principal_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    interest_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    fee_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    penalty_paid: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    #: the day it was fully paid (principal, interest and fee); null while anything is owed
    paid_on: Mapped[Optional[date]]

    loan: Mapped[Loan] = relationship(back_populates="installments_all")

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee

    @property
    def paid(self) -> Decimal:
        return self.principal_paid + self.interest_paid + self.fee_paid

    @property
    def owed(self) -> Decimal:
        return self.total - self.paid


class Repayment(db.Model):
    """Money a member paid. Never deleted: a wrong one is reversed, with a reason."""

    __tablename__ = "repayment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_repayment_amount"),
        Index("ix_repayment_loan", "loan_id", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    paid_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money())
    receipt_no: Mapped[Optional[str]] = mapped_column(String(40))
    #: collected at this group meeting (collection sheet)
    meeting_id: Mapped[Optional[int]] = mapped_column(ForeignKey("meeting.id"), index=True)
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    reversed_at: Mapped[Optional[datetime]]
    reversed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    reversal_reason: Mapped[Optional[str]] = mapped_column(String(300))

    loan: Mapped[Loan] = relationship(back_populates="repayments")
    recorded_by: Mapped[Optional["User"]] = relationship(foreign_keys=[recorded_by_id])  # noqa: F821
    allocations: Mapped[list["Allocation"]] = relationship(
        back_populates="repayment", cascade="all, delete-orphan",
        order_by="Allocation.id")

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None


class Allocation(db.Model):
    """How much of a repayment went to which component of which installment."""

    __tablename__ = "allocation"
    __table_args__ = (
        CheckConstraint(_in("component", COMPONENTS), name="ck_allocation_component"),
        CheckConstraint("amount > 0", name="ck_allocation_amount"),
        Index("ix_allocation_installment", "installment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repayment_id: Mapped[int] = mapped_column(ForeignKey("repayment.id", ondelete="CASCADE"),
                                              index=True)
    installment_id: Mapped[int] = mapped_column(ForeignKey("installment.id"))
    component: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money())

    repayment: Mapped[Repayment] = relationship(back_populates="allocations")
    installment: Mapped[Installment] = relationship()
