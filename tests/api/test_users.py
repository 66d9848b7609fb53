"""Users through the API: the project office lists, creates and changes them (roles,
districts, switched off), never sees a password; nobody else may."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from shg.accounts.models import User
from shg.accounts.services import authenticate
from shg.extensions import db
from tests.registry.test_api import assert_refused

API = "/api/v1/users"


@pytest.fixture
def world(create_user, create_village, api_token):
    district = create_village().district
    admin = create_user("admin", username="office")
    facilitator = create_user("facilitator", districts=[district], username="fac-1")
    db.session.commit()
    return SimpleNamespace(district=district, admin=admin, facilitator=facilitator,
                           headers=api_token(admin), fac_headers=api_token(facilitator))


def users() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(User.id)))


def test_project_office_creates_a_facilitator_with_her_district(client, world):
    response = client.post(API, headers=world.headers, json={
        "username": "fac-2", "full_name": "Гүлнара Өмүрбекова", "role": "facilitator",
        "locale": "ru", "password": "демо-пароль", "district_ids": [world.district.id]})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["district_ids"] == [world.district.id] and body["is_active"] is True
    assert "password" not in body and "password_hash" not in body
    assert authenticate("fac-2", "демо-пароль").full_name == "Гүлнара Өмүрбекова"
    listed = client.get(API, query_string={"role": "facilitator"}, headers=world.headers)
    assert [u["username"] for u in listed.get_json()] == ["fac-1", "fac-2"]


def test_a_user_is_switched_off_and_her_role_changed(client, world):
    path = f"{API}/{world.facilitator.id}"
    response = client.patch(path, json={"is_active": False, "role": "viewer"},
                            headers=world.headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["is_active"], response.get_json()["role"]) == (False, "viewer")
    assert response.get_json()["district_ids"] == []  # a viewer reads every district
    assert authenticate("fac-1", "secret-pass") is None
    assert client.get(path, headers=world.headers).get_json()["is_active"] is False


def test_only_the_project_office_reaches_users(client, world):
    assert client.get(API, headers=world.fac_headers).status_code == 403
    assert client.get(f"{API}/{world.admin.id}", headers=world.fac_headers).status_code == 403
    response = client.post(API, headers=world.fac_headers, json={
        "username": "me-too", "full_name": "X", "role": "admin", "password": "12345678"})
    assert response.status_code == 403
    assert users() == 2


@pytest.mark.parametrize("change, field", [
    ({"password": "short"}, "password"),
    ({"username": "FAC-1"}, "username"),
    ({"role": "superuser"}, "role"),
    ({"district_ids": [2147483647]}, "district_ids"),
])
def test_bad_users_are_refused_beside_the_field_and_nothing_is_saved(
        client, world, change, field):
    body = {"username": "fac-3", "full_name": "Бурул", "role": "facilitator",
            "password": "long-enough", **change}
    assert_refused(client.post(API, json=body, headers=world.headers), field)
    assert users() == 2
