"""Seeds and harvests endpoints of the JSON API: units, crops, varieties, distribution rounds,
seed deliveries, harvests, exchange rates, and the programme figures by gender.

Thin, as the registry's (``shg.registry.api``, whose helpers and conventions these share):
load with the schema, call ``harvests.services`` (the functions the pages call), dump with
the schema; the figures come from ``harvests.figures`` only, as on the figures page. Every
write runs in ``commit_with_retry``; a refusal rolls everything back.

The catalogue, the rounds and the rates are read by everyone and changed by the project
office. Deliveries and harvests belong to the district of the member's group: another
district's record answers 403; a member out of reach, named in a write, answers 422 beside
``member_id``; a viewer's write answers 403.
"""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import RAISE
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import Forbidden, NotFound

from harvests import figures, services
from harvests.models import (Crop, DistributionRound, ExchangeRate, Harvest, SeedDelivery, Unit,
                             Variety)
from harvests.schemas import (CropInSchema, CropPatchSchema, CropSchema, DeliveryFilters,
                              DeliveryInSchema, DeliveryPatchSchema, DeliverySchema,
                              HarvestFiguresArgs, HarvestFiguresSchema, HarvestFilters,
                              HarvestInSchema, HarvestPatchSchema, HarvestSchema, RateFilters,
                              RateInSchema, RatePatchSchema, RateSchema, RoundInSchema,
                              RoundPatchSchema, RoundSchema, UnitInSchema, UnitPatchSchema,
                              UnitSchema, VarietyFilters, VarietyInSchema, VarietyPatchSchema,
                              VarietySchema)
from shg.accounts import access
from shg.errors import Invalid
from shg.extensions import db
from shg.registry.api import ITEM, _blueprint, _me, _page, _reads, _writes
from shg.registry.models import Group
from shg.transactions import commit_with_retry

#: a unit named by its code is refused beside the code that was sent
CODE_KEYS = (("unit", "unit_id"), ("area_unit", "area_unit_id"),
             ("default_unit", "default_unit_id"))


def _commit(work, data=None):
    """Run a write and commit it (again from the start if SQLite was busy); a refusal or an
    error leaves nothing behind. A refusal about a unit sent by its code is given beside
    the code."""
    try:
        return commit_with_retry(work)
    except Invalid as exc:
        db.session.rollback()
        for code_key, id_key in CODE_KEYS:
            if data and code_key in data and id_key not in data and id_key in exc.errors:
                exc.errors[code_key] = exc.errors.pop(id_key)
        raise
    except Exception:
        db.session.rollback()
        raise


def _get(model, record_id):
    found = db.session.get(model, record_id)
    if found is None:
        raise NotFound()
    return found


def _recorder():
    """The token's user, if she may record seeds and harvests at all."""
    me = _me()
    if not access.can_change_registry(me):
        raise Forbidden(_("Your role may not change this record."))
    return me


# ---------------------------------------------------------------- units


units = _blueprint("units", "/units", "Units of weight (g, kg, centner, t, a seed packet of a "
                                      "stated weight), count (seedlings) and area (m², sotka, "
                                      "ha), with their exact factors. Changes are for the "
                                      "project office; a used unit's factor is fixed.")


@units.route("")
class Units(MethodView):
    @_reads(units)
    @units.response(200, UnitSchema(many=True))
    @units.paginate()
    def get(self, pagination_parameters):
        """List units"""
        return _page(select(Unit).order_by(Unit.kind, Unit.code), pagination_parameters)

    @_writes(units)
    @units.arguments(UnitInSchema)
    @units.response(201, UnitSchema)
    def post(self, data):
        """Record a unit"""
        return _commit(lambda: services.save_unit(None, data, by=_me()), data)


@units.route(ITEM.format("unit_id"))
class UnitItem(MethodView):
    @_reads(units, item=True)
    @units.response(200, UnitSchema)
    def get(self, unit_id):
        """Read a unit"""
        return _get(Unit, unit_id)

    @_writes(units, item=True)
    @units.arguments(UnitPatchSchema)
    @units.response(200, UnitSchema)
    def patch(self, data, unit_id):
        """Change a unit (its kind and factor only while no record uses it)"""
        return _commit(lambda: services.save_unit(_get(Unit, unit_id), data, by=_me()), data)


# ---------------------------------------------------------------- crops


crops = _blueprint("crops", "/crops", "Crops, with their varieties and the most a hectare can "
                                      "give (above it a harvest is refused as a probable unit "
                                      "error). Changes are for the project office.")


@crops.route("")
class Crops(MethodView):
    @_reads(crops)
    @crops.response(200, CropSchema(many=True))
    @crops.paginate()
    def get(self, pagination_parameters):
        """List crops with their varieties"""
        return _page(select(Crop).options(selectinload(Crop.varieties),
                                          selectinload(Crop.default_unit))
                     .order_by(Crop.name, Crop.id), pagination_parameters)

    @_writes(crops)
    @crops.arguments(CropInSchema)
    @crops.response(201, CropSchema)
    def post(self, data):
        """Record a crop"""
        return _commit(lambda: services.save_crop(None, data, by=_me()), data)


@crops.route(ITEM.format("crop_id"))
class CropItem(MethodView):
    @_reads(crops, item=True)
    @crops.response(200, CropSchema)
    def get(self, crop_id):
        """Read a crop"""
        return _get(Crop, crop_id)

    @_writes(crops, item=True)
    @crops.arguments(CropPatchSchema)
    @crops.response(200, CropSchema)
    def patch(self, data, crop_id):
        """Change a crop"""
        return _commit(lambda: services.save_crop(_get(Crop, crop_id), data,
                                                  by=_me()), data)


# ---------------------------------------------------------------- varieties


varieties = _blueprint("varieties", "/varieties", "Varieties of a crop (F1 hybrids are bought "
                                                  "each season). Changes are for the project "
                                                  "office.")


@varieties.route("")
class Varieties(MethodView):
    @_reads(varieties)
    @varieties.arguments(VarietyFilters, location="query")
    @varieties.response(200, VarietySchema(many=True))
    @varieties.paginate()
    def get(self, args, pagination_parameters):
        """List varieties"""
        query = select(Variety).order_by(Variety.crop_id, Variety.name, Variety.id)
        if args.get("crop_id"):
            query = query.where(Variety.crop_id == args["crop_id"])
        return _page(query, pagination_parameters)

    @_writes(varieties)
    @varieties.arguments(VarietyInSchema)
    @varieties.response(201, VarietySchema)
    def post(self, data):
        """Record a variety"""
        return _commit(lambda: services.save_variety(None, data, by=_me()))


@varieties.route(ITEM.format("variety_id"))
class VarietyItem(MethodView):
    @_reads(varieties, item=True)
    @varieties.response(200, VarietySchema)
    def get(self, variety_id):
        """Read a variety"""
        return _get(Variety, variety_id)

    @_writes(varieties, item=True)
    @varieties.arguments(VarietyPatchSchema)
    @varieties.response(200, VarietySchema)
    def patch(self, data, variety_id):
        """Change a variety"""
        return _commit(lambda: services.save_variety(_get(Variety, variety_id), data, by=_me()))


# ---------------------------------------------------------------- distribution rounds


rounds = _blueprint("rounds", "/rounds", "Distribution rounds of seeds (\"Spring 2011, hybrid "
                                         "tomato and cucumber\"). Read by everyone; changes are "
                                         "for the project office.")


@rounds.route("")
class Rounds(MethodView):
    @_reads(rounds)
    @rounds.response(200, RoundSchema(many=True))
    @rounds.paginate()
    def get(self, pagination_parameters):
        """List distribution rounds, the latest first"""
        return _page(select(DistributionRound).order_by(DistributionRound.started_on.desc(),
                                                        DistributionRound.id.desc()),
                     pagination_parameters)

    @_writes(rounds)
    @rounds.arguments(RoundInSchema)
    @rounds.response(201, RoundSchema)
    def post(self, data):
        """Record a distribution round"""
        return _commit(lambda: services.save_round(None, data, by=_me()))


@rounds.route(ITEM.format("round_id"))
class RoundItem(MethodView):
    @_reads(rounds, item=True)
    @rounds.response(200, RoundSchema)
    def get(self, round_id):
        """Read a distribution round"""
        return services.get_round(round_id)

    @_writes(rounds, item=True)
    @rounds.arguments(RoundPatchSchema)
    @rounds.response(200, RoundSchema)
    def patch(self, data, round_id):
        """Change a distribution round"""
        return _commit(lambda: services.save_round(services.get_round(round_id), data,
                                                   by=_me()))


# ---------------------------------------------------------------- seed deliveries


deliveries = _blueprint("seed_deliveries", "/seed-deliveries",
                        "Seeds each member received in a round: quantity with its unit (by id "
                        "or code), and what the seeds cost, if known.")


def _deliveries_loaded(query):
    return query.options(selectinload(SeedDelivery.member), selectinload(SeedDelivery.crop),
                         selectinload(SeedDelivery.variety), selectinload(SeedDelivery.unit),
                         selectinload(SeedDelivery.harvests),
                         selectinload(SeedDelivery.group).selectinload(Group.village))


@deliveries.route("")
class Deliveries(MethodView):
    @_reads(deliveries)
    @deliveries.arguments(DeliveryFilters, location="query")
    @deliveries.response(200, DeliverySchema(many=True))
    @deliveries.paginate()
    def get(self, args, pagination_parameters):
        """List the seed deliveries the user reaches, the latest first"""
        return _page(_deliveries_loaded(services.deliveries_query(_me(), **args)),
                     pagination_parameters)

    @_writes(deliveries)
    @deliveries.arguments(DeliveryInSchema)
    @deliveries.response(201, DeliverySchema)
    def post(self, data):
        """Record seeds a member received"""
        me = _recorder()
        return _commit(lambda: services.record_delivery(data, by=me), data)


@deliveries.route(ITEM.format("delivery_id"))
class DeliveryItem(MethodView):
    @_reads(deliveries, item=True)
    @deliveries.response(200, DeliverySchema)
    def get(self, delivery_id):
        """Read a seed delivery"""
        return services.get_delivery(delivery_id, _me())

    @_writes(deliveries, item=True)
    @deliveries.arguments(DeliveryPatchSchema)
    @deliveries.response(200, DeliverySchema)
    def patch(self, data, delivery_id):
        """Correct a seed delivery"""
        return _commit(lambda: services.update_delivery(
            services.get_delivery(delivery_id, _me(), change=True), data, by=_me()), data)


# ---------------------------------------------------------------- harvests


harvests = _blueprint("harvests_api", "/harvests",
                      "What each family harvested: volume with its unit (by id or code), the "
                      "area, the quantity sold, the price per unit or the market value, and "
                      "the seeds it grew from. A volume no plot can give (a unit typed wrong) "
                      "is refused.")


@harvests.route("")
class Harvests(MethodView):
    @_reads(harvests)
    @harvests.arguments(HarvestFilters, location="query")
    @harvests.response(200, HarvestSchema(many=True))
    @harvests.paginate()
    def get(self, args, pagination_parameters):
        """List the harvests the user reaches, the latest first"""
        query = services.harvests_query(_me(), **args).options(
            selectinload(Harvest.member), selectinload(Harvest.crop),
            selectinload(Harvest.unit), selectinload(Harvest.area_unit),
            selectinload(Harvest.delivery),
            selectinload(Harvest.group).selectinload(Group.village))
        return _page(query, pagination_parameters)

    @_writes(harvests)
    @harvests.arguments(HarvestInSchema)
    @harvests.response(201, HarvestSchema)
    def post(self, data):
        """Record a harvest"""
        me = _recorder()
        return _commit(lambda: services.record_harvest(data, by=me), data)


@harvests.route(ITEM.format("harvest_id"))
class HarvestItem(MethodView):
    @_reads(harvests, item=True)
    @harvests.response(200, HarvestSchema)
    def get(self, harvest_id):
        """Read a harvest"""
        return services.get_harvest(harvest_id, _me())

    @_writes(harvests, item=True)
    @harvests.arguments(HarvestPatchSchema)
    @harvests.response(200, HarvestSchema)
    def patch(self, data, harvest_id):
        """Correct a harvest (a new unit converts the quantity sold and the price)"""
        return _commit(lambda: services.update_harvest(
            services.get_harvest(harvest_id, _me(), change=True), data, by=_me()), data)


# ---------------------------------------------------------------- exchange rates


rates = _blueprint("exchange_rates", "/exchange-rates",
                   "Units of a currency per 1 USD from a day on, as the National Bank "
                   "publishes them. A harvest is converted at the rate in force on its day. "
                   "Changes are for the project office.")


@rates.route("")
class Rates(MethodView):
    @_reads(rates)
    @rates.arguments(RateFilters, location="query")
    @rates.response(200, RateSchema(many=True))
    @rates.paginate()
    def get(self, args, pagination_parameters):
        """List exchange rates, by currency, the latest first"""
        query = select(ExchangeRate).order_by(ExchangeRate.currency,
                                              ExchangeRate.valid_from.desc())
        if args.get("currency"):
            query = query.where(ExchangeRate.currency == args["currency"])
        return _page(query, pagination_parameters)

    @_writes(rates)
    @rates.arguments(RateInSchema)
    @rates.response(201, RateSchema)
    def post(self, data):
        """Record an exchange rate"""
        return _commit(lambda: services.save_exchange_rate(None, data, by=_me()))


@rates.route(ITEM.format("rate_id"))
class RateItem(MethodView):
    @_reads(rates, item=True)
    @rates.response(200, RateSchema)
    def get(self, rate_id):
        """Read an exchange rate"""
        return _get(ExchangeRate, rate_id)

    @_writes(rates, item=True)
    @rates.arguments(RatePatchSchema)
    @rates.response(200, RateSchema)
    def patch(self, data, rate_id):
        """Correct an exchange rate"""
        return _commit(lambda: services.save_exchange_rate(_get(ExchangeRate, rate_id), data,
                                                           by=_me()))


# ---------------------------------------------------------------- figures


harvest_figures = _blueprint("harvest_figures", "/harvest-figures",
                             "The seed and harvest figures donors read, for the districts the "
                             "user reaches, by gender: families that received seeds and the "
                             "share that harvested, tonnes, value per currency and in USD (null, "
                             "with the harvests lacking a rate listed, until every rate is "
                             "recorded), yield, quantity sold.")


@harvest_figures.route("")
class HarvestFigures(MethodView):
    @_reads(harvest_figures)
    @harvest_figures.arguments(HarvestFiguresArgs, location="query", unknown=RAISE)
    @harvest_figures.response(200, HarvestFiguresSchema)
    def get(self, args):
        """The figures of a scope, and with ``by`` the same figures split by village,
        district, country, round, crop or group"""
        from harvests.views import names_of
        by = args.pop("by", None)
        scope = {key: value for key, value in args.items() if value is not None}
        body = {"scope": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                          for k, v in scope.items()},
                "results": figures.harvest_results(user=_me(), **scope), "by": by, "parts": []}
        if by:
            split = figures.results_by(by, user=_me(), **scope)
            names = names_of(by, split.keys())
            body["parts"] = [{"id": key, "name": names.get(key, ""), "results": part}
                             for key, part in split.items()]
        return body
