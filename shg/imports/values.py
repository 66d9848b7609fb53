"""Reading one cell: dates, numbers, yes/no and coded choices as people type them.

Only the *reading* is here (is "01.03.2021" a date, is "1 250,50" a number, does "Ж" mean
female): whether the value is allowed is for the services to say, with the same rules as
the pages. Each reader takes a cell that is not blank and returns the value, or raises
``ValueError`` with the reason in the user's language.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Callable, Iterable

from flask_babel import force_locale, gettext as _

from shg.money import MAX_AMOUNT, parse_decimal

#: whole numbers beyond this are typing slips (and would overflow an INTEGER column)
MAX_INT = 2 ** 31 - 1
_DMY = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@lru_cache(maxsize=65536)
def _norm(text: str) -> str:
    text = text.replace("\ufeff", "").replace("\u00a0", " ").casefold().replace("ё", "е")
    text = re.sub(r"[\s_\-]+", " ", text)
    return text.strip().rstrip("*").strip()


def norm(text) -> str:
    """A name or a header as compared: case, ё/е, spaces, dashes and underscores ignored
    (remembered: a file names its villages and groups thousands of times)."""
    return _norm(str(text))


def text(max_len: int = 200) -> Callable:
    def read(value):
        value = str(value).strip() if not isinstance(value, str) else value.strip()
        if "\x00" in value:
            raise ValueError(_("The text contains a character that cannot be stored."))
        if len(value) > max_len:
            raise ValueError(_("This text is too long (at most %(max)s characters).",
                               max=max_len))
        return " ".join(value.split()) if "\n" not in value else value
    return read


def a_date(value) -> date:
    """DD.MM.YYYY (also with /), ISO YYYY-MM-DD, or a spreadsheet date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, Decimal)):
        raise ValueError(_("Not a date: write it as DD.MM.YYYY or YYYY-MM-DD."))
    raw = str(value).strip()
    match = _DMY.match(raw)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
        match = _ISO.match(raw)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        raise ValueError(_("No such day in the calendar: %(value)s.", value=raw[:40])) from None
    raise ValueError(_("Not a date: write it as DD.MM.YYYY or YYYY-MM-DD."))


def a_decimal(value) -> Decimal:
    """A number with a decimal comma or point; spaces between thousands are fine."""
    if isinstance(value, bool):
        raise ValueError(_("Not a valid number."))
    if isinstance(value, (int, Decimal)):
        result = Decimal(value)
    else:
        raw = str(value).strip()
        if re.search(r"[eE]", raw) or not re.search(r"\d", raw):
            raise ValueError(_("Not a valid number."))
        try:
            result = parse_decimal(raw)
        except (TypeError, ValueError):
            if re.fullmatch(r"[-+]?[\d\s.,\u00a0]{13,}", raw):
                raise ValueError(_("This number is too large.")) from None
            raise ValueError(_("Not a valid number.")) from None
    if not result.is_finite():
        raise ValueError(_("Not a valid number."))
    if abs(result) >= MAX_AMOUNT:
        raise ValueError(_("This number is too large."))
    return result


def an_int(value) -> int:
    if isinstance(value, bool):
        raise ValueError(_("Not a whole number."))
    try:
        number = value if isinstance(value, (int, Decimal)) else parse_decimal(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(_("Not a whole number.")) from None
    number = Decimal(number)
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(_("Not a whole number."))
    if abs(number) > MAX_INT:
        raise ValueError(_("This number is too large."))
    return int(number)


YES = {"yes", "y", "true", "1", "x", "+", "да", "д", "истина", "ha", "ооба", "ҳа"}
NO = {"no", "n", "false", "0", "-", "нет", "н", "ложь", "жок", "не"}


def yes_no(value) -> bool:
    if isinstance(value, bool):
        return value
    word = norm(value)
    if word in YES:
        return True
    if word in NO:
        return False
    raise ValueError(_("Write yes or no."))


def choice(codes: Iterable, words: Callable[[], dict], hint: Callable[[], str]) -> Callable:
    """A coded value named by its code, its English or Russian label, or a usual synonym.

    ``words`` gives extra synonyms {word: code}; labels come from ``shg.labels`` in both
    languages, so the import reads exactly the words the pages show.
    """
    codes = tuple(codes)
    cache: dict = {}

    def read(value):
        if "table" not in cache:
            cache["table"] = _choices(codes, words)
        table = cache["table"]
        key = norm(value)
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            key = norm(str(value))
        if key in table:
            return table[key]
        raise ValueError(_("Unknown value %(value)s: write %(allowed)s.",
                           value=str(value)[:40], allowed=hint()))
    return read


def _choices(codes, words) -> dict:
    from shg.labels import label
    table = {}
    for code in codes:
        table[norm(code)] = code
        for locale in ("en", "ru"):
            with force_locale(locale):
                table.setdefault(norm(label(code)), code)
    for word, code in words().items():
        table.setdefault(norm(word), code)
    return table
