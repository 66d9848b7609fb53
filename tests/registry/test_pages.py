"""The registry's pages, as a facilitator, a viewer and the project office use them."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from shg.extensions import db
from shg.registry.models import (Attendance, Country, District, Group, Household, Meeting, Member,
                                 Membership, Migrant, Region, Village)




def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(create_village, create_group, create_member, create_user):
    """A Kyrgyz pilot village with one group, a migrant family and its member, one meeting."""
    village = create_village(name="Кара-Жыгач")
    group = create_group(village, name="Ынтымак")
    household = Household(village=village, name="Токтогуловы", address="ул. Ленина, 5",
                          migrants=[Migrant(destination="RU", people=2)])
    member = create_member(group, full_name="Айгуль Токтогулова", household=household,
                           phone="+996555123456", office="leader")
    meeting = Meeting(group=group, held_on=date(2024, 3, 6), topics="Сбережения и семена",
                      attendance=[Attendance(member=member, status="present",
                                             savings=Decimal("100.00"))])
    db.session.add(meeting)
    facilitator = create_user("facilitator", districts=[village.district],
                              full_name="Гүлнара Өмүрбекова")
    admin = create_user("admin", full_name="Бакыт Асанов")
    viewer = create_user("viewer", full_name="Донор Читатель")
    db.session.commit()
    return SimpleNamespace(village=village, district=village.district, group=group,
                           household=household, member=member, meeting=meeting,
                           facilitator=facilitator, admin=admin, viewer=viewer)


# ---------------------------------------------------------------- every page renders

FACILITATOR_PAGES = [
    ("/groups", "Ынтымак"),
    ("/groups/{group}", "Айгуль Токтогулова"),
    ("/households", "Токтогуловы"),
    ("/households/new", "Кара-Жыгач"),
    ("/households/{household}", "Айгуль Токтогулова"),
    ("/households/{household}/edit", "Токтогуловы"),
    ("/members", "Айгуль Токтогулова"),
    ("/members/new", "Токтогуловы"),
    ("/members/{member}", "Ынтымак"),
    ("/members/{member}/edit", "Айгуль Токтогулова"),
    ("/members/{member}/leave", "Ынтымак"),
    ("/members/{member}/join", "Айгуль Токтогулова"),
    ("/villages", "Кара-Жыгач"),
    ("/villages/{village}", "Ынтымак"),
    ("/meetings", "Ынтымак"),
    ("/meetings/{meeting}", "Айгуль Токтогулова"),
    ("/profile", "Гүлнара Өмүрбекова"),
]

ADMIN_PAGES = [
    ("/admin/geography", "Кыргызстан"),
    ("/admin/villages/new", "Район"),
    ("/admin/villages/{village}", "Кара-Жыгач"),
    ("/admin/users", "Гүлнара Өмүрбекова"),
    ("/admin/users/new", "Район"),
    ("/admin/users/{facilitator}", "Гүлнара Өмүрбекова"),
    ("/admin/audit", "Бакыт Асанов"),
]


def _url(template, w):
    return template.format(group=w.group.id, household=w.household.id, member=w.member.id,
                           village=w.village.id, meeting=w.meeting.id, facilitator=w.facilitator.id)


def _assert_page(response, url, text):
    assert response.status_code == 200, url
    page = html(response)
    assert text in page, url
    # the Content-Security-Policy allows no inline styles or scripts
    assert 'style="' not in page, url
    assert "<script>" not in page and "onclick=" not in page, url
    assert 'name="viewport"' in page, url


def test_every_page_renders_for_facilitator_of_the_district(world, client, auth):
    """One walk through the pages (not one test each): a setup costs more than a page."""
    auth.login(world.facilitator)
    for url, text in FACILITATOR_PAGES:
        url = _url(url, world)
        _assert_page(client.get(url), url, text)


def test_every_admin_page_renders_for_project_office(world, client, auth):
    auth.login(world.admin)
    client.post(f"/members/{world.member.id}/edit", data={  # something for the audit log
        "full_name": "Айгуль Токтогулова", "gender": "female", "birth_year": "1985",
        "phone": "0700 123 456", "language": "ky", "office": "leader"})
    for url, text in ADMIN_PAGES + [(u, t) for u, t in FACILITATOR_PAGES if u != "/profile"]:
        url = _url(url, world)
        _assert_page(client.get(url), url, text)


def test_facilitator_cannot_open_a_group_of_another_district(world, client, auth, create_group):
    other = create_group(name="Береке")
    db.session.commit()
    auth.login(world.facilitator)
    assert client.get(f"/groups/{other.id}").status_code == 403
    assert "Береке" not in html(client.get("/groups"))


# ---------------------------------------------------------------- lists: filters and pages


def test_group_list_pages_through_more_than_one_page(world, client, auth, create_group):
    for i in range(1, 28):
        create_group(world.village, name=f"Группа {i:02d}")
    db.session.commit()
    auth.login(world.facilitator)
    first = html(client.get("/groups?q=Группа"))
    assert "Группа 01" in first and "Группа 25" in first and "Группа 26" not in first
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = client.get("/groups?q=Группа&page=2")
    assert second.status_code == 200
    page = html(second)
    assert "Группа 26" in page and "Группа 27" in page and "Группа 01" not in page
    assert "Page 2 of 2" in page
    # the links keep the filter
    assert re.search(r'href="/groups\?[^"]*q=%D0%93', page)


def test_member_list_filters_by_name_village_and_status(world, client, auth, create_village,
                                                         create_group, create_member):
    neighbour = create_village(name="Сары-Булак", district=world.district)
    other_group = create_group(neighbour, name="Береке")
    gone = create_member(other_group, full_name="Жаңыл Асанова")
    gone.memberships[0].left_on = date(2023, 5, 1)
    db.session.commit()
    auth.login(world.facilitator)

    def names(query):
        page = html(client.get("/members" + query))
        return {n for n in ("Айгуль Токтогулова", "Жаңыл Асанова") if n in page}

    assert names("") == {"Айгуль Токтогулова", "Жаңыл Асанова"}
    assert names("?q=айгуль") == {"Айгуль Токтогулова"}
    assert names(f"?village={neighbour.id}") == {"Жаңыл Асанова"}
    assert names(f"?district={world.district.id}&status=active") == {"Айгуль Токтогулова"}
    assert names("?status=left") == {"Жаңыл Асанова"}


def test_household_list_filters_by_village_and_name(world, client, auth, create_village):
    neighbour = create_village(name="Сары-Булак", district=world.district)
    db.session.add(Household(village=neighbour, name="Асановы"))
    db.session.commit()
    auth.login(world.facilitator)
    page = html(client.get(f"/households?village={neighbour.id}"))
    assert "Асановы" in page and "Токтогуловы" not in page
    page = html(client.get("/households?q=токтог"))
    assert "Токтогуловы" in page and "Асановы" not in page


def test_village_list_filters_pilot_villages(world, client, auth, create_village):
    create_village(name="Чон-Таш", district=world.district, is_pilot=False)
    db.session.commit()
    auth.login(world.facilitator)
    pilots = html(client.get("/villages?pilot=yes"))
    assert "Кара-Жыгач" in pilots and "Чон-Таш" not in pilots
    others = html(client.get("/villages?pilot=no"))
    assert "Чон-Таш" in others and "Кара-Жыгач" not in others


def test_meeting_list_filters_by_dates(world, client, auth):
    db.session.add(Meeting(group=world.group, held_on=date(2024, 5, 8), topics="Урожай"))
    db.session.commit()
    auth.login(world.facilitator)
    page = html(client.get("/meetings?from=2024-04-01&to=2024-06-30"))
    assert f"/meetings/{world.meeting.id}\"" not in page
    assert page.count('href="/meetings/') == 1
    page = html(client.get(f"/meetings?to=2024-03-31&district={world.district.id}"))
    assert f"/meetings/{world.meeting.id}\"" in page
    assert page.count('href="/meetings/') == 1


# ---------------------------------------------------------------- households and members


def test_household_is_created_with_its_migrants(world, client, auth):
    auth.login(world.facilitator)
    response = client.post("/households/new", data={
        "name": "Асановы", "village_id": world.village.id, "address": "",
        "migrants-0-destination": "RU", "migrants-0-people": "2",
        "migrants-1-destination": "KZ", "migrants-1-people": "1",
        "migrants-2-destination": "", "migrants-2-people": ""})
    assert response.status_code == 302
    household = db.session.scalar(select(Household).where(Household.name == "Асановы"))
    assert [(m.destination, m.people) for m in household.migrants] == [("KZ", 1), ("RU", 2)]
    page = html(client.get(response.headers["Location"]))
    assert "Russia" in page and "Kazakhstan" in page
    # the edit page shows both rows and one empty row for another country
    form = html(client.get(f"/households/{household.id}/edit"))
    assert 'name="migrants-2-destination"' in form


def test_household_migrant_row_without_country_is_refused(world, client, auth):
    auth.login(world.facilitator)
    before = count(Household)
    response = client.post("/households/new", data={
        "name": "Асановы", "village_id": world.village.id,
        "migrants-0-destination": "", "migrants-0-people": "3",
        "migrants-1-destination": "", "migrants-1-people": "",
        "migrants-2-destination": "", "migrants-2-people": ""})
    assert response.status_code == 200
    assert "Choose the country where they work." in html(response)
    assert count(Household) == before


def test_member_registered_with_kyrgyz_phone_typed_locally_is_stored_in_e164(world, client, auth):
    auth.login(world.facilitator)
    response = client.post("/members/new", data={
        "household_id": world.household.id, "group_id": world.group.id, "joined_on": "2024-01-10",
        "full_name": "Жаңыл Асанова", "gender": "female", "birth_year": "1980",
        "phone": "0555 123 456", "language": "ky", "sms_consent": "y", "office": ""})
    assert response.status_code == 302
    member = db.session.scalar(select(Member).where(Member.full_name == "Жаңыл Асанова"))
    assert member.phone == "+996555123456" and member.sms_consent
    assert member.current_membership.group_id == world.group.id
    page = html(client.get(f"/members/{member.id}"))
    assert "+996555123456" in page and "Жаңыл Асанова" in page and "Ынтымак" in page


def test_member_registered_with_tajik_phone_is_stored_with_992(client, auth, create_village,
                                                              create_group, create_user):
    village = create_village(name="Ворух", country_code="TJ")
    group = create_group(village, name="Ҷӯраев ва шарикон")
    household = Household(village=village, name="Ҷӯраевҳо")
    db.session.add(household)
    facilitator = create_user("facilitator", districts=[village.district])
    db.session.commit()
    auth.login(facilitator)
    response = client.post("/members/new", data={
        "household_id": household.id, "group_id": group.id, "joined_on": "2024-01-10",
        "full_name": "Ҷӯраева Ғафура", "gender": "female", "phone": "93 555 1234",
        "language": "tg", "office": ""})
    assert response.status_code == 302
    member = db.session.scalar(select(Member).where(Member.full_name == "Ҷӯраева Ғафура"))
    assert member.phone == "+992935551234"


def test_bad_phone_is_refused_with_a_field_message_and_nothing_is_created(world, client, auth):
    auth.login(world.facilitator)
    members, memberships = count(Member), count(Membership)
    response = client.post("/members/new", data={
        "household_id": world.household.id, "group_id": world.group.id, "joined_on": "2024-01-10",
        "full_name": "Жаңыл Асанова", "gender": "female", "phone": "0555 12", "language": "ky",
        "office": ""})
    assert response.status_code == 200
    page = html(response)
    beside_phone = r'<input [^>]*class="form-control is-invalid" id="phone"[^>]*value="0555 12">'
    assert re.search(beside_phone + r'\s*<div class="invalid-feedback d-block">'
                     r'This is not a valid phone number.</div>', page)
    assert "Жаңыл Асанова" in page  # what she typed is kept
    assert (count(Member), count(Membership)) == (members, memberships)


def test_member_form_makes_the_facilitator_choose_her_household(world, client, auth):
    auth.login(world.facilitator)
    form = html(client.get("/members/new"))
    assert re.search(r'<select[^>]*name="household_id"[^>]*>\s*<option selected value="None">',
                     form)
    members = count(Member)
    response = client.post("/members/new", data={
        "household_id": "None", "group_id": world.group.id, "joined_on": "2024-01-10",
        "full_name": "Жаңыл Асанова", "gender": "female", "language": "ky", "office": ""})
    assert response.status_code == 200
    assert "Choose the member&#39;s household." in html(response)
    assert count(Member) == members


def test_member_leaves_her_group_and_her_history_is_kept(world, client, auth):
    auth.login(world.facilitator)
    left_on = date.today() - timedelta(days=1)
    members, memberships = count(Member), count(Membership)
    response = client.post(f"/members/{world.member.id}/leave",
                           data={"left_on": left_on.isoformat(), "reason": "уехала в Бишкек"})
    assert response.status_code == 302
    membership = db.session.scalar(select(Membership)
                                   .where(Membership.member_id == world.member.id))
    assert membership.left_on == left_on and membership.left_reason == "уехала в Бишкек"
    assert membership.office is None
    assert (count(Member), count(Membership)) == (members, memberships)  # nothing deleted
    assert count(Attendance) == 1

    group_page = html(client.get(f"/groups/{world.group.id}"))
    active_part, former_part = group_page.split("Former members")
    assert "Айгуль Токтогулова" not in active_part
    assert "Айгуль Токтогулова" in former_part
    member_page = html(client.get(f"/members/{world.member.id}"))
    assert "уехала в Бишкек" in member_page and "Join a group" in member_page
    assert "Айгуль Токтогулова" in html(client.get("/members?status=left"))


def test_leaving_before_her_last_meeting_is_refused(world, client, auth):
    auth.login(world.facilitator)
    response = client.post(f"/members/{world.member.id}/leave", data={"left_on": "2024-03-01"})
    assert response.status_code == 200
    assert "She is recorded at a meeting of the group on or after this date." in html(response)
    assert world.member.current_membership is not None


def test_member_cannot_be_active_in_two_groups_at_once(world, client, auth, create_group):
    second = create_group(world.village, name="Береке", formed_on=date(2021, 1, 1))
    db.session.commit()
    auth.login(world.facilitator)
    response = client.post(f"/members/{world.member.id}/join",
                           data={"group_id": second.id, "joined_on": "2024-04-01", "office": ""})
    assert response.status_code == 200
    assert "She is still active in the group Ынтымак" in html(response)
    assert count(Membership) == 1

    yesterday = date.today() - timedelta(days=1)
    client.post(f"/members/{world.member.id}/leave", data={"left_on": yesterday.isoformat()})
    response = client.post(f"/members/{world.member.id}/join",
                           data={"group_id": second.id, "joined_on": yesterday.isoformat(),
                                 "office": ""})
    assert response.status_code == 302
    db.session.expire_all()
    active = db.session.scalars(select(Membership).where(Membership.member_id == world.member.id,
                                                         Membership.left_on.is_(None))).all()
    assert [m.group_id for m in active] == [second.id]
    page = html(client.get(f"/members/{world.member.id}"))
    assert "Береке" in page and "Ынтымак" in page  # both groups in her history


def test_group_in_a_village_of_another_district_is_refused(world, client, auth, create_village):
    elsewhere = create_village(name="Ак-Суу")
    db.session.commit()
    auth.login(world.facilitator)
    before = count(Group)
    response = client.post("/groups/new", data={
        "name": "Чужая группа", "village_id": elsewhere.id, "facilitator_id": "",
        "formed_on": "2024-01-01", "meeting_day": "2", "meeting_frequency": "monthly",
        "status": "active"})
    assert response.status_code == 200
    assert "is-invalid" in html(response)
    assert count(Group) == before


# ---------------------------------------------------------------- who may change what

CHANGE_PAGES = [
    "/groups/new", "/groups/{group}/edit", "/groups/{group}/meetings/new",
    "/meetings/{meeting}/edit", "/households/new", "/households/{household}/edit",
    "/members/new", "/members/{member}/edit", "/members/{member}/leave",
    "/members/{member}/join", "/admin/villages/new", "/admin/villages/{village}",
    "/admin/geography",
]


def test_viewer_gets_403_on_every_change_page(world, client, auth):
    auth.login(world.viewer)
    before = (count(Membership), count(Household), count(Group), count(Village), count(Country))
    for url in CHANGE_PAGES:
        url = _url(url, world)
        assert client.get(url).status_code == 403, url
        response = client.post(url, data={
            "name": "Взлом", "left_on": "2024-04-01", "village_id": world.village.id,
            "which": "country", "country-code": "XX", "country-name": "Взлом",
            "country-currency": "USD", "country-timezone": "Asia/Bishkek"})
        assert response.status_code == 403, url
    after = (count(Membership), count(Household), count(Group), count(Village), count(Country))
    assert after == before


def test_viewer_sees_no_change_buttons(world, client, auth):
    auth.login(world.viewer)
    page = html(client.get(f"/members/{world.member.id}"))
    assert "Айгуль Токтогулова" in page
    assert f"/members/{world.member.id}/leave" not in page
    assert f"/members/{world.member.id}/edit" not in page
    assert "/groups/new" not in html(client.get(f"/villages/{world.village.id}"))


# ---------------------------------------------------------------- the project office


def test_admin_creates_a_pilot_village_with_its_date(world, client, auth):
    auth.login(world.admin)
    response = client.post("/admin/villages/new", data={
        "district_id": world.district.id, "name": "Жаңы-Жер", "is_pilot": "y",
        "pilot_joined_on": "2012-04-01"})
    assert response.status_code == 302
    village = db.session.scalar(select(Village).where(Village.name == "Жаңы-Жер"))
    assert village.is_pilot and village.pilot_joined_on == date(2012, 4, 1)
    assert village.district_id == world.district.id
    page = html(client.get(response.headers["Location"]))
    assert "Жаңы-Жер" in page and "Pilot village" in page and "2012" in page
    assert "Жаңы-Жер" in html(client.get("/villages?pilot=yes"))


def test_admin_adds_country_region_and_district_on_the_geography_page(world, client, auth):
    auth.login(world.admin)
    response = client.post("/admin/geography", data={
        "which": "country", "country-code": "tj", "country-name": "Таджикистан",
        "country-currency": "TJS", "country-timezone": "Asia/Dushanbe"})
    assert response.status_code == 302
    country = db.session.scalar(select(Country).where(Country.code == "TJ"))
    assert country.name == "Таджикистан" and country.currency == "TJS"

    response = client.post("/admin/geography", data={
        "which": "region", "region-country_id": country.id, "region-name": "Согдийская область"})
    assert response.status_code == 302
    region = db.session.scalar(select(Region).where(Region.name == "Согдийская область"))
    assert region.country_id == country.id

    response = client.post("/admin/geography", data={
        "which": "district", "district-region_id": region.id, "district-name": "Исфара"})
    assert response.status_code == 302
    district = db.session.scalar(select(District).where(District.name == "Исфара"))
    assert district.region_id == region.id

    page = html(client.get("/admin/geography"))
    for name in ("Таджикистан", "Согдийская область", "Исфара"):
        assert name in page


def test_geography_form_with_errors_creates_nothing(world, client, auth):
    auth.login(world.admin)
    response = client.post("/admin/geography", data={
        "which": "country", "country-code": "KGZ", "country-name": "",
        "country-currency": "KGS", "country-timezone": "Asia/Bishkek"})
    assert response.status_code == 200
    assert "is-invalid" in html(response)
    assert count(Country) == 1
