"""The registry's rules: who belongs where, what a meeting may record, and its figures.

Functions take plain values and the acting user, add and flush; the caller commits.
Bad input raises ``Invalid`` before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable, Optional

import phonenumbers
from flask import abort
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import contains_eager

from shg.accounts import access
from shg.accounts.models import User
from shg.errors import Invalid
from shg.extensions import db
from shg.money import CURRENCIES
from shg.registry.models import (ATTENDANCE, GENDERS, GROUP_STATUSES, MEETING_FREQUENCIES,
                                 MEMBER_LANGUAGES, OFFICES, Attendance, Country, District, Group,
                                 Household, Meeting, Member, Membership, Migrant, Region, Village)
from shg.timeutil import today

# ---------------------------------------------------------------- loaders (flaskr's get_post)


def _load(model, record_id, user: User, change: bool):
    """The record, after checking the user's district; 404 if missing, 403 if out of reach."""
    record = db.session.get(model, record_id)
    if record is None:
        abort(404)
    district_id = record.district_id if not isinstance(record, District) else record.id
    if change:
        if not access.can_change_registry(user):
            abort(403, _("Your role may not change this record."))
        access.require_change(user, district_id)
    else:
        access.require_read(user, district_id)
    return record


def get_village(village_id: int, user: User, change: bool = False) -> Village:
    return _load(Village, village_id, user, change)


def get_group(group_id: int, user: User, change: bool = False) -> Group:
    return _load(Group, group_id, user, change)


def get_household(household_id: int, user: User, change: bool = False) -> Household:
    return _load(Household, household_id, user, change)


def get_member(member_id: int, user: User, change: bool = False) -> Member:
    return _load(Member, member_id, user, change)


def get_meeting(meeting_id: int, user: User, change: bool = False) -> Meeting:
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        abort(404)
    get_group(meeting.group_id, user, change)
    return meeting


def _village_for_change(village_id, user: User, field: str = "village_id") -> Village:
    village = db.session.get(Village, village_id) if village_id else None
    if village is None:
        raise Invalid({field: [_("Choose a village.")]})
    if not access.can_change_registry(user) or not access.can_change(user, village.district_id):
        raise Invalid({field: [_("This village is in a district you are not assigned to.")]})
    return village


# ---------------------------------------------------------------- small checks


def _required_text(data: dict, key: str, errors: dict, message: str, max_len: int = 200):
    value = (data.get(key) or "").strip()
    if not value:
        errors.setdefault(key, []).append(message)
    elif len(value) > max_len:
        errors.setdefault(key, []).append(_("This text is too long."))
    return value


def _not_in_future(day: Optional[date], key: str, errors: dict) -> None:
    if day is not None and day > today():
        errors.setdefault(key, []).append(_("This date is in the future."))


def normalise_phone(text: Optional[str], country_code: str) -> Optional[str]:
    """A phone number in E.164 (+996555123456), read as the member's country writes it.

    Raises ValueError for anything that is not a valid number.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, country_code)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("This is not a phone number.")) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("This is not a valid phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ---------------------------------------------------------------- geography (project office)


def create_country(data: dict, by: User) -> Country:
    access.require_admin(by)
    country = Country()
    _apply_country(country, data)
    db.session.add(country)
    db.session.flush()
    return country


def update_country(country: Country, data: dict, by: User) -> Country:
    access.require_admin(by)
    _apply_country(country, {**{"code": country.code, "name": country.name,
                                "currency": country.currency, "timezone": country.timezone},
                             **{k: v for k, v in data.items() if v is not None}})
    db.session.flush()
    return country


def _apply_country(country: Country, data: dict) -> None:
    errors: dict = {}
    code = (data.get("code") or "").strip().upper()
    if len(code) != 2 or not code.isalpha():
        errors["code"] = [_("Use the two-letter country code, e.g. KG.")]
    name = _required_text(data, "name", errors, _("A name is required."), 100)
    currency = (data.get("currency") or "").strip().upper()
    if currency not in CURRENCIES:
        errors["currency"] = [_("Choose one of the ledger's currencies.")]
    timezone = (data.get("timezone") or "Asia/Bishkek").strip()
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(timezone)
    except Exception:
        errors["timezone"] = [_("Unknown time zone.")]
    clash = db.session.scalar(select(Country).where(or_(Country.code == code, Country.name == name)))
    if clash is not None and clash is not country:
        errors.setdefault("code", []).append(_("This country is already recorded."))
    if errors:
        raise Invalid(errors)
    country.code, country.name, country.currency, country.timezone = code, name, currency, timezone


def create_region(data: dict, by: User) -> Region:
    access.require_admin(by)
    errors: dict = {}
    name = _required_text(data, "name", errors, _("A name is required."), 100)
    country = db.session.get(Country, data.get("country_id") or 0)
    if country is None:
        errors["country_id"] = [_("Choose a country.")]
    elif db.session.scalar(select(Region).where(Region.country_id == country.id, Region.name == name)):
        errors["name"] = [_("This region is already recorded.")]
    if errors:
        raise Invalid(errors)
    region = Region(country=country, name=name)
    db.session.add(region)
    db.session.flush()
    return region


def create_district(data: dict, by: User) -> District:
    access.require_admin(by)
    errors: dict = {}
    name = _required_text(data, "name", errors, _("A name is required."), 100)
    region = db.session.get(Region, data.get("region_id") or 0)
    if region is None:
        errors["region_id"] = [_("Choose a region.")]
    elif db.session.scalar(select(District).where(District.region_id == region.id,
                                                  District.name == name)):
        errors["name"] = [_("This district is already recorded.")]
    if errors:
        raise Invalid(errors)
    district = District(region=region, name=name)
    db.session.add(district)
    db.session.flush()
    return district


def update_region(region: Region, data: dict, by: User) -> Region:
    """Rename a region or move it to another country (project office only)."""
    access.require_admin(by)
    data = {"name": region.name, "country_id": region.country_id, **data}
    errors: dict = {}
    name = _required_text(data, "name", errors, _("A name is required."), 100)
    country = db.session.get(Country, data.get("country_id") or 0)
    if country is None:
        errors["country_id"] = [_("Choose a country.")]
    else:
        clash = db.session.scalar(select(Region).where(Region.country_id == country.id,
                                                       Region.name == name))
        if clash is not None and clash is not region:
            errors["name"] = [_("This region is already recorded.")]
    if errors:
        raise Invalid(errors)
    region.country, region.name = country, name
    db.session.flush()
    return region


def update_district(district: District, data: dict, by: User) -> District:
    """Rename a district or move it to another region (project office only)."""
    access.require_admin(by)
    data = {"name": district.name, "region_id": district.region_id, **data}
    errors: dict = {}
    name = _required_text(data, "name", errors, _("A name is required."), 100)
    region = db.session.get(Region, data.get("region_id") or 0)
    if region is None:
        errors["region_id"] = [_("Choose a region.")]
    else:
        clash = db.session.scalar(select(District).where(District.region_id == region.id,
                                                         District.name == name))
        if clash is not None and clash is not district:
            errors["name"] = [_("This district is already recorded.")]
    if errors:
        raise Invalid(errors)
    district.region, district.name = region, name
    db.session.flush()
    return district


def save_village(village: Optional[Village], data: dict, by: User) -> Village:
    """Create (village=None) or change a village; only the project office does this."""
    access.require_admin(by)
    current = {} if village is None else {
        "district_id": village.district_id, "name": village.name, "is_pilot": village.is_pilot,
        "pilot_joined_on": village.pilot_joined_on}
    data = {**current, **{k: v for k, v in data.items() if k in data}}
    errors: dict = {}
    name = _required_text(data, "name", errors, _("A name is required."), 100)
    district = db.session.get(District, data.get("district_id") or 0)
    if district is None:
        errors["district_id"] = [_("Choose a district.")]
    is_pilot = bool(data.get("is_pilot"))
    joined = data.get("pilot_joined_on") if is_pilot else None
    _not_in_future(joined, "pilot_joined_on", errors)
    if district is not None:
        clash = db.session.scalar(select(Village).where(Village.district_id == district.id,
                                                        Village.name == name))
        if clash is not None and clash is not village:
            errors["name"] = [_("This village is already recorded in the district.")]
    if errors:
        raise Invalid(errors)
    if village is None:
        village = Village()
        db.session.add(village)
    village.district, village.name, village.is_pilot, village.pilot_joined_on = \
        district, name, is_pilot, joined
    db.session.flush()
    return village


# ---------------------------------------------------------------- groups


def save_group(group: Optional[Group], data: dict, by: User) -> Group:
    """Register a group (group=None) or change one."""
    if group is not None:
        data = {"name": group.name, "village_id": group.village_id,
                "facilitator_id": group.facilitator_id, "formed_on": group.formed_on,
                "meeting_day": group.meeting_day, "meeting_frequency": group.meeting_frequency,
                "status": group.status, **data}
    errors: dict = {}
    name = _required_text(data, "name", errors, _("The group needs a name."), 120)
    try:
        village = _village_for_change(data.get("village_id"), by)
    except Invalid as exc:
        errors.update(exc.errors)
        village = None
    formed_on = data.get("formed_on")
    if formed_on is None:
        errors["formed_on"] = [_("Enter the date the group was formed.")]
    _not_in_future(formed_on, "formed_on", errors)
    if data.get("meeting_day") not in range(7):
        errors["meeting_day"] = [_("Choose a meeting day.")]
    if data.get("meeting_frequency") not in MEETING_FREQUENCIES:
        errors["meeting_frequency"] = [_("Choose how often the group meets.")]
    if data.get("status", "active") not in GROUP_STATUSES:
        errors["status"] = [_("Choose a status.")]
    facilitator = None
    if data.get("facilitator_id"):
        facilitator = db.session.get(User, data["facilitator_id"])
        if facilitator is None or facilitator.role != "facilitator" or (
                village is not None and village.district_id not in access.district_ids(facilitator)):
            errors["facilitator_id"] = [_("Choose a facilitator who works in this district.")]
    if village is not None and name:
        clash = db.session.scalar(select(Group).where(Group.village_id == village.id,
                                                      Group.name == name))
        if clash is not None and clash is not group:
            errors["name"] = [_("A group with this name already exists in the village.")]
    if group is not None and formed_on is not None:
        first = db.session.scalar(select(func.min(Meeting.held_on)).where(Meeting.group_id == group.id))
        if first is not None and formed_on > first:
            errors.setdefault("formed_on", []).append(
                _("The group has meetings before this date."))
    if errors:
        raise Invalid(errors)
    if group is None:
        group = Group()
        db.session.add(group)
    group.name, group.village, group.facilitator, group.formed_on = name, village, facilitator, formed_on
    group.meeting_day, group.meeting_frequency = data["meeting_day"], data["meeting_frequency"]
    group.status = data.get("status") or "active"
    db.session.flush()
    return group


def active_memberships(group_id: int, on: Optional[date] = None) -> list[Membership]:
    """The group's members on a day (today if not given), by name.

    ``left_on`` is the first day she is no longer a member: on that day she is not listed,
    the same answer the member counts give (they look for ``left_on IS NULL``).
    """
    on = on or today()
    return db.session.scalars(
        select(Membership).join(Member)
        .where(Membership.group_id == group_id, Membership.joined_on <= on,
               or_(Membership.left_on.is_(None), Membership.left_on > on))
        .order_by(Member.full_name)).all()


# ---------------------------------------------------------------- households and members


def _migrants(rows: Iterable[dict], errors: dict) -> list[tuple[str, int]]:
    found: dict[str, int] = {}
    for row in rows or ():
        dest = (row.get("destination") or "").strip().upper()
        people = row.get("people")
        if not dest and not people:
            continue
        if len(dest) != 2 or not dest.isalpha():
            errors.setdefault("migrants", []).append(_("Choose the country where they work."))
            continue
        if not isinstance(people, int) or people <= 0 or people > 30:
            errors.setdefault("migrants", []).append(_("Enter how many people work there (1 to 30)."))
            continue
        found[dest] = found.get(dest, 0) + people
    return sorted(found.items())


def check_household(data: dict, by: User) -> tuple[str, Village, Optional[list[tuple[str, int]]]]:
    """``save_household``'s checks, writing nothing: the name, the village and the migrants
    (None when not given), or Invalid. The import checks its rows with it and writes them
    in batches."""
    errors: dict = {}
    name = _required_text(data, "name", errors, _("Enter the family's name."), 120)
    try:
        village = _village_for_change(data.get("village_id"), by)
    except Invalid as exc:
        errors.update(exc.errors)
        village = None
    migrants = _migrants(data.get("migrants"), errors) if "migrants" in data else None
    if errors:
        raise Invalid(errors)
    return name, village, migrants


def save_household(household: Optional[Household], data: dict, by: User) -> Household:
    if household is not None:
        data = {"village_id": household.village_id, "name": household.name,
                "address": household.address, **data}
    name, village, migrants = check_household(data, by)
    if household is None:
        household = Household()
        db.session.add(household)
    household.village, household.name = village, name
    household.address = (data.get("address") or "").strip() or None
    if migrants is not None:
        existing = {m.destination: m for m in household.migrants}
        for dest, people in migrants:
            if dest in existing:
                existing.pop(dest).people = people
            else:
                household.migrants.append(Migrant(destination=dest, people=people))
        for gone in existing.values():
            household.migrants.remove(gone)
    db.session.flush()
    return household


def _check_person(data: dict, country_code: str, errors: dict) -> dict:
    clean = {}
    clean["full_name"] = _required_text(data, "full_name", errors, _("Enter the member's name."))
    if data.get("gender") not in GENDERS:
        errors["gender"] = [_("Choose female or male.")]
    clean["gender"] = data.get("gender")
    year = data.get("birth_year")
    if year is not None and not (1920 <= year <= today().year - 14):
        errors["birth_year"] = [_("Enter a year of birth between 1920 and 14 years ago.")]
    clean["birth_year"] = year
    try:
        clean["phone"] = normalise_phone(data.get("phone"), country_code)
    except ValueError as exc:
        errors["phone"] = [str(exc)]
    language = data.get("language") or "ru"
    if language not in MEMBER_LANGUAGES:
        errors["language"] = [_("Choose a language.")]
    clean["language"] = language
    clean["sms_consent"] = bool(data.get("sms_consent"))
    if clean["sms_consent"] and not clean.get("phone") and "phone" not in errors:
        errors["sms_consent"] = [_("SMS reminders need a phone number.")]
    return clean


def create_member(data: dict, by: User) -> Member:
    """Register a member in a household and a group, active from ``joined_on``."""
    checked = check_member(data, by)
    member = Member(household=checked["household"], **checked["person"])
    db.session.add(member)
    db.session.add(Membership(member=member, group=checked["group"],
                              joined_on=checked["joined_on"], office=checked["office"]))
    db.session.flush()
    return member


def check_member(data: dict, by: User) -> dict:
    """``create_member``'s checks, writing nothing: the household, the group, the person's
    clean fields, joined_on and office, or Invalid. The import checks its rows with it and
    writes them in batches."""
    errors: dict = {}
    household = db.session.get(Household, data.get("household_id") or 0)
    if household is None:
        errors["household_id"] = [_("Choose the member's household.")]
    elif not access.can_change(by, household.district_id) or not access.can_change_registry(by):
        errors["household_id"] = [_("This household is in a district you are not assigned to.")]
    group = _group_to_join(data.get("group_id"), by, errors)
    country = household.village.district.region.country.code if household else "KG"
    clean = _check_person(data, country, errors)
    joined_on = _joined_on(data, group, errors)
    office = _office(data.get("office"), group, None, errors)
    if errors:
        raise Invalid(errors)
    return {"household": household, "group": group, "person": clean, "joined_on": joined_on,
            "office": office}


def update_member(member: Member, data: dict, by: User) -> Member:
    base = {"full_name": member.full_name, "gender": member.gender, "birth_year": member.birth_year,
            "phone": member.phone, "language": member.language, "sms_consent": member.sms_consent}
    data = {**base, **data}
    errors: dict = {}
    clean = _check_person(data, member.household.village.district.region.country.code, errors)
    membership = member.current_membership
    if "office" in data and membership is not None:
        office = _office(data.get("office"), membership.group, membership, errors)
    if errors:
        raise Invalid(errors)
    for key, value in clean.items():
        setattr(member, key, value)
    if "office" in data and membership is not None:
        membership.office = office
    db.session.flush()
    return member


def _group_to_join(group_id, by: User, errors: dict) -> Optional[Group]:
    group = db.session.get(Group, group_id or 0)
    if group is None:
        errors["group_id"] = [_("Choose a group.")]
        return None
    if not access.can_change(by, group.district_id) or not access.can_change_registry(by):
        errors["group_id"] = [_("This group is in a district you are not assigned to.")]
        return None
    if group.status == "dissolved":
        errors["group_id"] = [_("This group is dissolved; it takes no new members.")]
    return group


def _joined_on(data: dict, group: Optional[Group], errors: dict) -> Optional[date]:
    joined_on = data.get("joined_on") or today()
    _not_in_future(joined_on, "joined_on", errors)
    if group is not None and joined_on < group.formed_on:
        errors.setdefault("joined_on", []).append(_("The group was formed after this date."))
    return joined_on


def _office(office, group: Optional[Group], membership: Optional[Membership], errors: dict):
    office = office or None
    if office is None or group is None:
        return None
    if office not in OFFICES:
        errors["office"] = [_("Choose leader, treasurer or secretary.")]
        return None
    holder = db.session.scalar(select(Membership).where(
        Membership.group_id == group.id, Membership.office == office, Membership.left_on.is_(None)))
    if holder is not None and holder is not membership:
        errors["office"] = [_("Another member holds this office; change hers first.")]
    return office


def member_leaves(member: Member, left_on: Optional[date], reason: Optional[str], by: User) -> Membership:
    """She leaves her group: the membership gets an exit date; nothing is deleted."""
    membership = member.current_membership
    errors: dict = {}
    if membership is None:
        raise Invalid({"left_on": [_("This member is not active in any group.")]})
    if left_on is None:
        errors["left_on"] = [_("Enter the date she left.")]
    else:
        _not_in_future(left_on, "left_on", errors)
        if left_on < membership.joined_on:
            errors.setdefault("left_on", []).append(_("She joined the group after this date."))
        last = db.session.scalar(select(func.max(Meeting.held_on)).join(Attendance).where(
            Attendance.member_id == member.id, Meeting.group_id == membership.group_id))
        if last is not None and left_on <= last:
            errors.setdefault("left_on", []).append(
                _("She is recorded at a meeting of the group on or after this date."))
    if errors:
        raise Invalid(errors)
    membership.left_on = left_on
    membership.left_reason = (reason or "").strip()[:200] or None
    membership.office = None
    db.session.flush()
    return membership


def join_group(member: Member, data: dict, by: User) -> Membership:
    """A member who left (or moves) joins a group; she may be active in one group only."""
    errors: dict = {}
    current = member.current_membership
    if current is not None:
        raise Invalid({"group_id": [_("She is still active in the group %(name)s; record her leaving first.",
                                      name=current.group.name)]})
    group = _group_to_join(data.get("group_id"), by, errors)
    joined_on = _joined_on(data, group, errors)
    last_left = max((m.left_on for m in member.memberships if m.left_on), default=None)
    if last_left is not None and joined_on is not None and joined_on < last_left:
        errors.setdefault("joined_on", []).append(_("She left her previous group after this date."))
    office = _office(data.get("office"), group, None, errors)
    if errors:
        raise Invalid(errors)
    membership = Membership(member=member, group=group, joined_on=joined_on, office=office)
    db.session.add(membership)
    db.session.flush()
    return membership


# ---------------------------------------------------------------- meetings


def save_meeting(meeting: Optional[Meeting], group: Group, data: dict, by: User) -> Meeting:
    """Record (meeting=None) or correct a meeting with attendance and savings per member.

    Every member active in the group on the meeting day is listed exactly once: the form shows
    them all, so a missing one means the page and the register disagree.
    """
    errors: dict = {}
    held_on = data.get("held_on") if "held_on" in data or meeting is None else meeting.held_on
    if held_on is None:
        errors["held_on"] = [_("Enter the meeting date.")]
    else:
        _not_in_future(held_on, "held_on", errors)
        if held_on < group.formed_on:
            errors.setdefault("held_on", []).append(_("The group was formed after this date."))
        clash = db.session.scalar(select(Meeting).where(Meeting.group_id == group.id,
                                                        Meeting.held_on == held_on))
        if clash is not None and clash is not meeting:
            errors.setdefault("held_on", []).append(
                _("A meeting of this group is already recorded on this date."))
    rows = data.get("attendance")
    if rows is None and meeting is not None:
        rows = [{"member_id": a.member_id, "status": a.status, "savings": a.savings}
                for a in meeting.attendance]
    attendance = _check_attendance(group, held_on, rows or [], errors) if held_on else {}
    if errors:
        raise Invalid(errors)
    if meeting is None:
        meeting = Meeting(group=group, facilitator=by if by.role == "facilitator" else group.facilitator)
        db.session.add(meeting)
    meeting.held_on = held_on
    for key in ("topics", "decisions"):
        if key in data:
            setattr(meeting, key, (data.get(key) or "").strip() or None)
    existing = {a.member_id: a for a in meeting.attendance}
    for member_id, (status, savings) in attendance.items():
        row = existing.pop(member_id, None)
        if row is None:
            meeting.attendance.append(Attendance(member_id=member_id, status=status, savings=savings))
        else:
            row.status, row.savings = status, savings
    for gone in existing.values():
        meeting.attendance.remove(gone)
    db.session.flush()
    return meeting


def _check_attendance(group: Group, held_on: date, rows: list[dict], errors: dict):
    members = {m.member_id: m.member for m in active_memberships(group.id, held_on)}
    seen: dict[int, tuple[str, Decimal]] = {}
    problems: list[str] = []
    for row in rows:
        member_id = row.get("member_id")
        if member_id not in members:
            problems.append(_("Member %(id)s is not in this group on the meeting date.", id=member_id))
            continue
        if member_id in seen:
            problems.append(_("%(name)s is listed twice.", name=members[member_id].full_name))
            continue
        status = row.get("status")
        if status not in ATTENDANCE:
            problems.append(_("Choose present, absent, excused or late for %(name)s.",
                              name=members[member_id].full_name))
            continue
        savings = row.get("savings") if row.get("savings") is not None else Decimal("0")
        if not isinstance(savings, Decimal) or not savings.is_finite():
            problems.append(_("Savings of %(name)s is not a number.", name=members[member_id].full_name))
            continue
        if savings < 0:
            problems.append(_("Savings of %(name)s cannot be negative.", name=members[member_id].full_name))
            continue
        if savings != savings.quantize(Decimal("0.01")):
            problems.append(_("Savings of %(name)s has more than two decimal places.",
                              name=members[member_id].full_name))
            continue
        if savings > Decimal("10000000"):
            problems.append(_("Savings of %(name)s is too large.", name=members[member_id].full_name))
            continue
        seen[member_id] = (status, savings)
    missing = [m.full_name for mid, m in members.items() if mid not in seen and mid not in
               {r.get("member_id") for r in rows}]
    if missing:
        problems.append(_("Attendance is missing for: %(names)s.", names=", ".join(sorted(missing))))
    if problems:
        errors["attendance"] = problems
    return seen


@dataclass
class RegisterRow:
    meeting: Meeting
    present: int
    listed: int
    savings: Decimal


def meeting_register(group_id: Optional[int], limit: int = 50, offset: int = 0,
                     meeting_ids: Optional[Iterable[int]] = None) -> list[RegisterRow]:
    """The group's meetings, newest first, each with attendance and savings paid in.

    ``meeting_ids`` limits it to those meetings (group_id may then be None): the API shows
    each meeting's line of the register, counted here and nowhere else.
    """
    present = func.sum(case((Attendance.status.in_(("present", "late")), 1), else_=0))
    query = (select(Meeting, func.coalesce(present, 0), func.count(Attendance.id),
                    func.coalesce(func.sum(Attendance.savings), Decimal("0")))
             .outerjoin(Attendance, Attendance.meeting_id == Meeting.id))
    if group_id is not None:
        query = query.where(Meeting.group_id == group_id)
    if meeting_ids is not None:
        query = query.where(Meeting.id.in_(list(meeting_ids)))
    query = (query.group_by(Meeting.id).order_by(Meeting.held_on.desc())
             .limit(limit).offset(offset))
    return [RegisterRow(m, int(p), int(n), s if s is not None else Decimal("0"))
            for m, p, n, s in db.session.execute(query)]


def attendance_rate(group_ids: Iterable[int] | int, start: Optional[date] = None,
                    end: Optional[date] = None) -> Optional[Decimal]:
    """Share of member places at meetings that were taken (present or late).

    Late counts as attending: she was there for the savings and the decisions. None when no
    meeting was held, so a report shows a dash and not a false 0 %.
    """
    ids = [group_ids] if isinstance(group_ids, int) else list(group_ids)
    query = (select(func.count(Attendance.id),
                    func.sum(case((Attendance.status.in_(("present", "late")), 1), else_=0)))
             .join(Meeting).where(Meeting.group_id.in_(ids)))
    if start:
        query = query.where(Meeting.held_on >= start)
    if end:
        query = query.where(Meeting.held_on <= end)
    listed, came = db.session.execute(query).one()
    if not listed:
        return None
    return Decimal(int(came)) / Decimal(int(listed))


def savings_by_member(group_id: int) -> dict[int, Decimal]:
    """Savings each member has paid in at this group's meetings."""
    rows = db.session.execute(
        select(Attendance.member_id, func.sum(Attendance.savings)).join(Meeting)
        .where(Meeting.group_id == group_id).group_by(Attendance.member_id))
    return {member_id: total for member_id, total in rows}


def group_savings(group_id: int) -> Decimal:
    """The group's savings balance: everything its members have paid in at its meetings."""
    total = db.session.scalar(select(func.sum(Attendance.savings)).join(Meeting)
                              .where(Meeting.group_id == group_id))
    return total if total is not None else Decimal("0.00")


# ---------------------------------------------------------------- lists


def groups_query(user: User, q: str = "", country_id=None, district_id=None, village_id=None,
                 status=None, facilitator_id=None):
    query = (select(Group).join(Village).join(District)
             .options(contains_eager(Group.village).contains_eager(Village.district))
             .order_by(Group.name, Group.id))
    query = access.scope(query, user, Village.district_id)
    if q:
        query = query.where(Group.name.ilike(f"%{q}%"))
    if country_id:
        query = query.join(Region).where(Region.country_id == country_id)
    if district_id:
        query = query.where(Village.district_id == district_id)
    if village_id:
        query = query.where(Group.village_id == village_id)
    if status:
        query = query.where(Group.status == status)
    if facilitator_id:
        query = query.where(Group.facilitator_id == facilitator_id)
    return query


def member_counts(group_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Active members and women among them, per group, for one page of a list."""
    if not group_ids:
        return {}
    rows = db.session.execute(
        select(Membership.group_id, func.count(Membership.id),
               func.sum(case((Member.gender == "female", 1), else_=0)))
        .join(Member).where(Membership.group_id.in_(group_ids), Membership.left_on.is_(None))
        .group_by(Membership.group_id))
    return {gid: (int(n), int(w or 0)) for gid, n, w in rows}


def members_query(user: User, q: str = "", district_id=None, village_id=None, group_id=None,
                  status=None, household_id=None):
    """Members by name; ``status`` is "active" (in a group today) or "left"."""
    query = (select(Member).join(Household).join(Village)
             .order_by(Member.full_name, Member.id))
    query = access.scope(query, user, Village.district_id)
    if q:
        query = query.where(or_(Member.full_name.ilike(f"%{q}%"), Member.phone.ilike(f"%{q}%")))
    if district_id:
        query = query.where(Village.district_id == district_id)
    if village_id:
        query = query.where(Household.village_id == village_id)
    if household_id:
        query = query.where(Member.household_id == household_id)
    active = select(Membership.id).where(Membership.member_id == Member.id,
                                         Membership.left_on.is_(None))
    if group_id:
        query = query.where(select(Membership.id).where(
            Membership.member_id == Member.id, Membership.group_id == group_id).exists())
    if status == "active":
        query = query.where(active.exists())
    elif status == "left":
        query = query.where(~active.exists())
    return query


def households_query(user: User, q: str = "", district_id=None, village_id=None):
    query = select(Household).join(Village).order_by(Household.name, Household.id)
    query = access.scope(query, user, Village.district_id)
    if q:
        query = query.where(Household.name.ilike(f"%{q}%"))
    if district_id:
        query = query.where(Village.district_id == district_id)
    if village_id:
        query = query.where(Household.village_id == village_id)
    return query


def meetings_query(user: User, district_id=None, village_id=None, group_id=None,
                   date_from=None, date_to=None):
    query = (select(Meeting).join(Group).join(Village)
             .order_by(Meeting.held_on.desc(), Meeting.id.desc()))
    query = access.scope(query, user, Village.district_id)
    if district_id:
        query = query.where(Village.district_id == district_id)
    if village_id:
        query = query.where(Group.village_id == village_id)
    if group_id:
        query = query.where(Meeting.group_id == group_id)
    if date_from:
        query = query.where(Meeting.held_on >= date_from)
    if date_to:
        query = query.where(Meeting.held_on <= date_to)
    return query


def villages_query(user: User, q: str = "", district_id=None, country_id=None, pilot=None):
    query = (select(Village).join(District).join(Region)
             .order_by(Village.name, Village.id))
    query = access.scope(query, user, Village.district_id)
    if q:
        query = query.where(Village.name.ilike(f"%{q}%"))
    if district_id:
        query = query.where(Village.district_id == district_id)
    if country_id:
        query = query.where(Region.country_id == country_id)
    if pilot is not None:
        query = query.where(Village.is_pilot == pilot)
    return query


def districts_query(user: User, country_id=None, region_id=None):
    query = select(District).join(Region).order_by(District.name, District.id)
    query = access.scope(query, user, District.id)
    if country_id:
        query = query.where(Region.country_id == country_id)
    if region_id:
        query = query.where(District.region_id == region_id)
    return query


def meeting_days(formed_on: date, meeting_day: int, frequency: str, first: date,
                 last: date) -> list[date]:
    """The days a group meets between two dates: every week or every second week on its
    day (counted from the day it was formed), or the first such weekday of each month.
    The facilitators' "meetings tomorrow" e-mail and the demo programme both use it."""
    if last < first:
        return []
    offset = (meeting_day - formed_on.weekday()) % 7
    anchor = formed_on + timedelta(days=offset)
    if frequency in ("weekly", "biweekly"):
        step = 7 if frequency == "weekly" else 14
        skip = max(0, -(-(first - anchor).days // step))
        day = anchor + timedelta(days=skip * step)
        days = []
        while day <= last:
            days.append(day)
            day += timedelta(days=step)
        return days
    days = []
    month = first.replace(day=1)
    while month <= last:
        day = month + timedelta(days=(meeting_day - month.weekday()) % 7)
        if first <= day <= last and day >= formed_on:
            days.append(day)
        month = (month + timedelta(days=32)).replace(day=1)
    return days


# ---------------------------------------------------------------- figures for printed summaries


@dataclass(frozen=True)
class GroupActivity:
    """A group's meetings in a period: how many, member places and those taken, savings."""

    meetings: int
    #: member places at those meetings (one per member listed), and those taken
    places: int
    attended: int
    #: paid in at the period's meetings
    savings: Decimal
    #: paid in at every meeting up to the period's end: the group's balance that day
    savings_balance: Decimal

    @property
    def attendance_rate(self) -> Optional[Decimal]:
        """Present or late over places, as ``attendance_rate``; None without a meeting."""
        return Decimal(self.attended) / Decimal(self.places) if self.places else None


def group_activity(group_ids, start: Optional[date] = None,
                   end: Optional[date] = None) -> dict[int, GroupActivity]:
    """Each group's meetings, attendance and savings in a period (inclusive), in two
    queries for any number of groups: the rows of a printed summary. ``group_ids`` is a
    list of ids or a select of them. Groups with no meeting at all are left out."""
    ids = group_ids if hasattr(group_ids, "subquery") else list(group_ids)
    came = func.sum(case((Attendance.status.in_(("present", "late")), 1), else_=0))
    query = (select(Meeting.group_id, func.count(func.distinct(Meeting.id)),
                    func.count(Attendance.id), came, func.sum(Attendance.savings))
             .outerjoin(Attendance, Attendance.meeting_id == Meeting.id)
             .where(Meeting.group_id.in_(ids)).group_by(Meeting.group_id))
    balance = (select(Meeting.group_id, func.sum(Attendance.savings)).join(Attendance)
               .where(Meeting.group_id.in_(ids)).group_by(Meeting.group_id))
    if start:
        query = query.where(Meeting.held_on >= start)
    if end:
        query = query.where(Meeting.held_on <= end)
        balance = balance.where(Meeting.held_on <= end)
    balances = dict(db.session.execute(balance).all())
    zero = Decimal("0.00")
    result = {gid: GroupActivity(0, 0, 0, zero, balances[gid] or zero) for gid in balances}
    for gid, meetings, places, attended, savings in db.session.execute(query):
        result[gid] = GroupActivity(int(meetings), int(places), int(attended or 0),
                                    savings if savings is not None else zero,
                                    balances.get(gid) or zero)
    return result


def attendance_by_month(group_ids, start: Optional[date] = None,
                        end: Optional[date] = None) -> list[tuple[date, int, int]]:
    """(first day of the month, member places, places taken) for each month with a
    meeting, oldest first: the attendance chart of a summary."""
    ids = group_ids if hasattr(group_ids, "subquery") else list(group_ids)
    came = func.sum(case((Attendance.status.in_(("present", "late")), 1), else_=0))
    query = (select(Meeting.held_on, func.count(Attendance.id), came).join(Attendance)
             .where(Meeting.group_id.in_(ids)).group_by(Meeting.held_on))
    if start:
        query = query.where(Meeting.held_on >= start)
    if end:
        query = query.where(Meeting.held_on <= end)
    months: dict[date, list[int]] = {}
    for held_on, places, attended in db.session.execute(query):
        month = months.setdefault(held_on.replace(day=1), [0, 0])
        month[0] += int(places)
        month[1] += int(attended or 0)
    return [(month, places, attended) for month, (places, attended) in sorted(months.items())]


@dataclass(frozen=True)
class Migration:
    """The migrant families of some villages, and where their migrants work."""

    households: int
    with_migrants: int
    #: destination (ISO country code) -> households with migrants there, and people
    households_by_destination: dict[str, int]
    people_by_destination: dict[str, int]

    @property
    def share_with_migrants(self) -> Optional[Decimal]:
        return Decimal(self.with_migrants) / Decimal(self.households) if self.households else None


def migration(village_ids) -> Migration:
    """Households of the villages (a list of ids or a select of them), those with migrants,
    and their destinations, the most common first."""
    ids = village_ids if hasattr(village_ids, "subquery") else list(village_ids)
    households = db.session.scalar(select(func.count(Household.id))
                                   .where(Household.village_id.in_(ids))) or 0
    with_migrants = db.session.scalar(
        select(func.count(func.distinct(Migrant.household_id))).join(Household)
        .where(Household.village_id.in_(ids))) or 0
    rows = db.session.execute(
        select(Migrant.destination, func.count(Migrant.household_id), func.sum(Migrant.people))
        .join(Household).where(Household.village_id.in_(ids)).group_by(Migrant.destination)).all()
    rows.sort(key=lambda r: (-int(r[1]), r[0]))
    return Migration(int(households), int(with_migrants), {d: int(n) for d, n, _p in rows},
                     {d: int(p or 0) for d, _n, p in rows})
