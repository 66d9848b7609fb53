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
