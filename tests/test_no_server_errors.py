"""Bad input gets a clear message and changes nothing: never a 500.

Each test here is a request that a fuzzing pass (schemathesis on the API, garbage posted to
every HTML form) once found answering with an unhandled exception, kept so it never returns.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shg.extensions import db

HUGE_ID = "99999999999999999999"  # 20 digits: beyond SQLite's and PostgreSQL's bigint
BEYOND_PRECISION = "1" + "0" * 30  # more digits than the default decimal context's 28


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _refused_in_the_form(response):
    assert response.status_code == 200, response.status_code
    assert "invalid-feedback" in response.get_data(as_text=True)


def _product_form(**changes):
    data = {"name": "Урожай-2025", "method": "flat", "rate": "24", "rate_period": "year",
            "frequency": "month", "installments": "12", "grace_on_principal": "0",
            "grace_on_interest": "0", "balloon_month": "None", "balloon_interest": "interest_only",
            "day_count": "per_period", "in_multiples_of": "", "penalty_method": "none",
            "penalty_rate": "0", "penalty_amount": "0", "penalty_grace_days": "0",
            "allocation_order": "penalty,fee,interest,principal", "reminder_days_before": "3",
            "is_active": "y"}
    data.update(changes)
    return data


# ---------------------------------------------------------------- decimal fields of every form


@pytest.mark.parametrize("typed", [BEYOND_PRECISION, "1e400", "-1e400"])
def test_loan_product_rate_beyond_decimal_precision_is_refused_not_a_server_error(
        app, client, auth, create_user, typed):
    from loans.models import LoanProduct
    admin = create_user("admin")
    auth.login(admin)
    response = client.post("/loans/products/new", data=_product_form(rate=typed))
    _refused_in_the_form(response)
    assert count(LoanProduct) == 0


@pytest.mark.parametrize("typed", [BEYOND_PRECISION, "1e400"])
def test_meeting_savings_beyond_decimal_precision_is_refused_not_a_server_error(
        app, client, auth, create_group, create_member, create_user, typed):
    from shg.registry.models import Attendance, Meeting
    group = create_group()
    member = create_member(group)
    facilitator = create_user("facilitator", districts=[group.village.district])
    auth.login(facilitator)
    response = client.post(f"/groups/{group.id}/meetings/new", data={
        "held_on": "2024-03-06", "topics": "Сбережения", "decisions": "",
        f"status-{member.id}": "present", f"savings-{member.id}": typed})
    _refused_in_the_form(response)
    assert count(Meeting) == 0 and count(Attendance) == 0


@pytest.mark.parametrize("box", ["repay-\u00b2", "repay-" + HUGE_ID])
def test_meeting_repayment_box_of_no_loan_is_refused_not_a_server_error(
        app, client, auth, create_group, create_member, create_user, box):
    from loans.models import Repayment
    from shg.registry.models import Meeting
    group = create_group()
    member = create_member(group)
    facilitator = create_user("facilitator", districts=[group.village.district])
    auth.login(facilitator)
    response = client.post(f"/groups/{group.id}/meetings/new", data={
        "held_on": "2024-03-06", "topics": "Сбережения", "decisions": "",
        f"status-{member.id}": "present", f"savings-{member.id}": "10", box: "5"})
    # a box the page never draws is no loan of the group: it is left aside, nothing is paid
    assert response.status_code in (200, 302)
    assert count(Repayment) == 0 and count(Meeting) <= 1


# ---------------------------------------------------------------- integers the database cannot hold


def test_product_penalty_grace_days_beyond_an_integer_is_refused_not_a_server_error(
        app, client, auth, create_user):
    from loans.models import LoanProduct
    auth.login(create_user("admin"))
    response = client.post("/loans/products/new", data=_product_form(
        penalty_method="flat", penalty_amount="10", penalty_grace_days=HUGE_ID))
    _refused_in_the_form(response)
    assert count(LoanProduct) == 0


def test_product_penalty_amount_beyond_a_bigint_is_refused_not_a_server_error(
        app, client, auth, create_user):
    from loans.models import LoanProduct
    auth.login(create_user("admin"))
    response = client.post("/loans/products/new", data=_product_form(
        penalty_method="flat", penalty_amount=HUGE_ID))
    _refused_in_the_form(response)
    assert count(LoanProduct) == 0


# ---------------------------------------------------------------- ids of no record at all


@pytest.fixture
def harvest_catalogue(app, create_user):
    from harvests import services
    admin = create_user("admin")
    services.ensure_standard_units()
    tomato = services.save_crop(None, {"name": "Tomato", "name_ru": "Помидор",
                                       "default_unit": "kg"}, by=admin)
    db.session.commit()
    return admin, tomato


@pytest.mark.parametrize("field", ["member_id", "crop_id", "unit_id"])
def test_harvest_with_an_id_too_long_for_the_database_is_refused_not_a_server_error(
        harvest_catalogue, create_group, create_member, client, auth, field):
    from harvests.models import Harvest
    admin, tomato = harvest_catalogue
    member = create_member(create_group())
    data = {"member_id": str(member.id), "crop_id": str(tomato.id), "variety_id": "",
            "season": "summer", "harvested_on": "2024-08-15", "area": "8", "volume": "2400",
            "unit_id": "", "quantity_sold": "", "price": "", "market_value": "", "currency": ""}
    data[field] = HUGE_ID
    auth.login(admin)
    response = client.post("/harvests/new", data=data)
    _refused_in_the_form(response)
    assert count(Harvest) == 0


def test_loan_application_with_an_id_too_long_for_the_database_is_refused_not_a_server_error(
        app, client, auth, create_product, create_user):
    from loans.models import Lender, Loan
    product = create_product()
    lender = Lender(name="МФК", kind="mfi")
    db.session.add(lender)
    db.session.commit()
    auth.login(create_user("admin"))
    response = client.post("/loans/new", data={
        "member_id": HUGE_ID, "product_id": str(product.id), "lender_id": str(lender.id),
        "principal": "10000", "purpose": "Теплица", "applied_on": "2024-01-10"})
    _refused_in_the_form(response)
    assert count(Loan) == 0


@pytest.mark.parametrize("url", ["/groups/{}", "/members/{}/edit", "/loans/{}",
                                 "/harvests/{}", "/rounds/{}", "/admin/crops/{}",
                                 "/loans/products/{}", "/admin/exchange-rates/{}"])
def test_page_of_an_id_too_long_for_the_database_is_not_found_not_a_server_error(
        app, client, auth, create_user, url):
    auth.login(create_user("admin"))
    assert client.get(url.format(HUGE_ID)).status_code == 404


@pytest.mark.parametrize("url, query", [
    ("/groups", {"district": BEYOND_PRECISION}), ("/members", {"village": BEYOND_PRECISION}),
    ("/groups", {"page": BEYOND_PRECISION}),
    ("/groups/{group}/meetings", {"page": BEYOND_PRECISION}),
    ("/loans/portfolio", {"district": BEYOND_PRECISION})])
def test_list_filtered_by_a_number_too_large_for_the_database_is_not_a_server_error(
        app, client, auth, create_user, create_group, url, query):
    group = create_group()
    auth.login(create_user("admin"))
    response = client.get(url.format(group=group.id), query_string=query)
    assert response.status_code in (200, 400, 404)


# ---------------------------------------------------------------- text PostgreSQL cannot store


def test_lender_name_with_a_nul_character_is_refused_not_a_server_error(
        app, client, auth, create_user):
    from loans.models import Lender
    auth.login(create_user("admin"))
    response = client.post("/loans/lenders/new", data={"name": "МФК\x00Бай", "kind": "mfi"})
    assert response.status_code == 400
    assert "cannot be stored" in response.get_data(as_text=True)
    assert count(Lender) == 0


# ---------------------------------------------------------------- the calendar's last day


@pytest.mark.parametrize("url", ["/loans/portfolio", "/loans/{loan}", "/api/v1/portfolio"])
def test_portfolio_as_of_the_last_day_of_the_calendar_is_not_a_server_error(
        app, client, auth, create_loan, create_user, api_token, url):
    loan = create_loan(penalty_method="percent", penalty_rate=Decimal("1"))  # never repaid
    admin = create_user("admin")
    headers = api_token(admin)
    auth.login(admin)
    response = client.get(url.format(loan=loan.id), query_string={"as_of": "9999-12-31"},
                          headers=headers if url.startswith("/api/") else {})
    assert response.status_code in (200, 400, 422)


# ---------------------------------------------------------------- the API, fuzzed from its schema


#: path parameter -> the table whose record it names, so that the generated requests on an
#: item also reach a record that exists (a random id is almost always a plain 404)
RECORD_OF = {"country_id": "country", "region_id": "region", "district_id": "district",
             "village_id": "village", "group_id": "shg_group", "household_id": "household",
             "member_id": "member", "membership_id": "membership", "meeting_id": "meeting",
             "product_id": "loan_product", "lender_id": "lender", "loan_id": "loan",
             "repayment_id": "repayment", "unit_id": "measure_unit", "crop_id": "crop",
             "variety_id": "crop_variety", "round_id": "distribution_round",
             "delivery_id": "seed_delivery", "harvest_id": "harvest", "rate_id": "exchange_rate",
             "user_id": "user"}


def test_api_answers_generated_requests_without_a_server_error(app, api_token):
    """A bounded schemathesis pass over every operation of /api/v1/openapi.json, as the
    project office, on a small ledger with a record of every kind: a few requests each with
    any ids, then a few valid and a few invalid ones on records that exist. None may be
    answered with a 5xx, and no operation may be left out."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode

    from shg.accounts.models import User
    from tests.test_ledger_export import prepare_ledger

    prepare_ledger()
    headers = api_token(db.session.scalar(select(User).where(User.username == "office")))
    latest = {t.name: db.session.scalar(select(func.max(t.c.id)))
              for t in db.metadata.sorted_tables if "id" in t.c}
    db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    documented = {(path, method) for path, operations in schema.raw_schema["paths"].items()
                  for method in operations if method in ("get", "post", "put", "patch", "delete")}
    tried, failures = set(), []
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.add((operation.path, operation.method.lower()))
        names = [p.name for p in operation.path_parameters]
        existing = {n: latest[RECORD_OF[n]] for n in names if latest.get(RECORD_OF.get(n))}
        passes = [(GenerationMode.POSITIVE, None)]
        if existing or not names:
            passes += [(GenerationMode.POSITIVE, existing or None),
                       (GenerationMode.NEGATIVE, existing or None)]
        for mode, pinned in passes:
            @given(operation.as_strategy(mode, path_parameters=pinned))
            @settings(max_examples=2, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case):
                case.call_and_validate(headers=headers, checks=[not_a_server_error])
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - every operation is tried, all are reported
                failures.append(f"{operation.label} ({mode.value}): {exc!s:.300}")
    assert tried == documented
    assert not failures, "\n".join(failures)
