"""Logging in and out, the guards around it, users, profiles, tokens and the audit log."""
from __future__ import annotations

import hashlib
import re

import flask_babel
import pytest
from sqlalchemy import func, select

from shg import create_app
from shg.accounts.models import ApiToken, User
from shg.accounts.services import user_for_token
from shg.audit import AuditEntry
from shg.config import Config
from shg.extensions import db, limiter
from shg.registry.models import Household, Member
from tests.conftest import _empty_postgres, make_app




def html(response) -> str:
    return response.get_data(as_text=True)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def app_with(database_url):
    """An app with settings of its own (CSRF on, throttling on) on the test database."""
    made = []

    def make(**config):
        app = make_app(database_url, **config)
        ctx = app.app_context()
        ctx.push()
        if database_url.startswith("sqlite"):
            db.create_all()
        made.append(ctx)
        return app

    yield make
    for ctx in made:
        db.session.remove()
        if database_url.startswith("postgresql"):
            _empty_postgres()
        db.engine.dispose()
        ctx.pop()


def _add_user(username="gulnara", password="secret-pass", role="facilitator", **kw):
    user = User(username=username, full_name=kw.pop("full_name", "Гүлнара Өмүрбекова"),
                role=role, **kw)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


# ---------------------------------------------------------------- logging in


def test_login_and_logout(client, auth, create_user):
    user = create_user("facilitator", full_name="Гүлнара Өмүрбекова")
    db.session.commit()
    assert client.get("/groups").status_code == 302  # to the login page
    response = auth.login(user)
    assert response.status_code == 302
    page = client.get("/groups")
    assert page.status_code == 200 and "Гүлнара Өмүрбекова" in html(page)
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    response = client.get("/groups")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("username, password", [("known", "wrong-pass"), ("nobody", "secret-pass")])
def test_wrong_password_or_unknown_user_gets_the_same_message(client, create_user, username,
                                                              password):
    create_user("facilitator", username="known")
    db.session.commit()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 200
    assert "Wrong user name or password." in html(response)
    assert client.get("/groups").status_code == 302


def test_switched_off_user_cannot_log_in(client, auth, create_user):
    user = create_user("facilitator")
    user.is_active_user = False
    db.session.commit()
    response = auth.login(user)
    assert response.status_code == 200 and "Wrong user name or password." in html(response)


@pytest.mark.parametrize("target, expected", [
    ("/members?status=left", "/members?status=left"),
    ("https://evil.example/steal", "/"),
    ("//evil.example/steal", "/"),
    ("javascript:alert(1)", "/"),
    ("/\\evil.example/steal", "/"),
])
def test_login_redirects_only_to_local_paths(client, create_user, target, expected):
    user = create_user("facilitator")
    db.session.commit()
    response = client.post("/login", query_string={"next": target},
                           data={"username": user.username, "password": "secret-pass"})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_failed_logins_are_throttled_and_a_good_login_before_the_limit_works(app_with):
    app = app_with(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    limiter.reset()
    try:
        _add_user()
        client = app.test_client()
        wrong = {"username": "gulnara", "password": "wrong-pass"}
        right = {"username": "gulnara", "password": "secret-pass"}
        for _ in range(2):
            assert client.post("/login", data=wrong).status_code == 200
        assert client.post("/login", data=right).status_code == 302  # not counted
        client.post("/logout")
        assert client.post("/login", data=wrong).status_code == 200  # the third failure
        response = client.post("/login", data=right)
        assert response.status_code == 429
        assert client.get("/groups").status_code == 302  # still logged out
        assert client.get("/login").status_code == 200  # the form itself is not throttled
    finally:
        limiter.reset()


def test_throttled_login_tells_the_user_to_wait(app_with):
    app = app_with(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="1 per minute")
    limiter.reset()
    try:
        client = app.test_client()
        client.post("/login", data={"username": "nobody", "password": "wrong-pass"})
        response = client.post("/login", data={"username": "nobody", "password": "wrong-pass"})
        assert response.status_code == 429
        assert "Too many attempts" in html(response)
    finally:
        limiter.reset()


# ---------------------------------------------------------------- CSRF and headers


def test_post_without_csrf_token_is_refused_and_changes_nothing(app_with):
    app = app_with(WTF_CSRF_ENABLED=True)
    user = _add_user()
    client = app.test_client()
    response = client.post("/login", data={"username": "gulnara", "password": "secret-pass"})
    assert response.status_code == 400
    assert client.get("/groups").status_code == 302  # not logged in

    token = _csrf_token(html(client.get("/login")))
    response = client.post("/login", data={"username": "gulnara", "password": "secret-pass",
                                           "csrf_token": token})
    assert response.status_code == 302

    response = client.post("/profile", data={"full_name": "Взлом", "locale": "ru"})
    assert response.status_code == 400
    response = client.post("/profile/tokens", data={"token-name": "чужой"})
    assert response.status_code == 400
    db.session.expire_all()
    assert (user.full_name, user.locale) == ("Гүлнара Өмүрбекова", "en")
    assert count(ApiToken) == 0

    # the page's own (prefixed) token form carries a token that is accepted
    page = html(client.get("/profile"))
    prefixed = re.search(r'name="token-csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/profile/tokens", data={"token-name": "мой телефон",
                                                    "token-csrf_token": prefixed})
    assert response.status_code == 200 and count(ApiToken) == 1


def test_security_headers_are_sent(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_app_refuses_to_start_in_production_without_secret_key(monkeypatch):
    for name in ("SECRET_KEY", "FLASK_DEBUG", "SHG_DEVELOPMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Config, "SECRET_KEY", None)  # Config read the environment at import
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


# ---------------------------------------------------------------- users (project office)


def test_admin_creates_a_user_with_role_and_districts(client, auth, create_user, create_village):
    first, second = create_village().district, create_village().district
    create_village()  # a third district she does not get
    admin = create_user("admin")
    db.session.commit()
    auth.login(admin)
    assert client.get("/admin/users/new").status_code == 200
    response = client.post("/admin/users/new", data={
        "username": "zarina", "full_name": "Зарина Юсупова", "email": "", "role": "facilitator",
        "locale": "ru", "districts": [first.id, second.id], "password": "long-enough-1",
        "is_active_user": "y"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "zarina"))
    assert user.role == "facilitator" and user.locale == "ru" and user.full_name == "Зарина Юсупова"
    assert sorted(d.id for d in user.districts) == sorted([first.id, second.id])
    assert user.check_password("long-enough-1")
    page = html(client.get("/admin/users?q=зарина"))
    assert "Зарина Юсупова" in page and admin.username not in page.split('id="users"')[1]
    # the edit page ticks her districts
    form = html(client.get(f"/admin/users/{user.id}"))
    assert re.search(rf'value="{first.id}" id="district-{first.id}" checked', form)


def test_user_list_pages_and_searches(client, auth, create_user):
    admin = create_user("admin", username="aaa-admin")
    for i in range(30):
        create_user("viewer", username=f"reader{i:02d}", full_name=f"Читатель {i:02d}")
    db.session.commit()
    auth.login(admin)
    page = html(client.get("/admin/users?page=2"))
    assert "Page 2 of 2" in page and "reader29" in page and "reader01" not in page
    page = html(client.get("/admin/users?q=Читатель 07"))
    assert "reader07" in page and "reader08" not in page


@pytest.mark.parametrize("role", ["facilitator", "loan_officer", "viewer"])
def test_non_admin_gets_403_on_user_admin(client, auth, create_user, role):
    auth.login(create_user(role))
    for url in ("/admin/users", "/admin/users/new", "/admin/audit"):
        assert client.get(url).status_code == 403, url
    assert client.post("/admin/users/new", data={
        "username": "sneaky", "full_name": "x", "role": "admin", "locale": "en",
        "password": "long-enough-1"}).status_code == 403
    assert db.session.scalar(select(User).where(User.username == "sneaky")) is None


def test_cli_creates_an_admin(runner):
    result = runner.invoke(args=["users", "create", "--username", "boss", "--full-name", "Бош",
                                 "--role", "admin", "--password", "long-enough-1"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "boss"))
    assert user.role == "admin" and user.full_name == "Бош"
    assert user.check_password("long-enough-1")


# ---------------------------------------------------------------- the profile and tokens


def test_profile_locale_ru_makes_pages_russian(client, auth, create_user):
    user = create_user("facilitator", full_name="Гүлнара Өмүрбекова")
    db.session.commit()
    auth.login(user)
    assert 'lang="en"' in html(client.get("/groups"))
    response = client.post("/profile", data={"full_name": "Гүлнара Өмүрбекова", "locale": "ru",
                                             "password": ""})
    assert response.status_code == 302
    # The app fixture keeps one app context (and so one ``g``) for every request of a test;
    # flask-babel caches the locale on ``g``. A real request starts with a fresh ``g``.
    flask_babel.refresh()
    assert 'lang="ru"' in html(client.get("/groups"))
    db.session.expire_all()
    assert user.locale == "ru" and user.check_password("secret-pass")  # password kept


def test_api_token_is_shown_once_and_only_its_hash_is_stored(client, auth, create_user):
    user = create_user("facilitator")
    db.session.commit()
    auth.login(user)
    response = client.post("/profile/tokens", data={"token-name": "Телефон Гүлнары"})
    assert response.status_code == 200
    page = html(response)
    plain = re.search(r"shg_[A-Za-z0-9_\-]{20,}", page).group(0)
    assert "It will not be shown again." in page
    token = db.session.scalar(select(ApiToken))
    assert token.name == "Телефон Гүлнары" and token.user_id == user.id
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in (token.token_hash, token.prefix, token.name)
    assert plain.startswith(token.prefix)
    assert user_for_token(plain).id == user.id
    later = html(client.get("/profile"))
    assert "Телефон Гүлнары" in later and plain not in later


def test_revoking_a_token_sets_revoked_at_and_closes_the_api(client, auth, create_user, api_token):
    user = create_user("facilitator")
    db.session.commit()
    plain = api_token(user)["Authorization"].split()[1]
    token = db.session.scalar(select(ApiToken))
    auth.login(user)
    assert f"/profile/tokens/{token.id}/revoke" in html(client.get("/profile"))
    response = client.post(f"/profile/tokens/{token.id}/revoke")
    assert response.status_code == 302
    db.session.expire_all()
    assert token.revoked_at is not None
    assert user_for_token(plain) is None
    assert "revoked" in html(client.get("/profile"))


def test_token_of_another_user_cannot_be_revoked(client, auth, create_user, api_token):
    owner, other = create_user("facilitator"), create_user("facilitator")
    db.session.commit()
    api_token(owner)
    token = db.session.scalar(select(ApiToken))
    auth.login(other)
    assert client.post(f"/profile/tokens/{token.id}/revoke").status_code == 403
    db.session.expire_all()
    assert token.revoked_at is None


# ---------------------------------------------------------------- the audit log


@pytest.fixture
def member_made_and_changed_on_pages(client, auth, create_user, create_group):
    """A facilitator registers a member on the page, then corrects her phone."""
    group = create_group()
    household = Household(village=group.village, name="Токтогуловы")
    db.session.add(household)
    facilitator = create_user("facilitator", districts=[group.village.district],
                              full_name="Гүлнара Өмүрбекова")
    admin = create_user("admin", full_name="Бакыт Асанов")
    db.session.commit()
    auth.login(facilitator)
    person = {"full_name": "Айгуль Токтогулова", "gender": "female", "birth_year": "1985",
              "phone": "0555 123 456", "language": "ky", "office": ""}
    response = client.post("/members/new", data=dict(person, household_id=household.id,
                                                     group_id=group.id, joined_on="2024-01-10"))
    assert response.status_code == 302
    member = db.session.scalar(select(Member))
    response = client.post(f"/members/{member.id}/edit", data=dict(person, phone="0700 123 456"))
    assert response.status_code == 302
    auth.logout()
    return member, facilitator, admin


def _member_entries(member):
    return db.session.scalars(select(AuditEntry).where(AuditEntry.record_type == "member",
                                                       AuditEntry.record_id == member.id)
                              .order_by(AuditEntry.id)).all()


def test_audit_log_records_who_changed_a_member_old_to_new(client, auth,
                                                           member_made_and_changed_on_pages):
    member, facilitator, admin = member_made_and_changed_on_pages
    updates = [e for e in _member_entries(member) if e.action == "update"]
    assert [(e.user_id, e.changes_dict) for e in updates] == [
        (facilitator.id, {"phone": ["+996555123456", "+996700123456"]})]

    auth.login(admin)
    page = html(client.get(f"/admin/audit?type=member&user={facilitator.id}"))
    assert "Гүлнара Өмүрбекова" in page and "changed" in page
    assert re.search(r"phone</span>: <del>\+996555123456</del> → <ins>\+996700123456</ins>", page)
    assert "Бакыт Асанов" not in page.split('id="audit"')[1]  # filtered to her entries


def test_audit_log_records_who_created_a_member(client, auth, member_made_and_changed_on_pages):
    member, facilitator, admin = member_made_and_changed_on_pages
    created = [e for e in _member_entries(member) if e.action == "create"]
    assert [e.user_id for e in created] == [facilitator.id]
    assert created[0].changes_dict["full_name"] == "Айгуль Токтогулова"
    assert created[0].changes_dict["phone"] == "+996555123456"
    auth.login(admin)
    page = html(client.get("/admin/audit?type=member"))
    assert "created" in page and "Айгуль Токтогулова" in page
