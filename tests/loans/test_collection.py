"""The collection sheet: repayments collected at a group meeting, saved with the meeting."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from loans.models import Loan, Repayment
from shg.extensions import db
from shg.registry.models import Meeting

D = Decimal
MEETING_DAY = date(2024, 3, 13)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def sheet(create_group, create_member, create_loan, create_user):
    """A group of two borrowers, each with a loan paid out on 10 January 2024 (1,240 due
    every month from 10 February), and the district's facilitator."""
    group = create_group(name="Ынтымак")
    aigul = create_member(group, full_name="Айгуль Токтогулова")
    gulnara = create_member(group, full_name="Гүлнара Өмүрбекова")
    first = create_loan(member=aigul, installments=12, rate=D("24"))
    second = create_loan(member=gulnara, installments=12, rate=D("24"))
    facilitator = create_user("facilitator", districts=[group.village.district],
                              full_name="Жаңыл Асанова")
    db.session.commit()
    return SimpleNamespace(group=group, members=(aigul, gulnara), loans=(first, second),
                           facilitator=facilitator)


def _meeting_form(s, **repay):
    data = {"held_on": MEETING_DAY.isoformat(), "topics": "Погашение займов"}
    for member in s.members:
        data[f"status-{member.id}"] = "present"
        data[f"savings-{member.id}"] = "100"
    for loan, amount in zip(s.loans, (repay.get("first", ""), repay.get("second", ""))):
        data[f"repay-{loan.id}"] = amount
    return data


def test_new_meeting_form_lists_each_loan_with_what_is_due_now(sheet, client, auth):
    auth.login(sheet.facilitator)
    page = html(client.get(f"/groups/{sheet.group.id}/meetings/new"))
    assert "Repayments collected" in page
    for loan, member in zip(sheet.loans, sheet.members):
        row = page.split(f'data-loan="{loan.id}"')[1].split('invalid-feedback')[0]
        assert member.full_name in row
        # today every installment of a 2024 loan has fallen due: 12 x 1,240
        assert f'name="repay-{loan.id}"' in row and 'value="14880.00"' in row


def test_meeting_and_its_repayments_are_saved_together_dated_the_meeting_day(sheet, client, auth):
    auth.login(sheet.facilitator)
    response = client.post(f"/groups/{sheet.group.id}/meetings/new",
                           data=_meeting_form(sheet, first="1 240,00", second=""))
    assert response.status_code == 302, html(response)
    meeting = db.session.scalar(select(Meeting).where(Meeting.group_id == sheet.group.id))
    assert meeting.held_on == MEETING_DAY
    repayments = db.session.scalars(select(Repayment)).all()
    assert [(r.loan_id, r.amount, r.paid_on, r.meeting_id) for r in repayments] == [
        (sheet.loans[0].id, D("1240.00"), MEETING_DAY, meeting.id)]
    first = db.session.get(Loan, sheet.loans[0].id)
    assert first.last_paid_on == MEETING_DAY
    # the meeting page shows what was collected there
    page = html(client.get(f"/meetings/{meeting.id}"))
    collected = page.split('id="meeting-repayments"')[1].split("</table>")[0]
    assert "Айгуль Токтогулова" in collected and "1,240.00 KGS" in collected
    assert "Гүлнара Өмүрбекова" not in collected


def test_one_refused_repayment_saves_nothing_and_says_which(sheet, client, auth):
    auth.login(sheet.facilitator)
    response = client.post(f"/groups/{sheet.group.id}/meetings/new",
                           data=_meeting_form(sheet, first="1240", second="999 999,00"))
    assert response.status_code == 200
    assert count(Meeting) == 0 and count(Repayment) == 0
    page = html(response)
    refused = page.split(f'data-loan="{sheet.loans[1].id}"')[1].split('id="topics"')[0]
    assert "more than she owes" in refused
    accepted = page.split(f'data-loan="{sheet.loans[0].id}"')[1].split('data-loan=')[0]
    assert "invalid-feedback" not in accepted
    # what was typed is kept, so she corrects one box and saves again
    assert 'value="999 999,00"' in page and 'value="1240"' in page
    assert "Погашение займов" in page
    for loan in sheet.loans:
        assert db.session.get(Loan, loan.id).last_paid_on is None


def test_a_box_that_is_not_a_number_saves_nothing(sheet, client, auth):
    auth.login(sheet.facilitator)
    response = client.post(f"/groups/{sheet.group.id}/meetings/new",
                           data=_meeting_form(sheet, first="сто"))
    assert response.status_code == 200
    assert count(Meeting) == 0 and count(Repayment) == 0
    row = html(response).split(f'data-loan="{sheet.loans[0].id}"')[1].split('data-loan=')[0]
    assert "Not a valid number." in row


def test_a_meeting_refused_for_its_own_reason_posts_no_repayment(sheet, client, auth):
    auth.login(sheet.facilitator)
    data = _meeting_form(sheet, first="1240")
    del data[f"status-{sheet.members[1].id}"]  # her attendance is missing
    response = client.post(f"/groups/{sheet.group.id}/meetings/new", data=data)
    assert response.status_code == 200
    assert count(Meeting) == 0 and count(Repayment) == 0


def test_editing_a_meeting_shows_no_collection_sheet(sheet, client, auth):
    auth.login(sheet.facilitator)
    client.post(f"/groups/{sheet.group.id}/meetings/new", data=_meeting_form(sheet, first="1240"))
    meeting = db.session.scalar(select(Meeting))
    page = html(client.get(f"/meetings/{meeting.id}/edit"))
    assert 'id="collection-sheet"' not in page
    data = _meeting_form(sheet, first="1240")
    response = client.post(f"/meetings/{meeting.id}/edit", data=data)
    assert response.status_code == 302
    assert count(Repayment) == 1  # the edit posted nothing more


def test_a_meeting_with_savings_over_a_thousand_saves_again_as_shown(sheet, client, auth):
    """The edit form shows each box as it reads back: "1250.50", not "1,250.50"."""
    auth.login(sheet.facilitator)
    data = _meeting_form(sheet)
    data[f"savings-{sheet.members[0].id}"] = "1 250,50"
    assert client.post(f"/groups/{sheet.group.id}/meetings/new", data=data).status_code == 302
    meeting = db.session.scalar(select(Meeting))
    page = html(client.get(f"/meetings/{meeting.id}/edit"))
    shown = page.split(f'name="savings-{sheet.members[0].id}"')[1].split('value="')[1].split('"')[0]
    assert shown == "1250.50"
    resend = {"held_on": MEETING_DAY.isoformat()}
    for member in sheet.members:
        resend[f"status-{member.id}"] = "present"
        resend[f"savings-{member.id}"] = page.split(f'name="savings-{member.id}"')[1] \
            .split('value="')[1].split('"')[0]
    response = client.post(f"/meetings/{meeting.id}/edit", data=resend)
    assert response.status_code == 302, html(response)
