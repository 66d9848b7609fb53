"""The staff's e-mail: what each officer, facilitator and the project office is sent.

* ``overdue_digest``, every working morning, to each loan officer and facilitator: the
  overdue loans of their districts grouped by group (days late, arrears, phone), and the
  installments falling due this week;
* ``meetings_tomorrow``, the day before, to each facilitator: the meetings of her groups
  with the collection due at each (``loans.services.collection_sheet``, the meeting form's
  own figures);
* ``portfolio_weekly``, on Mondays, to the project office: PAR30 and the on-time rate by
  district (``loans.portfolio.portfolio``, the portfolio page's figures).

Each is a ``loans.reminders.Planned`` row: the outbox writes, dedupes and sends it like an
SMS. The text is in the reader's interface language (``user.locale``), from the templates in
templates/email/. A staff member without an e-mail address gets a ``skipped`` row (reason
``no_email``), so the project office sees who was not told.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Optional

from flask import current_app, render_template
from flask_babel import force_locale, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from loans import portfolio as portfolio_service, services
from loans.models import Installment, Loan
from loans.reminders import SKIP_NO_EMAIL, Planned
from shg.accounts import access
from shg.accounts.models import User
from shg.extensions import db
from shg.formatting import day as _day
from shg.registry.models import Country, District, Group, Region, Village
from shg.registry.services import meeting_days
from shg.timeutil import today

ZERO = Decimal("0.00")


# ---------------------------------------------------------------- the figures, as plain values


@dataclass
class LateLine:
    member: str
    phone: str
    days_past_due: int
    arrears: Decimal
    currency: str
    loan_id: int


@dataclass
class DueLine:
    member: str
    phone: str
    due_on: date
    amount: Decimal
    currency: str
    loan_id: int


@dataclass
class GroupLines:
    """One group's lines in a digest, under its village."""

    village: str
    group: str
    late: list[LateLine] = field(default_factory=list)
    due: list[DueLine] = field(default_factory=list)


def week_end(as_of: date) -> date:
    """The Sunday closing ``as_of``'s week: "this week" in the digest."""
    return as_of + timedelta(days=6 - as_of.weekday())


class DistrictBook:
    """The overdue and falling-due lines of each district, worked out once per run and
    shared by every officer and facilitator of that district."""

    def __init__(self, as_of: date):
        self.as_of = as_of
        self._late: dict[int, list[tuple[Group, LateLine]]] = {}
        self._due: dict[int, list[tuple[Group, DueLine]]] = {}

    def late(self, user: User, district_id: int) -> list[tuple[Group, LateLine]]:
        """The district's overdue list as its officers' morning page shows it (days late
        and arrears; the page adds the penalty)."""
        if district_id not in self._late:
            # the worklist reads today's stored oldest-unpaid date; a run for a past day
            # (by hand) takes the loans late today and keeps those late on that day
            query = portfolio_service.overdue_query(user, district_id=district_id,
                                                    as_of=max(self.as_of, today()))
            loans = db.session.scalars(query.options(
                selectinload(Loan.group).selectinload(Group.village))).unique().all()
            if self.as_of >= today():
                standing = portfolio_service.late_today(loans, self.as_of)
                figures = {i: (s.days_past_due, s.arrears) for i, s in standing.items()}
            else:
                figures = {row.loan.id: (row.position.days_past_due, row.position.arrears)
                           for row in portfolio_service.overdue_rows(loans, self.as_of)}
            self._late[district_id] = [
                (loan.group, LateLine(loan.member.full_name, loan.member.phone or "",
                                      figures[loan.id][0], figures[loan.id][1], loan.currency,
                                      loan.id))
                for loan in loans if figures[loan.id][0] > 0]
        return self._late[district_id]

    def due(self, district_id: int) -> list[tuple[Group, DueLine]]:
        """Installments of the schedules in force falling due from today to Sunday, unpaid."""
        if district_id not in self._due:
            installments = db.session.scalars(
                select(Installment).join(Loan, Installment.loan_id == Loan.id)
                .join(Group, Loan.group_id == Group.id).join(Village)
                .where(Loan.status == "disbursed", Installment.version == Loan.schedule_version,
                       Installment.due_on >= self.as_of,
                       Installment.due_on <= week_end(self.as_of),
                       Village.district_id == district_id)
                .options(selectinload(Installment.loan).selectinload(Loan.member),
                         selectinload(Installment.loan).selectinload(Loan.group)
                         .selectinload(Group.village))
                .order_by(Installment.due_on, Installment.loan_id)).all()
            self._due[district_id] = [
                (i.loan.group, DueLine(i.loan.member.full_name, i.loan.member.phone or "",
                                       i.due_on, i.owed, i.loan.currency, i.loan_id))
                for i in installments if i.owed > 0]
        return self._due[district_id]


def district_lines(user: User, district_id: int, book: DistrictBook) -> list[GroupLines]:
    """One district's part of a digest: its late loans and this week's installments, by
    group (village, then group name); empty when there is nothing to tell."""
    groups: dict[int, GroupLines] = {}
    for group, line in book.late(user, district_id):
        groups.setdefault(group.id, GroupLines(group.village.name, group.name)).late.append(line)
    for group, line in book.due(district_id):
        groups.setdefault(group.id, GroupLines(group.village.name, group.name)).due.append(line)
    for lines in groups.values():
        lines.late.sort(key=lambda x: (-x.days_past_due, x.member))
        lines.due.sort(key=lambda x: (x.due_on, x.member))
    return sorted(groups.values(), key=lambda g: (g.village, g.group))


@dataclass
class DistrictText:
    late: str
    due: str
    late_count: int
    due_count: int


class DigestWriter:
    """Each district's lines written once per language, and shared by the digests of all its
    officers and facilitators (a district's list can run to hundreds of loans)."""

    def __init__(self, book: DistrictBook):
        self.book = book
        self._texts: dict[tuple[int, str], DistrictText] = {}

    def district(self, user: User, district_id: int, language: str) -> DistrictText:
        key = (district_id, language)
        if key not in self._texts:
            groups = district_lines(user, district_id, self.book)
            # looked up once, not once per line: "%(days)d days late" is formatted per line
            words = {"late": _("%(days)d days late"), "arrears": _("arrears"),
                     "loan": _("loan"), "no_phone": _("no phone")}
            self._texts[key] = DistrictText(
                render_template("email/_late_lines.txt", groups=[g for g in groups if g.late],
                                words=words),
                render_template("email/_due_lines.txt", groups=[g for g in groups if g.due],
                                words=words),
                sum(len(g.late) for g in groups), sum(len(g.due) for g in groups))
        return self._texts[key]


@dataclass
class MeetingLine:
    village: str
    group: str
    meets_on: date
    #: currency -> collection due at the meeting (fallen due and unpaid by that day)
    due: dict[str, Decimal]
    borrowers: int


def meetings_of(facilitator_id: int, on: date, country_id: int) -> list[MeetingLine]:
    """The facilitator's active groups that meet ``on``, with what is due at each: the
    collection sheet of the meeting form, summed."""
    groups = db.session.scalars(
        select(Group).join(Village).join(District).join(Region)
        .where(Group.facilitator_id == facilitator_id, Group.status == "active",
               Region.country_id == country_id)
        .options(selectinload(Group.village)).order_by(Group.name)).all()
    lines = []
    for group in groups:
        if not meeting_days(group.formed_on, group.meeting_day, group.meeting_frequency, on, on):
            continue
        due: dict[str, Decimal] = defaultdict(lambda: ZERO)
        borrowers = 0
        for loan, due_now, _owed in services.collection_sheet(group.id, on):
            if due_now > 0:
                due[loan.currency] += due_now
                borrowers += 1
        lines.append(MeetingLine(group.village.name, group.name, on, dict(due), borrowers))
    return sorted(lines, key=lambda m: (m.village, m.group))


@dataclass
class DistrictFigures:
    district: str
    #: loans.portfolio.Figures per currency
    figures: list


def portfolio_by_district(as_of: date, country_id: int) -> tuple[list[DistrictFigures], list]:
    """The portfolio page's figures for each district of a country (one pass over the
    country's loans), and the country's, their sum."""
    districts = db.session.scalars(
        select(District).join(Region).where(Region.country_id == country_id)
        .order_by(District.name)).all()
    parts = portfolio_service.portfolio_by("district", as_of, country_id=country_id)
    rows = [DistrictFigures(d.name, sorted(parts[d.id].values(), key=lambda f: f.currency))
            for d in districts if parts.get(d.id)]
    total = portfolio_service.combine(parts.values())
    return rows, sorted(total.values(), key=lambda f: f.currency)


# ---------------------------------------------------------------- the messages


def _language(user: Optional[User]) -> str:
    languages = current_app.config.get("LANGUAGES", ("en", "ru"))
    if user is None:
        language = current_app.config.get("PROJECT_OFFICE_LANGUAGE", "ru")
    else:
        language = user.locale
    return language if language in languages else "en"


def _email(kind: str, user: Optional[User], address: Optional[str], about: str, as_of: date,
           subject_and_body, district_id: Optional[int] = None) -> Planned:
    language = _language(user)
    with force_locale(language):
        subject, body = subject_and_body()
    recipient = (address or "").strip()
    state, reason = ("queued", None) if recipient else ("skipped", SKIP_NO_EMAIL)
    return Planned(kind, "email", recipient, about, as_of, language, body, state, reason,
                   name=user.full_name if user else recipient, subject=subject,
                   user_id=user.id if user else None, district_id=district_id)


def _staff(roles, country_districts: set[int]) -> list[tuple[User, list[int]]]:
    users = db.session.scalars(
        select(User).where(User.role.in_(roles), User.is_active_user.is_(True))
        .options(selectinload(User.districts)).order_by(User.id)).all()
    found = []
    for user in users:
        mine = sorted((access.district_ids(user) or set()) & country_districts)
        if mine:
            found.append((user, mine))
    return found


def plan_overdue_digests(as_of: date, country: Country, districts: set[int]) -> list[Planned]:
    writer = DigestWriter(DistrictBook(as_of))
    planned = []
    for user, mine in _staff(("loan_officer", "facilitator"), districts):
        language = _language(user)
        with force_locale(language):
            parts = [writer.district(user, district_id, language) for district_id in mine]
        late = sum(p.late_count for p in parts)
        if not late and not sum(p.due_count for p in parts):
            continue

        def text(parts=parts, user=user, late=late):
            subject = _("Overdue loans on %(day)s: %(count)d late", day=_day(as_of), count=late)
            body = render_template("email/overdue_digest.txt", user=user, as_of=as_of,
                                   late_text="".join(p.late for p in parts),
                                   due_text="".join(p.due for p in parts),
                                   week_end=week_end(as_of), late_count=late, country=country)
            return subject, body
        planned.append(_email("overdue_digest", user, user.email, f"u{user.id}/c{country.id}",
                              as_of, text, district_id=mine[0] if len(mine) == 1 else None))
    return planned


def plan_meetings_tomorrow(as_of: date, country: Country, districts: set[int]) -> list[Planned]:
    tomorrow = as_of + timedelta(days=1)
    planned = []
    for user, mine in _staff(("facilitator",), districts):
        meetings = meetings_of(user.id, tomorrow, country.id)
        if not meetings:
            continue

        def text(meetings=meetings, user=user):
            subject = _("Meetings tomorrow, %(day)s: %(count)d", day=_day(tomorrow),
                        count=len(meetings))
            body = render_template("email/meetings_tomorrow.txt", user=user, meetings=meetings,
                                   day=tomorrow)
            return subject, body
        planned.append(_email("meetings_tomorrow", user, user.email,
                              f"u{user.id}/m{tomorrow.isoformat()}", as_of, text,
                              district_id=mine[0] if len(mine) == 1 else None))
    return planned


def project_office(config) -> list[tuple[Optional[User], Optional[str]]]:
    """Who gets the weekly portfolio: every active admin, and the addresses in
    PROJECT_OFFICE_EMAILS (each address once)."""
    recipients, seen = [], set()
    for user in db.session.scalars(select(User).where(User.role == "admin",
                                                      User.is_active_user.is_(True))
                                   .order_by(User.id)):
        recipients.append((user, user.email))
        if user.email:
            seen.add(user.email.strip().lower())
    for address in (config.get("PROJECT_OFFICE_EMAILS") or "").split(","):
        address = address.strip()
        if address and address.lower() not in seen:
            seen.add(address.lower())
            recipients.append((None, address))
    return recipients


def plan_portfolio_weekly(as_of: date, country: Country) -> list[Planned]:
    recipients = project_office(current_app.config)
    if not recipients:
        return []
    rows, total = portfolio_by_district(as_of, country.id)
    if not rows:
        return []
    planned = []
    for user, address in recipients:
        def text(user=user):
            subject = _("Portfolio of %(country)s on %(day)s", country=country.name,
                        day=_day(as_of))
            body = render_template("email/portfolio_weekly.txt", rows=rows, total=total,
                                   as_of=as_of, country=country)
            return subject, body
        about = f"u{user.id}/c{country.id}" if user else f"c{country.id}"
        planned.append(_email("portfolio_weekly", user, address, about, as_of, text))
    return planned


def plan(as_of: date, country_id: Optional[int] = None) -> list[Planned]:
    """The e-mail ``as_of`` calls for in one country (all of them when None), by the
    country's calendar: digests on working days, the portfolio on its weekday."""
    config = current_app.config
    query = select(Country).order_by(Country.id)
    if country_id is not None:
        query = query.where(Country.id == country_id)
    planned: list[Planned] = []
    for country in db.session.scalars(query).all():
        districts = set(db.session.scalars(
            select(District.id).join(Region).where(Region.country_id == country.id)))
        if not districts:
            continue
        if as_of.weekday() in config.get("WORKING_DAYS", (0, 1, 2, 3, 4)):
            planned += plan_overdue_digests(as_of, country, districts)
        planned += plan_meetings_tomorrow(as_of, country, districts)
        if as_of.weekday() == config.get("PORTFOLIO_EMAIL_WEEKDAY", 0):
            planned += plan_portfolio_weekly(as_of, country)
    return planned
