"""Accounts: users, their districts, personal API tokens."""
from __future__ import annotations

import hashlib
import secrets
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import func, select

from shg.accounts.models import DISTRICT_ROLES, ROLES, ApiToken, User
from shg.errors import Invalid
from shg.extensions import db
from shg.timeutil import utcnow

TOKEN_PREFIX = "shg_"


def load_user(user_id: str) -> Optional[User]:
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.is_active_user else None


def authenticate(username: str, password: str) -> Optional[User]:
    """The user if the name and password match an active account; None otherwise.

    The same answer for an unknown name and a wrong password, so the form does not tell
    which names exist.
    """
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None or not user.is_active_user or not user.check_password(password):
        return None
    return user


def _check_user(data: dict, user: Optional[User] = None) -> None:
    errors: dict[str, list[str]] = {}
    username = (data.get("username") or "").strip()
    if not username:
        errors["username"] = [_("A user name is required.")]
    else:
        clash = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        if clash is not None and clash is not user:
            errors["username"] = [_("This user name is taken.")]
    if not (data.get("full_name") or "").strip():
        errors["full_name"] = [_("A name is required.")]
    if data.get("role") not in ROLES:
        errors["role"] = [_("Choose a role.")]
    if data.get("locale", "en") not in ("en", "ru"):
        errors["locale"] = [_("Choose English or Russian.")]
    password = data.get("password")
    if user is None and not password:
        errors["password"] = [_("A password is required.")]
    if password and len(password) < 8:
        errors["password"] = [_("The password must be at least 8 characters long.")]
    if errors:
        raise Invalid(errors)


def create_user(data: dict, districts=(), by: Optional[User] = None) -> User:
    _check_user(data)
    user = User(username=data["username"].strip(), full_name=data["full_name"].strip(),
                email=(data.get("email") or None), role=data["role"],
                locale=data.get("locale") or "en")
    user.set_password(data["password"])
    user.districts = list(districts) if data["role"] in DISTRICT_ROLES else []
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user: User, data: dict, districts=None, by: Optional[User] = None) -> User:
    merged = {"username": user.username, "full_name": user.full_name, "role": user.role,
              "locale": user.locale, **{k: v for k, v in data.items() if v is not None}}
    _check_user(merged, user)
    for key in ("username", "full_name", "role", "locale"):
        setattr(user, key, merged[key].strip() if isinstance(merged[key], str) else merged[key])
    if "email" in data:
        user.email = data["email"] or None
    if "is_active_user" in data and data["is_active_user"] is not None:
        user.is_active_user = bool(data["is_active_user"])
    if data.get("password"):
        user.set_password(data["password"])
    if districts is not None:
        user.districts = list(districts) if user.role in DISTRICT_ROLES else []
    db.session.flush()
    return user


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal token; the plain token is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise Invalid({"name": [_("Give the token a name, e.g. the phone it is for.")]})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name[:100], token_hash=_hash(plain), prefix=plain[:10])
    db.session.add(token)
    db.session.flush()
    return token, plain


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()


def user_for_token(plain: str) -> Optional[User]:
    if not plain or not plain.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(plain)))
    if token is None or token.revoked_at is not None or not token.user.is_active_user:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
        token.last_used_at = now  # at most one write in five minutes per token
        db.session.commit()
    return token.user
