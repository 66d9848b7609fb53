"""The schedule engine's refusals, listed here so the translation catalogue carries them.

loans.schedules is pure and speaks English; services.schedule_error translates its message
with these entries when a refusal reaches a user.
"""
from flask_babel import lazy_gettext as _l

SCHEDULE_MESSAGES = (
    _l("A grace period cannot be negative."),
    _l("A harvest-season loan cannot also have a grace period."),
    _l("A loan cannot have that many installments."),
    _l("A loan needs at least one installment."),
    _l("Amounts and rates must be numbers."),
    _l("The currency decimals must be between 0 and 6."),
    _l("The equal installment does not cover the interest due."),
    _l("The first repayment date must be after the disbursement date."),
    _l("The grace period must be shorter than the loan."),
    _l("The harvest month is too far away."),
    _l("The harvest month must come after the first repayment."),
    _l("The harvest month must fall within the loan."),
    _l("The installment multiple has more decimals than the currency allows."),
    _l("The installment multiple must be greater than zero."),
    _l("The interest rate cannot be more than 100% a month."),
    _l("The interest rate cannot be negative."),
    _l("The interest rate must be per year or per month."),
    _l("The loan amount has more decimals than the currency allows."),
    _l("The loan amount must be greater than zero."),
    _l("The number of installments must be a whole number."),
    _l("Unknown interest day count."),
    _l("Unknown interest method."),
    _l("Unknown interest rule for the months before the harvest."),
    _l("Unknown repayment frequency."),
)
