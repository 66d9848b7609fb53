"""CSV and XLSX exports of every list: the rows of the list page, all of them, with its filters.

Each export starts from the query its list page runs (``shg.registry.services.*_query``,
``loans.views.loans_query``, ``harvests.services.*_query``): the same filters and the same
district scope, so a district officer exports exactly what her pages show her, never more.
Only the columns are chosen here (``with_only_columns``: plain values, no ORM objects, so a
country's 32,000 members come out in seconds); figures come from the functions that own
them (``member_counts``, ``meeting_register``, ``loans.services.position``,
``loans.views.installment_state``), never recomputed.

**CSV.** UTF-8 with a byte-order mark: without it Excel reads UTF-8 as the ANSI code page and
shows Cyrillic as mojibake. The separator and the decimal mark follow the reader's language,
because Excel opens a double-clicked CSV with the *list separator* of Windows' regional
settings: on a Russian (or Kyrgyz, Tajik) Windows that is ``;``, with ``,`` as the decimal
mark, so a comma-separated file lands in column A and "1250.50" becomes text or a date. So:

- ``ru`` (and any language but English): ``;`` and a decimal comma ("1250,50");
- ``en``: ``,`` and a decimal point ("1250.50");
- ``?sep=semicolon`` or ``?sep=comma`` chooses explicitly (for a machine reading the file,
  or a Russian user on an English Windows); the decimal mark goes with the separator.

The ``sep=;`` first-line trick is *not* used: with it Excel ignores the byte-order mark (the
Cyrillic breaks again) and every other CSV reader sees a bogus first row. Dates are ISO 8601
(2024-03-01), which Excel reads as dates in every locale; amounts have no thousands separator.
A text cell that Excel would run as a formula (=, +, -, @ first) gets a leading apostrophe
(OWASP's advice against CSV injection: names are typed in the field by many people);
phone numbers (+996…, E.164 by validation) are left as they are.

**XLSX**: amounts are numbers written from their Decimal's own digits (no float arithmetic
here) with the ``0.00`` format, quantities ``0.000``, dates are real dates with Excel's built-in
short-date format 14, which Excel shows in the reader's regional format (01.03.2024 in Russia);
a text starting with "=" is text, never a formula. openpyxl makes the package and its styles;
the rows are streamed into the sheet (see ``write_xlsx``), so memory stays flat and 32,000
members take seconds. A sheet holds 1,048,576 rows: a larger export is refused with a message
(narrow the filters, or take the CSV, which has no limit).
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Callable, Iterator, Optional
from xml.sax.saxutils import escape

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased
from werkzeug.exceptions import Forbidden

from shg.accounts import access
from shg.accounts.models import User
from shg.errors import Invalid
from shg.extensions import db
from shg.labels import label
from shg.registry import services as registry
from shg.registry.models import (GROUP_STATUSES, Attendance, Country, District, Group, Household,
                                 Meeting, Member, Membership, Region, Village)
from shg.timeutil import today
from shg.urls import bounded_int

#: Excel's rows per sheet, the header row included
XLSX_MAX_ROWS = 1_048_576
#: rows read from the database at a time (server-side cursor on PostgreSQL)
CHUNK = 2000

# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column: its header in the reader's language and the kind of value it holds.

    Kinds: text, int, money (2 places), qty (3 places), area (4 places), date, bool, phone.
    """

    header: object
    kind: str = "text"
    width: int = 14


NUMBER_FORMATS = {"money": "0.00", "qty": "0.000", "area": "0.0000", "date": "mm-dd-yy"}
PLACES = {"money": 2, "qty": 3, "area": 4}


@dataclass(frozen=True)
class ExportKind:
    name: str
    #: the sheet's and the file's title
    title: object
    columns: tuple[Column, ...]
    #: query-string filters the list page understands
    filters: tuple[str, ...]
    #: (user, filters) -> the select of plain rows
    query: Callable
    #: (chunk of rows) -> the chunk as tuples of the columns' values
    convert: Callable


KINDS: dict[str, ExportKind] = {}


def _kind(name, title, columns, filters):
    def register(make):
        query, convert = make()
        KINDS[name] = ExportKind(name, title, tuple(columns), tuple(filters), query, convert)
        return make
    return register


# ---------------------------------------------------------------- filters


#: query-string filters of the list pages: name -> kind of value
FILTER_KINDS = {"q": "text", "district": "id", "village": "id", "group": "id", "member": "id",
                "round": "id", "crop": "id", "status": "choice", "year": "year",
                "from": "date", "to": "date"}
STATUS_CHOICES = {"groups": GROUP_STATUSES, "members": ("active", "left")}


def parse_filters(kind: ExportKind, args, user: User) -> dict:
    """The page's filters from a query string, checked: a value the page would not understand
    is refused (422) rather than ignored, so an export never holds more than was asked for;
    a district, village or group out of the user's reach answers 403."""
    from loans.models import STATUSES as LOAN_STATUSES
    choices = {**STATUS_CHOICES, "loans": LOAN_STATUSES, "installments": LOAN_STATUSES,
               "repayments": LOAN_STATUSES}
    errors: dict[str, list[str]] = {}
    found: dict = {}
    for name in kind.filters:
        raw = (args.get(name) or "").strip()
        if not raw:
            found[name] = None
            continue
        what = FILTER_KINDS[name]
        try:
            if what == "text":
                if len(raw) > 200 or "\x00" in raw:
                    raise ValueError
                value = raw
            elif what == "id":
                value = bounded_int(raw)
            elif what == "year":
                value = bounded_int(raw)
                if not 1990 <= value <= 2100:
                    raise ValueError
            elif what == "date":
                value = date.fromisoformat(raw)
                if not 1900 <= value.year <= 2200:
                    raise ValueError
            else:
                if raw not in choices.get(kind.name, ()):
                    raise ValueError
                value = raw
        except ValueError:
            errors[name] = [_("This filter value is not valid: %(value)s", value=raw[:40])]
            continue
        found[name] = value
    if errors:
        raise Invalid(errors)
    check_reach(found, user)
    return found


def check_reach(found: dict, user: User) -> None:
    """A district, village or group named in the filters must be one the user may read."""
    if access.district_ids(user) is None:
        return
    checks = (("district", lambda i: i),
              ("village", lambda i: db.session.scalar(
                  select(Village.district_id).where(Village.id == i))),
              ("group", lambda i: db.session.scalar(
                  select(Village.district_id).join(Group).where(Group.id == i))))
    for name, district_of in checks:
        if found.get(name):
            district_id = district_of(found[name])
            if district_id is not None and not access.can_read(user, district_id):
                raise Forbidden(_("This record belongs to a district you are not assigned to."))


# ---------------------------------------------------------------- small look-ups


def _names(model, column="name") -> dict[int, str]:
    return dict(db.session.execute(select(model.id, getattr(model, column))).all())


def _district_currency() -> dict[int, str]:
    return dict(db.session.execute(select(District.id, Country.currency)
                                   .join(Region, District.region_id == Region.id)
                                   .join(Country, Region.country_id == Country.id)).all())


class _Labels(dict):
    """label(code) once per code and export: the words are the pages' (shg.labels)."""

    def __missing__(self, code):
        value = self[code] = label(code) if code is not None else ""
        return value


def _local_name(name: str, name_ru: Optional[str]) -> str:
    """A catalogue name in the reader's language where the catalogue has it."""
    return name_ru if name_ru and str(get_locale() or "en") == "ru" else name


def _catalogue(model) -> dict[int, str]:
    return {i: _local_name(n, r) for i, n, r in
            db.session.execute(select(model.id, model.name, model.name_ru))}


def _chunks(ids: list, size: int = 900):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# ---------------------------------------------------------------- groups


@_kind("groups", _l("Groups"), [
    Column(_l("ID"), "int", 8), Column(_l("Group"), width=28), Column(_l("Village"), width=20),
    Column(_l("District"), width=20), Column(_l("Facilitator"), width=22),
    Column(_l("Formed on"), "date", 12), Column(_l("Meeting day")), Column(_l("Meets")),
    Column(_l("Status")), Column(_l("Members"), "int", 10), Column(_l("Women"), "int", 10)],
    ("q", "district", "village", "status"))
def _groups():
    def query(user, f):
        return registry.groups_query(user, q=f["q"] or "", district_id=f["district"],
                                     village_id=f["village"], status=f["status"]) \
            .with_only_columns(Group.id, Group.name, Village.name, Village.district_id,
                               Group.facilitator_id, Group.formed_on, Group.meeting_day,
                               Group.meeting_frequency, Group.status)

    def convert(rows, ctx):
        counts = registry.member_counts([r[0] for r in rows])
        labels = ctx["labels"]
        return [(gid, name, village, ctx["districts"].get(d, ""), ctx["users"].get(fac, ""),
                 formed, label(day), labels[freq], labels[status], *counts.get(gid, (0, 0)))
                for gid, name, village, d, fac, formed, day, freq, status in rows]
    return query, convert


# ---------------------------------------------------------------- members


@_kind("members", _l("Members"), [
    Column(_l("ID"), "int", 8), Column(_l("Full name"), width=28), Column(_l("Gender")),
    Column(_l("Year of birth"), "int", 10), Column(_l("Phone"), "phone", 16),
    Column(_l("SMS language")), Column(_l("SMS consent"), "bool", 10),
    Column(_l("Household"), width=20), Column(_l("Village"), width=20),
    Column(_l("District"), width=20), Column(_l("Group"), width=24),
    Column(_l("Joined on"), "date", 12), Column(_l("Office"))],
    ("q", "district", "village", "group", "status"))
def _members():
    def query(user, f):
        # an alias: the page's own filters correlate on Membership in their subqueries
        current = aliased(Membership)
        return registry.members_query(user, q=f["q"] or "", district_id=f["district"],
                                      village_id=f["village"], group_id=f["group"],
                                      status=f["status"]) \
            .outerjoin(current, and_(current.member_id == Member.id, current.left_on.is_(None))) \
            .with_only_columns(Member.id, Member.full_name, Member.gender, Member.birth_year,
                               Member.phone, Member.language, Member.sms_consent,
                               Household.name, Village.name, Village.district_id,
                               current.group_id, current.joined_on, current.office)

    def convert(rows, ctx):
        labels, groups = ctx["labels"], ctx["groups"]
        return [(mid, name, labels[gender], year, phone, labels[lang], consent, household,
                 village, ctx["districts"].get(d, ""), groups.get(gid, ""), joined,
                 labels[office])
                for mid, name, gender, year, phone, lang, consent, household, village, d, gid,
                joined, office in rows]
    return query, convert


# ---------------------------------------------------------------- meetings and attendance


_MEETING_FILTERS = ("district", "village", "group", "from", "to")


def _meetings_query(user, f):
    return registry.meetings_query(user, district_id=f["district"], village_id=f["village"],
                                   group_id=f["group"], date_from=f["from"], date_to=f["to"])


@_kind("meetings", _l("Meetings"), [
    Column(_l("ID"), "int", 8), Column(_l("Date"), "date", 12), Column(_l("Group"), width=24),
    Column(_l("Village"), width=20), Column(_l("District"), width=20),
    Column(_l("Facilitator"), width=22), Column(_l("Present"), "int", 10),
    Column(_l("Listed"), "int", 10), Column(_l("Savings"), "money", 12),
    Column(_l("Currency"), width=9), Column(_l("Topics"), width=30),
    Column(_l("Decisions"), width=30)], _MEETING_FILTERS)
def _meetings():
    def query(user, f):
        return _meetings_query(user, f).with_only_columns(
            Meeting.id, Meeting.held_on, Group.name, Village.name, Village.district_id,
            Meeting.facilitator_id, Meeting.topics, Meeting.decisions)

    def convert(rows, ctx):
        ids = [r[0] for r in rows]
        register = {line.meeting.id: line for line in
                    registry.meeting_register(None, limit=len(ids), meeting_ids=ids)}
        result = []
        for mid, held_on, group, village, d, fac, topics, decisions in rows:
            line = register.get(mid)
            result.append((mid, held_on, group, village, ctx["districts"].get(d, ""),
                           ctx["users"].get(fac, ""), line.present if line else 0,
                           line.listed if line else 0,
                           line.savings if line else Decimal("0.00"),
                           ctx["currency"].get(d, ""), topics or "", decisions or ""))
        return result
    return query, convert


@_kind("attendance", _l("Attendance"), [
    Column(_l("Meeting ID"), "int", 10), Column(_l("Date"), "date", 12),
    Column(_l("Group"), width=24), Column(_l("Village"), width=20),
    Column(_l("District"), width=20), Column(_l("Member ID"), "int", 10),
    Column(_l("Member"), width=28), Column(_l("Gender")), Column(_l("Attendance")),
    Column(_l("Savings"), "money", 12), Column(_l("Currency"), width=9)], _MEETING_FILTERS)
def _attendance():
    def query(user, f):
        return _meetings_query(user, f).join(Attendance, Attendance.meeting_id == Meeting.id) \
            .join(Member, Attendance.member_id == Member.id) \
            .order_by(Member.full_name, Member.id) \
            .with_only_columns(Meeting.id, Meeting.held_on, Group.name, Village.name,
                               Village.district_id, Member.id, Member.full_name,
                               Member.gender, Attendance.status, Attendance.savings)

    def convert(rows, ctx):
        labels = ctx["labels"]
        return [(mid, held_on, group, village, ctx["districts"].get(d, ""), member_id, name,
                 labels[gender], labels[status], savings, ctx["currency"].get(d, ""))
                for mid, held_on, group, village, d, member_id, name, gender, status, savings
                in rows]
    return query, convert


# ---------------------------------------------------------------- loans


_LOAN_FILTERS = ("q", "status", "district", "village", "group")


def _loans_query(user, f):
    from loans.views import loans_query
    return loans_query(user, q=f["q"] or "", status=f["status"], district_id=f["district"],
                       village_id=f["village"], group_id=f["group"])


@_kind("loans", _l("Loans"), [
    Column(_l("Loan ID"), "int", 8), Column(_l("Member"), width=28), Column(_l("Gender")),
    Column(_l("Group"), width=24), Column(_l("Village"), width=20),
    Column(_l("District"), width=20), Column(_l("Lender"), width=20),
    Column(_l("Product"), width=20), Column(_l("Purpose"), width=24),
    Column(_l("Amount"), "money", 12), Column(_l("Currency"), width=9),
    Column(_l("Status")), Column(_l("Applied on"), "date", 12),
    Column(_l("Approved on"), "date", 12), Column(_l("Disbursed on"), "date", 12),
    Column(_l("Closed on"), "date", 12), Column(_l("Written off on"), "date", 12),
    Column(_l("Outstanding principal"), "money", 14), Column(_l("Days late"), "int", 10),
    Column(_l("Arrears"), "money", 12), Column(_l("Penalty due"), "money", 12)], _LOAN_FILTERS)
def _loans():
    def query(user, f):
        from loans.models import Loan
        return _loans_query(user, f).with_only_columns(
            Loan.id, Member.full_name, Member.gender, Group.name, Village.name,
            Village.district_id, Loan.lender_id, Loan.product_id, Loan.purpose, Loan.principal,
            Loan.currency, Loan.status, Loan.applied_on, Loan.approved_on, Loan.disbursed_on,
            Loan.closed_on, Loan.written_off_on)

    def convert(rows, ctx):
        from loans import services as loan_services
        from loans.models import Loan
        from sqlalchemy.orm import selectinload
        out = [r for r in rows if r[14] is not None]
        positions = {}
        if out:
            loans = db.session.scalars(
                select(Loan).where(Loan.id.in_([r[0] for r in out]))
                .options(selectinload(Loan.installments_all), selectinload(Loan.repayments))).all()
            on = ctx["today"]
            # the figures the loans page shows beside each loan: its position today
            positions = {loan.id: loan_services.position(loan, on) for loan in loans}
        labels = ctx["labels"]
        result = []
        for (lid, name, gender, group, village, d, lender, product, purpose, principal, cur,
             status, applied, approved, disbursed, closed, written_off) in rows:
            pos = positions.get(lid)
            result.append((lid, name, labels[gender], group, village,
                           ctx["districts"].get(d, ""), ctx["lenders"].get(lender, ""),
                           ctx["products"].get(product, ""), purpose, principal, cur,
                           labels[status], applied, approved, disbursed, closed, written_off,
                           pos.outstanding_principal if pos else None,
                           pos.days_past_due if pos else None, pos.arrears if pos else None,
                           pos.penalty_due if pos else None))
        return result
    return query, convert


@_kind("installments", _l("Installments"), [
    Column(_l("Loan ID"), "int", 8), Column(_l("Member"), width=28),
    Column(_l("Group"), width=24), Column(_l("Currency"), width=9), Column(_l("No."), "int", 6),
    Column(_l("Due on"), "date", 12), Column(_l("Principal"), "money", 12),
    Column(_l("Interest"), "money", 12), Column(_l("Fee"), "money", 10),
    Column(_l("Total"), "money", 12), Column(_l("Principal paid"), "money", 12),
    Column(_l("Interest paid"), "money", 12), Column(_l("Fee paid"), "money", 10),
    Column(_l("Penalty paid"), "money", 10), Column(_l("Paid in full on"), "date", 12),
    Column(_l("State"))], _LOAN_FILTERS)
def _installments():
    """The schedule in force of each loan of the list (older versions stay on the loan page)."""
    def query(user, f):
        from loans.models import Installment, Loan
        return _loans_query(user, f) \
            .join(Installment, and_(Installment.loan_id == Loan.id,
                                    Installment.version == Loan.schedule_version)) \
            .order_by(Installment.number) \
            .with_only_columns(Loan.id, Member.full_name, Group.name, Loan.currency,
                               Installment.number, Installment.due_on, Installment.principal,
                               Installment.interest, Installment.fee,
                               Installment.principal_paid, Installment.interest_paid,
                               Installment.fee_paid, Installment.penalty_paid,
                               Installment.paid_on)

    def convert(rows, ctx):
        from loans.views import installment_state
        labels, on = ctx["labels"], ctx["today"]
        # installment_state reads .paid_on and .due_on: a row carries both by name
        return [(r.id, r.full_name, r.name, r.currency, r.number, r.due_on, r.principal,
                 r.interest, r.fee, r.principal + r.interest + r.fee, r.principal_paid,
                 r.interest_paid, r.fee_paid, r.penalty_paid, r.paid_on,
                 labels[installment_state(r, on)]) for r in rows]
    return query, convert


@_kind("repayments", _l("Repayments"), [
    Column(_l("Repayment ID"), "int", 8), Column(_l("Loan ID"), "int", 8),
    Column(_l("Member"), width=28), Column(_l("Group"), width=24),
    Column(_l("Paid on"), "date", 12), Column(_l("Amount"), "money", 12),
    Column(_l("Currency"), width=9), Column(_l("Penalty"), "money", 10),
    Column(_l("Fee"), "money", 10), Column(_l("Interest"), "money", 12),
    Column(_l("Principal"), "money", 12), Column(_l("Receipt"), width=12),
    Column(_l("Collected at the meeting of"), "date", 12), Column(_l("Recorded by"), width=20),
    Column(_l("Reversed on"), "date", 12), Column(_l("Reason for reversal"), width=24)],
    _LOAN_FILTERS)
def _repayments():
    def query(user, f):
        from loans.models import Loan, Repayment
        return _loans_query(user, f) \
            .join(Repayment, Repayment.loan_id == Loan.id) \
            .outerjoin(Meeting, Repayment.meeting_id == Meeting.id) \
            .order_by(Repayment.paid_on, Repayment.id) \
            .with_only_columns(Repayment.id, Loan.id, Member.full_name, Group.name,
                               Repayment.paid_on, Repayment.amount, Loan.currency,
                               Repayment.receipt_no, Meeting.held_on, Repayment.recorded_by_id,
                               Repayment.reversed_at, Repayment.reversal_reason)

    def convert(rows, ctx):
        from loans.models import Allocation
        # how each repayment was allocated: the allocations the loan page shows
        split: dict[int, dict[str, Decimal]] = {}
        for rid, component, amount in db.session.execute(
                select(Allocation.repayment_id, Allocation.component, func.sum(Allocation.amount))
                .where(Allocation.repayment_id.in_([r[0] for r in rows]))
                .group_by(Allocation.repayment_id, Allocation.component)):
            split.setdefault(rid, {})[component] = amount
        zero = Decimal("0.00")
        result = []
        for rid, lid, name, group, paid_on, amount, cur, receipt, meeting_on, by, rev, reason \
                in rows:
            parts = split.get(rid, {})
            result.append((rid, lid, name, group, paid_on, amount, cur,
                           *(parts.get(c, zero) for c in ("penalty", "fee", "interest",
                                                          "principal")),
                           receipt or "", meeting_on, ctx["users"].get(by, ""),
                           rev.date() if rev else None, reason or ""))
        return result
    return query, convert


# ---------------------------------------------------------------- seeds and harvests


@_kind("deliveries", _l("Seed deliveries"), [
    Column(_l("ID"), "int", 8), Column(_l("Date"), "date", 12), Column(_l("Round"), width=24),
    Column(_l("Member ID"), "int", 10), Column(_l("Member"), width=28), Column(_l("Gender")),
    Column(_l("Group"), width=24), Column(_l("Village"), width=20),
    Column(_l("District"), width=20), Column(_l("Crop"), width=16),
    Column(_l("Variety"), width=16), Column(_l("Quantity"), "qty", 12), Column(_l("Unit")),
    Column(_l("Value"), "money", 12), Column(_l("Currency"), width=9)],
    ("district", "village", "group", "round", "crop", "member"))
def _deliveries():
    def query(user, f):
        from harvests import services as harvest_services
        from harvests.models import SeedDelivery
        return harvest_services.deliveries_query(
            user, round_id=f["round"], group_id=f["group"], village_id=f["village"],
            district_id=f["district"], crop_id=f["crop"], member_id=f["member"]) \
            .join(Member, SeedDelivery.member_id == Member.id) \
            .with_only_columns(SeedDelivery.id, SeedDelivery.delivered_on, SeedDelivery.round_id,
                               Member.id, Member.full_name, Member.gender, Group.name,
                               Village.name, Village.district_id, SeedDelivery.crop_id,
                               SeedDelivery.variety_id, SeedDelivery.quantity,
                               SeedDelivery.unit_id, SeedDelivery.value, SeedDelivery.currency)

    def convert(rows, ctx):
        labels = ctx["labels"]
        return [(did, on, ctx["rounds"].get(rnd, ""), mid, name, labels[gender], group, village,
                 ctx["districts"].get(d, ""), ctx["crops"].get(crop, ""),
                 ctx["varieties"].get(variety, ""), qty, ctx["units"].get(unit, ""), value,
                 cur or "")
                for did, on, rnd, mid, name, gender, group, village, d, crop, variety, qty, unit,
                value, cur in rows]
    return query, convert


@_kind("harvests", _l("Harvests"), [
    Column(_l("ID"), "int", 8), Column(_l("Date"), "date", 12), Column(_l("Season")),
    Column(_l("Year"), "int", 8), Column(_l("Member ID"), "int", 10),
    Column(_l("Member"), width=28), Column(_l("Gender")), Column(_l("Group"), width=24),
    Column(_l("Village"), width=20), Column(_l("District"), width=20),
    Column(_l("Crop"), width=16), Column(_l("Variety"), width=16),
    Column(_l("Area"), "area", 10), Column(_l("Area unit")), Column(_l("Volume"), "qty", 12),
    Column(_l("Unit")), Column(_l("Quantity sold"), "qty", 12),
    Column(_l("Price per unit"), "money", 12), Column(_l("Market value"), "money", 14),
    Column(_l("Currency"), width=9)],
    ("district", "village", "group", "round", "crop", "member", "year"))
def _harvests():
    def query(user, f):
        from harvests import services as harvest_services
        from harvests.models import Harvest
        return harvest_services.harvests_query(
            user, round_id=f["round"], group_id=f["group"], village_id=f["village"],
            district_id=f["district"], crop_id=f["crop"], member_id=f["member"],
            year=f["year"]) \
            .join(Member, Harvest.member_id == Member.id) \
            .with_only_columns(Harvest.id, Harvest.harvested_on, Harvest.season, Harvest.year,
                               Member.id, Member.full_name, Member.gender, Group.name,
                               Village.name, Village.district_id, Harvest.crop_id,
                               Harvest.variety_id, Harvest.area, Harvest.area_unit_id,
                               Harvest.volume, Harvest.unit_id, Harvest.quantity_sold,
                               Harvest.price, Harvest.market_value, Harvest.currency)

    def convert(rows, ctx):
        labels, units = ctx["labels"], ctx["units"]
        return [(hid, on, labels[season], year, mid, name, labels[gender], group, village,
                 ctx["districts"].get(d, ""), ctx["crops"].get(crop, ""),
                 ctx["varieties"].get(variety, ""), area, units.get(area_unit, ""), volume,
                 units.get(unit, ""), sold, price, value, cur or "")
                for hid, on, season, year, mid, name, gender, group, village, d, crop, variety,
                area, area_unit, volume, unit, sold, price, value, cur in rows]
    return query, convert


# ---------------------------------------------------------------- running an export


def _context(kind: ExportKind) -> dict:
    """The small look-up tables an export needs (a few hundred rows each), read once."""
    from shg.accounts.models import User as UserModel
    ctx = {"labels": _Labels(), "today": today(), "districts": _names(District),
           "currency": _district_currency(), "users": _names(UserModel, "full_name")}
    if kind.name == "members":
        ctx["groups"] = _names(Group)
    if kind.name == "loans":
        from loans.models import Lender, LoanProduct
        ctx["lenders"], ctx["products"] = _names(Lender), _names(LoanProduct)
    if kind.name in ("deliveries", "harvests"):
        from harvests.models import Crop, DistributionRound, Unit, Variety
        ctx.update(rounds=_names(DistributionRound), crops=_catalogue(Crop),
                   units=_catalogue(Unit), varieties=_names(Variety))
    return ctx


@dataclass
class Prepared:
    """An export ready to run: its query is built (and the user's reach checked) before the
    first byte is sent, so a refusal is a clear 4xx and not a broken download."""

    kind: ExportKind
    query: object
    ctx: dict

    @property
    def headers(self) -> list[str]:
        return [str(c.header) for c in self.kind.columns]

    @property
    def title(self) -> str:
        return str(self.kind.title)

    def count(self) -> int:
        return db.session.scalar(select(func.count()).select_from(
            self.query.order_by(None).subquery()))

    def rows(self) -> Iterator[tuple]:
        result = db.session.execute(self.query.execution_options(yield_per=CHUNK))
        for chunk in result.partitions():
            yield from self.kind.convert(list(chunk), self.ctx)


def prepare(name: str, args, user: User) -> Prepared:
    """Check the kind and the filters, build the query. Unknown kind: KeyError."""
    kind = KINDS[name]
    filters = parse_filters(kind, args, user)
    return Prepared(kind, kind.query(user, filters), _context(kind))


def export_rows(name: str, user: User, **filters) -> tuple[list[str], list[tuple]]:
    """Headers and every row of an export, as plain values (for tests and commands)."""
    prepared = prepare(name, {k: str(v) for k, v in filters.items() if v is not None}, user)
    return prepared.headers, list(prepared.rows())


# ---------------------------------------------------------------- CSV


def csv_dialect(sep: Optional[str] = None) -> tuple[str, str]:
    """(separator, decimal mark): chosen, or by the reader's language (see the module)."""
    if sep == "comma":
        return ",", "."
    if sep == "semicolon":
        return ";", ","
    return (",", ".") if str(get_locale() or "en") == "en" else (";", ",")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value, kind: str, decimal_mark: str, yes: str, no: str) -> str:
    if value is None:
        return ""
    if kind in PLACES:
        text = f"{value:.{PLACES[kind]}f}"
        return text.replace(".", decimal_mark) if decimal_mark != "." else text
    if kind == "date":
        return value.isoformat()
    if kind == "bool":
        return yes if value else no
    if kind == "int":
        return str(value)
    text = str(value)
    if kind == "text" and text.startswith(FORMULA_START):
        return "'" + text
    return text


def write_csv(prepared: Prepared, sep: Optional[str] = None) -> Iterator[str]:
    """The CSV as text pieces, the byte-order mark first; rows are written as they come.

    The header, the dialect and the words are fixed here, before the first piece is asked
    for: a streamed response runs the rest after the view has returned."""
    separator, mark = csv_dialect(sep)
    yes, no = _("Yes"), _("No")
    kinds = [c.kind for c in prepared.kind.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(prepared.headers)
    first = "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()

    def pieces():
        yield first
        for number, row in enumerate(prepared.rows(), 1):
            writer.writerow([_csv_value(v, k, mark, yes, no) for v, k in zip(row, kinds)])
            if number % 1000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    return pieces()


# ---------------------------------------------------------------- XLSX


class TooManyRows(Invalid):
    pass


def _sheet_title(text: str) -> str:
    for bad in "[]:*?/\\":
        text = text.replace(bad, " ")
    return text[:31] or "Sheet"


def write_xlsx(prepared: Prepared, out) -> None:
    """Write the workbook to a binary file object.

    openpyxl makes the package: the workbook, the styles (bold header, the number formats),
    the column widths and the frozen header row, with one sample row of each column's kind.
    The rows are then streamed into the sheet in place of the sample, as the same XML openpyxl
    writes (inline strings, numbers, date serials with the sample's style): openpyxl's own
    cell-by-cell writer takes some 20 µs a cell, minutes for a country's attendance, while
    this takes about one. Tests read every export back with openpyxl.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    rows = prepared.count()
    if rows + 1 > XLSX_MAX_ROWS:
        raise TooManyRows({"_schema": [_(
            "%(count)s rows are more than one Excel sheet holds. Narrow the filters, or "
            "export CSV.", count=rows)]})
    columns = prepared.kind.columns
    letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _sheet_title(prepared.title)
    bold = Font(bold=True)
    for letter, column, text in zip(letters, columns, prepared.headers):
        sheet.column_dimensions[letter].width = column.width
        sheet[f"{letter}1"] = text
        sheet[f"{letter}1"].font = bold
        sample = sheet[f"{letter}2"]
        sample.value = {"date": date(2000, 1, 1), "int": 0}.get(
            column.kind, Decimal("0") if column.kind in PLACES else "x")
        if column.kind in NUMBER_FORMATS:
            sample.number_format = NUMBER_FORMATS[column.kind]
    sheet.freeze_panes = "A2"
    skeleton = io.BytesIO()
    workbook.save(skeleton)
    with zipfile.ZipFile(skeleton) as source:
        name = next(n for n in source.namelist() if n.startswith("xl/worksheets/sheet"))
        xml = source.read(name).decode("utf-8")
        styles = dict(re.findall(r'<c r="([A-Z]+)2"[^>]*?\bs="(\d+)"', xml))
        head, rest = xml.split('<row r="2"', 1)
        tail = rest[rest.index("</sheetData>"):]
        head = re.sub(r"<dimension [^>]*/>", "", head)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if info.filename != name:
                    target.writestr(info, source.read(info.filename))
            with target.open(name, "w", force_zip64=True) as sheet_xml:
                sheet_xml.write(head.encode("utf-8"))
                cells = _cell_writers(columns, letters, styles)
                buffer: list[str] = []
                for number, row in enumerate(prepared.rows(), 2):
                    buffer.append(f'<row r="{number}">')
                    buffer.extend(write(value, number) for write, value in zip(cells, row)
                                  if value is not None and value != "")
                    buffer.append("</row>")
                    if len(buffer) > 20000:
                        sheet_xml.write("".join(buffer).encode("utf-8"))
                        buffer.clear()
                sheet_xml.write("".join(buffer).encode("utf-8"))
                sheet_xml.write(tail.encode("utf-8"))


#: characters XML 1.0 cannot hold (openpyxl refuses them too)
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
EXCEL_EPOCH = date(1899, 12, 30)


def _cell_writers(columns, letters, styles) -> list[Callable]:
    """For each column, a function (value, row number) -> the cell's XML."""
    yes, no = _("Yes"), _("No")

    def text_cell(ref):
        def write(value, row):
            value = _ILLEGAL_XML.sub("", str(value))
            space = ' xml:space="preserve"' if value != value.strip() else ""
            return f'<c r="{ref}{row}" t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'
        return write

    def number_cell(ref, style, kind):
        attr = f' s="{style}"' if style else ""
        if kind == "date":
            return lambda v, row: f'<c r="{ref}{row}"{attr}><v>{(v - EXCEL_EPOCH).days}</v></c>'
        if kind == "int":
            return lambda v, row: f'<c r="{ref}{row}" t="n"><v>{int(v)}</v></c>'
        # the Decimal's own digits, never through a float
        return lambda v, row: f'<c r="{ref}{row}"{attr} t="n"><v>{v:f}</v></c>'

    writers = []
    for column, letter in zip(columns, letters):
        if column.kind in PLACES or column.kind in ("date", "int"):
            writers.append(number_cell(letter, styles.get(letter), column.kind))
        elif column.kind == "bool":
            text = text_cell(letter)
            writers.append(lambda v, row, text=text: text(yes if v else no, row))
        else:
            writers.append(text_cell(letter))
    return writers


def xlsx_file(prepared: Prepared):
    """The workbook in a temporary file (kept in memory while small), rewound."""
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    write_xlsx(prepared, out)
    out.seek(0)
    return out


def filename(prepared: Prepared, extension: str) -> str:
    return f"{prepared.kind.name}-{today().isoformat()}.{extension}"
