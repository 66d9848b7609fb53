"""Loan forms. Choices that depend on the user (members, products, lenders) are set by the view.

Money and rates go through ``LocalDecimalField``: a Russian keyboard types "1 240,00".
The terms themselves are checked by the services (the schedule engine is the one judge of
whether a schedule can be built); the forms only read the values.
"""
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import TextInput

from loans.models import (BALLOON_INTEREST, DAY_COUNTS, FREQUENCIES, LENDER_KINDS, METHODS,
                          PENALTY_METHODS, RATE_PERIODS)
from shg.forms import LocalDecimalField, int_or_none
from shg.labels import choices

#: The allocation orders a product may choose: penalties first is the default
#: (DOMAIN.md); the others are orders partner MFIs use.
ALLOCATION_ORDERS = (
    ("penalty,fee,interest,principal", _l("Penalty, fee, interest, principal (usual)")),
    ("fee,interest,principal,penalty", _l("Fee, interest, principal, then penalty")),
    ("interest,principal,penalty,fee", _l("Interest, principal, then penalty and fee")),
    ("principal,interest,penalty,fee", _l("Principal, interest, then penalty and fee")),
)
MONTHS = (_l("January"), _l("February"), _l("March"), _l("April"), _l("May"), _l("June"),
          _l("July"), _l("August"), _l("September"), _l("October"), _l("November"),
          _l("December"))


class AmountField(LocalDecimalField):
    """An amount or rate box: a text input, since a browser's number input refuses
    "1 240,00"; it shows a value as the reader types it back ("1240,00", "1,5")."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, pattern="0.00", **kwargs):
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.pattern = pattern

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else format_decimal(self.data, format=self.pattern)




class LenderForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=choices(LENDER_KINDS))


class ProductForm(FlaskForm):
    name = StringField(_l("Product name"), validators=[DataRequired(), Length(max=120)])
    method = SelectField(_l("Interest method"), choices=choices(METHODS))
    rate = AmountField(_l("Interest rate (%)"), places=4, pattern="0.####",
                       validators=[InputRequired()])
    rate_period = SelectField(_l("Rate period"), choices=choices(RATE_PERIODS, "rate_period"))
    frequency = SelectField(_l("Repayment frequency"), choices=choices(FREQUENCIES))
    installments = IntegerField(_l("Number of installments"), validators=[InputRequired()],
                                render_kw={"inputmode": "numeric"})
    grace_on_principal = IntegerField(_l("Grace on principal (installments paying interest only)"),
                                      default=0, validators=[Optional()],
                                      render_kw={"inputmode": "numeric"})
    grace_on_interest = IntegerField(_l("Grace on interest (installments paying nothing)"),
                                     default=0, validators=[Optional()],
                                     render_kw={"inputmode": "numeric"})
    balloon_month = SelectField(_l("Harvest month (harvest-season loan)"), coerce=int_or_none,
                                choices=[(None, "—")] + [(i + 1, m) for i, m in enumerate(MONTHS)])
    balloon_interest = SelectField(_l("Before the harvest, installments pay"),
                                   choices=choices(BALLOON_INTEREST))
    day_count = SelectField(_l("Interest per period"), choices=choices(DAY_COUNTS))
    in_multiples_of = AmountField(_l("Round installments to a multiple of"),
                                  validators=[Optional()])
    penalty_method = SelectField(_l("Penalty for late payment"),
                                 choices=choices(PENALTY_METHODS, "penalty"))
    penalty_rate = AmountField(_l("Penalty rate (percent of the overdue amount per period)"),
                               places=4, pattern="0.####", default=0, validators=[Optional()])
    penalty_amount = AmountField(_l("Penalty amount"), default=0, validators=[Optional()])
    penalty_grace_days = IntegerField(_l("Days after the due date before a penalty"), default=0,
                                      validators=[Optional()], render_kw={"inputmode": "numeric"})
    allocation_order = SelectField(_l("A repayment pays"), choices=ALLOCATION_ORDERS,
                                   default=ALLOCATION_ORDERS[0][0])
    reminder_days_before = IntegerField(_l("SMS reminder, days before the due date"), default=3,
                                        validators=[Optional()], render_kw={"inputmode": "numeric"})
    is_active = BooleanField(_l("Offered for new loans"), default=True)

    #: the names the service reads, in the order the page shows them
    TERMS = ("method", "rate", "rate_period", "frequency", "installments", "grace_on_principal",
             "grace_on_interest", "balloon_month", "balloon_interest", "day_count",
             "in_multiples_of", "penalty_method", "penalty_rate", "penalty_amount",
             "penalty_grace_days", "allocation_order", "reminder_days_before", "is_active")


class ApplyForm(FlaskForm):
    member_id = SelectField(_l("Borrower"), coerce=int_or_none, validate_choice=False)
    product_id = SelectField(_l("Loan product"), coerce=int_or_none)
    lender_id = SelectField(_l("Lender"), coerce=int_or_none)
    principal = AmountField(_l("Amount"), validators=[InputRequired()],
                            render_kw={"placeholder": "10 000,00"})
    purpose = StringField(_l("Purpose"), validators=[DataRequired(), Length(max=200)])
    applied_on = DateField(_l("Applied on"), validators=[DataRequired()])
    first_due_on = DateField(_l("First repayment date (optional)"), validators=[Optional()])
    installments = IntegerField(_l("Number of installments (leave empty for the product's)"),
                                validators=[Optional()], render_kw={"inputmode": "numeric"})


class ApproveForm(FlaskForm):
    approved_on = DateField(_l("Approved on"), validators=[DataRequired()])


class DisburseForm(FlaskForm):
    disbursed_on = DateField(_l("Paid out on"), validators=[DataRequired()])
    first_due_on = DateField(_l("First repayment date (optional)"), validators=[Optional()])


class RepaymentForm(FlaskForm):
    paid_on = DateField(_l("Paid on"), validators=[DataRequired()])
    amount = AmountField(_l("Amount"), validators=[InputRequired()],
                         render_kw={"placeholder": "0,00"})
    receipt_no = StringField(_l("Receipt no."), validators=[Optional(), Length(max=40)],
                             render_kw={"autocomplete": "off"})


class ReverseForm(FlaskForm):
    reason = StringField(_l("Reason for the reversal"), validators=[Length(max=300)])


class WriteOffForm(FlaskForm):
    written_off_on = DateField(_l("Written off on"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Length(max=300)],
                           render_kw={"rows": 2})


class RescheduleForm(FlaskForm):
    rescheduled_on = DateField(_l("Rescheduled on"), validators=[DataRequired()])
    installments = IntegerField(_l("New number of installments"),
                                validators=[InputRequired()],
                                render_kw={"inputmode": "numeric"})
    first_due_on = DateField(_l("First repayment date (optional)"), validators=[Optional()])
