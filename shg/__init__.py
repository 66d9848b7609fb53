"""SHG Ledger: the application factory (flaskr's create_app, microblog's extensions)."""
from __future__ import annotations

import os
import secrets

from flask import Flask, request
from werkzeug.routing import IntegerConverter
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from shg.config import Config
from shg.extensions import babel, bootstrap, csrf, db, limiter, login, migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.path.join(ROOT, "instance"),
                instance_relative_config=True,
                template_folder=os.path.join(ROOT, "templates"),
                static_folder="static")
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    app.config.from_object(Config)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
            app.instance_path, "shg.sqlite")
    _normalise_database_url(app)
    _require_secret_key(app)

    db.init_app(app)
    from shg.money import alembic_render_item
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), compare_type=True,
                     render_as_batch=True, render_item=alembic_render_item)
    login.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale,
                   default_translation_directories=os.path.join(ROOT, "shg", "translations"))
    bootstrap.init_app(app)
    limiter.init_app(app)

    from shg import errors, formatting, i18n, security
    i18n.compile_catalogues()
    app.register_blueprint(i18n.bp)
    formatting.init_app(app)
    security.init_app(app)

    from shg.accounts import cli as accounts_cli, views as accounts_views
    from shg.accounts.services import load_user
    from shg.registry import views as registry_views
    from loans import views as loans_views
    from harvests import views as harvests_views
    import loans.models  # noqa: F401  (the loans tables belong to the schema)
    from loans import reminders, reminders_cli  # noqa: F401  (the reminder outbox table)
    import harvests.models  # noqa: F401
    from shg import cli as shg_cli
    from shg import backup_cli
    from shg.imports import cli as imports_cli, views as imports_views
    from reports import cli as reports_cli, views as reports_views
    login.user_loader(load_user)
    login.login_view = "accounts.login"
    login.login_message = None
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(registry_views.bp)
    app.register_blueprint(loans_views.bp)
    app.register_blueprint(harvests_views.bp)
    app.register_blueprint(accounts_cli.bp)
    app.register_blueprint(shg_cli.bp)
    app.register_blueprint(reminders_cli.bp)
    from loans import outbox_views
    app.register_blueprint(outbox_views.bp)
    app.register_blueprint(reports_views.bp)
    app.register_blueprint(reports_cli.bp)
    app.register_blueprint(imports_views.bp)
    app.register_blueprint(imports_cli.bp)
    app.register_blueprint(backup_cli.bp)

    from shg.api import init_api
    init_api(app)
    errors.init_app(app)  # after the Api, whose own handler would answer pages in JSON

    @app.before_request
    def _refuse_nul_characters():
        """No database field can hold a NUL character (PostgreSQL refuses it): a form that
        carries one is refused whole, before anything is read from it."""
        if request.method in ("POST", "PUT", "PATCH") and not request.path.startswith("/api/") \
                and any("\x00" in value for value in request.form.values()):
            from flask import abort
            from flask_babel import gettext as _
            abort(400, _("The form contains a character that cannot be stored. "
                         "Please type the text again."))

    @app.before_request
    def _name_the_actor():
        from shg.audit import set_actor
        set_actor(current_user if current_user.is_authenticated else None)

    return app


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` in every route stops at PostgreSQL's integer: /groups/99999999999999999999
    is a 404, not an overflow in the database."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 31 - 1)
        super().__init__(map, *args, **kwargs)


def _select_locale():
    """The user's own choice; before login, the browser's; outside a request, English
    (commands and jobs that write for a reader use flask_babel.force_locale)."""
    from flask import has_request_context
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated:
        return current_user.locale
    from flask import current_app
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en"


def _normalise_database_url(app: Flask) -> None:
    """Accept the usual ``postgres://`` URLs and use psycopg 3 for them."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len(prefix):]


def _require_secret_key(app: Flask) -> None:
    """No hard-coded key: production must set SECRET_KEY.

    Tests and development get a random key, kept in instance/ for development so that a
    restart does not log everyone out; production refuses to start without one.
    """
    if app.config.get("SECRET_KEY"):
        return
    if app.testing:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    if app.debug or os.environ.get("FLASK_DEBUG") == "1" or os.environ.get("SHG_DEVELOPMENT") == "1":
        path = os.path.join(app.instance_path, "development_secret_key")
        if not os.path.exists(path):
            with open(path, "w") as fh:
                fh.write(secrets.token_hex(32))
        with open(path) as fh:
            app.config["SECRET_KEY"] = fh.read().strip()
        return
    raise RuntimeError("SECRET_KEY is not set. Set it in the environment or instance/config.py "
                       "(or SHG_DEVELOPMENT=1 for a development key).")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite ignores foreign keys unless told so on every connection; WAL lets pages read
    while a meeting is being saved."""
    import sqlite3
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
        # SQLite's own lower() knows only ASCII; searching "айгуль" must find "Айгуль".
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value
