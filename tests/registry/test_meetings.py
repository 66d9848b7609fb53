from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shg.errors import Invalid
from shg.extensions import db
from shg.registry import services
from shg.registry.models import Attendance, Meeting


@pytest.fixture
def group_of_three(create_group, create_member, create_user):
    group = create_group()
    members = [create_member(group, full_name=n) for n in
               ("Айгуль Токтогулова", "Гүлнара Өмүрбекова", "Жаңыл Асанова")]
    facilitator = create_user("facilitator", districts=[group.village.district])
    db.session.commit()
    return group, members, facilitator


def _rows(members, statuses=("present", "late", "absent"), savings=("100.00", "50.50", "0")):
    return [{"member_id": m.id, "status": s, "savings": Decimal(v)}
            for m, s, v in zip(members, statuses, savings)]


def test_recorded_meeting_updates_register_attendance_and_savings(group_of_three):
    group, members, facilitator = group_of_three
    services.save_meeting(None, group, {"held_on": date(2024, 3, 6), "topics": "Сбережения",
                                        "attendance": _rows(members)}, by=facilitator)
    db.session.commit()
    register = services.meeting_register(group.id)
    assert [(r.present, r.listed, r.savings) for r in register] == [(2, 3, Decimal("150.50"))]
    assert services.attendance_rate(group.id) == Decimal(2) / Decimal(3)
    assert services.savings_by_member(group.id) == {members[0].id: Decimal("100.00"),
                                                    members[1].id: Decimal("50.50"),
                                                    members[2].id: Decimal("0.00")}
    assert services.group_savings(group.id) == Decimal("150.50")


@pytest.mark.parametrize("change, field", [
    (lambda m, rows: {"held_on": date.today() + timedelta(days=3)}, "held_on"),
    (lambda m, rows: {"held_on": date(2019, 1, 1)}, "held_on"),
    (lambda m, rows: {"attendance": rows[:2]}, "attendance"),
    (lambda m, rows: {"attendance": rows + [{"member_id": 999999, "status": "present",
                                             "savings": Decimal(0)}]}, "attendance"),
    (lambda m, rows: {"attendance": [dict(rows[0], savings=Decimal("-5"))] + rows[1:]}, "attendance"),
    (lambda m, rows: {"attendance": [dict(rows[0], status="asleep")] + rows[1:]}, "attendance"),
    (lambda m, rows: {"attendance": [dict(rows[0], savings=Decimal("1.005"))] + rows[1:]}, "attendance"),
])
def test_bad_meeting_is_refused_and_changes_nothing(group_of_three, change, field):
    group, members, facilitator = group_of_three
    rows = _rows(members)
    data = {"held_on": date(2024, 3, 6), "attendance": rows}
    data.update(change(members, rows))
    with pytest.raises(Invalid) as refused:
        services.save_meeting(None, group, data, by=facilitator)
    assert field in refused.value.errors
    db.session.rollback()
    assert db.session.scalar(select(func.count(Meeting.id))) == 0
    assert db.session.scalar(select(func.count(Attendance.id))) == 0


def test_attendance_for_someone_from_another_group_is_refused(group_of_three, create_member):
    group, members, facilitator = group_of_three
    stranger = create_member()  # in another group
    rows = _rows(members) + [{"member_id": stranger.id, "status": "present", "savings": Decimal(1)}]
    with pytest.raises(Invalid) as refused:
        services.save_meeting(None, group, {"held_on": date(2024, 3, 6), "attendance": rows},
                              by=facilitator)
    assert "not in this group" in refused.value.errors["attendance"][0]


def test_second_meeting_on_the_same_day_is_refused(group_of_three):
    group, members, facilitator = group_of_three
    services.save_meeting(None, group, {"held_on": date(2024, 3, 6), "attendance": _rows(members)},
                          by=facilitator)
    db.session.commit()
    with pytest.raises(Invalid) as refused:
        services.save_meeting(None, group, {"held_on": date(2024, 3, 6),
                                            "attendance": _rows(members)}, by=facilitator)
    assert "already recorded" in refused.value.errors["held_on"][0]


def test_meeting_page_records_attendance_with_decimal_comma(group_of_three, client, auth):
    group, members, facilitator = group_of_three
    auth.login(facilitator)
    form = {"held_on": "2024-03-06", "topics": "Безопасная миграция", "decisions": ""}
    for m, status, saving in zip(members, ("present", "excused", "late"), ("10,50", "", "1 200,25")):
        form[f"status-{m.id}"] = status
        form[f"savings-{m.id}"] = saving
    response = client.post(f"/groups/{group.id}/meetings/new", data=form)
    assert response.status_code == 302
    page = client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert "Айгуль Токтогулова" in page
    assert "1,210.75" in page  # group savings, English number format
    meeting = db.session.scalar(select(Meeting))
    assert sorted((a.status, a.savings) for a in meeting.attendance) == [
        ("excused", Decimal("0.00")), ("late", Decimal("1200.25")), ("present", Decimal("10.50"))]


def test_meeting_page_names_the_bad_savings_box_and_saves_nothing(group_of_three, client, auth):
    group, members, facilitator = group_of_three
    auth.login(facilitator)
    form = {"held_on": "2024-03-06"}
    for m in members:
        form[f"status-{m.id}"] = "present"
        form[f"savings-{m.id}"] = "abc" if m is members[1] else "5"
    response = client.post(f"/groups/{group.id}/meetings/new", data=form)
    assert response.status_code == 200
    assert "Not a valid number." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Meeting.id))) == 0
