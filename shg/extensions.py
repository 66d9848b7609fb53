"""The extensions, created bare and bound to an app in create_app() (microblog's pattern)."""
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()
#: Only failed logins are counted (see accounts.views.login); storage is per process unless
#: RATELIMIT_STORAGE_URI points at a shared store.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
api = Api()
