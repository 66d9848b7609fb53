"""Dates, numbers and money as the reader's locale writes them (12.03.2026, 1 250,50)."""
from decimal import Decimal

from flask_babel import format_date, format_decimal, format_percent


def money(value: Decimal | None, currency: str | None = None) -> str:
    if value is None:
        return "—"
    text = format_decimal(value, format="#,##0.00")
    return f"{text} {currency}" if currency else text


def number(value) -> str:
    return "—" if value is None else format_decimal(value)


def percent(value) -> str:
    """A share between 0 and 1, or None when there is nothing to divide by."""
    return "—" if value is None else format_percent(value, format="#,##0.0%")


def day(value) -> str:
    return "" if value is None else format_date(value, format="medium")


def init_app(app):
    app.jinja_env.filters.update(money=money, number=number, percent=percent, day=day)
    from shg import labels
    from flask_babel import get_locale
    app.jinja_env.globals.update(label=labels.label,
                                 current_locale=lambda: str(get_locale() or "en"))
