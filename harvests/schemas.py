"""marshmallow schemas of the seeds and harvests API: the catalogue (units, crops, varieties),
distribution rounds, seed deliveries, harvests, exchange rates and the programme figures.

The fields are the registry's (``shg.registry.schemas``): unknown fields refused, refusals
flattened to {field: [message]}, every message in the user's language, money as a string
with two places. Input schemas only read and type-check; the rules (a unit that exists and
is a weight, 5,000 t from 10 sotka refused as a unit error, a harvest not dated before its
seeds, a price with its currency) live in ``harvests.services``, which the pages share, and
come back in the same shape.

Quantities, areas, factors and rates travel as decimal strings ("2400", "0.5", "46.5"): exact,
never floats. A unit may be named by its id (``unit_id``) or by its code (``unit``: "kg",
"centner", "sotka"); a refusal is then given beside the field that was sent.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from harvests.figures import LEVELS
from harvests.models import SEASONS, UNIT_KINDS
from shg.money import CURRENCIES, round_money
from shg.registry.schemas import (Amount, Bool, Day, Id, Int, PartialSchema, QueryId, Schema,
                                  Str, _Filters, choice, required)

#: places the API gives a yield (t/ha) and a share (0 to 1): the figures themselves are exact
YIELD_PLACES = 3
SHARE_PLACES = 4


# ---------------------------------------------------------------- fields


class Quantity(fields.Field):
    """A quantity, area, factor or rate: in, a decimal string ("2400", "0.5") or a JSON
    number; out, a string without trailing zeros. Its sense (places, sign, size) is judged
    by the services, which say what is wrong beside the field."""

    default_error_messages = {
        "invalid": _l("Enter a number such as 2.5."),
        "required": _l("This field is required."),
        "null": _l("This field cannot be empty."),
    }

    def __init__(self, **kwargs):
        metadata = kwargs.pop("metadata", {})
        super().__init__(metadata={"type": "string", "format": "decimal", "example": "2.5",
                                   **metadata}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str):
            if len(value) > 40:
                raise self.make_error("invalid")
            return value
        if isinstance(value, (int, float)):
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                raise self.make_error("invalid") from None
            if not number.is_finite():
                raise self.make_error("invalid")
            return number
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return plain(value)


def plain(value: Decimal) -> str:
    """An exact number as a string without trailing zeros ("2400", "0.0005")."""
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class Rounded(fields.Field):
    """An exact figure out as a string, rounded half up to ``places`` (null stays null)."""

    def __init__(self, places: int, **kwargs):
        self.places = places
        metadata = kwargs.pop("metadata", {})
        super().__init__(dump_only=True, metadata={"type": "string", "format": "decimal",
                                                   "nullable": True, **metadata}, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format(round_money(value, self.places), "f")


class Exact(fields.Field):
    """An exact figure out as a string (tonnes, hectares): nothing rounded away."""

    def __init__(self, **kwargs):
        metadata = kwargs.pop("metadata", {})
        super().__init__(dump_only=True, metadata={"type": "string", "format": "decimal",
                                                   **metadata}, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else plain(value)


def Currency(**kwargs) -> Str:
    return Str(max_length=3, allow_none=True, **choice(CURRENCIES, **kwargs))


# ---------------------------------------------------------------- units


class UnitSchema(Schema):
    id = Int(dump_only=True)
    code = Str(metadata={"example": "centner"})
    name = Str()
    name_ru = Str(allow_none=True)
    kind = Str(**choice(UNIT_KINDS))
    kg_per_unit = Quantity(allow_none=True, metadata={
        "description": "Units of weight only: kilograms in one unit."})
    m2_per_unit = Quantity(allow_none=True, metadata={
        "description": "Units of area only: square metres in one unit."})


class UnitInSchema(Schema):
    code = Str(max_length=20, **required(_l("Use a short code of small Latin letters and "
                                            "digits, e.g. kg."), metadata={"example": "centner"}))
    name = Str(max_length=60, **required(_l("A name is required.")))
    name_ru = Str(max_length=60, allow_none=True)
    kind = Str(**required(_l("Choose weight, count or area."),
                          metadata={"enum": list(UNIT_KINDS)}))
    kg_per_unit = Quantity(allow_none=True, metadata={"example": "100"})
    m2_per_unit = Quantity(allow_none=True)


class UnitPatchSchema(UnitInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- crops and varieties


class VarietySchema(Schema):
    id = Int(dump_only=True)
    crop_id = Int()
    name = Str()
    is_hybrid = Bool()


class CropSchema(Schema):
    id = Int(dump_only=True)
    name = Str()
    name_ru = Str(allow_none=True)
    default_unit_id = Int(allow_none=True)
    default_unit = Str(attribute="default_unit.code", allow_none=True)
    max_t_per_ha = Quantity(allow_none=True, metadata={
        "description": "Above this a harvest is refused as a probable unit error; null: the "
                       "ledger's default (200 t/ha)."})
    varieties = fields.List(fields.Nested(VarietySchema), dump_only=True)


class CropInSchema(Schema):
    name = Str(max_length=80, **required(_l("A name is required.")))
    name_ru = Str(max_length=80, allow_none=True)
    default_unit_id = Id(allow_none=True)
    default_unit = Str(max_length=20, allow_none=True, metadata={
        "description": "The unit's code, instead of default_unit_id."})
    max_t_per_ha = Quantity(allow_none=True)


class CropPatchSchema(CropInSchema, PartialSchema):
    pass


class VarietyFilters(_Filters):
    crop_id = QueryId()


class VarietyInSchema(Schema):
    crop_id = Id(**required(_l("Choose the crop.")))
    name = Str(max_length=80, **required(_l("A name is required.")))
    is_hybrid = Bool(load_default=False)


class VarietyPatchSchema(VarietyInSchema, PartialSchema):
    is_hybrid = Bool()


# ---------------------------------------------------------------- rounds


class RoundSchema(Schema):
    id = Int(dump_only=True)
    name = Str()
    source = Str(allow_none=True)
    country_id = Int(allow_none=True)
    started_on = Day()
    notes = Str(allow_none=True)


class RoundInSchema(Schema):
    name = Str(max_length=160, **required(_l("A name is required."), metadata={
        "example": "Spring 2011, hybrid tomato and cucumber"}))
    source = Str(max_length=160, allow_none=True)
    country_id = Id(allow_none=True, metadata={
        "description": "A round for one country only; null: any."})
    started_on = Day(**required(_l("Enter the day the round started.")))
    notes = Str(max_length=4000, allow_none=True)


class RoundPatchSchema(RoundInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- exchange rates


class RateSchema(Schema):
    id = Int(dump_only=True)
    currency = Str(**choice([c for c in CURRENCIES if c != "USD"]))
    units_per_usd = Quantity(metadata={"example": "87.45",
                                       "description": "Units of the currency per 1 USD."})
    valid_from = Day()
    source = Str(allow_none=True)


class RateFilters(_Filters):
    currency = Str(max_length=3, **choice([c for c in CURRENCIES if c != "USD"]))


class RateInSchema(Schema):
    currency = Str(max_length=3, **required(_l("Choose the currency the rate is for (not USD)."),
                                            metadata={"enum": [c for c in CURRENCIES
                                                               if c != "USD"]}))
    units_per_usd = Quantity(**required(_l(
        "Enter how many units of the currency one US dollar buys.")))
    valid_from = Day(**required(_l("Enter the day the rate applies from.")))
    source = Str(max_length=120, allow_none=True)


class RatePatchSchema(RateInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- seed deliveries


class _Place(Schema):
    member_id = Int()
    member_name = Str(attribute="member.full_name", dump_only=True)
    group_id = Int(dump_only=True)
    village_id = Int(attribute="group.village_id", dump_only=True)
    district_id = Int(dump_only=True)


class DeliverySchema(_Place):
    id = Int(dump_only=True)
    round_id = Int()
    delivered_on = Day()
    crop_id = Int()
    crop_name = Str(attribute="crop.name", dump_only=True)
    variety_id = Int(allow_none=True)
    variety_name = Str(attribute="variety.name", allow_none=True, dump_only=True)
    quantity = Quantity()
    unit_id = Int()
    unit = Str(attribute="unit.code")
    kilograms = fields.Method("get_kilograms", dump_only=True, metadata={
        "type": "string", "format": "decimal", "nullable": True,
        "description": "The quantity in kilograms; null for counted seedlings."})
    value = Amount(allow_none=True)
    currency = Str(allow_none=True)
    harvest_ids = fields.Method("get_harvest_ids", dump_only=True,
                                metadata={"type": "array", "items": {"type": "integer"}})

    def get_kilograms(self, delivery):
        from harvests.services import to_kg
        if delivery.unit.kind != "mass":
            return None
        return plain(to_kg(delivery.quantity, delivery.unit))

    def get_harvest_ids(self, delivery):
        return sorted(h.id for h in delivery.harvests)


class DeliveryFilters(_Filters):
    round_id = QueryId()
    district_id = QueryId()
    village_id = QueryId()
    group_id = QueryId()
    member_id = QueryId()
    crop_id = QueryId()


class DeliveryInSchema(Schema):
    round_id = Id(**required(_l("Choose the distribution round.")))
    member_id = Id(**required(_l("Choose the member.")))
    delivered_on = Day(**required(_l("Enter the date the seeds were delivered.")))
    crop_id = Id(**required(_l("Choose the crop.")))
    variety_id = Id(allow_none=True)
    quantity = Quantity(**required(_l("Enter how much she received."),
                                   metadata={"example": "2"}))
    unit_id = Id(metadata={"description": "The unit, by id; or ``unit`` by code."})
    unit = Str(max_length=20, metadata={"example": "packet-10g",
                                        "description": "The unit's code, instead of unit_id."})
    value = Amount(allow_none=True, metadata={"description": "What the seeds cost, if known."})
    currency = Currency(metadata={"description": "Of the value."})


class DeliveryPatchSchema(DeliveryInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- harvests


class HarvestSchema(_Place):
    id = Int(dump_only=True)
    crop_id = Int()
    crop_name = Str(attribute="crop.name", dump_only=True)
    variety_id = Int(allow_none=True)
    season = Str(metadata={"description": "spring, summer, autumn, winter, or a free label."})
    year = Int()
    harvested_on = Day()
    area = Quantity(allow_none=True)
    area_unit_id = Int(allow_none=True)
    area_unit = Str(attribute="area_unit.code", allow_none=True)
    hectares = fields.Method("get_hectares", dump_only=True, metadata={
        "type": "string", "format": "decimal", "nullable": True})
    volume = Quantity()
    unit_id = Int()
    unit = Str(attribute="unit.code")
    tonnes = fields.Method("get_tonnes", dump_only=True,
                           metadata={"type": "string", "format": "decimal"})
    quantity_sold = Quantity(allow_none=True, metadata={"description": "In the volume's unit."})
    price = Amount(allow_none=True, metadata={"description": "Per unit of the volume."})
    currency = Str(allow_none=True)
    market_value = Amount(allow_none=True)
    value_entered = Bool(metadata={"description": "true: the value was entered as a sum; "
                                                  "false: it is the price times the volume."})
    delivery_id = Int(allow_none=True, metadata={
        "description": "The programme seeds it grew from; null: her own seeds."})
    round_id = Int(attribute="delivery.round_id", allow_none=True, dump_only=True)

    def get_hectares(self, harvest):
        from harvests.services import to_hectares
        if harvest.area is None:
            return None
        return plain(to_hectares(harvest.area, harvest.area_unit))

    def get_tonnes(self, harvest):
        from harvests.services import to_tonnes
        return plain(to_tonnes(harvest.volume, harvest.unit))


class HarvestFilters(DeliveryFilters):
    year = Int(strict=False, validate=validate.Range(min=1990, max=2100,
                                                     error=_l("Enter a year such as 2011.")))


class HarvestInSchema(Schema):
    member_id = Id(**required(_l("Choose the member.")))
    crop_id = Id(**required(_l("Choose the crop.")))
    variety_id = Id(allow_none=True)
    season = Str(max_length=40, **required(
        _l("Choose the season (spring, summer, autumn, winter) or name it."),
        metadata={"example": "summer", "description": "One of %s, or a free label."
                  % ", ".join(SEASONS)}))
    year = Int(allow_none=True, metadata={"description": "Default: the year of the harvest."})
    harvested_on = Day(**required(_l("Enter the date of the harvest.")))
    area = Quantity(allow_none=True, metadata={"example": "8"})
    area_unit_id = Id(allow_none=True)
    area_unit = Str(max_length=20, allow_none=True, metadata={"example": "sotka"})
    volume = Quantity(**required(_l("Enter how much she harvested."),
                                 metadata={"example": "2400"}))
    unit_id = Id()
    unit = Str(max_length=20, metadata={"example": "kg"})
    quantity_sold = Quantity(allow_none=True)
    price = Amount(allow_none=True)
    market_value = Amount(allow_none=True, metadata={
        "description": "When no price is known: the value of the whole harvest."})
    currency = Currency()
    delivery_id = Id(allow_none=True, metadata={
        "description": "Default: her latest seeds of the crop in the year before."})
    own_seeds = Bool(metadata={"description": "true: grown from her own seeds, not linked."})


class HarvestPatchSchema(HarvestInSchema, PartialSchema):
    pass


# ---------------------------------------------------------------- figures


class HarvestFiguresArgs(Schema):
    """The scope of the figures: unknown parameters are refused, since a misspelt one
    would silently give the figures of a wider scope."""

    country_id = QueryId()
    district_id = QueryId()
    village_id = QueryId()
    group_id = QueryId()
    round_id = QueryId(metadata={"description": "Deliveries of the round, and the harvests "
                                                "grown from its seeds."})
    crop_id = QueryId()
    date_from = Day(metadata={"description": "Deliveries and harvests on or after this day."})
    date_to = Day(metadata={"description": "Deliveries and harvests on or before this day."})
    by = Str(validate=validate.OneOf(LEVELS, error=_l(
        "Choose village, district, country, round, crop or group.")),
        metadata={"enum": list(LEVELS),
                  "description": "Also give the figures split by this level."})


class LackingRateSchema(Schema):
    harvest_id = Int()
    currency = Str()
    harvested_on = Day()
    value = Amount()


class UsdValueSchema(Schema):
    amount = Amount(allow_none=True, metadata={
        "description": "The value in USD; null while any harvest lacks a rate (never a "
                       "silent part)."})
    converted = Amount(metadata={"description": "The value of the harvests that have a rate."})
    complete = Bool()
    lacking = fields.List(fields.Nested(LackingRateSchema), metadata={
        "description": "The harvests whose currency has no rate on their day."})


class HarvestResultsSchema(Schema):
    villages = Int()
    recipients = Int(metadata={"description": "Families that received seeds."})
    harvested = Int(metadata={"description": "Of them, families that harvested."})
    share_harvested = Rounded(SHARE_PLACES, metadata={"description": "0 to 1; null when no "
                                                                     "family received seeds."})
    harvesting_families = Int(metadata={"description": "Families with a harvest, whether or "
                                                       "not they received seeds."})
    harvests = Int()
    volume_t = Exact(metadata={"description": "Tonnes harvested."})
    sold_t = Exact()
    area_ha = Exact(metadata={"description": "Area of the harvests that record one."})
    yield_t_per_ha = Rounded(YIELD_PLACES)
    value_local = fields.Dict(keys=fields.String(), values=Amount(), metadata={
        "description": "Market value per currency, as recorded."})
    value_usd = fields.Nested(UsdValueSchema)
    harvests_without_value = Int()


class HarvestByGenderSchema(Schema):
    total = fields.Nested(HarvestResultsSchema)
    female = fields.Nested(HarvestResultsSchema)
    male = fields.Nested(HarvestResultsSchema)


class HarvestPartSchema(Schema):
    id = Int(allow_none=True, metadata={"description": "null: harvests not grown from "
                                                       "programme seeds (by round)."})
    name = Str()
    results = fields.Nested(HarvestByGenderSchema)


class HarvestFiguresSchema(Schema):
    scope = fields.Dict(metadata={"description": "The scope as read."})
    results = fields.Nested(HarvestByGenderSchema)
    by = Str(allow_none=True)
    parts = fields.List(fields.Nested(HarvestPartSchema), metadata={
        "description": "With ``by``: the figures of each village, district, … in id order."})
