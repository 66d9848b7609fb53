"""Seeds and harvests: the catalogue, recording what each family received and brought in,
unit conversions and exchange rates.

Functions take plain values and the acting user, add and flush; the caller commits. Bad
input raises ``Invalid`` (field -> messages) before anything is written. Quantities may be
given as Decimal, int or text as typed in the field ("3,2", "1 250"); never as float.
"""
from __future__ import annotations

import bisect
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable, Optional

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import or_, select

from harvests.models import (AREA_PLACES, FACTOR_PLACES, QUANTITY_PLACES, SEASONS, UNIT_KINDS,
                             Crop, DistributionRound, ExchangeRate, Harvest, SeedDelivery, Unit,
                             Variety)
from shg.accounts import access
from shg.accounts.models import User
from shg.errors import Invalid
from shg.extensions import db
from shg.formatting import day as format_day, number
from shg.money import CURRENCIES, parse_decimal, round_money
from shg.registry.models import Country, Group, Member, Membership, Village
from shg.registry.services import active_memberships
from shg.timeutil import today

#: Above this a harvest is refused as a probable unit error, unless the crop says otherwise.
#: Open-field vegetables in the region give 20-60 t/ha, the best greenhouse tomatoes about
#: 150; 200 t/ha is beyond anything a family plot gives. Kilograms typed as tonnes (x1000)
#: or hectares typed as sotka (/100) land far above it.
DEFAULT_MAX_T_PER_HA = Decimal("200")
#: With no area recorded: more than this from one family is a probable unit error (the
#: published programme averaged under 3 t a family).
MAX_FAMILY_TONNES = Decimal("1000")
#: Seed for one family: hybrid vegetable seed comes in grams, seed potatoes in hundreds of kg.
MAX_SEED_KG = Decimal("1000")
MAX_SEEDLINGS = Decimal("100000")
#: A harvest is linked to the seeds of that crop she received in the year before it.
LINK_WINDOW = timedelta(days=365)
#: Numbers this large are typing errors, and would overflow the exact columns.
TOO_LARGE = Decimal("1000000000000")
USD = "USD"

#: code, name, Russian name, kind, kg per unit, m² per unit
STANDARD_UNITS = (
    ("g", "gram", "г", "mass", Decimal("0.001"), None),
    ("kg", "kilogram", "кг", "mass", Decimal("1"), None),
    ("centner", "centner (100 kg)", "ц", "mass", Decimal("100"), None),
    ("t", "tonne", "т", "mass", Decimal("1000"), None),
    ("seedling", "seedlings", "шт. рассады", "count", None, None),
    ("m2", "square metre", "м²", "area", None, Decimal("1")),
    ("sotka", "sotka (100 m²)", "сотка", "area", None, Decimal("100")),
    ("ha", "hectare", "га", "area", None, Decimal("10000")),
)
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,19}$")


# ---------------------------------------------------------------- refusals with a meaning


class NotConvertible(Invalid):
    """A quantity that cannot be converted: seedlings have no weight, kilograms no area."""


class MissingRate(Invalid):
    """No exchange rate for a currency on a day: a figure in USD cannot be given.

    Never converted as zero: the project office records the rate, then the figure is right.
    """

    def __init__(self, currency: str, on: date):
        self.currency, self.on = currency, on
        super().__init__({"currency": [_(
            "No exchange rate for %(currency)s on %(date)s: the project office records it "
            "under Exchange rates.", currency=currency, date=format_day(on))]})


# ---------------------------------------------------------------- units and conversions


def to_kg(quantity: Decimal, unit: Unit) -> Decimal:
    """The exact weight in kilograms. Seedlings are counted, never weighed: refused."""
    if unit.kind == "count":
        raise NotConvertible({"unit_id": [_(
            "A quantity in %(unit)s is counted, not weighed: it cannot be converted to "
            "kilograms.", unit=unit.name)]})
    if unit.kind != "mass":
        raise NotConvertible({"unit_id": [_("%(unit)s is not a unit of weight.", unit=unit.name)]})
    return Decimal(quantity) * unit.kg_per_unit


def to_tonnes(quantity: Decimal, unit: Unit) -> Decimal:
    return to_kg(quantity, unit).scaleb(-3)


def to_hectares(area: Decimal, unit: Unit) -> Decimal:
    """The exact area in hectares (sotka = 100 m², hectare = 10,000 m²)."""
    if unit.kind != "area":
        raise NotConvertible({"area_unit_id": [_(
            "%(unit)s is not a unit of area: enter the area in sotka, hectares or square "
            "metres.", unit=unit.name)]})
    return (Decimal(area) * unit.m2_per_unit).scaleb(-4)


def unit_by_code(code: str) -> Optional[Unit]:
    return db.session.scalar(select(Unit).where(Unit.code == (code or "").strip().lower()))


def units(kind: Optional[str] = None) -> list[Unit]:
    """Units for a form's list, lightest or smallest first."""
    query = select(Unit)
    if kind:
        query = query.where(Unit.kind == kind)
    found = db.session.scalars(query).all()
    return sorted(found, key=lambda u: (UNIT_KINDS.index(u.kind), u.kg_per_unit or u.m2_per_unit
                                        or Decimal(0), u.code))


def ensure_standard_units() -> list[Unit]:
    """The units every programme uses (g, kg, centner, tonne, seedlings, m², sotka, ha),
    created where missing; called by set-up commands and demo data, not by a user."""
    made = []
    for code, name, name_ru, kind, kg, m2 in STANDARD_UNITS:
        unit = unit_by_code(code)
        if unit is None:
            unit = Unit(code=code, name=name, name_ru=name_ru, kind=kind, kg_per_unit=kg,
                        m2_per_unit=m2)
            db.session.add(unit)
        made.append(unit)
    db.session.flush()
    return made


# ---------------------------------------------------------------- exchange rates


class RateBook:
    """The recorded rates of some currencies, read once: a figure over many harvest dates
    converts each at the rate in force that day without a query per harvest.

    The rate in force on a day is the one with the latest ``valid_from`` on or before it.
    """

    def __init__(self, currencies: Optional[Iterable[str]] = None):
        query = select(ExchangeRate.currency, ExchangeRate.valid_from, ExchangeRate.units_per_usd)
        if currencies is not None:
            query = query.where(ExchangeRate.currency.in_(list(set(currencies))))
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, valid_from, rate in db.session.execute(
                query.order_by(ExchangeRate.currency, ExchangeRate.valid_from)):
            self._days.setdefault(currency, []).append(valid_from)
            self._rates.setdefault(currency, []).append(rate)

    def units_per_usd(self, currency: str, on: date) -> Decimal:
        if currency == USD:
            return Decimal(1)
        days = self._days.get(currency, [])
        i = bisect.bisect_right(days, on)
        if i == 0:
            raise MissingRate(currency, on)
        return self._rates[currency][i - 1]

    def to_usd(self, amount: Decimal, currency: str, on: date) -> Decimal:
        """Exact (unrounded): a total is rounded once, after adding."""
        if currency not in CURRENCIES:
            raise Invalid({"currency": [_("Choose one of the ledger's currencies.")]})
        return amount / self.units_per_usd(currency, on)


def rate_on(currency: str, on: date) -> Decimal:
    """Units of ``currency`` per 1 USD in force on a day; ``MissingRate`` if none is recorded."""
    return RateBook([currency]).units_per_usd(currency, on)


def usd_value(amount: Decimal, currency: str, on: date) -> Decimal:
    """An amount in US dollars at the rate in force on the day, rounded to the cent (half up).

    Raises ``MissingRate`` when no rate is recorded on or before the day: never zero.
    """
    return round_money(RateBook([currency]).to_usd(Decimal(amount), currency, on))


def save_exchange_rate(rate: Optional[ExchangeRate], data: dict, by: User) -> ExchangeRate:
    """Record (rate=None) or correct a rate: units of a currency per 1 USD from a day on."""
    access.require_admin(by)
    if rate is not None:
        data = {"currency": rate.currency, "units_per_usd": rate.units_per_usd,
                "valid_from": rate.valid_from, "source": rate.source, **data}
    errors: dict = {}
    currency = (data.get("currency") or "").strip().upper()
    if currency not in CURRENCIES or currency == USD:
        errors["currency"] = [_("Choose the currency the rate is for (not USD).")]
    value = _amount(data, "units_per_usd", errors, FACTOR_PLACES,
                    missing=_("Enter how many units of the currency one US dollar buys."))
    valid_from = _date(data, "valid_from", errors, _("Enter the day the rate applies from."))
    if not errors:
        clash = db.session.scalar(select(ExchangeRate).where(
            ExchangeRate.currency == currency, ExchangeRate.valid_from == valid_from))
        if clash is not None and clash is not rate:
            errors["valid_from"] = [
                _("A rate for this currency from this day is already recorded.")]
    source = _text(data, "source", errors, 120)
    if errors:
        raise Invalid(errors)
    if rate is None:
        rate = ExchangeRate()
        db.session.add(rate)
    rate.currency, rate.units_per_usd, rate.valid_from = currency, value, valid_from
    rate.source = source
    rate.recorded_by_id = by.id
    db.session.flush()
    return rate


# ---------------------------------------------------------------- reading input


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _amount(data: dict, key: str, errors: dict, places: int, missing: Optional[str] = None,
            allow_zero: bool = False) -> Optional[Decimal]:
    """A number as typed (decimal comma allowed), or None; refuses negatives, zero (unless
    allowed), more places than the column keeps, and floats."""
    raw = data.get(key)
    if _blank(raw):
        if missing:
            errors.setdefault(key, []).append(missing)
        return None
    try:
        value = parse_decimal(raw)
    except (TypeError, ValueError):
        errors.setdefault(key, []).append(_("Not a valid number."))
        return None
    if not value.is_finite():
        errors.setdefault(key, []).append(_("Not a valid number."))
    elif value < 0:
        errors.setdefault(key, []).append(_("This cannot be negative."))
    elif value == 0 and not allow_zero:
        errors.setdefault(key, []).append(_("This must be more than zero."))
    elif value >= TOO_LARGE:
        errors.setdefault(key, []).append(_("This number is too large."))
    elif value.scaleb(places) != value.scaleb(places).to_integral_value():
        errors.setdefault(key, []).append(_("At most %(places)s decimal places.", places=places))
    else:
        return value
    return None


def _date(data: dict, key: str, errors: dict, missing: str) -> Optional[date]:
    raw = data.get(key)
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, str) and raw.strip():
        try:
            raw = date.fromisoformat(raw.strip())
        except ValueError:
            errors.setdefault(key, []).append(_("Not a valid date."))
            return None
    if not isinstance(raw, date):
        errors.setdefault(key, []).append(missing)
        return None
    if raw > today():
        errors.setdefault(key, []).append(_("This date is in the future."))
        return None
    return raw


def _text(data: dict, key: str, errors: dict, max_len: int, missing: Optional[str] = None):
    value = (data.get(key) or "").strip()
    if not value:
        if missing:
            errors.setdefault(key, []).append(missing)
        return None
    if len(value) > max_len:
        errors.setdefault(key, []).append(_("This text is too long."))
    return value


def _get(model, value):
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 2 ** 31 - 1:
        return None
    return db.session.get(model, value)


def _unit(data: dict, errors: dict, kinds: tuple[str, ...], wrong_kind: str, key: str = "unit_id",
          code_key: str = "unit", required: bool = True) -> Optional[Unit]:
    """The unit named by id (forms) or by code (imports, the API: "centner")."""
    if not _blank(data.get(key)):
        unit = _get(Unit, data.get(key))
    elif not _blank(data.get(code_key)):
        unit = unit_by_code(str(data.get(code_key)))
    else:
        if required:
            errors.setdefault(key, []).append(_("Choose a unit."))
        return None
    if unit is None:
        errors.setdefault(key, []).append(_("Unknown unit: choose one from the list."))
        return None
    if unit.kind not in kinds:
        errors.setdefault(key, []).append(wrong_kind)
        return None
    return unit


def _currency(data: dict, errors: dict, needed_for: Optional[str]) -> Optional[str]:
    currency = (data.get("currency") or "").strip().upper() or None
    if currency is not None and currency not in CURRENCIES:
        errors.setdefault("currency", []).append(_("Choose one of the ledger's currencies."))
        return None
    if currency is None and needed_for:
        errors.setdefault("currency", []).append(needed_for)
    return currency


def _crop_and_variety(data: dict, errors: dict) -> tuple[Optional[Crop], Optional[Variety]]:
    crop = _get(Crop, data.get("crop_id"))
    if crop is None:
        errors.setdefault("crop_id", []).append(_("Choose the crop."))
    variety = None
    if not _blank(data.get("variety_id")):
        variety = _get(Variety, data.get("variety_id"))
        if variety is None or (crop is not None and variety.crop_id != crop.id):
            errors.setdefault("variety_id", []).append(_("Choose a variety of this crop."))
            variety = None
    return crop, variety


def _member_on(member_id, on: Optional[date], by: User, errors: dict) -> Optional[Membership]:
    """Her membership on the day, if she was in a group then and the user works there.

    Seeds and harvests are recorded for members of a group: a member who had left by that
    day is refused, as is a member of a district the user is not assigned to.
    """
    member = _get(Member, member_id)
    if member is None:
        errors.setdefault("member_id", []).append(_("Choose the member."))
        return None
    membership = next((m for m in member.memberships if on is not None and m.active_on(on)), None)
    district_id = membership.group.district_id if membership else member.district_id
    if not access.can_change_registry(by) or not access.can_change(by, district_id):
        errors.setdefault("member_id", []).append(
            _("This member is in a district you are not assigned to."))
        return None
    if on is None:
        return None
    if membership is None:
        if any(m.left_on is not None and m.left_on <= on for m in member.memberships):
            errors.setdefault("member_id", []).append(_(
                "%(name)s had left her group by this date: seeds and harvests are recorded "
                "for members of a group.", name=member.full_name))
        else:
            errors.setdefault("member_id", []).append(_(
                "%(name)s was not yet a member of a group on this date.", name=member.full_name))
    return membership


# ---------------------------------------------------------------- loaders


def _load(model, record_id: int, user: User, change: bool):
    """The record, after checking the user's district; 404 if missing, 403 if out of reach."""
    record = db.session.get(model, record_id)
    if record is None:
        abort(404)
    if change:
        if not access.can_change_registry(user):
            abort(403, _("Your role may not change this record."))
        access.require_change(user, record.district_id)
    else:
        access.require_read(user, record.district_id)
    return record


def get_delivery(delivery_id: int, user: User, change: bool = False) -> SeedDelivery:
    return _load(SeedDelivery, delivery_id, user, change)


def get_harvest(harvest_id: int, user: User, change: bool = False) -> Harvest:
    return _load(Harvest, harvest_id, user, change)


def get_round(round_id: int) -> DistributionRound:
    """Rounds are programme-wide: everyone who logs in reads them."""
    found = db.session.get(DistributionRound, round_id)
    if found is None:
        abort(404)
    return found


# ---------------------------------------------------------------- the catalogue (project office)


def _used(unit: Unit) -> bool:
    for column in (SeedDelivery.unit_id, Harvest.unit_id, Harvest.area_unit_id,
                   Crop.default_unit_id):
        if db.session.scalar(select(column).where(column == unit.id).limit(1)) is not None:
            return True
    return False


def save_unit(unit: Optional[Unit], data: dict, by: User) -> Unit:
    """Create (unit=None) or change a unit. A unit's kind and factor are fixed once a
    record uses it: changing them would change every quantity written in it."""
    access.require_admin(by)
    if unit is not None:
        data = {"code": unit.code, "name": unit.name, "name_ru": unit.name_ru, "kind": unit.kind,
                "kg_per_unit": unit.kg_per_unit, "m2_per_unit": unit.m2_per_unit, **data}
    errors: dict = {}
    code = (data.get("code") or "").strip().lower()
    if not _CODE.match(code):
        errors["code"] = [_("Use a short code of small Latin letters and digits, e.g. kg.")]
    else:
        clash = unit_by_code(code)
        if clash is not None and clash is not unit:
            errors["code"] = [_("A unit with this code exists.")]
    name = _text(data, "name", errors, 60, _("A name is required."))
    name_ru = _text(data, "name_ru", errors, 60)
    kind = data.get("kind")
    kg = m2 = None
    if kind not in UNIT_KINDS:
        errors["kind"] = [_("Choose weight, count or area.")]
    if kind == "mass":
        kg = _amount(data, "kg_per_unit", errors, FACTOR_PLACES,
                     missing=_("Enter how many kilograms one unit weighs."))
    elif not _blank(data.get("kg_per_unit")):
        errors["kg_per_unit"] = [_("Only a unit of weight has a weight in kilograms.")]
    if kind == "area":
        m2 = _amount(data, "m2_per_unit", errors, AREA_PLACES,
                     missing=_("Enter how many square metres one unit covers."))
    elif not _blank(data.get("m2_per_unit")):
        errors["m2_per_unit"] = [_("Only a unit of area has an area in square metres.")]
    if unit is not None and not errors and (kind, kg, m2) != (
            unit.kind, unit.kg_per_unit, unit.m2_per_unit) and _used(unit):
        errors["kind"] = [_("Records use this unit: its kind and factor can no longer change. "
                            "Make a new unit instead.")]
    if errors:
        raise Invalid(errors)
    if unit is None:
        unit = Unit()
        db.session.add(unit)
    unit.code, unit.name, unit.name_ru, unit.kind = code, name, name_ru, kind
    unit.kg_per_unit, unit.m2_per_unit = kg, m2
    db.session.flush()
    return unit


def save_crop(crop: Optional[Crop], data: dict, by: User) -> Crop:
    access.require_admin(by)
    if crop is not None:
        current = {"name": crop.name, "name_ru": crop.name_ru,
                   "default_unit_id": crop.default_unit_id, "max_t_per_ha": crop.max_t_per_ha}
        if "default_unit" in data and "default_unit_id" not in data:
            current.pop("default_unit_id")  # a unit named by its code replaces the current one
        data = {**current, **data}
    errors: dict = {}
    name = _text(data, "name", errors, 80, _("A name is required."))
    if name:
        clash = db.session.scalar(select(Crop).where(Crop.name == name))
        if clash is not None and clash is not crop:
            errors["name"] = [_("This crop is already recorded.")]
    name_ru = _text(data, "name_ru", errors, 80)
    default_unit = _unit(data, errors, ("mass",), _("Weigh the harvest: choose a unit of weight."),
                         key="default_unit_id", code_key="default_unit", required=False)
    max_yield = _amount(data, "max_t_per_ha", errors, QUANTITY_PLACES)
    if errors:
        raise Invalid(errors)
    if crop is None:
        crop = Crop()
        db.session.add(crop)
    crop.name, crop.name_ru, crop.default_unit = name, name_ru, default_unit
    crop.max_t_per_ha = max_yield
    db.session.flush()
    return crop


def save_variety(variety: Optional[Variety], data: dict, by: User) -> Variety:
    access.require_admin(by)
    if variety is not None:
        data = {"crop_id": variety.crop_id, "name": variety.name, "is_hybrid": variety.is_hybrid,
                **data}
    errors: dict = {}
    crop = _get(Crop, data.get("crop_id"))
    if crop is None:
        errors["crop_id"] = [_("Choose the crop.")]
    name = _text(data, "name", errors, 80, _("A name is required."))
    if crop is not None and name:
        clash = db.session.scalar(select(Variety).where(Variety.crop_id == crop.id,
                                                        Variety.name == name))
        if clash is not None and clash is not variety:
            errors["name"] = [_("This variety is already recorded for the crop.")]
    if variety is not None and crop is not None and crop.id != variety.crop_id:
        for model in (SeedDelivery, Harvest):
            if db.session.scalar(select(model.id).where(model.variety_id == variety.id).limit(1)):
                errors["crop_id"] = [_("Records use this variety: it cannot move to another crop.")]
                break
    if errors:
        raise Invalid(errors)
    if variety is None:
        variety = Variety()
        db.session.add(variety)
    variety.crop, variety.name, variety.is_hybrid = crop, name, bool(data.get("is_hybrid"))
    db.session.flush()
    return variety


def save_round(round_: Optional[DistributionRound], data: dict, by: User) -> DistributionRound:
    """Create or change a distribution round ("Spring 2011, hybrid tomato and cucumber")."""
    access.require_admin(by)
    if round_ is not None:
        data = {"name": round_.name, "source": round_.source, "country_id": round_.country_id,
                "started_on": round_.started_on, "notes": round_.notes, **data}
    errors: dict = {}
    name = _text(data, "name", errors, 160, _("A name is required."))
    if name:
        clash = db.session.scalar(select(DistributionRound).where(DistributionRound.name == name))
        if clash is not None and clash is not round_:
            errors["name"] = [_("A round with this name exists.")]
    source = _text(data, "source", errors, 160)
    country = None
    if not _blank(data.get("country_id")):
        country = _get(Country, data.get("country_id"))
        if country is None:
            errors["country_id"] = [_("Choose a country.")]
    started_on = data.get("started_on")
    if not isinstance(started_on, date):
        errors["started_on"] = [_("Enter the day the round started.")]
    if round_ is not None and not errors:
        for delivery in round_.deliveries:
            if delivery.delivered_on < started_on:
                errors["started_on"] = [_("Seeds of this round were delivered before this day.")]
                break
        if country is not None and any(d.group.village.district.region.country_id != country.id
                                       for d in round_.deliveries):
            errors["country_id"] = [_("Seeds of this round went to members in another country.")]
    if errors:
        raise Invalid(errors)
    if round_ is None:
        round_ = DistributionRound()
        db.session.add(round_)
    round_.name, round_.source, round_.country = name, source, country
    round_.started_on = started_on
    round_.notes = (data.get("notes") or "").strip() or None
    db.session.flush()
    return round_


# ---------------------------------------------------------------- seed deliveries


def _check_delivery(data: dict, by: User, errors: dict,
                    existing: Optional[SeedDelivery] = None) -> Optional[dict]:
    """The delivery's clean fields, or None with ``errors`` filled in."""
    round_ = _get(DistributionRound, data.get("round_id"))
    if round_ is None:
        errors.setdefault("round_id", []).append(_("Choose the distribution round."))
    delivered_on = _date(data, "delivered_on", errors,
                         _("Enter the date the seeds were delivered."))
    membership = _member_on(data.get("member_id"), delivered_on, by, errors)
    crop, variety = _crop_and_variety(data, errors)
    unit = _unit(data, errors, ("mass", "count"),
                 _("Seeds are given by weight (g, kg, a packet of a stated weight) or counted "
                   "as seedlings."))
    quantity = _amount(data, "quantity", errors, QUANTITY_PLACES,
                       missing=_("Enter how much she received."))
    if unit is not None and quantity is not None:
        if unit.kind == "mass" and to_kg(quantity, unit) > MAX_SEED_KG:
            errors.setdefault("quantity", []).append(_(
                "%(kg)s kg of seed for one family is not plausible: probably a unit error "
                "(grams entered as kilograms?). Check the unit.", kg=number(to_kg(quantity, unit))))
        elif unit.kind == "count" and (quantity != quantity.to_integral_value()
                                       or quantity > MAX_SEEDLINGS):
            errors.setdefault("quantity", []).append(_(
                "Seedlings are counted in whole numbers, at most %(max)s for one family.",
                max=number(MAX_SEEDLINGS)))
    value = _amount(data, "value", errors, 2, allow_zero=True)
    currency = _currency(data, errors, _("Say which currency the value is in.")
                         if value is not None else None)
    if round_ is not None and delivered_on is not None:
        if delivered_on < round_.started_on:
            errors.setdefault("delivered_on", []).append(_(
                "The round started on %(date)s, after this date.",
                date=format_day(round_.started_on)))
        if membership is not None and round_.country_id is not None and \
                membership.group.village.district.region.country_id != round_.country_id:
            errors.setdefault("member_id", []).append(_(
                "This round is for members in %(country)s.", country=round_.country.name))
    if existing is not None and existing.harvests and not errors:
        if membership.member_id != existing.member_id or crop.id != existing.crop_id:
            errors.setdefault("crop_id", []).append(_(
                "Harvests grown from these seeds are recorded: the member and the crop can no "
                "longer change."))
        elif delivered_on > min(h.harvested_on for h in existing.harvests):
            errors.setdefault("delivered_on", []).append(_(
                "A harvest from these seeds is recorded before this date."))
    if errors:
        return None
    clash = db.session.scalar(select(SeedDelivery).where(
        SeedDelivery.round_id == round_.id, SeedDelivery.member_id == membership.member_id,
        SeedDelivery.crop_id == crop.id,
        SeedDelivery.variety_id == variety.id if variety else SeedDelivery.variety_id.is_(None)))
    if clash is not None and clash is not existing:
        errors.setdefault("crop_id", []).append(_(
            "These seeds are already recorded for %(name)s in this round: correct that record "
            "instead.", name=membership.member.full_name))
        return None
    return {"round": round_, "member": membership.member, "group": membership.group,
            "delivered_on": delivered_on, "crop": crop, "variety": variety, "quantity": quantity,
            "unit": unit, "value": value, "currency": currency}


def _apply(record, clean: dict) -> None:
    for key, value in clean.items():
        setattr(record, key, value)


def record_delivery(data: dict, by: User) -> SeedDelivery:
    """Seeds a member received: round_id, member_id, delivered_on, crop_id, variety_id,
    quantity with unit_id (or unit: its code), value with its currency (optional)."""
    errors: dict = {}
    clean = _check_delivery(data, by, errors)
    if errors:
        raise Invalid(errors)
    delivery = SeedDelivery(recorded_by_id=by.id)
    _apply(delivery, clean)
    db.session.add(delivery)
    db.session.flush()
    return delivery


def update_delivery(delivery: SeedDelivery, data: dict, by: User) -> SeedDelivery:
    current = {"round_id": delivery.round_id, "member_id": delivery.member_id,
               "delivered_on": delivery.delivered_on, "crop_id": delivery.crop_id,
               "variety_id": delivery.variety_id, "quantity": delivery.quantity,
               "unit_id": delivery.unit_id, "value": delivery.value, "currency": delivery.currency}
    if "unit" in data:
        current.pop("unit_id")
    errors: dict = {}
    clean = _check_delivery({**current, **data}, by, errors, existing=delivery)
    if errors:
        raise Invalid(errors)
    _apply(delivery, clean)
    db.session.flush()
    return delivery


def delete_delivery(delivery: SeedDelivery, by: User) -> None:
    """Remove a delivery recorded by mistake; refused while harvests are linked to it."""
    _require_change(delivery, by)
    if delivery.harvests:
        raise Invalid({"_schema": [_("Harvests grown from these seeds are recorded: remove or "
                                     "relink them first.")]})
    db.session.delete(delivery)
    db.session.flush()


def delivery_sheet(round_: DistributionRound, group: Group, on: date):
    """The group's members on the delivery day, each with what she already received in the
    round: the rows of the page that records a whole group's delivery."""
    memberships = active_memberships(group.id, on)
    received: dict[int, list[SeedDelivery]] = {}
    for delivery in db.session.scalars(select(SeedDelivery).where(
            SeedDelivery.round_id == round_.id,
            SeedDelivery.member_id.in_([m.member_id for m in memberships] or [-1]))):
        received.setdefault(delivery.member_id, []).append(delivery)
    return [(m, received.get(m.member_id, [])) for m in memberships]


def record_group_delivery(round_: DistributionRound, group: Group, on: date, rows: Iterable[dict],
                          by: User) -> list[SeedDelivery]:
    """A whole group's delivery, typed on one page: a row per member and crop, all or none.

    Each row: member_id, crop_id, variety_id, quantity, unit_id (or unit), value, currency.
    A row with no quantity means she received nothing of it. A refusal names the member
    (``{"member-<id>": [messages]}``) so the page shows it on her row.
    """
    if not access.can_change_registry(by) or not access.can_change(by, group.district_id):
        raise Invalid({"group_id": [_("This group is in a district you are not assigned to.")]})
    errors: dict = {}
    if not isinstance(on, date) or on > today():
        raise Invalid({"delivered_on": [_("Enter the date the seeds were delivered.")]})
    members = {m.member_id: m.member for m in active_memberships(group.id, on)}
    cleaned: list[dict] = []
    seen: set = set()
    for row in rows:
        member_id = row.get("member_id")
        if isinstance(member_id, str) and member_id.isdigit():
            member_id = int(member_id)
        key = f"member-{member_id}"
        if member_id not in members:
            errors.setdefault(key, []).append(
                _("This member is not in the group on the delivery date."))
            continue
        if _blank(row.get("quantity")):
            continue
        row_errors: dict = {}
        clean = _check_delivery({**row, "member_id": member_id, "round_id": round_.id,
                                 "delivered_on": on}, by, row_errors)
        if clean is not None:
            seed = (member_id, clean["crop"].id, clean["variety"].id if clean["variety"] else None)
            if seed in seen:
                row_errors["crop_id"] = [_("These seeds are listed twice for her.")]
            seen.add(seed)
        if row_errors:
            name = members[member_id].full_name
            errors.setdefault(key, []).extend(
                _("%(name)s: %(problem)s", name=name, problem=message)
                for messages in row_errors.values() for message in messages)
        else:
            cleaned.append(clean)
    if not cleaned and not errors:
        errors["rows"] = [_("Enter the seeds of at least one member.")]
    if errors:
        raise Invalid(errors)
    deliveries = []
    for clean in cleaned:
        delivery = SeedDelivery(recorded_by_id=by.id)
        _apply(delivery, clean)
        deliveries.append(delivery)
    db.session.add_all(deliveries)
    db.session.flush()
    return deliveries


# ---------------------------------------------------------------- harvests


def seeds_for_harvest(member_id: int, crop_id: int, harvested_on: date) -> Optional[SeedDelivery]:
    """The programme seeds a harvest most likely grew from: her latest delivery of the crop
    on or before the harvest day, within the year before it."""
    return db.session.scalar(
        select(SeedDelivery).where(SeedDelivery.member_id == member_id,
                                   SeedDelivery.crop_id == crop_id,
                                   SeedDelivery.delivered_on <= harvested_on,
                                   SeedDelivery.delivered_on >= harvested_on - LINK_WINDOW)
        .order_by(SeedDelivery.delivered_on.desc(), SeedDelivery.id.desc()).limit(1))


def _season(data: dict, harvested_on: Optional[date],
            errors: dict) -> tuple[Optional[str], Optional[int]]:
    season = _text(data, "season", errors, 40,
                   _("Choose the season (spring, summer, autumn, winter) or name it."))
    if season and season.lower() in SEASONS:
        season = season.lower()
    year = data.get("year")
    if _blank(year):
        year = harvested_on.year if harvested_on else None
    elif isinstance(year, str) and year.strip().isdigit():
        year = int(year)
    if harvested_on is not None and (not isinstance(year, int) or year not in (
            harvested_on.year, harvested_on.year - 1)):
        errors.setdefault("year", []).append(
            _("The season's year is the year of the harvest, or the year before it."))
    return season, year


def _check_plausible(volume: Decimal, unit: Unit, area: Optional[Decimal],
                     area_unit: Optional[Unit], crop: Optional[Crop], errors: dict) -> None:
    """Refuse a harvest no plot can give: nearly always a unit typed wrong (kilograms
    written as tonnes), which would multiply the programme's total by a thousand."""
    tonnes = to_tonnes(volume, unit)
    if area is not None and area_unit is not None:
        hectares = to_hectares(area, area_unit)
        per_ha = tonnes / hectares
        most = crop.max_t_per_ha if crop is not None and crop.max_t_per_ha else None
        most = most or DEFAULT_MAX_T_PER_HA
        if per_ha > most:
            errors.setdefault("volume", []).append(_(
                "%(tonnes)s t from %(hectares)s ha would be %(yield)s t per hectare, more than "
                "the %(most)s t/ha any plot gives: this is probably a unit error (kilograms "
                "entered as tonnes?). Check the units of the harvest and the area.",
                tonnes=number(tonnes), hectares=number(hectares), most=number(most),
                **{"yield": number(per_ha.quantize(Decimal(1)))}))
    elif tonnes > MAX_FAMILY_TONNES:
        errors.setdefault("volume", []).append(_(
            "%(tonnes)s t from one family is not plausible: this is probably a unit error "
            "(kilograms entered as tonnes?). Check the unit.", tonnes=number(tonnes)))


def _check_harvest(data: dict, by: User, errors: dict,
                   existing: Optional[Harvest] = None) -> Optional[dict]:
    harvested_on = _date(data, "harvested_on", errors, _("Enter the date of the harvest."))
    membership = _member_on(data.get("member_id"), harvested_on, by, errors)
    crop, variety = _crop_and_variety(data, errors)
    season, year = _season(data, harvested_on, errors)
    unit = _unit(data, errors, ("mass",),
                 _("Weigh the harvest: enter it in kilograms, centners or tonnes."))
    volume = _amount(data, "volume", errors, QUANTITY_PLACES,
                     missing=_("Enter how much she harvested."))
    area = _amount(data, "area", errors, AREA_PLACES)
    area_unit = _unit(data, errors, ("area",),
                      _("Enter the area in sotka, hectares or square metres."),
                      key="area_unit_id", code_key="area_unit", required=area is not None)
    if area is None:
        area_unit = None
    sold = _amount(data, "quantity_sold", errors, QUANTITY_PLACES, allow_zero=True)
    if sold is not None and volume is not None and sold > volume:
        errors.setdefault("quantity_sold", []).append(_(
            "She cannot sell more than she harvested (%(volume)s).",
            volume=f"{number(volume)} {unit.code}" if unit else number(volume)))
    price = _amount(data, "price", errors, 2, allow_zero=True)
    entered = _amount(data, "market_value", errors, 2, allow_zero=True)
    currency = _currency(data, errors, (
        _("A price needs its currency (KGS, TJS, …).") if price is not None else
        _("A market value needs its currency (KGS, TJS, …).") if entered is not None else None))
    value, value_entered = None, False
    if price is not None and volume is not None:
        value = round_money(price * volume)
        if entered is not None and entered != value:
            errors.setdefault("market_value", []).append(_(
                "The price times the volume gives %(value)s: enter the price or the market "
                "value, not both.", value=number(value)))
    elif price is None and entered is not None:
        value, value_entered = entered, True
    if volume is not None and unit is not None and "volume" not in errors and (
            area is None or area_unit is not None):
        _check_plausible(volume, unit, area, area_unit, crop, errors)

    delivery = None
    if not _blank(data.get("delivery_id")):
        delivery = _get(SeedDelivery, data.get("delivery_id"))
        if delivery is None or (membership is not None
                                and delivery.member_id != membership.member_id):
            errors.setdefault("delivery_id", []).append(_("Choose seeds this member received."))
            delivery = None
        elif crop is not None and delivery.crop_id != crop.id:
            errors.setdefault("delivery_id", []).append(_(
                "These seeds were of %(crop)s, not of this crop.", crop=delivery.crop.name))
        elif harvested_on is not None and harvested_on < delivery.delivered_on:
            errors.setdefault("harvested_on", []).append(_(
                "The harvest is dated %(harvested)s, before its seeds were delivered on "
                "%(delivered)s: check the date.", harvested=format_day(harvested_on),
                delivered=format_day(delivery.delivered_on)))
    elif not data.get("own_seeds") and membership is not None and crop is not None:
        delivery = seeds_for_harvest(membership.member_id, crop.id, harvested_on)
        if delivery is None:
            later = db.session.scalar(
                select(SeedDelivery).where(SeedDelivery.member_id == membership.member_id,
                                           SeedDelivery.crop_id == crop.id,
                                           SeedDelivery.delivered_on > harvested_on,
                                           SeedDelivery.delivered_on <= harvested_on + LINK_WINDOW)
                .order_by(SeedDelivery.delivered_on).limit(1))
            if later is not None:
                errors.setdefault("harvested_on", []).append(_(
                    "The harvest is dated %(harvested)s, before her seeds of this crop were "
                    "delivered on %(delivered)s: check the date, or record that she grew it "
                    "from her own seeds.", harvested=format_day(harvested_on),
                    delivered=format_day(later.delivered_on)))
    if delivery is not None and variety is None:
        variety = delivery.variety
    elif delivery is not None and delivery.variety is not None and variety is not delivery.variety:
        errors.setdefault("variety_id", []).append(_(
            "Her seeds were of the variety %(variety)s.", variety=delivery.variety.name))
    if errors:
        return None
    clash = db.session.scalar(select(Harvest).where(
        Harvest.member_id == membership.member_id, Harvest.crop_id == crop.id,
        Harvest.harvested_on == harvested_on, Harvest.volume == volume, Harvest.unit_id == unit.id))
    if clash is not None and clash is not existing:
        errors.setdefault("_schema", []).append(_(
            "This harvest is already recorded (the same family, crop, day and volume)."))
        return None
    return {"member": membership.member, "group": membership.group, "crop": crop,
            "variety": variety, "season": season, "year": year, "harvested_on": harvested_on,
            "area": area, "area_unit": area_unit, "volume": volume, "unit": unit,
            "quantity_sold": sold, "price": price, "currency": currency, "market_value": value,
            "value_entered": value_entered, "delivery": delivery}


def record_harvest(data: dict, by: User) -> Harvest:
    """What a family harvested: member_id, crop_id, variety_id, season, year, harvested_on,
    area with area_unit_id, volume with unit_id (or unit / area_unit: codes), quantity_sold
    (in the volume's unit), price per unit or market_value, currency.

    The market value is the price times the volume, rounded to the tyiyn; a value typed
    without a price is kept as entered (``value_entered``). The harvest is linked to the
    seeds she received (``delivery_id``); when none is named it is linked to her latest
    delivery of the crop in the year before, unless ``own_seeds`` says she used her own.
    """
    errors: dict = {}
    clean = _check_harvest(data, by, errors)
    if errors:
        raise Invalid(errors)
    harvest = Harvest(recorded_by_id=by.id)
    _apply(harvest, clean)
    db.session.add(harvest)
    db.session.flush()
    return harvest


def update_harvest(harvest: Harvest, data: dict, by: User) -> Harvest:
    """Correct a harvest. Its link to seeds stays as it is unless ``delivery_id`` is given."""
    current = {"member_id": harvest.member_id, "crop_id": harvest.crop_id,
               "variety_id": harvest.variety_id, "season": harvest.season, "year": harvest.year,
               "harvested_on": harvest.harvested_on, "area": harvest.area,
               "area_unit_id": harvest.area_unit_id, "volume": harvest.volume,
               "unit_id": harvest.unit_id, "quantity_sold": harvest.quantity_sold,
               "price": harvest.price, "currency": harvest.currency,
               "market_value": harvest.market_value if harvest.value_entered else None,
               "delivery_id": harvest.delivery_id, "own_seeds": harvest.delivery_id is None}
    for code_key, id_key in (("unit", "unit_id"), ("area_unit", "area_unit_id")):
        if code_key in data:
            current.pop(id_key)
    if not _blank(data.get("price")):
        current["market_value"] = None
    if "crop_id" in data and "variety_id" not in data:
        current["variety_id"] = None
    errors: dict = {}
    _follow_unit(harvest, current, data, errors)
    clean = _check_harvest({**current, **data}, by, errors, existing=harvest)
    if errors:
        raise Invalid(errors)
    _apply(harvest, clean)
    db.session.flush()
    return harvest


def _follow_unit(harvest: Harvest, current: dict, data: dict, errors: dict) -> None:
    """The quantity sold and the price are in the volume's unit: when a correction changes
    the unit and does not give them anew, they are converted (2,000 kg sold becomes 20
    centners), or asked for when the conversion is not exact."""
    probe: dict = {}
    unit = _unit({**current, **data}, probe, ("mass",), "")
    if unit is None or unit.id == harvest.unit_id:
        return
    ratio = harvest.unit.kg_per_unit / unit.kg_per_unit  # new units per old unit
    converted = (("quantity_sold", QUANTITY_PLACES, lambda v: v * ratio),
                 ("price", 2, lambda v: v / ratio))
    for key, places, convert in converted:
        if key in data or current.get(key) is None:
            continue
        value = convert(current[key])
        if value.scaleb(places) != value.scaleb(places).to_integral_value():
            errors.setdefault(key, []).append(
                _("The unit changed: enter this again in the new unit."))
        else:
            current[key] = value


def delete_harvest(harvest: Harvest, by: User) -> None:
    _require_change(harvest, by)
    db.session.delete(harvest)
    db.session.flush()


def _require_change(record, by: User) -> None:
    if not access.can_change_registry(by):
        abort(403, _("Your role may not change this record."))
    access.require_change(by, record.district_id)


# ---------------------------------------------------------------- lists


def deliveries_query(user: User, round_id=None, group_id=None, village_id=None, district_id=None,
                     member_id=None, crop_id=None):
    query = (select(SeedDelivery).join(Group, SeedDelivery.group_id == Group.id).join(Village)
             .order_by(SeedDelivery.delivered_on.desc(), SeedDelivery.id.desc()))
    query = access.scope(query, user, Village.district_id)
    for column, value in ((SeedDelivery.round_id, round_id), (SeedDelivery.group_id, group_id),
                          (Group.village_id, village_id), (Village.district_id, district_id),
                          (SeedDelivery.member_id, member_id), (SeedDelivery.crop_id, crop_id)):
        if value:
            query = query.where(column == value)
    return query


def harvests_query(user: User, round_id=None, group_id=None, village_id=None, district_id=None,
                   member_id=None, crop_id=None, year=None):
    query = (select(Harvest).join(Group, Harvest.group_id == Group.id).join(Village)
             .order_by(Harvest.harvested_on.desc(), Harvest.id.desc()))
    query = access.scope(query, user, Village.district_id)
    if round_id:
        query = query.join(SeedDelivery, Harvest.delivery_id == SeedDelivery.id).where(
            SeedDelivery.round_id == round_id)
    for column, value in ((Harvest.group_id, group_id), (Group.village_id, village_id),
                          (Village.district_id, district_id), (Harvest.member_id, member_id),
                          (Harvest.crop_id, crop_id), (Harvest.year, year)):
        if value:
            query = query.where(column == value)
    return query


def rounds(country_id: Optional[int] = None) -> list[DistributionRound]:
    query = select(DistributionRound).order_by(DistributionRound.started_on.desc(),
                                               DistributionRound.name)
    if country_id:
        query = query.where(or_(DistributionRound.country_id.is_(None),
                                DistributionRound.country_id == country_id))
    return list(db.session.scalars(query))


def crops() -> list[Crop]:
    return list(db.session.scalars(select(Crop).order_by(Crop.name)))
