"""Fixtures for seeds and harvests: the catalogue a programme starts from, a round, and a
family in a pilot village with the facilitator of its district."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from harvests import services
from harvests.models import Harvest, SeedDelivery
from shg.extensions import db


@pytest.fixture
def admin(create_user):
    return create_user("admin")


@pytest.fixture
def catalogue(app, admin):
    """The standard units, a 10 g seed packet, tomato and cucumber with a hybrid each."""
    units = {u.code: u for u in services.ensure_standard_units()}
    units["packet-10g"] = services.save_unit(None, {
        "code": "packet-10g", "name": "packet of 10 g", "name_ru": "пакет 10 г", "kind": "mass",
        "kg_per_unit": "0,01"}, by=admin)
    tomato = services.save_crop(None, {"name": "Tomato", "name_ru": "Помидор",
                                       "default_unit": "kg"}, by=admin)
    cucumber = services.save_crop(None, {"name": "Cucumber", "name_ru": "Огурец",
                                         "default_unit": "kg"}, by=admin)
    pink = services.save_variety(None, {"crop_id": tomato.id, "name": "Pink Paradise F1",
                                        "is_hybrid": True}, by=admin)
    herman = services.save_variety(None, {"crop_id": cucumber.id, "name": "Herman F1",
                                          "is_hybrid": True}, by=admin)
    return SimpleNamespace(units=units, tomato=tomato, cucumber=cucumber, pink=pink, herman=herman)


@pytest.fixture
def spring_round(admin, catalogue):
    return services.save_round(None, {"name": "Spring 2011, hybrid tomato and cucumber",
                                      "source": "Regional migration programme",
                                      "started_on": date(2011, 4, 1)}, by=admin)


@pytest.fixture
def family(create_village, create_group, create_member, create_user):
    """Айгуль in a group of a Kyrgyz pilot village, and the facilitator of that district."""
    village = create_village(name="Кара-Жыгач", country_code="KG")
    group = create_group(village, name="Ынтымак", formed_on=date(2010, 5, 1))
    member = create_member(group, full_name="Айгуль Токтогулова", joined_on=date(2010, 6, 1))
    facilitator = create_user("facilitator", districts=[village.district])
    return SimpleNamespace(village=village, group=group, member=member, facilitator=facilitator)


@pytest.fixture
def delivery_data(family, catalogue, spring_round):
    """What a facilitator types for one delivery, with any field replaced."""
    def make(**overrides):
        data = {"round_id": spring_round.id, "member_id": family.member.id,
                "delivered_on": date(2011, 4, 12), "crop_id": catalogue.tomato.id,
                "variety_id": catalogue.pink.id, "quantity": "2", "unit": "packet-10g",
                "value": "300", "currency": "KGS"}
        data.update(overrides)
        return data
    return make


@pytest.fixture
def harvest_data(family, catalogue):
    """What a facilitator types for one harvest, with any field replaced."""
    def make(**overrides):
        data = {"member_id": family.member.id, "crop_id": catalogue.tomato.id,
                "season": "summer", "harvested_on": date(2011, 8, 15), "area": "8",
                "area_unit": "sotka", "volume": "2400", "unit": "kg", "quantity_sold": "2000",
                "price": "13,80", "currency": "KGS"}
        data.update(overrides)
        return data
    return make


def records() -> tuple[int, int]:
    """(deliveries, harvests) in the database: a refusal must leave both as they were."""
    db.session.flush()
    return (db.session.scalar(select(func.count(SeedDelivery.id))),
            db.session.scalar(select(func.count(Harvest.id))))
