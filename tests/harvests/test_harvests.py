"""Harvests: value from the price or as entered, the link to the seeds, and every refusal."""
from datetime import date
from decimal import Decimal

import pytest

from harvests import services
from shg.errors import Invalid
from shg.extensions import db
from tests.harvests.conftest import records

D = Decimal


@pytest.fixture
def seeds(family, delivery_data):
    """Her tomato seeds of 12 April 2011."""
    return services.record_delivery(delivery_data(), by=family.facilitator)


def test_market_value_is_price_times_volume_rounded_half_up(family, harvest_data, seeds):
    harvest = services.record_harvest(harvest_data(volume="2400,5", price="13,85"),
                                      by=family.facilitator)
    db.session.commit()
    db.session.expire_all()
    assert harvest.market_value == D("33246.93")  # 2,400.5 x 13.85 = 33,246.925 -> .93
    assert (harvest.currency, harvest.value_entered) == ("KGS", False)
    assert (harvest.season, harvest.year, harvest.group) == ("summer", 2011, family.group)
    assert harvest.area == D("8") and harvest.area_unit.code == "sotka"
    assert harvest.quantity_sold == D("2000")


def test_a_value_known_only_as_a_sum_is_kept_as_entered(family, harvest_data, seeds):
    harvest = services.record_harvest(harvest_data(price=None, market_value="45 120"),
                                      by=family.facilitator)
    assert (harvest.market_value, harvest.price, harvest.value_entered) == (D("45120"), None, True)


def test_a_harvest_without_price_or_value_has_no_value(family, harvest_data, seeds):
    harvest = services.record_harvest(harvest_data(price=None, currency=None),
                                      by=family.facilitator)
    assert harvest.market_value is None and harvest.currency is None


def test_a_harvest_is_linked_to_the_seeds_she_received_before_it(family, harvest_data, seeds):
    harvest = services.record_harvest(harvest_data(), by=family.facilitator)
    assert harvest.delivery == seeds
    assert harvest.variety == seeds.variety  # taken from her seeds when not typed


def test_a_harvest_from_her_own_seeds_is_not_linked(family, harvest_data, seeds):
    harvest = services.record_harvest(harvest_data(own_seeds=True), by=family.facilitator)
    assert harvest.delivery is None


def test_a_harvest_of_another_crop_than_her_seeds_is_not_linked(family, harvest_data, seeds,
                                                                catalogue):
    harvest = services.record_harvest(harvest_data(crop_id=catalogue.cucumber.id),
                                      by=family.facilitator)
    assert harvest.delivery is None


def test_a_season_may_be_a_free_label(family, harvest_data, seeds):
    harvest = services.record_harvest(harvest_data(season="Autumn"), by=family.facilitator)
    assert harvest.season == "autumn"
    second = services.record_harvest(harvest_data(season="второй урожай (теплица)",
                                                  volume="300", quantity_sold=None),
                                     by=family.facilitator)
    assert second.season == "второй урожай (теплица)"


#: what was typed wrong, the field the message is on, and words the message says
BAD_HARVESTS = [
    ({"unit": "bucket"}, "unit_id", "Unknown unit"),
    ({"unit": "seedling"}, "unit_id", "Weigh the harvest"),
    ({"area_unit": "kg"}, "area_unit_id", "sotka, hectares"),
    ({"volume": "-2400"}, "volume", "cannot be negative"),
    ({"volume": "0"}, "volume", "more than zero"),
    ({"volume": None}, "volume", "how much she harvested"),
    # 5,000 t from 10 sotka = 50,000 t/ha: kilograms typed as tonnes
    ({"volume": "5000", "unit": "t", "area": "10", "area_unit": "sotka"}, "volume",
     "probably a unit error"),
    # 2,400 kg from 8 m² (sotka meant) = 3,000 t/ha
    ({"area_unit": "m2"}, "volume", "probably a unit error"),
    ({"volume": "1500", "unit": "t", "area": None}, "volume", "probably a unit error"),
    ({"harvested_on": date(2011, 4, 1), "delivery_id": "her seeds"}, "harvested_on",
     "before its seeds were delivered"),
    ({"harvested_on": date(2011, 4, 1)}, "harvested_on", "before her seeds of this crop"),
    ({"price": "13,80", "currency": None}, "currency", "A price needs its currency"),
    ({"price": None, "market_value": "45120", "currency": None}, "currency",
     "market value needs its currency"),
    ({"market_value": "40000"}, "market_value", "not both"),
    ({"quantity_sold": "2500"}, "quantity_sold", "more than she harvested"),
    ({"price": "-1"}, "price", "cannot be negative"),
    ({"price": "13,805"}, "price", "decimal places"),
    ({"season": ""}, "season", "Choose the season"),
    ({"year": 2009}, "year", "year of the harvest"),
    ({"harvested_on": date(2099, 9, 1)}, "harvested_on", "future"),
    ({"variety_id": "a cucumber"}, "variety_id", "variety of this crop"),
    ({"crop_id": 99999}, "crop_id", "Choose the crop"),
]


def test_bad_harvest_is_refused_with_a_clear_message_and_nothing_written(
        family, catalogue, harvest_data, seeds):
    wrong = []
    for overrides, field, words in BAD_HARVESTS:
        if overrides.get("delivery_id") == "her seeds":
            overrides = {**overrides, "delivery_id": seeds.id}
        if overrides.get("variety_id") == "a cucumber":
            overrides = {"variety_id": catalogue.herman.id}  # for tomatoes
        try:
            services.record_harvest(harvest_data(**overrides), by=family.facilitator)
        except Invalid as refused:
            if not any(words in m for m in refused.errors.get(field, [])):
                wrong.append((overrides, refused.errors))
        else:
            wrong.append((overrides, "accepted"))
    assert not wrong
    assert records() == (1, 0)


def test_five_thousand_tonnes_from_ten_sotka_is_refused_as_a_unit_error(
        family, harvest_data, seeds):
    with pytest.raises(Invalid) as refused:
        services.record_harvest(harvest_data(volume="5000", unit="t", area="10",
                                             area_unit="sotka"), by=family.facilitator)
    assert refused.value.errors["volume"] == [
        "5,000 t from 0.1 ha would be 50,000 t per hectare, more than the 200 t/ha any plot "
        "gives: this is probably a unit error (kilograms entered as tonnes?). Check the units "
        "of the harvest and the area."]
    same_in_kilograms = services.record_harvest(harvest_data(volume="5000", unit="kg", area="10",
                                                             area_unit="sotka"),
                                                by=family.facilitator)
    assert services.to_tonnes(same_in_kilograms.volume, same_in_kilograms.unit) == D("5")


def test_a_crop_may_allow_a_higher_yield_than_the_default(family, harvest_data, seeds, admin,
                                                          catalogue):
    services.save_crop(catalogue.tomato, {"max_t_per_ha": "300"}, by=admin)  # greenhouse
    harvest = services.record_harvest(harvest_data(volume="25", unit="t", quantity_sold="20",
                                                   area="10", area_unit="sotka"),
                                      by=family.facilitator)
    assert harvest.volume == D("25")  # 250 t/ha


def test_a_harvest_of_a_member_who_had_left_is_refused(family, harvest_data, seeds):
    family.member.memberships[0].left_on = date(2011, 8, 1)
    db.session.flush()
    with pytest.raises(Invalid) as refused:
        services.record_harvest(harvest_data(harvested_on=date(2011, 8, 15)),
                                by=family.facilitator)
    assert "had left her group" in refused.value.errors["member_id"][0]
    # a harvest brought in before she left is still hers to record
    services.record_harvest(harvest_data(harvested_on=date(2011, 7, 25)), by=family.facilitator)
    assert records() == (1, 1)


def test_a_harvest_in_another_district_is_refused(family, harvest_data, seeds, create_user,
                                                  create_village):
    elsewhere = create_user("facilitator", districts=[create_village().district])
    with pytest.raises(Invalid) as refused:
        services.record_harvest(harvest_data(), by=elsewhere)
    assert "not assigned" in refused.value.errors["member_id"][0]
    assert records() == (1, 0)


def test_a_form_sent_twice_records_one_harvest(family, harvest_data, seeds):
    services.record_harvest(harvest_data(), by=family.facilitator)
    with pytest.raises(Invalid) as refused:
        services.record_harvest(harvest_data(), by=family.facilitator)
    assert "already recorded" in refused.value.errors["_schema"][0]
    assert records() == (1, 1)


def test_correcting_the_volume_recomputes_the_value(family, harvest_data, seeds):
    harvest = services.record_harvest(harvest_data(), by=family.facilitator)
    assert harvest.market_value == D("33120.00")
    # the same harvest written in centners: the quantity sold and the price follow the unit
    services.update_harvest(harvest, {"volume": "24", "unit": "centner"}, by=family.facilitator)
    assert (harvest.volume, harvest.unit.code) == (D("24"), "centner")
    assert harvest.market_value == D("33120.00")
    assert (harvest.quantity_sold, harvest.price) == (D("20"), D("1380"))
    assert harvest.delivery == seeds  # the link stays
    with pytest.raises(Invalid):
        services.update_harvest(harvest, {"quantity_sold": "25"}, by=family.facilitator)
    assert harvest.quantity_sold == D("20")


def test_the_database_itself_refuses_what_the_services_refuse(family, harvest_data, seeds,
                                                              catalogue):
    """The constraints hold for any writer (an import, a console), not only the services."""
    from sqlalchemy.exc import IntegrityError

    from harvests.models import Harvest, Unit
    good = services.record_harvest(harvest_data(), by=family.facilitator)
    base = {c: getattr(good, c) for c in (
        "member_id", "group_id", "crop_id", "season", "year", "harvested_on", "volume",
        "unit_id", "area", "area_unit_id")}
    broken = [
        Harvest(**{**base, "volume": D("-1")}),
        Harvest(**{**base, "quantity_sold": D("2400.001")}),  # more than harvested
        Harvest(**{**base, "price": D("13.80")}),  # a price without a currency
        Harvest(**{**base, "currency": "EUR"}),
        Harvest(**{**base, "area_unit_id": None}),  # an area without its unit
        Harvest(**{**base, "area": None}),  # a unit without its area
        Harvest(**{**base, "market_value": D("100"), "currency": "KGS", "value_entered": True,
                   "price": D("1")}),  # entered and computed at once
        Unit(code="bag", name="bag", kind="mass"),  # a weight unit without its weight
        Unit(code="tuber", name="tuber", kind="count", kg_per_unit=D("0.1")),
    ]
    accepted = []
    for record in broken:
        savepoint = db.session.begin_nested()
        db.session.add(record)
        try:
            db.session.flush()
        except IntegrityError:
            savepoint.rollback()
        else:
            accepted.append(record)
            savepoint.rollback()
    assert not accepted
    assert records() == (1, 1)
