"""Seed and harvest forms. Choices that depend on the user (members, groups) are set by the view.

Quantities, areas, prices and rates are read as typed ("3,2", "1 250", "13,80") and handed
to ``harvests.services`` as text: the services are the one judge of a number (its places,
its sign, whether 5,000 t can come from 10 sotka) and say what is wrong beside the field.
Selects that name a record (member, unit, crop) do not check their choices either, for the
same reason: an unknown unit is refused by the service with words a facilitator understands.
"""
from decimal import Decimal

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, IntegerField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, Optional

from harvests.models import SEASONS, UNIT_KINDS
from shg.labels import choices
from shg.money import CURRENCIES

#: the choice that keeps a harvest's season as a free label ("second crop", "greenhouse")
OTHER_SEASON = "other"
#: the delivery choice for a harvest grown from her own seeds (no programme seeds)
OWN_SEEDS = "own"


class NumberField(StringField):
    """A number box: kept as typed, shown back in the reader's locale without grouping
    ("13,80" in Russian, "13.80" in English), so that it reads back as it is shown."""

    def __init__(self, label=None, validators=None, pattern="0.######", **kwargs):
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators or [Optional()], render_kw=render_kw, **kwargs)
        self.pattern = pattern

    def process_data(self, value):
        self.data = value

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None or self.data == "":
            return ""
        if isinstance(self.data, Decimal):
            return format_decimal(self.data, format=self.pattern)
        return str(self.data)

    def process_formdata(self, valuelist):
        self.data = valuelist[0].strip() if valuelist and valuelist[0] else None


def record_id(value):
    """A record's id as the select sends it: a number, or the text as sent (which the service
    then refuses as unknown), never an error of the form's own."""
    if value in (None, "", "None"):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) < 10 else text


def RecordSelect(label, **kwargs):
    """A select naming a record by id; the service refuses an unknown one."""
    return SelectField(label, coerce=record_id, validate_choice=False, **kwargs)


def currency_choices(blank: bool = True, usd: bool = True):
    rows = [(c, c) for c in CURRENCIES if usd or c != "USD"]
    return ([("", "—")] if blank else []) + rows


# ---------------------------------------------------------------- the catalogue (project office)


class UnitForm(FlaskForm):
    code = StringField(_l("Code (small Latin letters, e.g. kg)"),
                       validators=[DataRequired(), Length(max=20)],
                       render_kw={"autocomplete": "off", "autocapitalize": "none"})
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    name_ru = StringField(_l("Name in Russian"), validators=[Optional(), Length(max=60)])
    kind = SelectField(_l("Kind"), choices=choices(UNIT_KINDS, "unit_kind"))
    kg_per_unit = NumberField(_l("Kilograms in one unit (units of weight)"))
    m2_per_unit = NumberField(_l("Square metres in one unit (units of area)"))

    FIELDS = ("code", "name", "name_ru", "kind", "kg_per_unit", "m2_per_unit")


class CropForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    name_ru = StringField(_l("Name in Russian"), validators=[Optional(), Length(max=80)])
    default_unit_id = RecordSelect(_l("Usually weighed in"))
    max_t_per_ha = NumberField(_l("Most a hectare can give, in tonnes (empty: the ledger's "
                                  "default)"))

    FIELDS = ("name", "name_ru", "default_unit_id", "max_t_per_ha")


class VarietyForm(FlaskForm):
    crop_id = RecordSelect(_l("Crop"))
    name = StringField(_l("Variety"), validators=[DataRequired(), Length(max=80)])
    is_hybrid = BooleanField(_l("F1 hybrid (seed bought each season)"))

    FIELDS = ("crop_id", "name", "is_hybrid")


class RateForm(FlaskForm):
    currency = SelectField(_l("Currency"), choices=currency_choices(blank=False, usd=False))
    units_per_usd = NumberField(_l("Units of the currency for 1 USD"),
                                render_kw={"placeholder": "87,45"})
    valid_from = DateField(_l("In force from"), validators=[Optional()])
    source = StringField(_l("Source (e.g. National Bank)"),
                         validators=[Optional(), Length(max=120)])

    FIELDS = ("currency", "units_per_usd", "valid_from", "source")


class RoundForm(FlaskForm):
    name = StringField(_l("Name of the round"), validators=[DataRequired(), Length(max=160)],
                       render_kw={"placeholder": _l("Spring 2011, hybrid tomato and cucumber")})
    source = StringField(_l("Seeds from (donor or supplier)"),
                         validators=[Optional(), Length(max=160)])
    country_id = RecordSelect(_l("Country (empty: any)"))
    started_on = DateField(_l("Started on"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)],
                          render_kw={"rows": 2})

    FIELDS = ("name", "source", "country_id", "started_on", "notes")


# ---------------------------------------------------------------- deliveries and harvests


class DeliveryForm(FlaskForm):
    round_id = RecordSelect(_l("Distribution round"))
    member_id = RecordSelect(_l("Member"))
    delivered_on = DateField(_l("Delivered on"), validators=[Optional()])
    crop_id = RecordSelect(_l("Crop"))
    variety_id = RecordSelect(_l("Variety"))
    quantity = NumberField(_l("Quantity"))
    unit_id = RecordSelect(_l("Unit"))
    value = NumberField(_l("Value of the seeds (optional)"), pattern="0.00",
                        render_kw={"placeholder": "0,00"})
    currency = SelectField(_l("Currency"), choices=currency_choices(), default="")

    FIELDS = ("round_id", "member_id", "delivered_on", "crop_id", "variety_id", "quantity",
              "unit_id", "value", "currency")


class SheetForm(FlaskForm):
    """A group's delivery page: the CSRF token only; its boxes (a quantity and a value per
    member and kind of seed) are read by ``harvests.views.read_sheet``."""


class HarvestForm(FlaskForm):
    member_id = RecordSelect(_l("Member"))
    crop_id = RecordSelect(_l("Crop"))
    variety_id = RecordSelect(_l("Variety"))
    season = SelectField(_l("Season"), choices=choices(SEASONS) + [
        (OTHER_SEASON, _l("Other (name it below)"))], default="summer")
    season_other = StringField(_l("Name of the season"), validators=[Optional(), Length(max=40)])
    year = IntegerField(_l("Season's year (empty: the year of the harvest)"),
                        validators=[Optional()], render_kw={"inputmode": "numeric"})
    harvested_on = DateField(_l("Harvested on"), validators=[Optional()])
    area = NumberField(_l("Area planted"))
    area_unit_id = RecordSelect(_l("Area unit"))
    volume = NumberField(_l("Harvest"))
    unit_id = RecordSelect(_l("Unit"))
    quantity_sold = NumberField(_l("Quantity sold (in the harvest's unit)"))
    price = NumberField(_l("Price per unit"), pattern="0.00", render_kw={"placeholder": "0,00"})
    market_value = NumberField(_l("Or the market value of the whole harvest"), pattern="0.00",
                               render_kw={"placeholder": "0,00"})
    currency = SelectField(_l("Currency"), choices=currency_choices(), default="")
    delivery_id = RecordSelect(_l("Grown from"))

    #: read by the service as they are (the season, the link to seeds: by the view)
    FIELDS = ("member_id", "crop_id", "variety_id", "year", "harvested_on", "area",
              "area_unit_id", "volume", "unit_id", "quantity_sold", "price", "market_value",
              "currency")
