"""Who may read and change what: the one place district access is decided.

Admins reach everything. Viewers read everything and change nothing. Facilitators and loan
officers read and change only the records of the districts they are assigned. Every page
and API endpoint asks these functions, through the loaders in ``shg.registry.services``.
"""
from __future__ import annotations

from typing import Optional

from flask_babel import gettext as _
from werkzeug.exceptions import Forbidden

from shg.accounts.models import DISTRICT_ROLES


def district_ids(user) -> Optional[set[int]]:
    """The districts a user reaches, or None for all of them."""
    if user.role in DISTRICT_ROLES:
        return {d.id for d in user.districts}
    return None


def can_read(user, district_id: int) -> bool:
    ids = district_ids(user)
    return ids is None or district_id in ids


def can_change(user, district_id: int) -> bool:
    if user.role == "admin":
        return True
    if user.role in DISTRICT_ROLES:
        return district_id in district_ids(user)
    return False


def can_change_registry(user) -> bool:
    """May this role record groups, members and meetings at all (in its own districts)?"""
    return user.role in ("admin", *DISTRICT_ROLES)


def may_record(user, district_id: int) -> bool:
    """May this user record groups, members, meetings, seeds and harvests in this district?
    (Pages use it to show or hide their buttons; the services check the same.)"""
    return can_change_registry(user) and can_change(user, district_id)


def require_read(user, district_id: int) -> None:
    if not can_read(user, district_id):
        raise Forbidden(_("This record belongs to a district you are not assigned to."))


def require_change(user, district_id: int) -> None:
    if not can_read(user, district_id):
        raise Forbidden(_("This record belongs to a district you are not assigned to."))
    if not can_change(user, district_id):
        raise Forbidden(_("Your role may not change this record."))


def require_admin(user) -> None:
    if user.role != "admin":
        raise Forbidden(_("Only the project office may do this."))


def scope(query, user, district_column):
    """Limit a select to the districts the user reaches."""
    ids = district_ids(user)
    if ids is None:
        return query
    return query.where(district_column.in_(ids or [-1]))
