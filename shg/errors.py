"""Refusals and error pages: one shape for forms, pages and the JSON API.

Services raise ``Invalid`` with per-field messages (already in the user's language); a form
shows them beside its fields, the API answers 422 with the same messages. HTTP errors answer
JSON under /api and a page elsewhere, from one handler (microblog's errors/handlers.py).
"""
from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


class Invalid(Exception):
    """Bad input, refused before anything is written. ``errors`` maps field -> messages."""

    def __init__(self, errors: dict[str, list[str]] | str, field: str = "_schema"):
        if isinstance(errors, str):
            errors = {field: [errors]}
        self.errors = {k: [str(m) for m in v] for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


def wants_json() -> bool:
    return request.path.startswith("/api/")


HTTP_MESSAGES = {
    400: lambda: _("The request could not be understood."),
    401: lambda: _("Please log in (or send a valid API token)."),
    403: lambda: _("You are not allowed to do this."),
    404: lambda: _("Not found."),
    405: lambda: _("This method is not allowed here."),
    409: lambda: _("This conflicts with the current state of the record."),
    413: lambda: _("The request is too large."),
    422: lambda: _("Some fields are not valid."),
    429: lambda: _("Too many attempts. Please wait a few minutes and try again."),
    500: lambda: _("Something went wrong on our side. Nothing was saved."),
}


def _message(code: int, exc: HTTPException) -> str:
    if code == 429:
        return HTTP_MESSAGES[429]()  # not the limiter's "3 per 1 minute"
    if exc.description and exc.description != type(exc).description:
        return str(exc.description)
    return HTTP_MESSAGES.get(code, lambda: exc.name)()


def handle_http(exc: HTTPException):
    code = exc.code or 500
    data = getattr(exc, "data", None) or {}
    message = data.get("message") or _message(code, exc)
    if wants_json():
        body = {"code": code, "status": exc.name, "message": str(message)}
        if data.get("messages"):
            body["errors"] = translate_messages(data["messages"])
        return jsonify(body), code, data.get("headers") or {}
    return render_template("error.html", code=code, message=message), code


def translate_messages(messages):
    """marshmallow's messages, in the user's language where the catalogue has them."""
    if isinstance(messages, dict):
        return {k: translate_messages(v) for k, v in messages.items()}
    if isinstance(messages, list):
        return [translate_messages(m) for m in messages]
    return _(str(messages)) if isinstance(messages, str) else messages


def handle_invalid(exc: Invalid):
    if wants_json():
        return jsonify({"code": 422, "status": "Unprocessable Entity",
                        "message": HTTP_MESSAGES[422](), "errors": {"json": exc.errors}}), 422
    return render_template("error.html", code=422, message=str(exc)), 422


def handle_unexpected(exc: Exception):
    from shg.extensions import db
    db.session.rollback()
    log.exception("unhandled error on %s", request.path)
    return handle_http(InternalServerError())


def init_app(app):
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Invalid, handle_invalid)
    if not app.debug and not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
