"""The outbox page: each officer sees her districts' messages, filters narrow them, a failed
message can be sent again, and a member's SMS switched off."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from loans import reminders
from loans.reminders import Reminder
from shg.extensions import db

TODAY = date(2024, 2, 7)
DAYTIME = datetime(2024, 2, 7, 4, 0)


@pytest.fixture
def outbox(app, create_village, create_group, create_member, create_loan, create_user,
           monkeypatch):
    """Two districts, a due-soon SMS in each (one failed at the gateway), and a member of
    the first without a phone."""
    from loans import digests
    monkeypatch.setattr(digests, "plan", lambda as_of, country_id=None: [])
    village_a, village_b = create_village(name="Кара-Суу"), create_village(name="Ак-Талаа")
    officer = create_user("loan_officer", districts=[village_a.district])
    viewer = create_user("viewer")
    admin = create_user("admin")
    loans = {}
    for key, village, name, phone in (("a", village_a, "Айгуль Бекова", "+996700111222"),
                                      ("nophone", village_a, "Гүлзат Осмонова", None),
                                      ("b", village_b, "Жылдыз Асанова", "+996700333444")):
        member = create_member(group=create_group(village=village), full_name=name,
                               phone=phone, language="ru")
        member.sms_consent = True
        loans[key] = create_loan(member=member, disbursed_on=date(2024, 1, 10))
    reminders.decide(TODAY, now=DAYTIME)
    rows = {r.loan_id: r for r in db.session.scalars(select(Reminder))}
    failed = rows[loans["a"].id]
    failed.state, failed.attempts, failed.last_error = "failed", 2, "HTTP 503 from the gateway"
    failed.next_attempt_at = DAYTIME + timedelta(minutes=5)
    db.session.commit()
    return {"officer": officer, "viewer": viewer, "admin": admin,
            "rows": {key: rows[loan.id] for key, loan in loans.items()}, "loans": loans}


def _ids(page: str) -> set[int]:
    import re
    return {int(x) for x in re.findall(r'data-reminder="(\d+)"', page)}


def test_officer_sees_her_districts_messages_and_the_project_office_all(outbox, client, auth):
    rows = outbox["rows"]
    auth.login(outbox["officer"])
    page = client.get("/reminders").get_data(as_text=True)
    assert _ids(page) == {rows["a"].id, rows["nophone"].id}
    assert "HTTP 503 from the gateway" in page and "no phone number" in page
    auth.logout()
    auth.login(outbox["admin"])
    assert _ids(client.get("/reminders").get_data(as_text=True)) == {r.id for r in rows.values()}


@pytest.mark.parametrize("query, keys", [
    ("state=failed", {"a"}), ("state=skipped", {"nophone"}), ("recipient=жылдыз", {"b"}),
    ("recipient=333444", {"b"}), ("kind=installment_due", {"a", "nophone", "b"}),
    ("kind=overdue_digest", set()), ("on=2024-02-07", {"a", "nophone", "b"}),
    ("on=2024-02-08", set()), ("channel=email", set()),
])
def test_filters_narrow_the_outbox(outbox, client, auth, query, keys):
    auth.login(outbox["admin"])
    page = client.get(f"/reminders?{query}").get_data(as_text=True)
    assert _ids(page) == {outbox["rows"][k].id for k in keys}


@pytest.mark.parametrize("query", ["kind=nonsense", "on=2024-13-45", "on=99999-01-01",
                                   "page=99999999999999", "recipient=" + "x" * 5000,
                                   "state=%00"])
def test_odd_filters_are_ignored_not_a_server_error(outbox, client, auth, query):
    auth.login(outbox["admin"])
    assert client.get(f"/reminders?{query}").status_code == 200


def test_a_failed_message_can_be_sent_again(outbox, client, auth, gateway_server, app):
    from loans.sms import HttpJsonGateway
    row = outbox["rows"]["a"]
    auth.login(outbox["officer"])
    response = client.post(f"/reminders/{row.id}/retry", follow_redirects=True)
    assert "will be sent again" in response.get_data(as_text=True)
    db.session.refresh(row)
    assert (row.state, row.attempts) == ("queued", 0)
    reminders.send_due(HttpJsonGateway(gateway_server.url),
                       now=row.next_attempt_at + timedelta(seconds=1))
    db.session.refresh(row)
    assert row.state == "sent"
    assert [m["to"] for m in gateway_server.received].count("+996700111222") == 1


def test_a_sent_or_skipped_message_is_not_sent_again(outbox, client, auth):
    row = outbox["rows"]["nophone"]
    auth.login(outbox["officer"])
    response = client.post(f"/reminders/{row.id}/retry", follow_redirects=True)
    assert "Only a failed reminder can be sent again." in response.get_data(as_text=True)
    db.session.refresh(row)
    assert row.state == "skipped"


def test_viewer_and_other_districts_may_not_retry(outbox, client, auth):
    auth.login(outbox["viewer"])
    assert client.post(f"/reminders/{outbox['rows']['a'].id}/retry").status_code == 403
    auth.logout()
    auth.login(outbox["officer"])
    assert client.post(f"/reminders/{outbox['rows']['b'].id}/retry").status_code == 404
    assert client.post("/reminders/99999999/retry").status_code == 404
    db.session.refresh(outbox["rows"]["a"])
    assert outbox["rows"]["a"].state == "failed"


def test_switching_off_a_members_sms_holds_back_what_waits_and_skips_the_next(
        outbox, client, auth):
    row, loan = outbox["rows"]["a"], outbox["loans"]["a"]
    auth.login(outbox["officer"])
    response = client.post(f"/reminders/{row.id}/sms-off", follow_redirects=True)
    assert "SMS switched off for Айгуль Бекова; 1 waiting" in response.get_data(as_text=True)
    db.session.refresh(row)
    assert (row.state, row.skip_reason) == ("skipped", "no_sms_consent")
    assert loan.member.sms_consent is False
    # the overdue notice of a later day is written down as not sent, with the reason
    later = [r for r in reminders.decide(date(2024, 2, 11), now=DAYTIME) if r.loan_id == loan.id]
    assert [(r.kind, r.state, r.skip_reason) for r in later] == \
        [("installment_overdue", "skipped", "no_sms_consent")]
