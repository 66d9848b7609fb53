"""The JSON API under /api/v1: token authentication, idempotent writes, one Api per app.

Every domain makes its blueprints with ``api_blueprint()`` and lists them in ``BLUEPRINTS``;
``init_api`` registers them. Pages use the session cookie and CSRF; the API uses only a
personal token (``Authorization: Bearer shg_…``), so a browser's cookie never opens it.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Optional

from flask import Response, current_app, g, request
from flask_babel import gettext as _
from flask_babel import refresh as babel_refresh
from flask_smorest import Api, Blueprint, abort
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from shg.extensions import csrf, db
from shg.timeutil import utcnow

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: a request still marked pending after this long is taken to have died, and may run again
PENDING_TIMEOUT = timedelta(minutes=2)
BLUEPRINTS: list[Blueprint] = []


class IdempotentRequest(db.Model):
    """The first answer to a write sent with an ``Idempotency-Key``, replayed to retries."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    #: null while the first request is still being answered
    status_code: Mapped[Optional[int]] = mapped_column(Integer)
    body: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def api_blueprint(name: str, url_prefix: str, description: str = "") -> Blueprint:
    blp = Blueprint(name, __name__, url_prefix="/api/v1" + url_prefix, description=description)
    blp.before_request(_authenticate)
    blp.before_request(_replay_idempotent)
    blp.after_request(_remember_idempotent)
    BLUEPRINTS.append(blp)
    return blp


def _authenticate():
    from shg.accounts.services import user_for_token
    from shg.audit import set_actor
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    user = user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        abort(401, message=_("Send a valid personal API token: Authorization: Bearer <token>."))
    # What flask_login.login_user() does for one request, without touching the session cookie.
    g._login_user = user
    # Messages from here on are in the token user's language, even if a locale was chosen
    # before she was known (or, in tests, by an earlier request in the same app context).
    babel_refresh()
    set_actor(user)


def _replay_idempotent():
    key = request.headers.get("Idempotency-Key", "").strip()
    if request.method not in WRITE_METHODS or not key:
        return None
    if len(key) > 200:
        abort(400, message=_("The Idempotency-Key is too long (200 characters at most)."))
    user = g._login_user
    record = IdempotentRequest(user_id=user.id, key=key, method=request.method,
                               path=request.full_path.rstrip("?"))
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        first = db.session.scalar(select(IdempotentRequest).where(
            IdempotentRequest.user_id == user.id, IdempotentRequest.key == key))
        if first is None:
            abort(409, message=_("The same request is being answered; try again shortly."))
        if (first.method, first.path) != (request.method, request.full_path.rstrip("?")):
            abort(422, message=_("This Idempotency-Key was used for a different request."))
        if first.status_code is not None:
            response = Response(first.body, status=first.status_code, mimetype="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        if utcnow() - first.created_at < PENDING_TIMEOUT:
            abort(409, message=_("The same request is being answered; try again shortly."))
        db.session.delete(first)
        db.session.commit()
        return _replay_idempotent()
    g.idempotent_request_id = record.id
    return None


def _remember_idempotent(response):
    record_id = g.pop("idempotent_request_id", None)
    if record_id is None:
        return response
    db.session.rollback()  # whatever the view left unfinished is not ours to commit
    if response.status_code >= 500:
        db.session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == record_id))
    else:
        record = db.session.get(IdempotentRequest, record_id)
        record.status_code = response.status_code
        record.body = response.get_data(as_text=True)
    db.session.commit()
    return response


def init_api(app):
    """A fresh Api per app (tests make many apps; a shared spec would collect duplicates)."""
    from shg.registry import api as _registry_api  # noqa: F401  (defines its blueprints)
    from shg.accounts import api as _accounts_api  # noqa: F401  (the users, admins only)
    from loans import api as _loans_api  # noqa: F401  (defines its blueprints)
    from harvests import api as _harvests_api  # noqa: F401
    from reports import api as _reports_api  # noqa: F401
    from shg.imports import api as _imports_api  # noqa: F401
    api = Api(app)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
        csrf.exempt(blp)
    app.extensions["shg_api"] = api
    return api
