"""The loans JSON API: products, lenders, a loan's whole life, refusals that change nothing,
district and role access, the worklist, the portfolio, credit history and the document."""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from loans import credit, portfolio, services
from loans.models import Allocation, Installment, Lender, Loan, LoanProduct, Repayment
from shg.errors import Invalid
from shg.extensions import db
from shg.timeutil import today
from tests.registry.test_api import assert_refused

API = "/api/v1"
D = Decimal
TABLES = (Loan, Installment, Repayment, Allocation, LoanProduct, Lender)


@pytest.fixture
def world(create_user, create_village, create_group, create_member, create_product, api_token):
    """A loan officer's district with a group, a borrower and a product; another district
    out of her reach with a member of its own."""
    village = create_village(name="Лебединовка")
    group = create_group(village, name="Ынтымак")
    aigul = create_member(group, full_name="Айгуль Токтогулова", phone="+996555123456")
    other_village = create_village(name="Чапаево")
    stranger = create_member(create_group(other_village, name="Береке"),
                             full_name="Жаңыл Асанова")
    product = create_product(name="Теплица-12", method="flat", rate=D("24"), installments=12)
    lender = Lender(name="МФК Бай-Түшүм", kind="mfi")
    db.session.add(lender)
    officer = create_user("loan_officer", districts=[village.district])
    admin = create_user("admin")
    viewer = create_user("viewer")
    db.session.commit()
    return SimpleNamespace(
        village=village, district=village.district, group=group, aigul=aigul,
        other_village=other_village, stranger=stranger, product=product, lender=lender,
        officer=officer, admin=admin, headers=api_token(officer),
        admin_headers=api_token(admin), viewer_headers=api_token(viewer))


def counts() -> dict[str, int]:
    """Rows per loans table, as committed."""
    db.session.rollback()
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in TABLES}


def paid_columns(loan_id: int) -> list[tuple]:
    db.session.rollback()
    return [(i.version, i.number, i.principal_paid, i.interest_paid, i.fee_paid, i.penalty_paid,
             i.paid_on) for i in db.session.scalars(
        select(Installment).where(Installment.loan_id == loan_id)
        .order_by(Installment.version, Installment.number))]


def apply_body(w, **changes) -> dict:
    body = {"member_id": w.aigul.id, "product_id": w.product.id, "lender_id": w.lender.id,
            "principal": "12000.00", "purpose": "Теплица для томатов",
            "applied_on": "2024-01-05"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def allocations(repayment_json) -> list[tuple]:
    return [(a["number"], a["component"], a["amount"]) for a in repayment_json["allocations"]]


# ---------------------------------------------------------------- tokens and the document


def test_loan_endpoints_need_a_token(client):
    for path in ("/loans", "/loans/1", "/loans/1/repayments", "/loans/overdue", "/portfolio",
                 "/loan-products", "/lenders", "/members/1/credit-history", "/repayments/1"):
        assert client.get(API + path).status_code == 401, path
    for path in ("/loans", "/loans/preview", "/loans/1/repayments", "/loans/1/approve",
                 "/repayments/1/reverse", "/loan-products", "/lenders"):
        response = client.post(API + path, json={})
        assert response.status_code == 401 and "token" in response.get_json()["message"], path


def test_openapi_lists_the_loan_paths(client):
    spec = client.get(API + "/openapi.json").get_json()
    paths = spec["paths"]
    expected = {
        "/loans": {"get", "post"}, "/loans/preview": {"post"}, "/loans/overdue": {"get"},
        "/loans/{loan_id}": {"get"}, "/loans/{loan_id}/approve": {"post"},
        "/loans/{loan_id}/disburse": {"post"}, "/loans/{loan_id}/repayments": {"get", "post"},
        "/loans/{loan_id}/write-off": {"post"}, "/loans/{loan_id}/reschedule": {"post"},
        "/repayments/{repayment_id}/reverse": {"post"}, "/repayments/{repayment_id}": {"get"},
        "/members/{member_id}/credit-history": {"get"}, "/portfolio": {"get"},
        "/loan-products": {"get", "post"}, "/loan-products/{product_id}": {"get", "patch"},
        "/lenders": {"get", "post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[API + path]), path
    post = paths[API + "/loans/{loan_id}/repayments"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert {"201", "403", "404", "422"} <= set(post["responses"])
    listing = paths[API + "/loans"]["get"]
    assert {"page", "page_size", "status", "member_id", "group_id", "village_id",
            "district_id"} <= {p["name"] for p in listing["parameters"]}
    schemas = spec["components"]["schemas"]
    assert schemas["LoanIn"]["additionalProperties"] is False
    assert schemas["RepaymentIn"]["properties"]["amount"]["format"] == "decimal"
    assert schemas["Position"]["properties"]["bucket"]["enum"] == [
        "current", "1-30", "31-60", "61-90", "90+"]


# ---------------------------------------------------------------- lenders and products


def test_lenders_are_listed_and_recorded_by_the_project_office(client, world):
    listed = client.get(API + "/lenders", headers=world.headers)
    assert [lender["name"] for lender in listed.get_json()] == ["МФК Бай-Түшүм"]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    before = counts()
    body = {"name": "Банк Компаньон", "kind": "bank"}
    assert client.post(API + "/lenders", json=body, headers=world.headers).status_code == 403
    assert_refused(client.post(API + "/lenders", json={"name": "МФК Бай-Түшүм", "kind": "mfi"},
                               headers=world.admin_headers), "name", "already")
    assert_refused(client.post(API + "/lenders", json={"name": "X", "kind": "pawnshop"},
                               headers=world.admin_headers), "kind")
    assert_refused(client.post(API + "/lenders", json={**body, "colour": "red"},
                               headers=world.admin_headers), "colour")
    assert counts() == before
    created = client.post(API + "/lenders", json=body, headers=world.admin_headers)
    assert created.status_code == 201
    assert created.get_json() == {"id": created.get_json()["id"], **body}


def product_body(**changes) -> dict:
    body = {"name": "Урожай-6", "method": "flat", "rate": "2", "rate_period": "month",
            "frequency": "month", "installments": 6, "penalty_method": "percent",
            "penalty_rate": "0.5", "penalty_grace_days": 3,
            "allocation_order": "penalty,fee,interest,principal"}
    body.update(changes)
    return body


def test_products_are_set_up_read_and_changed_by_the_project_office(client, world):
    created = client.post(API + "/loan-products", json=product_body(),
                          headers=world.admin_headers)
    assert created.status_code == 201, created.get_json()
    product = created.get_json()
    assert product["rate"] == "2.00" and product["penalty_rate"] == "0.50"
    assert product["installments"] == 6 and product["is_active"] is True
    assert product["grace_on_principal"] == 0 and product["in_multiples_of"] is None
    path = f"{API}/loan-products/{product['id']}"
    assert client.get(path, headers=world.headers).get_json() == product
    changed = client.patch(path, json={"rate": "1.875", "is_active": False},
                           headers=world.admin_headers)
    assert changed.status_code == 200
    assert changed.get_json() == {**product, "rate": "1.875", "is_active": False}
    names = [p["name"] for p in client.get(API + "/loan-products", headers=world.headers)
             .get_json()]
    assert names == ["Теплица-12", "Урожай-6"]
    # an officer reads products but does not set them up
    before = counts()
    assert client.post(API + "/loan-products", json=product_body(name="X"),
                       headers=world.headers).status_code == 403
    assert client.patch(path, json={"rate": "3"}, headers=world.headers).status_code == 403
    assert client.get(API + "/loan-products/999999", headers=world.headers).status_code == 404
    assert counts() == before


def test_bad_product_terms_are_refused_beside_their_field(client, world):
    before = counts()
    cases = [
        ({"rate": "101"}, "rate", "100%"),                      # over 100 % a month
        ({"rate": "1300", "rate_period": "year"}, "rate", "100%"),
        ({"rate": "2.00001"}, "rate", "four decimal places"),
        ({"installments": 0}, "installments", "at least one"),
        ({"grace_on_principal": 6}, "grace_on_principal", "shorter than the loan"),
        ({"method": "compound"}, "method", "flat"),
        ({"penalty_rate": "150"}, "penalty_rate", "100"),
        ({"allocation_order": "principal,interest"}, "allocation_order", "once each"),
        ({"name": ""}, "name", "required"),
        ({"balloon_month": 13}, "balloon_month", "1 to 12"),
        ({"bonus": True}, "bonus", "not part of the record"),
    ]
    for change, field, words in cases:
        response = client.post(API + "/loan-products", json=product_body(**change),
                               headers=world.admin_headers)
        assert_refused(response, field, words)
    assert counts() == before
    path = f"{API}/loan-products/{world.product.id}"
    assert_refused(client.patch(path, json={"installments": 0}, headers=world.admin_headers),
                   "installments")
    assert client.get(path, headers=world.headers).get_json()["installments"] == 12


# ---------------------------------------------------------------- the whole life


def test_whole_life_of_a_loan_through_the_api(client, world):
    h = world.headers
    applied = client.post(API + "/loans", json=apply_body(world), headers=h)
    assert applied.status_code == 201, applied.get_json()
    loan = applied.get_json()
    assert loan["status"] == "applied" and loan["currency"] == "KGS"
    assert loan["member_name"] == "Айгуль Токтогулова" and loan["lender_name"] == "МФК Бай-Түшүм"
    assert loan["terms"]["rate"] == "24.00" and loan["terms"]["installments"] == 12
    assert loan["schedule"] == [] and loan["principal"] == "12000.00"
    path = f"{API}/loans/{loan['id']}"

    approved = client.post(path + "/approve", json={"approved_on": "2024-01-08"}, headers=h)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    disbursed = client.post(path + "/disburse", json={"disbursed_on": "2024-01-10"}, headers=h)
    assert disbursed.status_code == 200
    loan = disbursed.get_json()
    assert loan["status"] == "disbursed" and loan["disbursed_on"] == "2024-01-10"
    assert len(loan["schedule"]) == 12 and loan["older_versions"] == []
    first = loan["schedule"][0]
    assert (first["number"], first["due_on"], first["principal"], first["interest"],
            first["total"], first["principal_paid"], first["paid_on"]) == (
        1, "2024-02-10", "1000.00", "240.00", "1240.00", "0.00", None)
    assert loan["outstanding_principal"] == "12000.00"

    one = client.post(path + "/repayments", json={"paid_on": "2024-02-10", "amount": "1240.00",
                                                  "receipt_no": "A-1"}, headers=h)
    assert one.status_code == 201
    assert allocations(one.get_json()) == [(1, "interest", "240.00"), (1, "principal", "1000.00")]
    two = client.post(path + "/repayments", json={"paid_on": "2024-03-10", "amount": "1500",
                                                  "receipt_no": "A-2"}, headers=h)
    assert two.status_code == 201 and two.get_json()["amount"] == "1500.00"
    assert allocations(two.get_json()) == [
        (2, "interest", "240.00"), (2, "principal", "1000.00"),
        (3, "interest", "240.00"), (3, "principal", "20.00")]

    late = client.get(path + "?as_of=2024-04-20", headers=h).get_json()
    assert late["position"] == {
        "as_of": "2024-04-20", "days_past_due": 10, "oldest_late_due_on": "2024-04-10",
        "bucket": "1-30", "arrears": "980.00", "arrears_principal": "980.00",
        "arrears_interest": "0.00", "arrears_fee": "0.00", "penalty_due": "0.00",
        "outstanding_principal": "9980.00"}
    third = late["schedule"][2]
    assert (third["principal_paid"], third["interest_paid"], third["paid"], third["owed"],
            third["paid_on"]) == ("20.00", "240.00", "260.00", "980.00", None)
    assert late["schedule"][0]["paid_on"] == "2024-02-10"
    on_time = client.get(path + "?as_of=2024-04-01", headers=h).get_json()["position"]
    assert on_time["days_past_due"] == 0 and on_time["bucket"] == "current"

    listed = client.get(path + "/repayments", headers=h)
    assert [r["receipt_no"] for r in listed.get_json()] == ["A-1", "A-2"]
    assert [allocations(r) for r in listed.get_json()] == [allocations(one.get_json()),
                                                           allocations(two.get_json())]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 2

    wrong = two.get_json()["id"]
    reversed_ = client.post(f"{API}/repayments/{wrong}/reverse",
                            json={"reason": "Ошибка кассира"}, headers=h)
    assert reversed_.status_code == 200
    assert reversed_.get_json()["is_reversed"] and reversed_.get_json()["reversal_reason"]
    assert_refused(client.post(f"{API}/repayments/{wrong}/reverse", json={"reason": "снова"},
                               headers=h), "repayment", "already")
    assert client.get(path, headers=h).get_json()["outstanding_principal"] == "11000.00"

    # she pays the rest late, all at once: 14,880 in all, 1,240 paid
    assert_refused(client.post(path + "/repayments", json={"paid_on": "2024-12-10",
                                                           "amount": "13640.01"}, headers=h),
                   "amount", "13640.00")
    last = client.post(path + "/repayments", json={"paid_on": "2024-12-10",
                                                   "amount": "13640.00"}, headers=h)
    assert last.status_code == 201
    closed = client.get(path, headers=h).get_json()
    assert (closed["status"], closed["closed_on"], closed["outstanding_principal"],
            closed["last_paid_on"]) == ("closed", "2024-12-10", "0.00", "2024-12-10")
    assert all(i["owed"] == "0.00" for i in closed["schedule"])
    before = counts()
    assert_refused(client.post(path + "/repayments", json={"paid_on": "2024-12-11",
                                                           "amount": "1.00"}, headers=h), "loan")
    assert counts() == before

    history = client.get(f"{API}/members/{world.aigul.id}/credit-history", headers=h)
    assert history.status_code == 200
    record = history.get_json()
    assert record["member_name"] == "Айгуль Токтогулова"
    assert [r["loan"]["id"] for r in record["loans"]] == [loan["id"]]
    rows = record["loans"][0]["installments"]
    assert len(rows) == 12
    assert (rows[0]["due_on"], rows[0]["paid_on"], rows[0]["days_late"]) == (
        "2024-02-10", "2024-02-10", 0)
    late = (date(2024, 12, 10) - date(2024, 3, 10)).days
    assert (rows[1]["paid_on"], rows[1]["days_late"]) == ("2024-12-10", late)
    assert record["worst_days_past_due"] == late and record["current_arrears"] == "0.00"
    assert record["grade"] == "D" and "90 days" in record["grade_reason"]
    assert [r["grade"] for r in record["grade_rules"]] == ["D", "C", "B", "A"]


def test_bad_approvals_and_disbursements_are_refused(client, world):
    h = world.headers
    loan = client.post(API + "/loans", json=apply_body(world), headers=h).get_json()
    path = f"{API}/loans/{loan['id']}"
    before = counts()
    assert_refused(client.post(path + "/disburse", json={"disbursed_on": "2024-01-10"},
                               headers=h), "status", "Not possible")
    assert_refused(client.post(path + "/approve", json={"approved_on": "2024-01-01"},
                               headers=h), "approved_on")
    tomorrow = (today() + timedelta(days=2)).isoformat()
    assert_refused(client.post(path + "/approve", json={"approved_on": tomorrow}, headers=h),
                   "approved_on")
    assert client.post(path + "/approve", json={"approved_on": "2024-01-08"},
                       headers=h).status_code == 200
    for body, field in (({"disbursed_on": "2024-01-07"}, "disbursed_on"),
                        ({"disbursed_on": tomorrow}, "disbursed_on"),
                        ({"disbursed_on": "2024-01-10", "first_due_on": "2024-01-10"},
                         "first_due_on"),
                        ({"disbursed_on": "10.01.2024"}, "disbursed_on")):
        assert_refused(client.post(path + "/disburse", json=body, headers=h), field)
    assert counts() == before
    assert client.get(path, headers=h).get_json()["status"] == "approved"
    chosen = client.post(path + "/disburse", json={"disbursed_on": "2024-01-10",
                                                   "first_due_on": "2024-02-01"}, headers=h)
    assert chosen.get_json()["schedule"][0]["due_on"] == "2024-02-01"


def test_bad_applications_are_refused_and_nothing_is_saved(client, world, create_member):
    from shg.registry.models import Membership
    left = create_member(world.group, full_name="Гүлнара Өмүрбекова")
    db.session.scalar(select(Membership).where(Membership.member_id == left.id)).left_on = \
        date(2023, 6, 30)
    db.session.commit()
    tomorrow = (today() + timedelta(days=2)).isoformat()
    cases = [
        ({"principal": "0"}, "principal", "greater than zero"),
        ({"principal": "-100.00"}, "principal", "greater than zero"),
        ({"principal": "10.005"}, "principal", "two decimal places"),
        ({"rate": "101", "rate_period": "month"}, "rate", "100%"),
        ({"rate": "1300"}, "rate", "100%"),
        ({"installments": 0}, "installments", "at least one"),
        ({"grace_on_principal": 12}, "grace_on_principal", "shorter than the loan"),
        ({"installments": 6, "grace_on_principal": 9}, "grace_on_principal", "shorter"),
        ({"member_id": left.id}, "member_id", "left"),
        ({"member_id": world.stranger.id}, "member_id", "district"),
        ({"member_id": 999999}, "member_id", "borrower"),
        ({"product_id": 999999}, "product_id", "product"),
        ({"purpose": "  "}, "purpose", "for"),
        ({"applied_on": tomorrow}, "applied_on", "future"),
        ({"method": "compound"}, "method", "flat"),
        ({"penalty_rate": "5"}, "penalty_rate", "not part of the record"),
        ({"interest_free": True}, "interest_free", "not part of the record"),
    ]
    before = counts()
    for change, field, words in cases:
        response = client.post(API + "/loans", json=apply_body(world, **change),
                               headers=world.headers)
        assert_refused(response, field, words)
    missing = client.post(API + "/loans", json={"purpose": "x"}, headers=world.headers)
    assert {"member_id", "product_id", "lender_id", "principal"} <= set(
        missing.get_json()["errors"]["json"])
    # a viewer reads loans but applies for none
    assert_refused(client.post(API + "/loans", json=apply_body(world),
                               headers=world.viewer_headers), "member_id")
    assert counts() == before


@pytest.fixture
def small_loan(create_loan, world):
    """1,200 over three months, 12 % a year flat: 412 a month, 1,236 in all."""
    loan = create_loan(member=world.aigul, principal=D("1200.00"), installments=3,
                       rate=D("12"))
    db.session.commit()
    return loan


def test_bad_repayments_are_refused_and_nothing_changes(client, world, small_loan,
                                                        create_loan):
    path = f"{API}/loans/{small_loan.id}/repayments"
    h = world.headers
    assert client.post(path, json={"paid_on": "2024-02-10", "amount": "412.00"},
                       headers=h).status_code == 201
    before, columns = counts(), paid_columns(small_loan.id)
    tomorrow = (today() + timedelta(days=2)).isoformat()
    cases = [
        ({"paid_on": "2024-03-01", "amount": "0"}, "amount", "greater than zero"),
        ({"paid_on": "2024-03-01", "amount": "-5.00"}, "amount", "greater than zero"),
        ({"paid_on": "2024-03-01", "amount": "1.001"}, "amount", "two decimal places"),
        ({"paid_on": "2024-03-01", "amount": "сто"}, "amount", "150.50"),
        ({"paid_on": "2024-03-01", "amount": "824.01"}, "amount", "824.00"),  # overpayment
        ({"paid_on": "2024-01-09", "amount": "10.00"}, "paid_on"),  # before the disbursement
        ({"paid_on": tomorrow, "amount": "10.00"}, "paid_on", "future"),
        ({"amount": "10.00"}, "paid_on", "date"),
        ({"paid_on": "2024-03-01"}, "amount", "greater than zero"),
        ({"paid_on": "2024-03-01", "amount": "10.00", "cash": True}, "cash", "not part"),
    ]
    for body, field, *words in cases:
        assert_refused(client.post(path, json=body, headers=h), field, *words)
    assert counts() == before and paid_columns(small_loan.id) == columns

    applied = create_loan(member=world.aigul, status="applied")
    db.session.commit()
    assert_refused(client.post(f"{API}/loans/{applied.id}/repayments",
                               json={"paid_on": "2024-03-01", "amount": "10.00"}, headers=h),
                   "loan", "disbursed")
    assert client.post(path, json={"paid_on": "2024-04-10", "amount": "824.00"},
                       headers=h).status_code == 201
    before, columns = counts(), paid_columns(small_loan.id)
    assert_refused(client.post(path, json={"paid_on": "2024-04-11", "amount": "10.00"},
                               headers=h), "loan", "closed")
    assert counts() == before and paid_columns(small_loan.id) == columns


def test_idempotency_key_on_a_repayment_records_it_once(client, world, small_loan):
    path = f"{API}/loans/{small_loan.id}/repayments"
    keyed = {**world.headers, "Idempotency-Key": "7d1e-receipt-A-17"}
    body = {"paid_on": "2024-02-10", "amount": "412.00", "receipt_no": "A-17"}
    first = client.post(path, json=body, headers=keyed)
    again = client.post(path, json=body, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts()["Repayment"] == 1
    assert client.get(f"{API}/loans/{small_loan.id}", headers=world.headers).get_json()[
        "outstanding_principal"] == "800.00"
    # the same key for another request is refused; a new key records a new payment
    other = client.post(path, json=body, headers={**keyed, "Idempotency-Key": "7d1e-receipt-A-18"})
    assert other.status_code == 201 and counts()["Repayment"] == 2
    assert client.post(f"{API}/loans/{small_loan.id}/approve", json={},
                       headers=keyed).status_code == 422


# ---------------------------------------------------------------- reschedule and write-off


def test_reschedule_through_the_api_keeps_the_old_schedule(client, world, create_loan):
    loan = create_loan(member=world.aigul, product=world.product)
    services.post_repayment(loan, D("1240.00"), date(2024, 2, 10), by=world.admin)
    db.session.commit()
    path = f"{API}/loans/{loan.id}/reschedule"
    before = counts()
    assert_refused(client.post(path, json={"rescheduled_on": "2024-02-01", "installments": 6},
                               headers=world.headers), "rescheduled_on")
    assert_refused(client.post(path, json={"rescheduled_on": "2024-04-01", "installments": 0},
                               headers=world.headers), "installments")
    assert counts() == before
    done = client.post(path, json={"rescheduled_on": "2024-04-01", "installments": 6},
                       headers=world.headers)
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["schedule_version"] == 2 and body["restructured"] is True
    assert len(body["schedule"]) == 6
    assert sum(D(i["principal"]) for i in body["schedule"]) == D("11000.00")
    # March's unpaid 240 of interest is carried to the first new installment
    assert D(body["schedule"][0]["interest"]) - D(body["schedule"][1]["interest"]) == D("240")
    [old] = body["older_versions"]
    assert (old["version"], old["in_force_from"], old["superseded_on"]) == (
        1, "2024-01-10", "2024-04-01")
    assert len(old["installments"]) == 12 and old["installments"][0]["paid_on"] == "2024-02-10"


def test_write_off_through_the_api(client, world, create_loan):
    loan = create_loan(member=world.aigul, product=world.product)
    db.session.commit()
    path = f"{API}/loans/{loan.id}"
    before = counts()
    assert_refused(client.post(path + "/write-off", json={"written_off_on": "2024-06-01",
                                                          "reason": "  "},
                               headers=world.headers), "reason")
    assert_refused(client.post(path + "/write-off", json={"written_off_on": "2024-06-01"},
                               headers=world.headers), "reason")
    assert_refused(client.post(path + "/write-off", json={"written_off_on": "2023-06-01",
                                                          "reason": "Уехала"},
                               headers=world.headers), "written_off_on")
    assert counts() == before
    done = client.post(path + "/write-off", json={"written_off_on": "2024-06-01",
                                                  "reason": "Уехала в Россию"},
                       headers=world.headers)
    assert done.status_code == 200
    assert (done.get_json()["status"], done.get_json()["written_off_on"],
            done.get_json()["write_off_reason"]) == ("written_off", "2024-06-01",
                                                     "Уехала в Россию")
    assert_refused(client.post(path + "/repayments", json={"paid_on": "2024-06-02",
                                                           "amount": "10.00"},
                               headers=world.headers), "loan")
    assert_refused(client.post(path + "/write-off", json={"reason": "again"},
                               headers=world.headers), "status")


# ---------------------------------------------------------------- preview


def test_preview_gives_the_schedule_and_saves_nothing(client, world):
    before = counts()
    body = {"product_id": world.product.id, "principal": "12000", "disbursed_on": "2024-01-10"}
    response = client.post(API + "/loans/preview", json=body, headers=world.viewer_headers)
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert (preview["principal"], preview["total_interest"], preview["total"]) == (
        "12000.00", "2880.00", "14880.00")
    lines = preview["installments"]
    assert len(lines) == 12
    first = lines[0]
    assert (first["due_on"], first["principal"], first["interest"], first["total"],
            first["balance_after"]) == ("2024-02-10", "1000.00", "240.00", "1240.00", "11000.00")
    assert lines[-1]["balance_after"] == "0.00"
    changed = client.post(API + "/loans/preview", headers=world.headers, json={
        **body, "method": "declining_equal_installments", "installments": 6,
        "first_due_on": "2024-03-01", "grace_on_principal": 1}).get_json()
    assert [line["due_on"] for line in changed["installments"]][:2] == ["2024-03-01", "2024-04-01"]
    assert changed["installments"][0]["principal"] == "0.00"
    assert sum(D(line["principal"]) for line in changed["installments"]) == D("12000.00")
    cases = [
        ({"principal": "0"}, "principal", "greater than zero"),
        ({"principal": "-1"}, "principal", "greater than zero"),
        ({"rate": "101", "rate_period": "month"}, "rate", "100%"),
        ({"installments": 0}, "installments", "at least one"),
        ({"grace_on_principal": 12}, "grace_on_principal", "shorter"),
        ({"product_id": 999999}, "product_id", "product"),
        ({"first_due_on": "2024-01-05"}, "first_due_on", "after the disbursement"),
        ({"member_id": world.aigul.id}, "member_id", "not part of the record"),
    ]
    for change, field, words in cases:
        assert_refused(client.post(API + "/loans/preview", json={**body, **change},
                                   headers=world.headers), field, words)
    assert counts() == before


# ---------------------------------------------------------------- access


def test_loan_of_another_district_answers_403_on_read_and_change(client, world, create_loan):
    loan = create_loan(member=world.stranger, product=world.product)
    payment = services.post_repayment(loan, D("1240.00"), date(2024, 2, 10), by=world.admin)
    applied = create_loan(member=world.stranger, product=world.product, status="applied")
    db.session.commit()
    h = world.headers
    path = f"{API}/loans/{loan.id}"
    before, columns = counts(), paid_columns(loan.id)
    for url in (path, path + "/repayments", f"{API}/repayments/{payment.id}",
                f"{API}/members/{world.stranger.id}/credit-history"):
        response = client.get(url, headers=h)
        assert response.status_code == 403, url
        assert "district" in response.get_json()["message"], url
    for url, body in ((path + "/repayments", {"paid_on": "2024-03-10", "amount": "10.00"}),
                      (path + "/write-off", {"reason": "x"}),
                      (path + "/reschedule", {"installments": 6}),
                      (f"{API}/loans/{applied.id}/approve", {}),
                      (f"{API}/repayments/{payment.id}/reverse", {"reason": "x"})):
        assert client.post(url, json=body, headers=h).status_code == 403, url
    assert counts() == before and paid_columns(loan.id) == columns
    # the viewer reads everything and changes nothing; the project office does both
    assert client.get(path, headers=world.viewer_headers).status_code == 200
    assert client.post(path + "/repayments", json={"paid_on": "2024-03-10", "amount": "10.00"},
                       headers=world.viewer_headers).status_code == 403
    assert client.post(path + "/repayments", json={"paid_on": "2024-03-10", "amount": "10.00"},
                       headers=world.admin_headers).status_code == 201
    assert client.get(f"{API}/loans/999999", headers=h).status_code == 404
    assert client.post(f"{API}/loans/999999/repayments", json={
        "paid_on": "2024-03-10", "amount": "10.00"}, headers=h).status_code == 404
    assert client.get(f"{API}/members/999999/credit-history", headers=h).status_code == 404


def test_loan_list_filters_paginates_and_shows_only_reachable_districts(
        client, world, create_loan, create_member, create_group):
    other_group = create_group(world.village, name="Айкөл")
    neighbour = create_member(other_group, full_name="Нургүл Бекова")
    mine = create_loan(member=world.aigul, product=world.product)
    applied = create_loan(member=neighbour, product=world.product, status="applied",
                          disbursed_on=date(2024, 5, 1))
    theirs = create_loan(member=world.stranger, product=world.product)
    db.session.commit()

    def ids(query="", headers=world.headers):
        response = client.get(API + "/loans" + query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return [loan["id"] for loan in response.get_json()]

    assert ids() == [applied.id, mine.id]  # newest application first
    assert ids(headers=world.admin_headers) == [applied.id, theirs.id, mine.id]
    assert ids("?status=applied") == [applied.id]
    assert ids(f"?member_id={world.aigul.id}") == [mine.id]
    assert ids(f"?group_id={other_group.id}") == [applied.id]
    assert ids(f"?village_id={world.village.id}") == [applied.id, mine.id]
    assert ids(f"?district_id={world.district.id}") == [applied.id, mine.id]
    assert ids(f"?district_id={world.other_village.district_id}") == []
    first = client.get(API + "/loans?page_size=1", headers=world.headers)
    assert json.loads(first.headers["X-Pagination"])["total_pages"] == 2
    assert [loan["id"] for loan in first.get_json()] == [applied.id]
    row = client.get(API + "/loans?page=2&page_size=1", headers=world.headers).get_json()[0]
    assert (row["member_name"], row["group_name"], row["village_id"], row["district_id"],
            row["outstanding_principal"]) == ("Айгуль Токтогулова", "Ынтымак", world.village.id,
                                              world.district.id, "12000.00")
    bad = client.get(API + "/loans?status=lost", headers=world.headers)
    assert bad.status_code == 422 and "status" in bad.get_json()["errors"]["query"]


# ---------------------------------------------------------------- the worklist


def test_overdue_worklist_lists_loans_in_arrears_longest_late_first(
        client, world, create_loan, create_member):
    now = today()
    neighbour = create_member(world.group, full_name="Гүлнара Өмүрбекова", phone="+996700111222")
    older = create_loan(member=world.aigul, product=world.product,
                        disbursed_on=now - timedelta(days=75))
    newer = create_loan(member=neighbour, product=world.product,
                        disbursed_on=now - timedelta(days=40))
    create_loan(member=neighbour, product=world.product, disbursed_on=now - timedelta(days=5))
    create_loan(member=world.stranger, product=world.product,
                disbursed_on=now - timedelta(days=75))
    services.post_repayment(older, D("500.00"), now - timedelta(days=1), by=world.admin)
    db.session.commit()
    response = client.get(API + "/loans/overdue", headers=world.headers)
    assert response.status_code == 200, response.get_json()
    rows = response.get_json()
    assert [r["loan_id"] for r in rows] == [older.id, newer.id]
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    first = rows[0]
    due = [i.due_on for i in older.schedule if i.due_on < now]  # one or two, by the month
    arrears = D("1240.00") * len(due) - D("500.00")
    assert (first["member_name"], first["phone"], first["days_past_due"], first["arrears"],
            first["penalty_due"], first["last_paid_on"], first["bucket"]) == (
        "Айгуль Токтогулова", "+996555123456", (now - due[0]).days, str(arrears), "0.00",
        (now - timedelta(days=1)).isoformat(), "31-60")
    assert rows[1]["phone"] == "+996700111222" and rows[1]["last_paid_on"] is None
    assert rows[1]["bucket"] == "1-30"
    assert [r["loan_id"] for r in client.get(API + "/loans/overdue?bucket=1-30",
                                             headers=world.headers).get_json()] == [newer.id]
    assert client.get(API + "/loans/overdue?bucket=90%2B",
                      headers=world.headers).get_json() == []
    assert client.get(f"{API}/loans/overdue?village_id={world.other_village.id}",
                      headers=world.headers).get_json() == []
    admin_rows = client.get(API + "/loans/overdue", headers=world.admin_headers).get_json()
    assert len(admin_rows) == 3
    bad = client.get(API + "/loans/overdue?bucket=late", headers=world.headers)
    assert bad.status_code == 422 and "bucket" in bad.get_json()["errors"]["query"]


# ---------------------------------------------------------------- portfolio


def test_portfolio_gives_par30_buckets_rates_and_gender_per_currency(
        client, world, create_loan, create_member, create_product, create_village,
        create_group):
    gafur = create_member(world.group, full_name="Ҷӯраев Ғафур", gender="male")
    six = create_product(installments=6, rate=D("24"))
    aigul_loan = create_loan(member=world.aigul, product=world.product)
    create_loan(member=gafur, product=six, principal=D("6000.00"))
    lost = create_loan(member=world.aigul, product=world.product, principal=D("3000.00"))
    tajik = create_member(create_group(create_village(country_code="TJ")))
    create_loan(member=tajik, product=world.product, principal=D("5000.00"))
    services.post_repayment(aigul_loan, D("1240.00"), date(2024, 2, 10), by=world.admin)
    services.write_off(lost, date(2024, 3, 1), "Уехала", by=world.admin)
    db.session.commit()

    response = client.get(API + "/portfolio?as_of=2024-03-20", headers=world.headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["as_of"] == "2024-03-20" and body["period_start"] is None
    [kgs] = body["currencies"]  # the Tajik loan is out of her reach
    assert kgs["currency"] == "KGS"
    assert (kgs["disbursed_count"], kgs["disbursed_amount"]) == (3, "21000.00")
    assert kgs["disbursed_by_gender"] == {"female": {"count": 2, "amount": "15000.00"},
                                          "male": {"count": 1, "amount": "6000.00"}}
    # Aigul: 1,240 paid on time, March's 1,240 unpaid (10 days); Gafur: nothing paid (39 days)
    assert (kgs["active_loans"], kgs["gross_outstanding"], kgs["at_risk_30"]) == (
        2, "17000.00", "6000.00")
    assert kgs["par30"] == "0.3529"
    assert kgs["buckets"]["current"] == {"loans": 0, "outstanding_principal": "0.00"}
    assert kgs["buckets"]["1-30"] == {"loans": 1, "outstanding_principal": "11000.00"}
    assert kgs["buckets"]["31-60"] == {"loans": 1, "outstanding_principal": "6000.00"}
    assert (kgs["fallen_due"], kgs["paid_on_time"], kgs["paid"]) == (
        "4720.00", "1240.00", "1240.00")
    assert kgs["on_time_rate"] == kgs["collection_rate"] == "0.2627"
    assert (kgs["written_off_count"], kgs["written_off_amount"]) == (1, "3000.00")

    everything = client.get(API + "/portfolio?as_of=2024-03-20",
                            headers=world.admin_headers).get_json()
    assert [c["currency"] for c in everything["currencies"]] == ["KGS", "TJS"]
    tjs = client.get(API + f"/portfolio?as_of=2024-03-20&district_id="
                           f"{tajik.household.village.district_id}",
                     headers=world.admin_headers).get_json()["currencies"]
    assert [(c["currency"], c["gross_outstanding"]) for c in tjs] == [("TJS", "5000.00")]
    period = client.get(API + "/portfolio?as_of=2024-03-20&period_start=2024-03-01",
                        headers=world.headers).get_json()
    assert period["period_start"] == "2024-03-01"
    assert period["currencies"][0]["disbursed_count"] == 0
    assert period["currencies"][0]["fallen_due"] == "2360.00"  # March: 1,240 + 1,120
    before = client.get(API + "/portfolio?as_of=2023-12-31", headers=world.headers).get_json()
    assert before["currencies"] == []
    bad = client.get(API + "/portfolio?as_of=yesterday", headers=world.headers)
    assert bad.status_code == 422 and "as_of" in bad.get_json()["errors"]["query"]


# ---------------------------------------------------------------- credit history


def test_credit_history_shows_every_installment_and_the_grade_with_its_rule(
        client, world, create_loan):
    loan = create_loan(member=world.aigul, product=world.product)
    services.post_repayment(loan, D("1240.00"), date(2024, 2, 10), by=world.admin)
    services.post_repayment(loan, D("1240.00"), date(2024, 3, 15), by=world.admin)
    db.session.commit()
    response = client.get(f"{API}/members/{world.aigul.id}/credit-history?as_of=2024-03-20",
                          headers=world.headers)
    assert response.status_code == 200, response.get_json()
    record = response.get_json()
    assert record["as_of"] == "2024-03-20" and record["member_id"] == world.aigul.id
    rows = record["loans"][0]["installments"]
    assert [(r["number"], r["due_on"], r["paid_on"], r["days_late"]) for r in rows[:3]] == [
        (1, "2024-02-10", "2024-02-10", 0), (2, "2024-03-10", "2024-03-15", 5),
        (3, "2024-04-10", None, 0)]
    assert rows[1]["paid_by_due_date"] == "0.00" and rows[1]["paid"] == "1240.00"
    assert (record["fallen_due"], record["paid_on_time"], record["on_time_rate"]) == (
        "2480.00", "1240.00", "0.5000")
    assert (record["worst_days_past_due"], record["current_days_past_due"],
            record["current_arrears"], record["written_off_count"]) == (5, 0, "0.00", 0)
    assert record["grade"] == "C" and "80 percent" in record["grade_reason"]
    assert record["loans"][0]["position"]["outstanding_principal"] == "10000.00"
    new = client.get(f"{API}/members/{world.aigul.id}/credit-history?as_of=2024-01-31",
                     headers=world.headers).get_json()
    assert new["grade"] is None and new["on_time_rate"] is None


# ---------------------------------------------------------------- bugs found in the services


@pytest.mark.parametrize("change, field", [({"in_multiples_of": "0"}, "in_multiples_of"),
                                           ({"grace_on_interest": 12}, "grace_on_interest")])
def test_schedule_refusal_lands_beside_the_field_sent(client, world, change, field):
    body = {"product_id": world.product.id, "principal": "12000", "disbursed_on": "2024-01-10",
            **change}
    assert_refused(client.post(API + "/loans/preview", json=body, headers=world.headers), field)


def test_application_with_an_impossible_allocation_order_or_penalty_is_refused(world):
    for change in ({"allocation_order": "penalty,fee,interest"},
                   {"penalty_method": "percent", "penalty_rate": D("500")}):
        data = {"member_id": world.aigul.id, "product_id": world.product.id,
                "lender_id": world.lender.id, "principal": D("1000.00"), "purpose": "Корова",
                "applied_on": date(2024, 1, 5), **change}
        with pytest.raises(Invalid):
            services.apply_for_loan(data, by=world.admin)
        db.session.rollback()


def test_payment_before_the_disbursement_is_refused_with_the_right_words(
        client, world, small_loan):
    assert_refused(client.post(f"{API}/loans/{small_loan.id}/repayments", headers=world.headers,
                               json={"paid_on": "2024-01-09", "amount": "10.00"}),
                   "paid_on", "paid out after")


def test_credit_history_before_a_write_off_counts_the_arrears_of_that_day(world, create_loan):
    loan = create_loan(member=world.aigul, product=world.product)
    services.write_off(loan, date(2024, 6, 1), "Уехала", by=world.admin)
    db.session.commit()
    as_of = date(2024, 5, 1)
    history = credit.credit_history(world.aigul.id, as_of)
    position = services.position(loan, as_of)
    assert position.arrears > 0
    assert history.current_arrears == position.arrears
    assert history.current_days_past_due == position.days_past_due


def test_overdue_query_refuses_an_earlier_day_rather_than_answer_wrongly(world, create_loan):
    loan = create_loan(member=world.aigul, product=world.product)
    services.post_repayment(loan, D("1240.00"), date(2024, 3, 1), by=world.admin)
    db.session.commit()
    assert services.position(loan, date(2024, 2, 20)).days_past_due == 10
    with pytest.raises(ValueError):
        portfolio.overdue_query(world.admin, as_of=date(2024, 2, 20))
