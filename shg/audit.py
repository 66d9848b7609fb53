"""The audit log: who created or changed which record, when, and what changed.

Written from the session's ``after_flush`` event, so that every service, page, API call and
command is logged by the same code and no caller can forget it. The acting user comes from
``session.info["actor_id"]``, set by ``set_actor`` (each request does it for the logged-in
user; commands do it for the user they act as).
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import ForeignKey, String, Text, event, insert, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from shg.extensions import db
from shg.timeutil import utcnow

#: never written to the log
SECRET_FIELDS = {"password_hash", "token_hash"}
#: bookkeeping that is not a change anyone made
IGNORED_FIELDS = {"last_used_at"}


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: null for changes made by the system (demo data, scheduled jobs)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    #: the table name of the record: "member", "shg_group", …
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int]
    #: JSON {field: [old, new]} for updates, {field: value} for creates
    changes: Mapped[str] = mapped_column(Text, default="{}")

    user: Mapped[Optional["User"]] = relationship()  # noqa: F821

    @property
    def changes_dict(self) -> dict:
        return json.loads(self.changes or "{}")

    __table_args__ = (db.Index("ix_audit_record", "record_type", "record_id"),)


def set_actor(user) -> None:
    """Name the user whose changes this session is making."""
    db.session.info["actor_id"] = getattr(user, "id", None) if user is not None else None


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _columns(obj):
    return [attr for attr in inspect(obj).mapper.column_attrs if attr.key not in SECRET_FIELDS | IGNORED_FIELDS]


def _created(obj) -> dict:
    return {a.key: _plain(getattr(obj, a.key)) for a in _columns(obj)
            if getattr(obj, a.key) is not None and a.key != "id"}


def _updated(obj) -> dict:
    state = inspect(obj)
    changes = {}
    for attr in _columns(obj):
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                changes[attr.key] = [_plain(old), _plain(new)]
    return changes


@event.listens_for(Session, "after_flush")
def _log_changes(session, flush_context):
    actor_id = session.info.get("actor_id")
    rows = []
    for action, objects in (("create", session.new), ("update", session.dirty),
                            ("delete", session.deleted)):
        for obj in objects:
            if isinstance(obj, AuditEntry) or not hasattr(obj, "__table__"):
                continue
            if action == "create":
                changes = _created(obj)
            elif action == "update":
                changes = _updated(obj)
                if not changes:
                    continue
            else:
                changes = {}
            state = inspect(obj)
            key = state.identity or state.mapper.primary_key_from_instance(obj)
            record_id = key[0] if key else None
            if record_id is None:
                continue
            rows.append({"at": utcnow(), "user_id": actor_id, "action": action,
                         "record_type": obj.__tablename__, "record_id": record_id,
                         "changes": json.dumps(changes, ensure_ascii=False, sort_keys=True)})
    if rows:
        session.connection().execute(insert(AuditEntry.__table__), rows)
