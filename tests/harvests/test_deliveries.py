"""Seed deliveries: one member's, a whole group's (all or nothing), and every refusal."""
from datetime import date
from decimal import Decimal

import pytest

from harvests import services
from shg.errors import Invalid
from shg.extensions import db
from tests.harvests.conftest import records

D = Decimal


def test_a_delivery_keeps_quantity_unit_value_and_who_recorded_it(family, delivery_data):
    delivery = services.record_delivery(delivery_data(quantity="2", value="300,50"),
                                        by=family.facilitator)
    db.session.commit()
    db.session.expire_all()
    assert (delivery.member, delivery.group) == (family.member, family.group)
    assert (delivery.quantity, delivery.unit.code) == (D("2"), "packet-10g")
    assert services.to_kg(delivery.quantity, delivery.unit) == D("0.02")
    assert (delivery.value, delivery.currency) == (D("300.50"), "KGS")
    assert delivery.recorded_by == family.facilitator
    assert delivery.district_id == family.village.district_id


def test_seedlings_are_delivered_counted(family, delivery_data):
    delivery = services.record_delivery(delivery_data(quantity="300", unit="seedling"),
                                        by=family.facilitator)
    assert (delivery.quantity, delivery.unit.kind) == (D("300"), "count")


def _left(member, on):
    member.memberships[0].left_on = on
    db.session.flush()


#: what was typed wrong, the field the message is on, and words the message says
BAD_DELIVERIES = [
    ({"unit": "bucket"}, "unit_id", "Unknown unit"),
    ({"unit": None, "unit_id": 99999}, "unit_id", "Unknown unit"),
    ({"unit": "sotka"}, "unit_id", "by weight"),
    ({"quantity": "-2"}, "quantity", "cannot be negative"),
    ({"quantity": "0"}, "quantity", "more than zero"),
    ({"quantity": "два"}, "quantity", "Not a valid number"),
    ({"quantity": 2.5}, "quantity", "Not a valid number"),
    ({"quantity": "1,5", "unit": "seedling"}, "quantity", "whole numbers"),
    ({"quantity": "2000", "unit": "kg"}, "quantity", "probably a unit error"),
    ({"value": "300", "currency": None}, "currency", "which currency"),
    ({"currency": "EUR"}, "currency", "ledger's currencies"),
    ({"delivered_on": date(2011, 3, 20)}, "delivered_on", "round started"),
    ({"delivered_on": date(2099, 1, 1)}, "delivered_on", "future"),
    ({"variety_id": "a cucumber"}, "variety_id", "variety of this crop"),
    ({"round_id": None}, "round_id", "distribution round"),
]


def test_bad_delivery_is_refused_with_a_clear_message_and_nothing_written(
        family, catalogue, delivery_data):
    wrong = []
    for overrides, field, words in BAD_DELIVERIES:
        if overrides.get("variety_id") == "a cucumber":
            overrides = {"variety_id": catalogue.herman.id}  # for tomato seeds
        try:
            services.record_delivery(delivery_data(**overrides), by=family.facilitator)
        except Invalid as refused:
            if not any(words in m for m in refused.errors.get(field, [])):
                wrong.append((overrides, refused.errors))
        else:
            wrong.append((overrides, "accepted"))
    assert not wrong
    assert records() == (0, 0)


def test_seeds_for_a_member_who_had_left_are_refused(family, delivery_data):
    _left(family.member, date(2011, 3, 1))
    with pytest.raises(Invalid) as refused:
        services.record_delivery(delivery_data(), by=family.facilitator)
    assert "had left her group" in refused.value.errors["member_id"][0]
    assert records() == (0, 0)


def test_seeds_for_a_member_of_another_district_are_refused(family, delivery_data, create_user,
                                                            create_village):
    elsewhere = create_user("facilitator", districts=[create_village().district])
    with pytest.raises(Invalid) as refused:
        services.record_delivery(delivery_data(), by=elsewhere)
    assert refused.value.errors["member_id"] == [
        "This member is in a district you are not assigned to."]
    viewer = create_user("viewer")
    with pytest.raises(Invalid):
        services.record_delivery(delivery_data(), by=viewer)
    assert records() == (0, 0)


def test_a_round_for_tajikistan_takes_no_kyrgyz_member(family, delivery_data, admin,
                                                       create_village):
    tajikistan = create_village(country_code="TJ").district.region.country
    round_tj = services.save_round(None, {"name": "Spring 2012, Tajikistan", "country_id":
                                          tajikistan.id, "started_on": date(2011, 1, 1)}, by=admin)
    with pytest.raises(Invalid) as refused:
        services.record_delivery(delivery_data(round_id=round_tj.id), by=family.facilitator)
    assert "Таджикистан" in refused.value.errors["member_id"][0]


def test_the_same_seeds_twice_in_a_round_is_refused(family, delivery_data):
    services.record_delivery(delivery_data(), by=family.facilitator)
    with pytest.raises(Invalid) as refused:
        services.record_delivery(delivery_data(quantity="3"), by=family.facilitator)
    assert "already recorded" in refused.value.errors["crop_id"][0]
    assert records() == (1, 0)


def test_a_delivery_is_corrected_but_not_moved_after_a_harvest_it_grew(
        family, delivery_data, harvest_data, catalogue):
    delivery = services.record_delivery(delivery_data(), by=family.facilitator)
    services.update_delivery(delivery, {"quantity": "3"}, by=family.facilitator)
    assert delivery.quantity == D("3")
    services.record_harvest(harvest_data(harvested_on=date(2011, 8, 15)), by=family.facilitator)
    with pytest.raises(Invalid) as refused:
        services.update_delivery(delivery, {"delivered_on": date(2011, 8, 20)},
                                 by=family.facilitator)
    assert "harvest from these seeds" in refused.value.errors["delivered_on"][0]
    with pytest.raises(Invalid):
        services.delete_delivery(delivery, by=family.facilitator)
    assert delivery.delivered_on == date(2011, 4, 12)


# ---------------------------------------------------------------- a whole group at once


@pytest.fixture
def group_of_three(family, create_member):
    others = [create_member(family.group, full_name=name, gender=gender,
                            joined_on=date(2010, 6, 1))
              for name, gender in (("Гүлнара Өмүрбекова", "female"), ("Бакыт Асанов", "male"))]
    return [family.member, *others]


def _rows(members, catalogue, **bad):
    rows = [
        {"member_id": members[0].id, "crop_id": catalogue.tomato.id,
         "variety_id": catalogue.pink.id,
         "quantity": "2", "unit": "packet-10g", "value": "300", "currency": "KGS"},
        {"member_id": members[0].id, "crop_id": catalogue.cucumber.id, "quantity": "50",
         "unit": "g"},
        {"member_id": members[1].id, "crop_id": catalogue.tomato.id, "quantity": "300",
         "unit": "seedling"},
        {"member_id": members[2].id, "crop_id": catalogue.cucumber.id, "quantity": "",
         "unit": "g"},  # nothing for him this time
    ]
    rows[2].update(bad)
    return rows


def test_a_group_delivery_records_every_row_with_a_quantity(family, group_of_three, catalogue,
                                                            spring_round):
    made = services.record_group_delivery(spring_round, family.group, date(2011, 4, 12),
                                          _rows(group_of_three, catalogue), by=family.facilitator)
    assert len(made) == 3
    assert records() == (3, 0)
    sheet = services.delivery_sheet(spring_round, family.group, date(2011, 4, 12))
    by_name = [(m.member.full_name, len(received)) for m, received in sheet]
    assert by_name == [("Айгуль Токтогулова", 2), ("Бакыт Асанов", 0), ("Гүлнара Өмүрбекова", 1)]


def test_a_group_delivery_with_one_bad_row_writes_nothing(family, group_of_three, catalogue,
                                                          spring_round):
    with pytest.raises(Invalid) as refused:
        services.record_group_delivery(spring_round, family.group, date(2011, 4, 12),
                                       _rows(group_of_three, catalogue, unit="bucket"),
                                       by=family.facilitator)
    key = f"member-{group_of_three[1].id}"
    assert list(refused.value.errors) == [key]
    assert refused.value.errors[key] == [
        "Гүлнара Өмүрбекова: Unknown unit: choose one from the list."]
    assert records() == (0, 0)


def test_a_group_delivery_refuses_someone_not_in_the_group(family, group_of_three, catalogue,
                                                           spring_round, create_member):
    stranger = create_member(full_name="Чужая Участница")
    rows = _rows(group_of_three, catalogue)
    rows.append({"member_id": stranger.id, "crop_id": catalogue.tomato.id, "quantity": "1",
                 "unit": "packet-10g"})
    with pytest.raises(Invalid) as refused:
        services.record_group_delivery(spring_round, family.group, date(2011, 4, 12), rows,
                                       by=family.facilitator)
    assert f"member-{stranger.id}" in refused.value.errors
    assert records() == (0, 0)


def test_a_group_delivery_of_another_district_is_refused(family, group_of_three, catalogue,
                                                         spring_round, create_user,
                                                         create_village):
    elsewhere = create_user("facilitator", districts=[create_village().district])
    with pytest.raises(Invalid) as refused:
        services.record_group_delivery(spring_round, family.group, date(2011, 4, 12),
                                       _rows(group_of_three, catalogue), by=elsewhere)
    assert "group_id" in refused.value.errors
    assert records() == (0, 0)


def test_a_group_delivery_with_nothing_typed_is_refused(family, group_of_three, catalogue,
                                                        spring_round):
    rows = [{"member_id": m.id, "crop_id": catalogue.tomato.id, "quantity": ""}
            for m in group_of_three]
    with pytest.raises(Invalid) as refused:
        services.record_group_delivery(spring_round, family.group, date(2011, 4, 12), rows,
                                       by=family.facilitator)
    assert "at least one member" in refused.value.errors["rows"][0]
