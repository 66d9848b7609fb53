"""Timestamps: naive UTC everywhere in the database, the same on SQLite and PostgreSQL."""
from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """The date used to refuse records 'in the future'.

    UTC+6 (Bishkek) is ahead of UTC, so we allow the programme's easternmost date:
    a meeting held this morning in Bishkek is not 'tomorrow' to the server.
    """
    from datetime import timedelta
    return (datetime.now(UTC) + timedelta(hours=6)).date()
