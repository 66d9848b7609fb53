"""Fixtures: an app on a real database (SQLite and PostgreSQL), clients, logged-in users and
factories for the registry (flaskr's conftest, Indico's factory fixtures).

Every test that uses ``app`` runs twice: once on SQLite, once on PostgreSQL. PostgreSQL comes
from SHG_TEST_POSTGRES_URL (CI starts the server) or is started here from Debian's binaries;
when neither is possible the PostgreSQL half is skipped, except under CI, where it fails.
"""
from __future__ import annotations

import itertools
import os
from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from shg import create_app
from shg.extensions import db, limiter
from tests import pg

_counter = itertools.count(1)


# ---------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def pg_server():
    url = os.environ.get("SHG_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    started = pg.start_cluster()
    if started is None:
        yield None
        return
    url, stop = started
    yield url
    stop()


@pytest.fixture(scope="session")
def pg_database(pg_server):
    """This worker's own database, its schema made once; tests empty it after use."""
    if pg_server is None:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = pg.create_database(pg_server, f"shg_test_{worker}")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return url


def _need_postgres():
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL is required under CI: install it (see .ci/run)")
    pytest.skip("PostgreSQL is not installed here")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "test.sqlite")
    url = request.getfixturevalue("pg_database")
    if url is None:
        _need_postgres()
    return url


class OwnContextClient(FlaskClient):
    """Each request in its own app context, as in production: ``g`` (the logged-in user, the
    chosen locale) and the database session never carry over from the test or an earlier
    request. The test's own session commits before each request and reads afresh after it."""

    def open(self, *args, **kwargs):
        from flask import has_app_context
        outer = has_app_context()
        if outer:
            db.session.commit()  # what the test set up is there for the request to see
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if outer:
            db.session.expire_all()  # and the test then reads what the request wrote
        return response


def make_app(database_url, **config):
    settings = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False, "SERVER_NAME": None,
                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
    settings.update(config)
    app = create_app(settings)
    app.test_client_class = OwnContextClient
    return app


def _empty_postgres():
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        yield app
        db.session.remove()
        if database_url.startswith("postgresql"):
            _empty_postgres()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ---------------------------------------------------------------- the registry, made to order


@pytest.fixture
def create_country(app):
    from shg.registry.models import Country

    def create(code="KG", name=None, currency=None, timezone=None):
        country = Country(code=code, name=name or {"KG": "Кыргызстан", "TJ": "Таджикистан"}.get(code, code),
                          currency=currency or {"KG": "KGS", "TJ": "TJS"}.get(code, "USD"),
                          timezone=timezone or {"TJ": "Asia/Dushanbe"}.get(code, "Asia/Bishkek"))
        db.session.add(country)
        db.session.flush()
        return country
    return create


@pytest.fixture
def create_village(create_country):
    """A village, with its district, region and country made as needed."""
    from shg.registry.models import Country, District, Region, Village

    def create(name=None, district=None, country_code="KG", is_pilot=True,
               pilot_joined_on=date(2011, 3, 1)):
        if district is None:
            country = db.session.query(Country).filter_by(code=country_code).one_or_none() \
                or create_country(country_code)
            region = Region(country=country, name=f"Область {next(_counter)}")
            district = District(region=region, name=f"Район {next(_counter)}")
            db.session.add_all([region, district])
        village = Village(district=district, name=name or f"Айыл {next(_counter)}",
                          is_pilot=is_pilot, pilot_joined_on=pilot_joined_on if is_pilot else None)
        db.session.add(village)
        db.session.flush()
        return village
    return create


@pytest.fixture
def create_user(app):
    from shg.accounts.models import User

    def create(role="facilitator", districts=(), username=None, password="secret-pass",
               locale="en", full_name=None):
        user = User(username=username or f"{role}{next(_counter)}",
                    full_name=full_name or f"Test {role}", role=role, locale=locale)
        user.set_password(password)
        user.districts = list(districts)
        db.session.add(user)
        db.session.flush()
        return user
    return create


@pytest.fixture
def create_group(create_village):
    from shg.registry.models import Group

    def create(village=None, name=None, formed_on=date(2020, 1, 15), status="active",
               facilitator=None, **kw):
        group = Group(village=village or create_village(), name=name or f"Ынтымак {next(_counter)}",
                      formed_on=formed_on, status=status, facilitator=facilitator,
                      meeting_day=kw.get("meeting_day", 2),
                      meeting_frequency=kw.get("meeting_frequency", "monthly"))
        db.session.add(group)
        db.session.flush()
        return group
    return create


@pytest.fixture
def create_member(create_group):
    from shg.registry.models import Household, Member, Membership

    def create(group=None, full_name=None, gender="female", joined_on=date(2020, 2, 1),
               household=None, phone=None, language="ky", office=None, birth_year=1985):
        group = group or create_group()
        household = household or Household(village=group.village,
                                           name=f"Семья {next(_counter)}")
        member = Member(household=household, full_name=full_name or f"Айгуль {next(_counter)}",
                        gender=gender, birth_year=birth_year, phone=phone, language=language)
        db.session.add_all([household, member,
                            Membership(member=member, group=group, joined_on=joined_on,
                                       office=office)])
        db.session.flush()
        return member
    return create


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, user, password="secret-pass"):
        return self._client.post("/login", data={"username": user.username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def api_token(app):
    """A personal API token for a user: ``headers = api_token(user)``."""
    from shg.accounts.services import create_token

    def make(user):
        _token, plain = create_token(user, "test phone")
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}
    return make


# ---------------------------------------------------------------- loans, made to order


@pytest.fixture
def create_product(app, create_user):
    from loans import services as loan_services

    def create(**terms):
        admin = create_user("admin")
        data = {"name": f"Продукт {next(_counter)}", "method": "flat", "rate": Decimal("24"),
                "rate_period": "year", "frequency": "month", "installments": 12}
        data.update(terms)
        return loan_services.save_product(None, data, by=admin)
    return create


@pytest.fixture
def create_loan(app, create_member, create_product, create_user):
    """A loan taken through its life by the services: applied, approved and, unless
    ``status="applied"`` or ``"approved"``, disbursed on ``disbursed_on``."""
    from loans import services as loan_services
    from loans.models import Lender

    def create(member=None, principal=Decimal("12000.00"), disbursed_on=date(2024, 1, 10),
               status="disbursed", product=None, first_due_on=None, **terms):
        member = member or create_member(joined_on=date(2020, 2, 1))
        product = product or create_product(**terms)
        lender = Lender(name=f"МФК {next(_counter)}", kind="mfi")
        db.session.add(lender)
        officer = create_user("admin")
        loan = loan_services.apply_for_loan(
            {"member_id": member.id, "product_id": product.id, "lender_id": lender.id,
             "principal": principal, "purpose": "Теплица", "applied_on": disbursed_on,
             "first_due_on": first_due_on}, by=officer)
        if status in ("approved", "disbursed"):
            loan_services.approve_loan(loan, disbursed_on, by=officer)
        if status == "disbursed":
            loan_services.disburse_loan(loan, disbursed_on, by=officer, first_due_on=first_due_on)
        db.session.flush()
        return loan
    return create
