"""Units and conversions: exact factors, seedlings never weighed, areas in hectares."""
from datetime import date
from decimal import Decimal

import pytest

from harvests import services
from harvests.models import Unit
from shg.errors import Invalid
from shg.extensions import db
from shg.money import parse_decimal

D = Decimal


def test_quantities_and_areas_convert_exactly_as_typed(catalogue):
    units = catalogue.units
    kilograms = [services.to_kg(parse_decimal(typed), units[code]) for typed, code in (
        ("250", "g"), ("2,5", "kg"), ("30", "centner"), ("3,2", "t"), ("3", "packet-10g"))]
    assert kilograms == [D("0.25"), D("2.5"), D("3000"), D("3200"), D("0.03")]
    assert services.to_tonnes(D("30"), units["centner"]) == D("3")
    hectares = [services.to_hectares(parse_decimal(typed), units[code]) for typed, code in (
        ("10", "sotka"), ("0,2", "ha"), ("450", "m2"), ("1", "sotka"))]
    assert hectares == [D("0.1"), D("0.2"), D("0.045"), D("0.01")]


def test_factors_survive_the_database_exactly(catalogue):
    db.session.commit()
    db.session.expire_all()
    factors = {u.code: (u.kg_per_unit, u.m2_per_unit) for u in db.session.query(Unit)}
    assert factors["g"] == (D("0.001"), None)
    assert factors["packet-10g"] == (D("0.01"), None)
    assert factors["centner"] == (D("100"), None)
    assert factors["sotka"] == (None, D("100"))
    assert factors["seedling"] == (None, None)
    assert len(services.ensure_standard_units()) == len(services.STANDARD_UNITS)  # made once
    assert db.session.query(Unit).count() == len(services.STANDARD_UNITS) + 1  # + the packet


def test_seedlings_are_counted_and_never_converted_to_kilograms(catalogue):
    with pytest.raises(services.NotConvertible) as refused:
        services.to_kg(D("300"), catalogue.units["seedling"])
    assert refused.value.errors["unit_id"] == [
        "A quantity in seedlings is counted, not weighed: it cannot be converted to kilograms."]
    with pytest.raises(services.NotConvertible):
        services.to_kg(D("10"), catalogue.units["sotka"])
    with pytest.raises(services.NotConvertible) as refused:
        services.to_hectares(D("10"), catalogue.units["kg"])
    assert "not a unit of area" in refused.value.errors["area_unit_id"][0]


#: a unit typed wrong, and the field the refusal is on
BAD_UNITS = [
    ({"code": "Kg!", "name": "x", "kind": "mass", "kg_per_unit": "1"}, "code"),
    ({"code": "kg", "name": "again", "kind": "mass", "kg_per_unit": "1"}, "code"),
    ({"code": "bag", "name": "bag", "kind": "mass"}, "kg_per_unit"),
    ({"code": "bag", "name": "bag", "kind": "mass", "kg_per_unit": "-50"}, "kg_per_unit"),
    ({"code": "bag", "name": "bag", "kind": "mass", "kg_per_unit": "0,0000001"}, "kg_per_unit"),
    ({"code": "tub", "name": "tuber", "kind": "count", "kg_per_unit": "0,1"}, "kg_per_unit"),
    ({"code": "acre", "name": "acre", "kind": "area"}, "m2_per_unit"),
    ({"code": "x", "name": "x", "kind": "volume"}, "kind"),
]


def test_a_unit_without_a_sound_factor_is_refused(catalogue, admin):
    wrong = []
    for data, field in BAD_UNITS:
        try:
            services.save_unit(None, data, by=admin)
        except Invalid as refused:
            if field not in refused.errors:
                wrong.append((data, refused.errors))
        else:
            wrong.append((data, "accepted"))
    assert not wrong
    assert db.session.query(Unit).count() == len(services.STANDARD_UNITS) + 1


def test_a_units_factor_is_fixed_once_a_record_uses_it(catalogue, admin, delivery_data, family):
    packet = catalogue.units["packet-10g"]
    services.save_unit(packet, {"kg_per_unit": "0,02"}, by=admin)  # unused: may change
    services.record_delivery(delivery_data(), by=family.facilitator)
    with pytest.raises(Invalid) as refused:
        services.save_unit(packet, {"kg_per_unit": "0,01"}, by=admin)
    assert "can no longer change" in refused.value.errors["kind"][0]
    services.save_unit(packet, {"name": "packet (20 g)"}, by=admin)  # its name may
    assert packet.kg_per_unit == D("0.02")


def test_only_the_project_office_manages_the_catalogue(catalogue, family):
    from werkzeug.exceptions import Forbidden
    with pytest.raises(Forbidden):
        services.save_crop(None, {"name": "Pepper"}, by=family.facilitator)
    with pytest.raises(Forbidden):
        services.save_exchange_rate(None, {"currency": "KGS", "units_per_usd": "46",
                                           "valid_from": date(2011, 1, 1)}, by=family.facilitator)
