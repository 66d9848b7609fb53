"""The seed and harvest figures the project office prints for donors, split by gender.

"330 SHG members from 11 villages received seeds, and every one of those families harvested
a crop. Together they harvested more than 940 tons, with an estimated market value of
USD 286,384": each number of that sentence is one function here, for any scope (a group,
village, district, country, round, crop, period, or what a user may read), always as
``ByGender(total, female, male)``.

What is counted:

- **recipients**: families (members) with a seed delivery in the scope;
- **harvested**: recipients with at least one harvest in the scope, and their share;
- **harvests**: every harvest in the scope (with a ``round_id``, the harvests grown from that
  round's seeds), converted to tonnes with each record's own unit;
- **value**: per currency as recorded, and in US dollars at the rate in force on each
  harvest day. A harvest whose currency has no rate that day is listed in
  ``UsdValue.lacking``, never counted as zero; ``UsdValue.amount`` is then None.

Exact Decimals throughout; the USD total is rounded to the cent once, after adding, so a
total and its gender parts may differ by a cent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Callable, Generic, Optional, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import aliased

from harvests import services
from harvests.models import Harvest, SeedDelivery, Unit
from shg.accounts import access
from shg.extensions import db
from shg.money import round_money
from shg.registry.models import District, Group, Member, Region, Village

T = TypeVar("T")
ZERO = Decimal("0")
GENDERS = ("female", "male")
#: what ``results_by`` can group by: the key is that record's id (round: None for
#: harvests not grown from programme seeds)
LEVELS = ("village", "district", "country", "round", "crop", "group")


@dataclass(frozen=True)
class ByGender(Generic[T]):
    """A figure for everyone, for women and for men: donors ask for the split first."""

    total: T
    female: T
    male: T


@dataclass(frozen=True)
class LackingRate:
    """A harvest whose value could not be put in US dollars: no rate on its day."""

    harvest_id: int
    currency: str
    harvested_on: date
    value: Decimal


@dataclass(frozen=True)
class UsdValue:
    #: the harvests that could be converted, rounded to the cent once
    converted: Decimal
    #: the harvests that could not: record their rates, and the figure is whole
    lacking: tuple[LackingRate, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.lacking

    @property
    def amount(self) -> Optional[Decimal]:
        """The value in USD, or None while any harvest lacks a rate (never a silent part)."""
        return self.converted if not self.lacking else None


@dataclass(frozen=True)
class Results:
    """Every figure of one scope (one gender, or all)."""

    villages: int
    recipients: int
    harvested: int
    share_harvested: Optional[Decimal]
    harvesting_families: int
    harvests: int
    volume_t: Decimal
    sold_t: Decimal
    #: the area of the harvests that record one, and the tonnes from it
    area_ha: Decimal
    yield_t_per_ha: Optional[Decimal]
    value_local: dict[str, Decimal] = field(default_factory=dict)
    value_usd: UsdValue = field(default_factory=lambda: UsdValue(ZERO))
    harvests_without_value: int = 0


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class _Delivery:
    member_id: int
    gender: str
    group_id: int
    village_id: int
    district_id: int
    country_id: int
    round_id: int
    crop_id: int


@dataclass(frozen=True)
class _Harvest:
    id: int
    member_id: int
    gender: str
    group_id: int
    village_id: int
    district_id: int
    country_id: int
    round_id: Optional[int]
    crop_id: int
    harvested_on: date
    kg: Decimal
    sold_kg: Decimal
    hectares: Optional[Decimal]
    value: Optional[Decimal]
    currency: Optional[str]


@dataclass
class _Rows:
    deliveries: list[_Delivery]
    harvests: list[_Harvest]
    rates: services.RateBook


def _scope(query, record, user, group_id, village_id, district_id, country_id, crop_id,
           date_column, date_from, date_to):
    query = (query.join(Member, record.member_id == Member.id)
             .join(Group, record.group_id == Group.id).join(Village, Group.village_id == Village.id)
             .join(District, Village.district_id == District.id)
             .join(Region, District.region_id == Region.id))
    if user is not None:
        query = access.scope(query, user, Village.district_id)
    for column, value in ((record.group_id, group_id), (Group.village_id, village_id),
                          (Village.district_id, district_id), (Region.country_id, country_id),
                          (record.crop_id, crop_id)):
        if value:
            query = query.where(column == value)
    if date_from:
        query = query.where(date_column >= date_from)
    if date_to:
        query = query.where(date_column <= date_to)
    return query


def _load(user=None, group_id=None, village_id=None, district_id=None, country_id=None,
          round_id=None, crop_id=None, date_from=None, date_to=None) -> _Rows:
    """The deliveries and harvests of a scope, as plain rows: one query each."""
    place = (Member.gender, SeedDelivery.group_id, Group.village_id, Village.district_id,
             Region.country_id)
    query = _scope(select(SeedDelivery.member_id, *place, SeedDelivery.round_id,
                          SeedDelivery.crop_id).select_from(SeedDelivery),
                   SeedDelivery, user, group_id, village_id, district_id, country_id, crop_id,
                   SeedDelivery.delivered_on, date_from, date_to)
    if round_id:
        query = query.where(SeedDelivery.round_id == round_id)
    deliveries = [_Delivery(*row) for row in db.session.execute(query)]

    seeds = aliased(SeedDelivery)
    query = _scope(select(Harvest.id, Harvest.member_id, Member.gender, Harvest.group_id,
                          Group.village_id, Village.district_id, Region.country_id, seeds.round_id,
                          Harvest.crop_id, Harvest.harvested_on, Harvest.volume, Harvest.unit_id,
                          Harvest.quantity_sold, Harvest.area, Harvest.area_unit_id,
                          Harvest.market_value, Harvest.currency)
                   .select_from(Harvest).outerjoin(seeds, Harvest.delivery_id == seeds.id),
                   Harvest, user, group_id, village_id, district_id, country_id, crop_id,
                   Harvest.harvested_on, date_from, date_to)
    if round_id:
        query = query.where(seeds.round_id == round_id)
    units = {u.id: u for u in db.session.scalars(select(Unit))}
    harvests = []
    for (hid, member_id, gender, group, village, district, country, round_, crop, on, volume,
         unit_id, sold, area, area_unit_id, value, currency) in db.session.execute(query):
        unit = units[unit_id]
        harvests.append(_Harvest(
            hid, member_id, gender, group, village, district, country, round_, crop, on,
            kg=services.to_kg(volume, unit),
            sold_kg=services.to_kg(sold, unit) if sold is not None else ZERO,
            hectares=services.to_hectares(area, units[area_unit_id]) if area is not None else None,
            value=value, currency=currency))
    currencies = {h.currency for h in harvests if h.currency}
    return _Rows(deliveries, harvests, services.RateBook(currencies))


# ---------------------------------------------------------------- one figure each, from rows


def _villages(rows: _Rows) -> int:
    return len({d.village_id for d in rows.deliveries})


def _recipients(rows: _Rows) -> int:
    return len({d.member_id for d in rows.deliveries})


def _harvested(rows: _Rows) -> int:
    return len({d.member_id for d in rows.deliveries} & {h.member_id for h in rows.harvests})


def _share_harvested(rows: _Rows) -> Optional[Decimal]:
    """None when no family received seeds: a report shows a dash, not a false 0 %."""
    recipients = _recipients(rows)
    return Decimal(_harvested(rows)) / Decimal(recipients) if recipients else None


def _harvesting_families(rows: _Rows) -> int:
    """Families with a harvest in the scope, whether or not they received seeds in it."""
    return len({h.member_id for h in rows.harvests})


def _volume_t(rows: _Rows) -> Decimal:
    return sum((h.kg for h in rows.harvests), ZERO).scaleb(-3)


def _sold_t(rows: _Rows) -> Decimal:
    return sum((h.sold_kg for h in rows.harvests), ZERO).scaleb(-3)


def _area_ha(rows: _Rows) -> Decimal:
    return sum((h.hectares for h in rows.harvests if h.hectares is not None), ZERO)


def _yield_t_per_ha(rows: _Rows) -> Optional[Decimal]:
    """Tonnes per hectare over the harvests that record their area (the others have no
    yield to give); None when none does."""
    area = _area_ha(rows)
    if not area:
        return None
    return sum((h.kg for h in rows.harvests if h.hectares is not None), ZERO).scaleb(-3) / area


def _value_local(rows: _Rows) -> dict[str, Decimal]:
    """Market value per currency, as recorded; currencies are never added together here."""
    totals: dict[str, Decimal] = {}
    for h in rows.harvests:
        if h.value is not None:
            totals[h.currency] = totals.get(h.currency, ZERO) + h.value
    return dict(sorted(totals.items()))


def _value_usd(rows: _Rows) -> UsdValue:
    converted, lacking = ZERO, []
    for h in rows.harvests:
        if h.value is None:
            continue
        try:
            converted += rows.rates.to_usd(h.value, h.currency, h.harvested_on)
        except services.MissingRate:
            lacking.append(LackingRate(h.id, h.currency, h.harvested_on, h.value))
    return UsdValue(round_money(converted), tuple(lacking))


def _without_value(rows: _Rows) -> int:
    return sum(1 for h in rows.harvests if h.value is None)


def _results(rows: _Rows) -> Results:
    return Results(
        villages=_villages(rows), recipients=_recipients(rows), harvested=_harvested(rows),
        share_harvested=_share_harvested(rows), harvesting_families=_harvesting_families(rows),
        harvests=len(rows.harvests), volume_t=_volume_t(rows), sold_t=_sold_t(rows),
        area_ha=_area_ha(rows), yield_t_per_ha=_yield_t_per_ha(rows),
        value_local=_value_local(rows), value_usd=_value_usd(rows),
        harvests_without_value=_without_value(rows))


def _gender(rows: _Rows, gender: str) -> _Rows:
    return _Rows([d for d in rows.deliveries if d.gender == gender],
                 [h for h in rows.harvests if h.gender == gender], rows.rates)


def _split(rows: _Rows, figure: Callable[[_Rows], T]) -> ByGender[T]:
    return ByGender(figure(rows), *(figure(_gender(rows, g)) for g in GENDERS))


# ---------------------------------------------------------------- the public figures
#
# Each takes the scope as keywords, any of: user (only the districts that user reads),
# group_id, village_id, district_id, country_id, round_id, crop_id, date_from, date_to
# (delivery and harvest days, inclusive).


def villages_reached(**scope) -> ByGender[int]:
    """Villages where at least one family received seeds."""
    return _split(_load(**scope), _villages)


def seed_recipients(**scope) -> ByGender[int]:
    """Families that received seeds."""
    return _split(_load(**scope), _recipients)


def recipients_harvested(**scope) -> ByGender[int]:
    """Families that received seeds and harvested a crop."""
    return _split(_load(**scope), _harvested)


def share_harvested(**scope) -> ByGender[Optional[Decimal]]:
    """Of the families that received seeds, the share that harvested (0 to 1)."""
    return _split(_load(**scope), _share_harvested)


def harvest_tonnes(**scope) -> ByGender[Decimal]:
    """Total harvest in tonnes, each record converted from its own unit."""
    return _split(_load(**scope), _volume_t)


def sold_tonnes(**scope) -> ByGender[Decimal]:
    return _split(_load(**scope), _sold_t)


def yield_t_per_ha(**scope) -> ByGender[Optional[Decimal]]:
    return _split(_load(**scope), _yield_t_per_ha)


def value_local(**scope) -> ByGender[dict[str, Decimal]]:
    return _split(_load(**scope), _value_local)


def value_usd(**scope) -> ByGender[UsdValue]:
    """Market value in USD at the rate in force on each harvest day; harvests without a rate
    are listed, never counted as zero."""
    return _split(_load(**scope), _value_usd)


def harvest_results(**scope) -> ByGender[Results]:
    """All the figures of a scope at once (one read of the records): the summary table."""
    return _split(_load(**scope), _results)


def results_by(level: str, **scope) -> dict[Optional[int], ByGender[Results]]:
    """The summary table per village, district, country, round, crop or group of a scope,
    keyed by that record's id, in id order."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    rows = _load(**scope)
    attribute = f"{level}_id"
    parts: dict = {}
    for d in rows.deliveries:
        parts.setdefault(getattr(d, attribute), _Rows([], [], rows.rates)).deliveries.append(d)
    for h in rows.harvests:
        parts.setdefault(getattr(h, attribute), _Rows([], [], rows.rates)).harvests.append(h)
    return {key: _split(parts[key], _results)
            for key in sorted(parts, key=lambda k: (k is None, k or 0))}


def lacking_rates(**scope) -> list[LackingRate]:
    """The harvests of a scope whose value cannot yet be put in USD: the project office's
    list of rates to record."""
    return list(_value_usd(_load(**scope)).lacking)


@dataclass(frozen=True)
class SeedsDelivered:
    """The seeds of one crop given in one unit: quantities in different units (g, packet,
    seedling) are never added together."""

    crop_id: int
    unit_id: int
    quantity: Decimal
    deliveries: int
    recipients: int


def seeds_delivered(user=None, group_id=None, village_id=None, district_id=None,
                    country_id=None, round_id=None, crop_id=None, date_from=None,
                    date_to=None) -> list[SeedsDelivered]:
    """Seeds delivered in a scope (the keywords of the figures above), per crop and unit,
    with the families that received them: one query."""
    from sqlalchemy import func
    query = _scope(select(SeedDelivery.crop_id, SeedDelivery.unit_id,
                          func.sum(SeedDelivery.quantity), func.count(SeedDelivery.id),
                          func.count(func.distinct(SeedDelivery.member_id)))
                   .select_from(SeedDelivery),
                   SeedDelivery, user, group_id, village_id, district_id, country_id, crop_id,
                   SeedDelivery.delivered_on, date_from, date_to)
    if round_id:
        query = query.where(SeedDelivery.round_id == round_id)
    query = query.group_by(SeedDelivery.crop_id, SeedDelivery.unit_id).order_by(
        SeedDelivery.crop_id, SeedDelivery.unit_id)
    return [SeedsDelivered(crop, unit, quantity or ZERO, int(n), int(people))
            for crop, unit, quantity, n, people in db.session.execute(query)]
