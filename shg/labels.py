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
}
WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))
COUNTRIES = {"RU": _l("Russia"), "KZ": _l("Kazakhstan"), "TR": _l("Turkey"),
             "AE": _l("United Arab Emirates"), "KR": _l("South Korea"), "KG": _l("Kyrgyzstan"),
             "TJ": _l("Tajikistan"), "UZ": _l("Uzbekistan"), "DE": _l("Germany"),
             "US": _l("United States"), "GB": _l("United Kingdom"), "PL": _l("Poland")}


def label(code) -> str:
    if code is None:
        return ""
    if isinstance(code, int):
        return str(WEEKDAYS[code])
    return str(LABELS.get(code) or COUNTRIES.get(code) or code)


def choices(codes) -> list[tuple[str, str]]:
    return [(c, LABELS.get(c) or COUNTRIES.get(c) or c) for c in codes]
