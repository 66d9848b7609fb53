"""Committing a write that may meet another writer.

PostgreSQL makes the second of two postings to one loan wait for the first (the loan's row
lock). SQLite allows one writer at a time: a transaction whose snapshot another writer has
moved on is refused ("database is locked") rather than made to wait. Such a write is simply
run again from the start, in a fresh transaction, so that no payment is ever lost.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from sqlalchemy.exc import OperationalError

from shg.extensions import db

T = TypeVar("T")
ATTEMPTS = 8


def commit_with_retry(work: Callable[[], T]) -> T:
    """Run ``work`` (which adds and flushes) and commit; again from the start if SQLite
    reports the database locked. ``work`` must load what it changes itself."""
    for attempt in range(ATTEMPTS):
        try:
            result = work()
            db.session.commit()
            return result
        except OperationalError as exc:
            db.session.rollback()
            if "locked" not in str(exc).lower() or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
