"""Users in the JSON API: the project office's user admin (admins only), as on its page.

Thin, as the registry's (``shg.registry.api``): load with the schema, call
``shg.accounts.services`` (the functions the user admin page calls), dump with the schema.
A user is never deleted: she is switched off (``is_active: false``), and the audit log
keeps her name.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from shg.accounts import access, services
from shg.accounts.models import User
from shg.accounts.schemas import UserFilters, UserInSchema, UserPatchSchema, UserSchema
from shg.errors import Invalid
from shg.extensions import db
from shg.registry.api import ITEM, _blueprint, _me, _page, _reads, _saved, _writes
from shg.registry.models import District

users = _blueprint("users_api", "/users",
                   "Users, their roles and districts. For the project office (admins) only.")


def _admin():
    me = _me()
    access.require_admin(me)
    return me


def _user(user_id: int) -> User:
    _admin()
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def _districts(data: dict):
    """The districts named by id (None when not sent); an unknown one is refused."""
    if "district_ids" not in data:
        return None
    ids = data.pop("district_ids") or []
    found = db.session.scalars(select(District).where(District.id.in_(ids))).all()
    if len(found) != len(set(ids)):
        raise Invalid({"district_ids": [_("Choose a district.")]})
    return found


@users.route("")
class Users(MethodView):
    @_reads(users)
    @users.alt_response(403, response="FORBIDDEN")
    @users.arguments(UserFilters, location="query")
    @users.response(200, UserSchema(many=True))
    @users.paginate()
    def get(self, args, pagination_parameters):
        """List users"""
        _admin()
        query = select(User).order_by(User.username, User.id)
        if args.get("q"):
            pattern = f"%{args['q']}%"
            query = query.where(User.username.ilike(pattern) | User.full_name.ilike(pattern))
        if args.get("role"):
            query = query.where(User.role == args["role"])
        return _page(query, pagination_parameters)

    @_writes(users)
    @users.arguments(UserInSchema)
    @users.response(201, UserSchema)
    def post(self, data):
        """Create a user (facilitators and loan officers with their districts)"""
        me = _admin()
        districts = _districts(data) or []
        return _saved(services.create_user(data, districts, by=me))


@users.route(ITEM.format("user_id"))
class UserItem(MethodView):
    @_reads(users, item=True)
    @users.response(200, UserSchema)
    def get(self, user_id):
        """Read a user"""
        return _user(user_id)

    @_writes(users, item=True)
    @users.arguments(UserPatchSchema)
    @users.response(200, UserSchema)
    def patch(self, data, user_id):
        """Change a user: name, role, districts, language, password, or switch her off"""
        user = _user(user_id)
        districts = _districts(data)
        if districts is None and "role" in data:
            districts = list(user.districts)  # kept, unless the new role has none
        return _saved(services.update_user(user, data, districts, by=_me()))
