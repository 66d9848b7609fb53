"""Words for stored codes, in the reader's language: one place, used by pages, PDFs and API."""
from flask_babel import lazy_gettext as _l

LABELS = {
    "female": _l("Female"), "male": _l("Male"),
    "active": _l("Active"), "dormant": _l("Dormant"), "dissolved": _l("Dissolved"),
    "weekly": _l("Weekly"), "biweekly": _l("Every two weeks"), "monthly": _l("Monthly"),
    "present": _l("Present"), "absent": _l("Absent"), "excused": _l("Excused"), "late": _l("Late"),
    "leader": _l("Leader"), "treasurer": _l("Treasurer"), "secretary": _l("Secretary"),
    "admin": _l("Project office (admin)"), "loan_officer": _l("Loan officer"),
    "facilitator": _l("District facilitator"), "viewer": _l("Viewer (read only)"),
    "ky": _l("Kyrgyz"), "tg": _l("Tajik"), "ru": _l("Russian"), "uz": _l("Uzbek"), "en": _l("English"),
    "create": _l("created"), "update": _l("changed"), "delete": _l("deleted"),
    # loans: statuses
    "applied": _l("Applied"), "approved": _l("Approved"), "disbursed": _l("Disbursed"),
    "closed": _l("Closed"), "written_off": _l("Written off"),
    # loans: interest methods, repayment frequencies, day counts, before the harvest
    "flat": _l("Flat interest"),
    "declining_equal_installments": _l("Declining balance, equal installments"),
    "declining_equal_principal": _l("Declining balance, equal principal"),
    "week": _l("Every week"), "2weeks": _l("Every two weeks"), "4weeks": _l("Every four weeks"),
    "month": _l("Every month"),
    "per_period": _l("The same for every period"), "actual_365": _l("Actual days over 365"),
    "interest_only": _l("Interest only"), "nothing": _l("Nothing (interest deferred)"),
    # loans: lenders, components of an installment, installment states, PAR buckets
    "mfi": _l("Microfinance institution"), "bank": _l("Bank"), "group_fund": _l("Group's own fund"),
    "penalty": _l("Penalty"), "fee": _l("Fee"), "interest": _l("Interest"),
    "principal": _l("Principal"),
    "paid": _l("Paid"), "due": _l("Due"),
    "current": _l("Not late"), "1-30": _l("1-30 days"), "31-60": _l("31-60 days"),
    "61-90": _l("61-90 days"), "90+": _l("Over 90 days"),
    # codes that mean something else in another list: label(code, kind)
    "penalty:none": _l("No penalty"), "penalty:percent": _l("Percent of the overdue amount"),
    "penalty:flat": _l("Flat amount per late installment"),
    "rate_period:year": _l("% a year"), "rate_period:month": _l("% a month"),
    # seeds and harvests: seasons, kinds of unit
    "spring": _l("Spring"), "summer": _l("Summer"), "autumn": _l("Autumn"),
    "winter": _l("Winter"),
    # reminders: kinds, channels, outbox states, why one was skipped
    "installment_due": _l("Installment due soon (SMS)"),
    "installment_overdue": _l("Installment overdue (SMS)"),
    "overdue_digest": _l("Overdue digest (e-mail)"),
    "meetings_tomorrow": _l("Meetings tomorrow (e-mail)"),
    "portfolio_weekly": _l("Weekly portfolio (e-mail)"),
    "sms": _l("SMS"), "email": _l("E-mail"),
    "queued": _l("Waiting"), "sending": _l("Being sent"), "sent": _l("Sent"),
    "failed": _l("Failed, will retry"), "given_up": _l("Given up"), "skipped": _l("Not sent"),
    "no_phone": _l("no phone number"), "no_sms_consent": _l("she has not agreed to SMS"),
    "no_email": _l("no e-mail address"),
    "unit_kind:mass": _l("Weight"), "unit_kind:count": _l("Count"), "unit_kind:area": _l("Area"),
}
WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))
COUNTRIES = {"RU": _l("Russia"), "KZ": _l("Kazakhstan"), "TR": _l("Turkey"),
             "AE": _l("United Arab Emirates"), "KR": _l("South Korea"), "KG": _l("Kyrgyzstan"),
             "TJ": _l("Tajikistan"), "UZ": _l("Uzbekistan"), "DE": _l("Germany"),
             "US": _l("United States"), "GB": _l("United Kingdom"), "PL": _l("Poland")}


def label(code, kind: str | None = None) -> str:
    """The word for a code; ``kind`` picks the meaning of a code that two lists share
    (a "flat" penalty is not "flat" interest)."""
    if code is None:
        return ""
    if isinstance(code, int):
        return str(WEEKDAYS[code])
    if kind and f"{kind}:{code}" in LABELS:
        return str(LABELS[f"{kind}:{code}"])
    return str(LABELS.get(code) or COUNTRIES.get(code) or code)


def choices(codes, kind: str | None = None) -> list[tuple[str, str]]:
    return [(c, (LABELS.get(f"{kind}:{c}") if kind else None) or LABELS.get(c)
             or COUNTRIES.get(c) or c) for c in codes]
