"""marshmallow schemas of accounts for the JSON API: users, never their passwords.

The rules (a unique user name, a password of 8 characters or more, a role) live in
``shg.accounts.services``, which the user admin page and the API share.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import fields

from shg.accounts.models import ROLES
from shg.registry.schemas import (Bool, Id, Int, ListOf, PartialSchema, Schema, Str, _Filters,
                                  choice, required)

LOCALES = ("en", "ru")


class UserFilters(_Filters):
    q = Str(max_length=64, metadata={"description": "Part of the user name or full name."})
    role = Str(**choice(ROLES))


class UserSchema(Schema):
    id = Int(dump_only=True)
    username = Str()
    full_name = Str()
    email = Str(allow_none=True)
    role = Str(**choice(ROLES))
    locale = Str(**choice(LOCALES))
    is_active = Bool(attribute="is_active_user", metadata={
        "description": "false: switched off (she can no longer log in; never deleted)."})
    district_ids = fields.Method("get_district_ids", dump_only=True, metadata={
        "type": "array", "items": {"type": "integer"},
        "description": "The districts a facilitator or loan officer works in."})
    created_at = fields.DateTime()

    def get_district_ids(self, user):
        return sorted(d.id for d in user.districts)


class UserInSchema(Schema):
    username = Str(max_length=64, **required(_l("A user name is required.")))
    full_name = Str(max_length=200, **required(_l("A name is required.")))
    email = Str(max_length=200, allow_none=True)
    role = Str(**required(_l("Choose a role."), metadata={"enum": list(ROLES)}))
    locale = Str(**choice(LOCALES))
    password = Str(max_length=200, load_only=True,
                   **required(_l("A password is required."),
                              metadata={"description": "At least 8 characters."}))
    district_ids = ListOf(Id(), metadata={
        "description": "The districts of a facilitator or loan officer (others reach all)."})


class UserPatchSchema(UserInSchema, PartialSchema):
    is_active = Bool(attribute="is_active_user", data_key="is_active")
