"""The figures of a village, district or programme (country) summary, as plain values.

Nothing is calculated here that a figure's own function calculates: members and women
(``registry.member_counts``), meetings, attendance and savings (``registry.group_activity``,
``attendance_rate``, ``attendance_by_month``), migrant households (``registry.migration``),
seeds and harvests (``harvests.figures``), loans (``loans.portfolio.portfolio_by``, whose parts
``portfolio.combine`` adds up to the scope's ``portfolio``). This module
chooses the scope, calls them, and adds up counts of disjoint parts (the groups of a village,
the villages of a district) for the rows of the summary's table. The PDF layout is in
``reports.summary_pdf``; the same values can feed a page or the API.

The period: meetings, seeds, harvests and loans disbursed are counted from ``start``
(None: from the beginning) to ``as_of``; outstanding loans and PAR are as of ``as_of``.
Member counts are the members in a group today (memberships have no history of counts).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Optional

from flask_babel import get_locale
from sqlalchemy import func, select

from harvests import figures as harvest_figures
from harvests.models import Crop, Unit
from loans import portfolio as loan_portfolio
from loans.portfolio import Figures
from shg.accounts import access
from shg.extensions import db
from shg.registry import services as registry
from shg.registry.models import Country, District, Group, Region, Village
from shg.timeutil import today

LEVELS = ("village", "district", "country")
#: what a summary's table lists, per level of the summary
ROW_LEVEL = {"village": "group", "district": "village", "country": "district"}
ZERO = Decimal("0.00")


@dataclass
class Row:
    """One line of the summary's table: a group, a village or a district."""

    id: int
    name: str
    groups: int = 0
    members: int = 0
    women: int = 0
    activity: registry.GroupActivity = field(
        default_factory=lambda: registry.GroupActivity(0, 0, 0, ZERO, ZERO))
    harvest: Optional[harvest_figures.Results] = None
    loans: dict[str, Figures] = field(default_factory=dict)
    status: Optional[str] = None

    @property
    def share_women(self) -> Optional[Decimal]:
        return Decimal(self.women) / Decimal(self.members) if self.members else None


@dataclass
class SeedLine:
    crop: str
    unit: str
    quantity: Decimal
    recipients: int


@dataclass
class Summary:
    level: str
    id: int
    name: str
    #: the places above it, nearest first: (level, name)
    parents: list[tuple[str, str]]
    as_of: date
    start: Optional[date]
    currency: str
    pilot_joined_on: Optional[date]
    villages: int
    pilot_villages: int
    groups: int
    active_groups: int
    members: int
    women: int
    migration: registry.Migration
    meetings: int
    attendance_rate: Optional[Decimal]
    savings: Decimal
    savings_balance: Decimal
    attendance_months: list[tuple[date, int, int]]
    seeds: list[SeedLine]
    harvest: harvest_figures.ByGender
    harvest_by_crop: list[tuple[str, harvest_figures.Results]]
    loans: dict[str, Figures]
    row_level: str
    rows: list[Row]

    @property
    def share_women(self) -> Optional[Decimal]:
        return Decimal(self.women) / Decimal(self.members) if self.members else None

    @property
    def districts(self) -> int:
        return len(self.rows) if self.level == "country" else 1


class NotFound(LookupError):
    """No such village, district or country."""


def place(level: str, place_id: int):
    """The village, district or country, or ``NotFound``."""
    model = {"village": Village, "district": District, "country": Country}.get(level)
    record = db.session.get(model, place_id) if model is not None else None
    if record is None:
        raise NotFound(f"no {level} {place_id}")
    return record


def may_read(user, level: str, record) -> bool:
    """A district role reads the summaries of its districts and their villages; a country
    summary covers every district, so it is for those who read them all."""
    if level == "village":
        return access.can_read(user, record.district_id)
    if level == "district":
        return access.can_read(user, record.id)
    return access.district_ids(user) is None


def _local_name(record) -> str:
    if str(get_locale() or "en") == "ru" and getattr(record, "name_ru", None):
        return record.name_ru
    return record.name


def _group_query(level: str, place_id: int):
    query = select(Group.id).join(Village, Group.village_id == Village.id)
    if level == "village":
        return query.where(Group.village_id == place_id)
    if level == "district":
        return query.where(Village.district_id == place_id)
    return (query.join(District, Village.district_id == District.id)
            .join(Region, District.region_id == Region.id).where(Region.country_id == place_id))


def _village_query(level: str, place_id: int):
    query = select(Village.id)
    if level == "village":
        return query.where(Village.id == place_id)
    if level == "district":
        return query.where(Village.district_id == place_id)
    return (query.join(District, Village.district_id == District.id)
            .join(Region, District.region_id == Region.id).where(Region.country_id == place_id))


def summary(level: str, place_id: int, as_of: Optional[date] = None,
            start: Optional[date] = None) -> Summary:
    """Every figure of the summary of a village, district or country (see the module)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    record = place(level, place_id)
    as_of = as_of or today()
    scope = {f"{level}_id": place_id}
    row_level = ROW_LEVEL[level]

    if level == "village":
        country = record.district.region.country
        parents = [("district", record.district.name), ("region", record.district.region.name),
                   ("country", country.name)]
    elif level == "district":
        country = record.region.country
        parents = [("region", record.region.name), ("country", country.name)]
    else:
        country, parents = record, []

    # the groups, with the village and district each belongs to
    groups = db.session.execute(
        select(Group.id, Group.name, Group.status, Group.village_id, Village.district_id)
        .join(Village, Group.village_id == Village.id)
        .where(Group.id.in_(_group_query(level, place_id)))
        .order_by(Group.name, Group.id)).all()
    group_ids = [g.id for g in groups]
    counts = registry.member_counts(group_ids)
    activity = registry.group_activity(group_ids, start, as_of)
    villages = db.session.execute(
        select(Village.id, Village.name, Village.is_pilot, Village.district_id)
        .where(Village.id.in_(_village_query(level, place_id)))
        .order_by(Village.name, Village.id)).all()

    # the table's rows: every group of a village, village of a district, district of a country
    rows: dict[int, Row] = {}
    if row_level == "group":
        for g in groups:
            rows[g.id] = Row(g.id, g.name, status=g.status)
    elif row_level == "village":
        for v in villages:
            rows[v.id] = Row(v.id, v.name)
    else:
        for d_id, d_name in db.session.execute(
                select(District.id, District.name).join(Region)
                .where(Region.country_id == place_id).order_by(District.name, District.id)):
            rows[d_id] = Row(d_id, d_name)
    key_of = {"group": lambda g: g.id, "village": lambda g: g.village_id,
              "district": lambda g: g.district_id}[row_level]
    for g in groups:
        row = rows.get(key_of(g))
        if row is None:
            continue
        members, women = counts.get(g.id, (0, 0))
        row.groups += 1
        row.members += members
        row.women += women
        row.activity = _add(row.activity, activity.get(g.id))
    for key, results in harvest_figures.results_by(row_level, date_from=start, date_to=as_of,
                                                   **scope).items():
        if key in rows:
            rows[key].harvest = results.total
    loans_by_row = loan_portfolio.portfolio_by(row_level, as_of, start, **scope)
    for key, figures in loans_by_row.items():
        if key in rows:
            rows[key].loans = figures

    total_activity = registry.GroupActivity(0, 0, 0, ZERO, ZERO)
    for part in activity.values():
        total_activity = _add(total_activity, part)

    crops = {c.id: c for c in db.session.scalars(select(Crop))}
    units = {u.id: u for u in db.session.scalars(select(Unit))}
    seeds = [SeedLine(_local_name(crops[s.crop_id]), units[s.unit_id].code, s.quantity,
                      s.recipients)
             for s in harvest_figures.seeds_delivered(date_from=start, date_to=as_of, **scope)]
    by_crop = [(_local_name(crops[crop_id]), results.total)
               for crop_id, results in harvest_figures.results_by(
                   "crop", date_from=start, date_to=as_of, **scope).items()]

    return Summary(
        level=level, id=place_id, name=record.name, parents=parents, as_of=as_of, start=start,
        currency=country.currency,
        pilot_joined_on=record.pilot_joined_on if level == "village" else None,
        villages=len(villages), pilot_villages=sum(1 for v in villages if v.is_pilot),
        groups=len(groups), active_groups=sum(1 for g in groups if g.status == "active"),
        members=sum(n for n, _w in counts.values()), women=sum(w for _n, w in counts.values()),
        migration=registry.migration(_village_query(level, place_id)),
        meetings=total_activity.meetings,
        # the places and those taken at every group's meetings: ``registry.attendance_rate``
        attendance_rate=total_activity.attendance_rate,
        savings=total_activity.savings, savings_balance=total_activity.savings_balance,
        attendance_months=registry.attendance_by_month(group_ids, start, as_of),
        seeds=seeds,
        harvest=harvest_figures.harvest_results(date_from=start, date_to=as_of, **scope),
        harvest_by_crop=by_crop,
        # the parts are disjoint and cover the scope: together, ``portfolio(**scope)``
        loans=loan_portfolio.combine(loans_by_row.values()),
        row_level=row_level, rows=list(rows.values()))


def _add(a: registry.GroupActivity, b: Optional[registry.GroupActivity]) -> registry.GroupActivity:
    """The activity of two disjoint sets of groups together (counts and sums add up)."""
    if b is None:
        return a
    return registry.GroupActivity(a.meetings + b.meetings, a.places + b.places,
                                  a.attended + b.attended, a.savings + b.savings,
                                  a.savings_balance + b.savings_balance)


def village_ids_of_district(district_id: int) -> list[int]:
    """The district's villages in name order: the batch of village summaries."""
    return list(db.session.scalars(select(Village.id).where(Village.district_id == district_id)
                                   .order_by(Village.name, Village.id)))


def count_groups(level: str, place_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(
        _group_query(level, place_id).subquery())) or 0
