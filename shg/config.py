"""Configuration: environment variables first, then instance/config.py, then a test config.

SECRET_KEY has no default outside development and testing: create_app() refuses to start
in production without one, so sessions can never be signed with a key from the source.
"""
import os


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    #: SQLite in the instance folder unless DATABASE_URL says otherwise (set in create_app).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    BOOTSTRAP_SERVE_LOCAL = True
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("en", "ru")
    PROGRAMME_NAME = os.environ.get("PROGRAMME_NAME", "SHG Ledger")
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: Failed logins allowed per address before the login form answers 429.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per 5 minutes")
    PAGE_SIZE = 25

    #: Reminders (loans/reminders.py, loans/digests.py, loans/scheduler.py). Every setting
    #: can come from the environment, so the scheduler process is configured like the web.
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL")
    SMS_GATEWAY_KEY = os.environ.get("SMS_GATEWAY_KEY")
    SMS_GATEWAY_TIMEOUT = float(os.environ.get("SMS_GATEWAY_TIMEOUT", "10"))
    #: no MAIL_SERVER: e-mail is only logged (development)
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    #: none | starttls | ssl
    MAIL_SECURITY = os.environ.get("MAIL_SECURITY", "none")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_FROM = os.environ.get("MAIL_FROM", "shg-ledger@localhost")
    #: the project office's addresses for the weekly portfolio, comma-separated (admins with
    #: an e-mail address get it too), and the language it is written in
    PROJECT_OFFICE_EMAILS = os.environ.get("PROJECT_OFFICE_EMAILS", "")
    PROJECT_OFFICE_LANGUAGE = os.environ.get("PROJECT_OFFICE_LANGUAGE", "ru")
    #: local time of the daily run in each country, HH:MM
    REMINDERS_DAILY_AT = os.environ.get("REMINDERS_DAILY_AT", "07:00")
    #: Monday = 0; the overdue digest goes out on working days only
    WORKING_DAYS = (0, 1, 2, 3, 4)
    PORTFOLIO_EMAIL_WEEKDAY = 0
    #: how often the scheduler sends what is waiting (retries after back-off, the morning's
    #: SMS held over the night)
    REMINDERS_SEND_EVERY_SECONDS = int(os.environ.get("REMINDERS_SEND_EVERY_SECONDS", "60"))
    #: werkzeug's default; tests choose a cheap one so a thousand logins don't take minutes
    PASSWORD_HASH_METHOD = "scrypt"

    API_TITLE = "SHG Ledger API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "A personal API token created on the profile page."}
            }
        },
        "security": [{"token": []}],
    }
