"""Seeds and harvests: the catalogue (crops, varieties, units), distribution rounds, the seeds
each family received, the harvests it brought in, and the exchange rates that turn local
money into the US dollars donors read.

Quantities, areas, prices and rates are exact (``ExactDecimal``: integers of their smallest
unit), so a tonne added up from 330 families is the same tonne on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shg.extensions import db
from shg.money import CURRENCIES, ExactDecimal, Money
from shg.timeutil import utcnow

UNIT_KINDS = ("mass", "count", "area")
#: the usual seasons; a harvest may also carry a free label ("second crop", "greenhouse")
SEASONS = ("spring", "summer", "autumn", "winter")
#: places kept for each kind of number
QUANTITY_PLACES = 3  # 1 g in kilograms, 1 kg in tonnes
AREA_PLACES = 4  # 1 m² in hectares
FACTOR_PLACES = 6  # kg per unit: a 0.5 g packet is 0.0005 kg


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _currency_ok(column: str = "currency") -> str:
    return f"{column} IS NULL OR {_in(column, CURRENCIES)}"


class Unit(db.Model):
    """A unit a quantity or an area is written in, with its exact factor.

    Mass units carry ``kg_per_unit`` (g 0.001, kg 1, centner 100, tonne 1000; a seed packet of
    a stated weight is a unit of its own, "packet 10 g" = 0.01). Counted units (seedlings)
    have no weight: they are never converted to kilograms. Area units carry ``m2_per_unit``
    (sotka 100, hectare 10,000). A factor is fixed once the unit is used.
    """

    __tablename__ = "measure_unit"
    __table_args__ = (
        CheckConstraint(_in("kind", UNIT_KINDS), name="ck_unit_kind"),
        CheckConstraint(
            "(kind = 'mass' AND kg_per_unit IS NOT NULL AND kg_per_unit > 0"
            " AND m2_per_unit IS NULL)"
            " OR (kind = 'area' AND m2_per_unit IS NOT NULL AND m2_per_unit > 0"
            " AND kg_per_unit IS NULL)"
            " OR (kind = 'count' AND kg_per_unit IS NULL AND m2_per_unit IS NULL)",
            name="ck_unit_factor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: short code used by imports and the API: g, kg, centner, t, seedling, sotka, ha
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    name_ru: Mapped[Optional[str]] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(5))
    #: mass units only: how many kilograms one unit weighs
    kg_per_unit: Mapped[Optional[Decimal]] = mapped_column(ExactDecimal(FACTOR_PLACES))
    #: area units only: how many square metres one unit covers
    m2_per_unit: Mapped[Optional[Decimal]] = mapped_column(ExactDecimal(AREA_PLACES))


class Crop(db.Model):
    __tablename__ = "crop"
    __table_args__ = (
        CheckConstraint("max_t_per_ha IS NULL OR max_t_per_ha > 0", name="ck_crop_max_yield"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    name_ru: Mapped[Optional[str]] = mapped_column(String(80))
    #: the unit its harvest is usually weighed in, offered first on the form
    default_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("measure_unit.id"))
    #: the most a hectare of it can give; above it a harvest is refused as a probable unit
    #: error. Null: the ledger's default (services.DEFAULT_MAX_T_PER_HA)
    max_t_per_ha: Mapped[Optional[Decimal]] = mapped_column(ExactDecimal(QUANTITY_PLACES))

    default_unit: Mapped[Optional[Unit]] = relationship()
    varieties: Mapped[list["Variety"]] = relationship(back_populates="crop",
                                                      order_by="Variety.name")


class Variety(db.Model):
    __tablename__ = "crop_variety"
    __table_args__ = (UniqueConstraint("crop_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crop_id: Mapped[int] = mapped_column(ForeignKey("crop.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    #: an F1 hybrid: its seed is bought each season, not saved from the harvest
    is_hybrid: Mapped[bool] = mapped_column(default=False)

    crop: Mapped[Crop] = relationship(back_populates="varieties")


class DistributionRound(db.Model):
    """One distribution of seeds: "Spring 2011, hybrid tomato and cucumber"."""

    __tablename__ = "distribution_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    #: the donor or supplier the seeds came from
    source: Mapped[Optional[str]] = mapped_column(String(160))
    #: a round run in one country only; its deliveries go to members there
    country_id: Mapped[Optional[int]] = mapped_column(ForeignKey("country.id"))
    #: no delivery of the round is dated before this day
    started_on: Mapped[date]
    notes: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    country: Mapped[Optional["Country"]] = relationship()  # noqa: F821
    deliveries: Mapped[list["SeedDelivery"]] = relationship(back_populates="round")


class SeedDelivery(db.Model):
    """Seeds one member received in a round."""

    __tablename__ = "seed_delivery"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_delivery_quantity"),
        CheckConstraint("value IS NULL OR (value >= 0 AND currency IS NOT NULL)",
                        name="ck_delivery_value"),
        CheckConstraint(_currency_ok(), name="ck_delivery_currency"),
        #: the same seeds twice to one member in one round is a form sent twice
        UniqueConstraint("round_id", "member_id", "crop_id", "variety_id",
                         name="uq_delivery_round_member_seed"),
        Index("ix_delivery_member", "member_id", "delivered_on"),
        Index("ix_delivery_group", "group_id", "delivered_on"),
        Index("ix_delivery_round", "round_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("distribution_round.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    #: the group she was in on the day: its village and district are where the figures count it
    group_id: Mapped[int] = mapped_column(ForeignKey("shg_group.id"))
    delivered_on: Mapped[date]
    crop_id: Mapped[int] = mapped_column(ForeignKey("crop.id"))
    variety_id: Mapped[Optional[int]] = mapped_column(ForeignKey("crop_variety.id"))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(QUANTITY_PLACES))
    #: a mass unit (g, kg, a packet of a stated weight) or a count (seedlings)
    unit_id: Mapped[int] = mapped_column(ForeignKey("measure_unit.id"))
    #: what the seeds cost the programme, if known
    value: Mapped[Optional[Decimal]] = mapped_column(Money())
    currency: Mapped[Optional[str]] = mapped_column(String(3))
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    round: Mapped[DistributionRound] = relationship(back_populates="deliveries")
    member: Mapped["Member"] = relationship()  # noqa: F821
    group: Mapped["Group"] = relationship()  # noqa: F821
    crop: Mapped[Crop] = relationship()
    variety: Mapped[Optional[Variety]] = relationship()
    unit: Mapped[Unit] = relationship()
    recorded_by: Mapped[Optional["User"]] = relationship()  # noqa: F821
    harvests: Mapped[list["Harvest"]] = relationship(back_populates="delivery")

    @property
    def district_id(self) -> int:
        return self.group.village.district_id


class Harvest(db.Model):
    """What one family harvested of one crop in one season, and what it was worth.

    The market value is the price per unit times the volume (``value_entered`` false), or,
    when only the value is known, the value as entered (``value_entered`` true, no price).
    """

    __tablename__ = "harvest"
    __table_args__ = (
        CheckConstraint("volume > 0", name="ck_harvest_volume"),
        CheckConstraint("quantity_sold IS NULL OR (quantity_sold >= 0 AND quantity_sold <= volume)",
                        name="ck_harvest_sold"),
        CheckConstraint("(area IS NULL AND area_unit_id IS NULL)"
                        " OR (area IS NOT NULL AND area > 0 AND area_unit_id IS NOT NULL)",
                        name="ck_harvest_area"),
        CheckConstraint("price IS NULL OR (price >= 0 AND currency IS NOT NULL)",
                        name="ck_harvest_price"),
        CheckConstraint("market_value IS NULL OR (market_value >= 0 AND currency IS NOT NULL)",
                        name="ck_harvest_value"),
        CheckConstraint("NOT value_entered OR (market_value IS NOT NULL AND price IS NULL)",
                        name="ck_harvest_value_entered"),
        CheckConstraint("value_entered OR price IS NULL OR market_value IS NOT NULL",
                        name="ck_harvest_value_computed"),
        CheckConstraint(_currency_ok(), name="ck_harvest_currency"),
        CheckConstraint("year BETWEEN 1990 AND 2100", name="ck_harvest_year"),
        CheckConstraint("length(season) > 0", name="ck_harvest_season"),
        Index("ix_harvest_member", "member_id", "harvested_on"),
        Index("ix_harvest_group", "group_id", "harvested_on"),
        Index("ix_harvest_delivery", "delivery_id"),
        Index("ix_harvest_crop", "crop_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    #: the group she was in on the harvest day: where the figures count it
    group_id: Mapped[int] = mapped_column(ForeignKey("shg_group.id"))
    crop_id: Mapped[int] = mapped_column(ForeignKey("crop.id"))
    variety_id: Mapped[Optional[int]] = mapped_column(ForeignKey("crop_variety.id"))
    #: spring, summer, autumn, winter (models.SEASONS) or a free label
    season: Mapped[str] = mapped_column(String(40))
    #: the season's year (a winter season may end in the next calendar year)
    year: Mapped[int]
    harvested_on: Mapped[date]
    area: Mapped[Optional[Decimal]] = mapped_column(ExactDecimal(AREA_PLACES))
    area_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("measure_unit.id"))
    volume: Mapped[Decimal] = mapped_column(ExactDecimal(QUANTITY_PLACES))
    #: a mass unit; the quantity sold and the price are in it too
    unit_id: Mapped[int] = mapped_column(ForeignKey("measure_unit.id"))
    quantity_sold: Mapped[Optional[Decimal]] = mapped_column(ExactDecimal(QUANTITY_PLACES))
    #: per ``unit``
    price: Mapped[Optional[Decimal]] = mapped_column(Money())
    #: of the price and the market value
    currency: Mapped[Optional[str]] = mapped_column(String(3))
    market_value: Mapped[Optional[Decimal]] = mapped_column(Money())
    #: the value was entered as a sum (no price known), not computed from the price
    value_entered: Mapped[bool] = mapped_column(default=False)
    #: the programme seeds it grew from; null for a harvest from her own seeds
    delivery_id: Mapped[Optional[int]] = mapped_column(ForeignKey("seed_delivery.id"))
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped["Member"] = relationship()  # noqa: F821
    group: Mapped["Group"] = relationship()  # noqa: F821
    crop: Mapped[Crop] = relationship()
    variety: Mapped[Optional[Variety]] = relationship()
    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    area_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[area_unit_id])
    delivery: Mapped[Optional[SeedDelivery]] = relationship(back_populates="harvests")
    recorded_by: Mapped[Optional["User"]] = relationship()  # noqa: F821

    @property
    def district_id(self) -> int:
        return self.group.village.district_id


class ExchangeRate(db.Model):
    """How many units of a currency one US dollar buys, from a day on.

    Stored as units per dollar (KGS per 1 USD: 46.5), the way the National Bank publishes
    it and the project office reads it off, so the figure typed is the figure kept. The rate
    in force on a day is the one with the latest ``valid_from`` on or before it.
    """

    __tablename__ = "exchange_rate"
    __table_args__ = (
        UniqueConstraint("currency", "valid_from"),
        CheckConstraint(_in("currency", tuple(c for c in CURRENCIES if c != "USD")),
                        name="ck_rate_currency"),
        CheckConstraint("units_per_usd > 0", name="ck_rate_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    #: units of ``currency`` per 1 USD
    units_per_usd: Mapped[Decimal] = mapped_column(ExactDecimal(FACTOR_PLACES))
    valid_from: Mapped[date]
    #: where the rate comes from (National Bank of the Kyrgyz Republic, ...)
    source: Mapped[Optional[str]] = mapped_column(String(120))
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
