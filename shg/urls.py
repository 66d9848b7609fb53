from urllib.parse import urlsplit


def is_safe_next(target) -> bool:
    """Only redirect after login to a path on this site, never to another host."""
    if not target:
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False  # browsers read /\\evil.example as another site
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")


#: the largest id or number a query string may carry: PostgreSQL's integer
MAX_ID = 2 ** 31 - 1


def bounded_int(text) -> int:
    """``type=`` for request.args.get: a whole number the database can hold, else ValueError
    (and so the argument's default), never an overflow deep in a query."""
    text = str(text).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise ValueError(text)
    value = int(text)
    if value > MAX_ID:
        raise ValueError(text)
    return value


def date_arg(name: str):
    """A date from the query string (YYYY-MM-DD), or None; years past 2200 are not dates a
    ledger is read on (and would overflow the penalty arithmetic)."""
    from datetime import date

    from flask import request
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if 1900 <= day.year <= 2200 else None
