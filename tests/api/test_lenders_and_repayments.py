"""Lenders are read and changed by the project office; repayments are listed across loans
in the user's districts, with their filters."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from loans import services
from loans.models import Lender
from shg.extensions import db
from tests.registry.test_api import assert_refused

API = "/api/v1"
D = Decimal


@pytest.fixture
def world(create_user, create_loan, create_member, create_group, create_village, api_token):
    """Two loans in an officer's district (one repayment reversed), one in another."""
    village = create_village(name="Лебединовка")
    group = create_group(village)
    first = create_loan(member=create_member(group, full_name="Айгуль"), installments=6)
    second = create_loan(member=create_member(group, full_name="Бурул"), installments=6)
    elsewhere = create_loan(installments=6)
    admin = create_user("admin")
    paid = [services.post_repayment(first, D("2240.00"), date(2024, 2, 10), by=admin),
            services.post_repayment(first, D("100.00"), date(2024, 3, 1), by=admin),
            services.post_repayment(second, D("500.00"), date(2024, 4, 5), by=admin),
            services.post_repayment(elsewhere, D("300.00"), date(2024, 2, 15), by=admin)]
    services.reverse_repayment(paid[1], "Ошибка кассира", by=admin)
    officer = create_user("loan_officer", districts=[village.district])
    db.session.commit()
    return SimpleNamespace(first=first, second=second, elsewhere=elsewhere, paid=paid,
                           lender=first.lender, headers=api_token(officer),
                           admin_headers=api_token(admin))


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [r["id"] for r in response.get_json()]


def test_repayments_are_listed_latest_first_in_the_users_districts(client, world):
    first, reversed_, second, elsewhere = (r.id for r in world.paid)
    response = client.get(API + "/repayments", headers=world.headers)
    assert ids(response) == [second, reversed_, first]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert ids(client.get(API + "/repayments", headers=world.admin_headers)) == \
        [second, reversed_, elsewhere, first]
    allocations = response.get_json()[2]["allocations"]
    assert sum(D(a["amount"]) for a in allocations) == D("2240.00")


@pytest.mark.parametrize("query, expected", [
    ({"loan_id": "first"}, ["reversed", "first"]),
    ({"reversed": "true"}, ["reversed"]),
    ({"reversed": "false"}, ["second", "first"]),
    ({"date_from": "2024-03-01", "date_to": "2024-03-31"}, ["reversed"]),
])
def test_repayment_list_filters(client, world, query, expected):
    named = dict(zip(["first", "reversed", "second", "elsewhere"], world.paid))
    query = {k: (str(world.first.id) if v == "first" else v) for k, v in query.items()}
    assert ids(client.get(API + "/repayments", query_string=query, headers=world.headers)) == \
        [named[name].id for name in expected]


def test_member_filter_of_another_district_finds_nothing(client, world):
    assert ids(client.get(API + "/repayments", headers=world.headers,
                          query_string={"member_id": world.elsewhere.member_id})) == []


def test_lender_is_read_and_renamed_by_the_project_office(client, world):
    path = f"{API}/lenders/{world.lender.id}"
    assert client.get(path, headers=world.headers).get_json()["name"] == world.lender.name
    response = client.patch(path, json={"name": "Бай-Түшүм Банк", "kind": "bank"},
                            headers=world.admin_headers)
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    lender = db.session.get(Lender, world.lender.id)
    assert (lender.name, lender.kind) == ("Бай-Түшүм Банк", "bank")


def test_lender_changes_are_refused_to_others_and_for_clashes(client, world):
    path = f"{API}/lenders/{world.lender.id}"
    before = [(x.id, x.name, x.kind) for x in db.session.scalars(select(Lender))]
    assert client.patch(path, json={"kind": "bank"}, headers=world.headers).status_code == 403
    clash = world.second.lender.name
    assert_refused(client.patch(path, json={"name": clash}, headers=world.admin_headers),
                   "name")
    assert_refused(client.patch(path, json={"kind": "pawnshop"}, headers=world.admin_headers),
                   "kind")
    assert client.get(f"{API}/lenders/2147483647", headers=world.headers).status_code == 404
    db.session.rollback()
    assert [(x.id, x.name, x.kind) for x in db.session.scalars(select(Lender))] == before
