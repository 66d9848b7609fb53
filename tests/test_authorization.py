"""Who may read and change what: role x endpoint x own/other district, enforced on the server.

Facilitators and loan officers reach only their districts; viewers read everything and change
nothing; the project office (admin) reaches everything. Lists show only reachable records.
"""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shg.extensions import db
from shg.registry.models import Attendance, Meeting

ROLES = ("admin", "loan_officer", "facilitator", "viewer")

READ_PAGES = ["/groups/{group}", "/groups/{group}/meetings", "/meetings/{meeting}",
              "/households/{household}", "/members/{member}", "/villages/{village}"]
CHANGE_PAGES = ["/groups/{group}/edit", "/groups/{group}/meetings/new", "/meetings/{meeting}/edit",
                "/households/{household}/edit", "/members/{member}/edit",
                "/members/{member}/leave", "/members/{member}/join"]
ADMIN_PAGES = ["/admin/users", "/admin/audit", "/admin/geography", "/admin/villages/new",
               "/admin/villages/{village}"]


@pytest.fixture
def world(app, create_village, create_group, create_member, create_user):
    """Two districts, each with a village, a group, a member and a meeting; a user per role
    assigned to the first district ("own")."""
    places = {}
    for side in ("own", "other"):
        village = create_village()
        group = create_group(village)
        member = create_member(group, full_name=f"Айгуль {side}")
        meeting = Meeting(group=group, held_on=date(2024, 5, 1),
                          attendance=[Attendance(member=member, status="present", savings=Decimal("10"))])
        db.session.add(meeting)
        db.session.flush()
        places[side] = {"village": village.id, "group": group.id, "member": member.id,
                        "household": member.household_id, "meeting": meeting.id,
                        "district": village.district}
    users = {role: create_user(role, districts=[places["own"]["district"]]
                               if role in ("facilitator", "loan_officer") else [])
             for role in ROLES}
    db.session.commit()
    return places, users


def _expected_read(role, side):
    return 200 if side == "own" or role in ("admin", "viewer") else 403


def _expected_change(role, side):
    if role == "admin":
        return 200
    if role == "viewer":
        return 403
    return 200 if side == "own" else 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("side", ["own", "other"])
def test_pages_answer_by_role_and_district(world, client, auth, role, side):
    places, users = world
    auth.login(users[role])
    ids = places[side]
    for page in READ_PAGES:
        assert client.get(page.format(**ids)).status_code == _expected_read(role, side), page
    for page in CHANGE_PAGES:
        assert client.get(page.format(**ids)).status_code == _expected_change(role, side), page
    for page in ADMIN_PAGES:
        assert client.get(page.format(**ids)).status_code == (200 if role == "admin" else 403), page


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("side", ["own", "other"])
def test_refused_change_leaves_the_record_as_it_was(world, client, auth, role, side):
    places, users = world
    ids = places[side]
    auth.login(users[role])
    response = client.post(f"/meetings/{ids['meeting']}/edit", data={
        "held_on": "2024-05-02", f"status-{ids['member']}": "absent", f"savings-{ids['member']}": "99"})
    meeting = db.session.get(Meeting, ids["meeting"])
    db.session.refresh(meeting)
    if _expected_change(role, side) == 403:
        assert response.status_code == 403
        assert meeting.held_on == date(2024, 5, 1)
        assert meeting.attendance[0].savings == Decimal("10.00")
    else:
        assert response.status_code == 302
        assert meeting.held_on == date(2024, 5, 2)
        assert meeting.attendance[0].savings == Decimal("99.00")


@pytest.mark.parametrize("role", ROLES)
def test_lists_show_only_reachable_districts(world, client, auth, role):
    places, users = world
    auth.login(users[role])
    for page in ("/groups", "/members", "/meetings", "/households", "/villages"):
        text = client.get(page).get_data(as_text=True)
        sees_other = role in ("admin", "viewer")
        if page == "/members":
            assert "Айгуль own" in text, page
            assert ("Айгуль other" in text) == sees_other, page


def test_anonymous_visitor_is_sent_to_login(world, client):
    places, _users = world
    for page in READ_PAGES + CHANGE_PAGES + ADMIN_PAGES + ["/groups", "/members"]:
        response = client.get(page.format(**places["own"]))
        assert response.status_code == 302 and "/login" in response.headers["Location"], page


def test_user_switched_off_cannot_log_in(world, client, auth):
    _places, users = world
    users["facilitator"].is_active_user = False
    db.session.commit()
    auth.login(users["facilitator"])
    assert client.get("/groups").status_code == 302


API_READ = ["/api/v1/groups/{group}", "/api/v1/households/{household}", "/api/v1/members/{member}",
            "/api/v1/meetings/{meeting}", "/api/v1/villages/{village}",
            "/api/v1/districts/{district_id}"]
API_CHANGE = ["/api/v1/groups/{group}", "/api/v1/households/{household}",
              "/api/v1/members/{member}", "/api/v1/meetings/{meeting}"]
API_ADMIN = ["/api/v1/villages/{village}", "/api/v1/districts/{district_id}"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("side", ["own", "other"])
def test_api_answers_by_role_and_district(world, client, api_token, role, side):
    places, users = world
    headers = api_token(users[role])
    ids = dict(places[side], district_id=places[side]["district"].id)
    for url in API_READ:
        assert client.get(url.format(**ids), headers=headers).status_code == \
            _expected_read(role, side), url
    for url in API_CHANGE:
        # An empty change: allowed answers 200 and changes nothing; refused answers 403.
        assert client.patch(url.format(**ids), json={}, headers=headers).status_code == \
            _expected_change(role, side), url
    for url in API_ADMIN:
        expected = 200 if role == "admin" else 403
        assert client.patch(url.format(**ids), json={}, headers=headers).status_code == expected, url


@pytest.mark.parametrize("role", ROLES)
def test_api_lists_show_only_reachable_districts(world, client, api_token, role):
    places, users = world
    headers = api_token(users[role])
    names = {m["full_name"] for m in client.get("/api/v1/members", headers=headers).get_json()}
    assert "Айгуль own" in names
    assert ("Айгуль other" in names) == (role in ("admin", "viewer"))
    groups = {g["id"] for g in client.get("/api/v1/groups", headers=headers).get_json()}
    assert (places["other"]["group"] in groups) == (role in ("admin", "viewer"))
