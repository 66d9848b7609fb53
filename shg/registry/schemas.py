"""marshmallow schemas of the registry, for the JSON API (and exports).

Input schemas only read and type-check: the rules (a date not in the future, attendance only
for the group's members, a district the user reaches) live in ``shg.registry.services``, which
pages and the API share. Refusals from both come out in one shape, field -> list of messages:

- unknown fields are refused (marshmallow's default; kept on purpose);
- nested rows (attendance, migrants) are flattened to ``"attendance": ["Row 2, savings: …"]``,
  the shape the services use, so a client reads every refusal the same way;
- every message is wrapped in flask-babel, so a user reads it in her language.

Money travels as a string ("150.50"); an amount with more than two decimal places is refused,
never rounded, because the member's receipt and the ledger must show the same number.
"""
from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from shg.money import MONEY_ROUNDING, round_money
from shg.registry.models import (ATTENDANCE, GENDERS, GROUP_STATUSES, MEETING_FREQUENCIES,
                                 MEMBER_LANGUAGES, OFFICES)

#: the largest id PostgreSQL's integer holds; bigger ones would crash the query, not miss
MAX_ID = 2**31 - 1
#: amounts with this many digits before the point are refused before any arithmetic
#: (quantizing 1e999999 fails)
MONEY_LIMIT_DIGITS = 12

#: marshmallow's own messages, listed so that ``pybabel extract`` puts them in the catalogue
#: (shg.errors.translate_messages translates those that reach the client from other schemas).
MARSHMALLOW_MESSAGES = (
    _l("Missing data for required field."), _l("Field may not be null."), _l("Unknown field."),
    _l("Invalid input type."), _l("Invalid value."), _l("Not a valid string."),
    _l("Not a valid integer."), _l("Not a valid number."), _l("Not a valid date."),
    _l("Not a valid boolean."), _l("Not a valid list."), _l("Invalid type."),
    _l("Invalid JSON body."),
)


# ---------------------------------------------------------------- fields with clear messages


class Str(fields.String):
    """Text that the databases can store: no NUL character (PostgreSQL refuses it with an
    error, not a message), and at most ``max_length`` characters when given."""

    default_error_messages = {
        "invalid": _l("Enter text."),
        "nul": _l("This text contains a character that is not allowed."),
        "too_long": _l("This text is too long."),
        "required": _l("This field is required."),
        "null": _l("This field cannot be empty."),
    }

    def __init__(self, *, max_length: int | None = None, **kwargs):
        self.max_length = max_length
        if max_length is not None:
            kwargs.setdefault("metadata", {}).setdefault("maxLength", max_length)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        if self.max_length is not None and len(text.strip()) > self.max_length:
            raise self.make_error("too_long")
        return text


class Int(fields.Integer):
    """A whole number sent as a JSON number ("3" and 3.5 are refused)."""

    default_error_messages = {
        "invalid": _l("Enter a whole number."),
        "required": _l("This field is required."),
        "null": _l("This field cannot be empty."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        super().__init__(**kwargs)


class Id(Int):
    """The id of a record: 1 to 2^31-1, so an absurd number answers a message, not a crash."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Range(
            min=1, max=MAX_ID, error=_l("This is not the number of a record.")))
        super().__init__(**kwargs)


class Day(fields.Date):
    """A date in ISO 8601 (2024-03-06)."""

    default_error_messages = {
        "invalid": _l("Enter a date as YYYY-MM-DD."),
        "required": _l("This field is required."),
        "null": _l("This field cannot be empty."),
    }


class Bool(fields.Boolean):
    default_error_messages = {
        "invalid": _l("Enter true or false."),
        "required": _l("This field is required."),
        "null": _l("This field cannot be empty."),
    }


class Amount(fields.Decimal):
    """Money in, as "150.50" (or a JSON number): at most two decimal places, refused
    otherwise; out, always as a string with two places, rounded half up (``round_money``)."""

    default_error_messages = {
        "invalid": _l("Enter an amount such as 150.50."),
        "special": _l("Enter an amount such as 150.50."),
        "places": _l("An amount has at most two decimal places."),
        "too_large": _l("This amount is too large."),
        "required": _l("This field is required."),
        "null": _l("This field cannot be empty."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update({"type": "string", "format": "decimal",
                                                  "example": "150.50"})
        super().__init__(places=2, rounding=MONEY_ROUNDING, as_string=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, str):
            value = value.strip()
        try:
            num = Decimal(str(value)) if not isinstance(value, (bool, Decimal)) else value
        except (ArithmeticError, ValueError, TypeError):
            raise self.make_error("invalid") from None
        if isinstance(num, bool) or not isinstance(num, Decimal) or not num.is_finite():
            raise self.make_error("invalid")
        if num and num.adjusted() >= MONEY_LIMIT_DIGITS:
            raise self.make_error("too_large")
        if num != num.quantize(Decimal("0.01")):
            raise self.make_error("places")
        return num.quantize(Decimal("0.01"))

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return format(round_money(value), "f")


class ListOf(fields.List):
    default_error_messages = {
        "invalid": _l("Send a list."),
        "required": _l("This field is required."),
        "null": _l("This field cannot be empty."),
    }


class Row(fields.Nested):
    default_error_messages = {"type": _l("Send an object.")}


class Computed(fields.Nested):
    """A nested object the schema computes from the record (documented by its schema)."""

    def __init__(self, nested, compute, **kwargs):
        self.compute = compute
        kwargs.setdefault("dump_only", True)
        super().__init__(nested, **kwargs)

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return self.compute(obj)


class SortedRows(fields.List):
    """A list dumped in a stable order (``key``), whatever order the database gave."""

    def __init__(self, inner, key, **kwargs):
        self.key = key
        super().__init__(inner, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(None if value is None else sorted(value, key=self.key),
                                  attr, obj, **kwargs)


def required(message, **kwargs) -> dict:
    """A required field whose absence (or null) is refused with the services' own words."""
    return {"required": True, "error_messages": {"required": message, "null": message}, **kwargs}


def choice(values, **kwargs) -> dict:
    """Document the allowed values; the service refuses others with a message of its own."""
    metadata = kwargs.pop("metadata", {})
    return {"metadata": {"enum": list(values), **metadata}, **kwargs}


# ---------------------------------------------------------------- one shape for refusals


def _messages(value, path: tuple) -> list[tuple[tuple, str]]:
    """(path, message) pairs from marshmallow's nested error dicts, messages translated."""
    if isinstance(value, dict):
        found = []
        for key, sub in value.items():
            found += _messages(sub, path + (key,))
        return found
    if isinstance(value, (list, tuple)):
        found = []
        for item in value:
            found += _messages(item, path)
        return found
    text = str(value)
    return [(path, _(text) if isinstance(value, str) else text)]


def _where(path: tuple) -> str:
    parts = []
    for step in path:
        if isinstance(step, int):
            parts.append(_("Row %(row)s", row=step + 1))
        elif step != "_schema":
            parts.append(str(step))
    return ", ".join(parts)


def flatten_errors(messages) -> dict[str, list[str]]:
    """marshmallow's errors in the services' shape: {field: [message, …]}."""
    if not isinstance(messages, dict):
        return {"_schema": [m for _p, m in _messages(messages, ())]}
    flat: dict[str, list[str]] = {}
    for field, value in messages.items():
        for path, message in _messages(value, ()):
            where = _where(path)
            flat.setdefault(str(field), []).append(
                _("%(where)s: %(message)s", where=where, message=message) if where else message)
    return flat


class Schema(ma.Schema):
    """Base of every registry schema: unknown fields refused, refusals flattened."""

    error_messages = {"unknown": _l("This field is not part of the record."),
                      "type": _l("Send a JSON object.")}

    def handle_error(self, error, data, *, many, **kwargs):
        raise ma.ValidationError(flatten_errors(error.messages), valid_data=error.valid_data)


class PartialSchema(Schema):
    """For PATCH: only the fields sent are changed; none is required."""

    def __init__(self, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)


def page_figures() -> dict:
    """Figures a list computed in one query for its whole page, kept for this request only
    (the request's environ, not ``g``, which tests share across requests)."""
    return request.environ.setdefault("shg.page_figures", {})


# ---------------------------------------------------------------- query arguments (lists)


def QueryId(**kwargs) -> Id:
    """An id in the query string, where every value arrives as text."""
    return Id(strict=False, **kwargs)


class _Filters(Schema):
    class Meta:
        unknown = ma.EXCLUDE  # page and page_size are read by the paginator


class RegionFilters(_Filters):
    country_id = QueryId(metadata={"description": "Only regions of this country."})


class DistrictFilters(_Filters):
    country_id = QueryId()
    region_id = QueryId()


class VillageFilters(_Filters):
    q = Str(max_length=100, metadata={"description": "Part of the village name."})
    country_id = QueryId()
    district_id = QueryId()
    pilot = Bool(metadata={"description": "true: pilot villages only; false: the others."})


class GroupFilters(_Filters):
    q = Str(max_length=120, metadata={"description": "Part of the group name."})
    country_id = QueryId()
    district_id = QueryId()
    village_id = QueryId()
    status = Str(validate=validate.OneOf(GROUP_STATUSES, error=_l("Choose a status.")),
                 metadata={"enum": list(GROUP_STATUSES)})
    facilitator_id = QueryId()


class HouseholdFilters(_Filters):
    q = Str(max_length=120, metadata={"description": "Part of the family name."})
    district_id = QueryId()
    village_id = QueryId()


class MemberFilters(_Filters):
    q = Str(max_length=200, metadata={"description": "Part of the name or phone number."})
    district_id = QueryId()
    village_id = QueryId()
    group_id = QueryId(metadata={"description": "Members who have ever been in this group."})
    household_id = QueryId()
    status = Str(validate=validate.OneOf(("active", "left"),
                                         error=_l("Choose active or left.")),
                 metadata={"enum": ["active", "left"],
                           "description": "active: in a group today; left: in none."})


class MeetingFilters(_Filters):
    district_id = QueryId()
    village_id = QueryId()
    group_id = QueryId()
    date_from = Day(metadata={"description": "Meetings held on or after this day."})
    date_to = Day(metadata={"description": "Meetings held on or before this day."})


# ---------------------------------------------------------------- geography


class CountrySchema(Schema):
    id = Int(dump_only=True)
    code = Str(metadata={"example": "KG", "description": "ISO 3166 alpha-2"})
    name = Str()
    currency = Str(metadata={"example": "KGS", "description": "ISO 4217"})
    timezone = Str(metadata={"example": "Asia/Bishkek"})


class CountryInSchema(Schema):
    code = Str(max_length=2, **required(_l("Use the two-letter country code, e.g. KG."),
                                        metadata={"example": "KG"}))
    name = Str(max_length=100, **required(_l("A name is required.")))
    currency = Str(**required(_l("Choose one of the ledger's currencies."),
                              metadata={"example": "KGS"}))
    timezone = Str(max_length=40, metadata={"example": "Asia/Bishkek"})


class CountryPatchSchema(CountryInSchema, PartialSchema):
    pass


class RegionSchema(Schema):
    id = Int(dump_only=True)
    country_id = Int()
    name = Str()


class RegionInSchema(Schema):
    country_id = Id(**required(_l("Choose a country.")))
    name = Str(max_length=100, **required(_l("A name is required.")))


class RegionPatchSchema(RegionInSchema, PartialSchema):
    pass


class DistrictSchema(Schema):
    id = Int(dump_only=True)
    region_id = Int()
    country_id = Int(attribute="region.country_id")
    name = Str()


class DistrictInSchema(Schema):
    region_id = Id(**required(_l("Choose a region.")))
    name = Str(max_length=100, **required(_l("A name is required.")))


class DistrictPatchSchema(DistrictInSchema, PartialSchema):
    pass


class VillageSchema(Schema):
    id = Int(dump_only=True)
    district_id = Int()
    district_name = Str(attribute="district.name")
    name = Str()
    is_pilot = Bool()
    pilot_joined_on = Day(allow_none=True)


class VillageInSchema(Schema):
    district_id = Id(**required(_l("Choose a district.")))
    name = Str(max_length=100, **required(_l("A name is required.")))
    is_pilot = Bool(load_default=False)
    pilot_joined_on = Day(allow_none=True,
                          metadata={"description": "The day it joined as a pilot village."})


class VillagePatchSchema(VillageInSchema, PartialSchema):
    is_pilot = Bool()


# ---------------------------------------------------------------- groups


def _member_counts(group) -> tuple[int, int]:
    """Active members and women among them: from the list's one query when it made one."""
    cached = page_figures().get("member_counts")
    if cached is None:
        from shg.registry.services import member_counts
        cached = member_counts([group.id])
    return cached.get(group.id, (0, 0))


class GroupSchema(Schema):
    id = Int(dump_only=True)
    name = Str()
    village_id = Int()
    village_name = Str(attribute="village.name")
    district_id = Int()
    facilitator_id = Int(allow_none=True)
    formed_on = Day()
    meeting_day = Int(metadata={"description": "0 = Monday … 6 = Sunday"})
    meeting_frequency = Str(**choice(MEETING_FREQUENCIES))
    status = Str(**choice(GROUP_STATUSES))
    active_members = fields.Method("get_active_members", dump_only=True,
                                   metadata={"type": "integer"})
    active_women = fields.Method("get_active_women", dump_only=True,
                                 metadata={"type": "integer"})

    def get_active_members(self, group):
        return _member_counts(group)[0]

    def get_active_women(self, group):
        return _member_counts(group)[1]


class GroupDetailSchema(GroupSchema):
    """One group, with the figures of its page (the same service functions)."""

    currency = Str(attribute="village.district.region.country.currency")
    savings_balance = fields.Method("get_savings", dump_only=True,
                                    metadata={"type": "string", "format": "decimal",
                                              "description": "Savings paid in at its meetings."})
    attendance_rate = fields.Method(
        "get_attendance_rate", dump_only=True,
        metadata={"type": "string", "format": "decimal", "nullable": True,
                  "description": "Share of places taken (present or late), 0 to 1, "
                                 "4 places; null before the first meeting."})

    def get_savings(self, group):
        from shg.registry.services import group_savings
        return format(round_money(group_savings(group.id)), "f")

    def get_attendance_rate(self, group):
        from shg.registry.services import attendance_rate
        rate = attendance_rate(group.id)
        return None if rate is None else format(round_money(rate, 4), "f")


class GroupInSchema(Schema):
    name = Str(max_length=120, **required(_l("The group needs a name.")))
    village_id = Id(**required(_l("Choose a village.")))
    facilitator_id = Id(allow_none=True)
    formed_on = Day(**required(_l("Enter the date the group was formed.")))
    meeting_day = Int(**required(_l("Choose a meeting day."),
                                 metadata={"description": "0 = Monday … 6 = Sunday",
                                           "minimum": 0, "maximum": 6}))
    meeting_frequency = Str(**required(_l("Choose how often the group meets."),
                                       metadata={"enum": list(MEETING_FREQUENCIES)}))
    status = Str(**choice(GROUP_STATUSES))


class GroupPatchSchema(GroupInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- households


class MigrantSchema(Schema):
    destination = Str(metadata={"example": "RU",
                                "description": "ISO 3166 alpha-2 of the country they work in"})
    people = Int()


class HouseholdSchema(Schema):
    id = Int(dump_only=True)
    village_id = Int()
    district_id = Int()
    name = Str()
    address = Str(allow_none=True)
    migrants = fields.List(fields.Nested(MigrantSchema))
    migrants_total = Int()


class MigrantInSchema(Schema):
    destination = Str(max_length=2, **required(_l("Choose the country where they work."),
                                               metadata={"example": "RU"}))
    people = Int(**required(_l("Enter how many people work there (1 to 30)."),
                            metadata={"minimum": 1, "maximum": 30}))


class HouseholdInSchema(Schema):
    village_id = Id(**required(_l("Choose a village.")))
    name = Str(max_length=120, **required(_l("Enter the family's name.")))
    address = Str(max_length=200, allow_none=True)
    migrants = ListOf(Row(MigrantInSchema), metadata={
        "description": "Where the family's migrants work; "
                       "on update the list replaces the old one."})


class HouseholdPatchSchema(HouseholdInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- members


class MembershipSchema(Schema):
    group_id = Int()
    group_name = Str(attribute="group.name")
    joined_on = Day()
    left_on = Day(allow_none=True)
    left_reason = Str(allow_none=True)
    office = Str(allow_none=True, **choice(OFFICES))


class MemberSchema(Schema):
    id = Int(dump_only=True)
    household_id = Int()
    village_id = Int(attribute="household.village_id")
    full_name = Str()
    gender = Str(**choice(GENDERS))
    birth_year = Int(allow_none=True)
    phone = Str(allow_none=True, metadata={"description": "E.164, e.g. +996555123456"})
    language = Str(**choice(MEMBER_LANGUAGES))
    sms_consent = Bool()
    status = fields.Method("get_status", dump_only=True,
                           metadata={"type": "string", "enum": ["active", "left"]})
    group_id = fields.Method("get_group_id", dump_only=True,
                             metadata={"type": "integer", "nullable": True,
                                       "description": "Her group today; null after she left."})
    office = fields.Method("get_office", dump_only=True,
                           metadata={"type": "string", "nullable": True,
                                     "enum": [*OFFICES, None]})
    memberships = fields.List(fields.Nested(MembershipSchema))

    def get_status(self, member):
        return "active" if member.current_membership is not None else "left"

    def get_group_id(self, member):
        current = member.current_membership
        return current.group_id if current else None

    def get_office(self, member):
        current = member.current_membership
        return current.office if current else None


class PersonSchema(Schema):
    full_name = Str(max_length=200, **required(_l("Enter the member's name.")))
    gender = Str(**required(_l("Choose female or male."), metadata={"enum": list(GENDERS)}))
    birth_year = Int(allow_none=True, validate=validate.Range(
        min=1900, max=2100, error=_l("Enter a year of birth between 1920 and 14 years ago.")))
    phone = Str(max_length=40, allow_none=True,
                metadata={"description": "As written locally or with +996/+992; "
                                         "stored in E.164."})
    language = Str(**choice(MEMBER_LANGUAGES, metadata={
        "description": "The language her SMS are written in."}))
    sms_consent = Bool()
    office = Str(allow_none=True, **choice(OFFICES))


class MemberInSchema(PersonSchema):
    household_id = Id(**required(_l("Choose the member's household.")))
    group_id = Id(**required(_l("Choose a group.")))
    joined_on = Day(metadata={"description": "Default: today."})


class MemberPatchSchema(PersonSchema, PartialSchema):
    pass


class LeaveSchema(Schema):
    left_on = Day(**required(_l("Enter the date she left.")))
    reason = Str(max_length=200, allow_none=True)


class JoinSchema(Schema):
    group_id = Id(**required(_l("Choose a group.")))
    joined_on = Day(metadata={"description": "Default: today."})
    office = Str(allow_none=True, **choice(OFFICES))


class MembershipFilters(_Filters):
    member_id = QueryId()
    group_id = QueryId()
    village_id = QueryId()
    district_id = QueryId()
    active = Bool(metadata={"description": "true: memberships not ended; false: ended ones."})


class MembershipRecordSchema(MembershipSchema):
    """A membership as a record of its own (``/memberships``)."""

    id = Int(dump_only=True)
    member_id = Int()
    full_name = Str(attribute="member.full_name")


class MembershipInSchema(JoinSchema):
    member_id = Id(**required(_l("Choose the member.")))


class MembershipPatchSchema(PartialSchema):
    """Only the membership she is in today changes: her office, or the day she left."""

    office = Str(allow_none=True, **choice(OFFICES))
    left_on = Day(metadata={"description": "She left the group on this day (her office "
                                           "ends with it)."})
    left_reason = Str(max_length=200, allow_none=True)


# ---------------------------------------------------------------- meetings


class AttendanceSchema(Schema):
    member_id = Int()
    full_name = Str(attribute="member.full_name")
    status = Str(**choice(ATTENDANCE))
    savings = Amount()


class TotalsSchema(Schema):
    present = Int(metadata={"description": "Present or late."})
    listed = Int()
    savings = Amount()
    currency = Str()


def meeting_totals(meeting) -> dict:
    """The meeting's line of the register, from the list's one query when it made one."""
    from shg.registry.services import meeting_register
    row = page_figures().get("meeting_totals", {}).get(meeting.id)
    if row is None:
        row = next(iter(meeting_register(meeting.group_id, limit=1, meeting_ids=[meeting.id])))
    return {"present": row.present, "listed": row.listed, "savings": row.savings,
            "currency": meeting.group.village.district.region.country.currency}


class MeetingSchema(Schema):
    id = Int(dump_only=True)
    group_id = Int()
    group_name = Str(attribute="group.name")
    held_on = Day()
    facilitator_id = Int(allow_none=True)
    topics = Str(allow_none=True)
    decisions = Str(allow_none=True)
    attendance = SortedRows(fields.Nested(AttendanceSchema),
                            key=lambda a: (a.member.full_name, a.member_id), dump_only=True)
    totals = Computed(TotalsSchema, meeting_totals)


class AttendanceInSchema(Schema):
    member_id = Id(**required(_l("Choose the member.")))
    status = Str(**required(_l("Choose present, absent, excused or late."),
                            metadata={"enum": list(ATTENDANCE)}))
    savings = Amount(allow_none=True, metadata={"description": "Paid in at the meeting; "
                                                               "default 0."})


class MeetingBaseSchema(Schema):
    held_on = Day(**required(_l("Enter the meeting date.")))
    topics = Str(allow_none=True, max_length=5000)
    decisions = Str(allow_none=True, max_length=5000)
    attendance = ListOf(Row(AttendanceInSchema), **required(
        _l("List every member of the group with her attendance."),
        metadata={"description": "Every member active in the group on the day, once."}))


class MeetingInSchema(MeetingBaseSchema):
    group_id = Id(**required(_l("Choose a group.")))


class MeetingPatchSchema(MeetingBaseSchema, PartialSchema):
    pass
