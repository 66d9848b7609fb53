"""Memberships through the API: listed in the user's districts, joined, an office given, a
leaving recorded; an ended membership and another district's member are refused, and a
refusal changes nothing."""
from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from shg.extensions import db
from shg.registry.models import Membership
from tests.registry.test_api import assert_refused

API = "/api/v1/memberships"


@pytest.fixture
def world(create_user, create_village, create_group, create_member, api_token):
    village = create_village(name="Лебединовка")
    group = create_group(village, name="Ынтымак", formed_on=date(2019, 1, 10))
    second = create_group(village, name="Береке", formed_on=date(2019, 1, 10))
    aigul = create_member(group, full_name="Айгуль Токтогулова", joined_on=date(2020, 2, 1))
    other = create_member(create_group(create_village(name="Чапаево")), full_name="Жаңыл")
    facilitator = create_user("facilitator", districts=[village.district])
    db.session.commit()
    return SimpleNamespace(group=group, second=second, aigul=aigul, other=other,
                           headers=api_token(facilitator),
                           viewer_headers=api_token(create_user("viewer")))


def rows() -> list[tuple]:
    db.session.rollback()
    return [(m.member_id, m.group_id, m.joined_on, m.left_on, m.office)
            for m in db.session.scalars(select(Membership).order_by(Membership.id))]


def test_memberships_are_listed_in_the_users_districts_only(client, world):
    response = client.get(API, headers=world.headers)
    assert response.status_code == 200
    assert [(m["full_name"], m["group_name"]) for m in response.get_json()] == \
        [("Айгуль Токтогулова", "Ынтымак")]
    assert json.loads(response.headers["X-Pagination"])["total"] == 1
    everyone = client.get(API, headers=world.viewer_headers).get_json()
    assert {m["member_id"] for m in everyone} == {world.aigul.id, world.other.id}
    other = world.other.memberships[0].id
    assert client.get(f"{API}/{other}", headers=world.headers).status_code == 403
    assert client.get(f"{API}/{other}", headers=world.viewer_headers).status_code == 200


def test_office_is_given_and_the_leaving_recorded_on_the_current_membership(client, world):
    membership = world.aigul.memberships[0].id
    response = client.patch(f"{API}/{membership}", json={"office": "treasurer"},
                            headers=world.headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["office"] == "treasurer"
    response = client.patch(f"{API}/{membership}", headers=world.headers,
                            json={"left_on": "2024-05-01", "left_reason": "Уехала в Бишкек"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["left_on"], body["left_reason"], body["office"]) == \
        ("2024-05-01", "Уехала в Бишкек", None)
    ended = client.get(API, query_string={"active": "false"}, headers=world.headers).get_json()
    assert [m["id"] for m in ended] == [membership]


def test_an_ended_membership_is_kept_as_it_was(client, world):
    membership = world.aigul.memberships[0].id
    client.patch(f"{API}/{membership}", json={"left_on": "2024-05-01"}, headers=world.headers)
    before = rows()
    response = client.patch(f"{API}/{membership}", json={"office": "leader"},
                            headers=world.headers)
    assert_refused(response, "_schema", "ended")
    assert rows() == before


def test_she_joins_another_group_after_leaving_and_not_before(client, world):
    body = {"member_id": world.aigul.id, "group_id": world.second.id, "joined_on": "2024-06-01"}
    before = rows()
    assert_refused(client.post(API, json=body, headers=world.headers), "group_id", "Ынтымак")
    assert rows() == before
    client.patch(f"{API}/{world.aigul.memberships[0].id}", json={"left_on": "2024-05-01"},
                 headers=world.headers)
    response = client.post(API, json=body, headers=world.headers)
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["group_id"], response.get_json()["joined_on"]) == \
        (world.second.id, "2024-06-01")
    assert rows()[-1] == (world.aigul.id, world.second.id, date(2024, 6, 1), None, None)


def test_a_member_out_of_reach_is_refused_beside_her_field(client, world):
    before = rows()
    response = client.post(API, headers=world.headers,
                           json={"member_id": world.other.id, "group_id": world.second.id})
    assert_refused(response, "member_id")
    assert_refused(client.post(API, headers=world.headers,
                               json={"member_id": 2 ** 31 - 1, "group_id": world.second.id}),
                   "member_id")
    assert rows() == before


def test_a_leaving_reason_without_its_date_is_refused(client, world):
    before = rows()
    response = client.patch(f"{API}/{world.aigul.memberships[0].id}",
                            json={"left_reason": "Уехала"}, headers=world.headers)
    assert_refused(response, "left_on")
    assert rows() == before
