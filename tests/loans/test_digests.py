"""The staff's e-mail, sent to a real SMTP server on 127.0.0.1: who is told what, in which
language, and that nothing is lost or sent twice when the server is down."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from loans import reminders, services
from loans.portfolio import portfolio
from loans.reminders import Reminder
from loans.sms import HttpJsonGateway
from shg.extensions import db
from shg.formatting import day, money, percent
from shg.mail import SmtpMailer

MONDAY = date(2024, 2, 12)
#: 09:00 in Bishkek (UTC+6)
MORNING = datetime(2024, 2, 12, 3, 0)


@pytest.fixture
def programme(app, create_village, create_group, create_member, create_loan, create_user):
    """Two districts of Kyrgyzstan: in the first a group meeting on Tuesdays with a loan one
    day late and one falling due on Thursday; in the second a loan late since January."""
    village_a = create_village(name="Кара-Суу")
    village_b = create_village(name="Ак-Талаа")
    officer_a = create_user("loan_officer", districts=[village_a.district], locale="ru",
                            full_name="Бакыт Осмонов")
    facilitator = create_user("facilitator", districts=[village_a.district], locale="en",
                              full_name="Nurgul Sadykova")
    officer_b = create_user("loan_officer", districts=[village_b.district], locale="ru",
                            full_name="Эрмек Жумабаев")
    no_email = create_user("loan_officer", districts=[village_a.district])
    officer_a.email, facilitator.email = "bakyt@example.org", "nurgul@example.org"
    officer_b.email = "ermek@example.org"
    group_a = create_group(village=village_a, name="Ынтымак", facilitator=facilitator,
                           meeting_day=1, meeting_frequency="weekly")
    group_b = create_group(village=village_b, name="Береке")
    late = create_loan(member=create_member(group=group_a, full_name="Айгуль Бекова",
                                            phone="+996700111222", language="ky"),
                       disbursed_on=date(2024, 1, 11))  # due Sunday 11 Feb, unpaid
    due = create_loan(member=create_member(group=group_a, full_name="Жылдыз Асанова",
                                           phone="+996700333444", language="ru"),
                      disbursed_on=date(2024, 1, 15))  # due Thursday 15 Feb
    late_b = create_loan(member=create_member(group=group_b, full_name="Гульнара Токтосунова",
                                              phone="+996700555666"),
                         disbursed_on=date(2023, 12, 1))
    for loan in (late, due):
        loan.member.sms_consent = True
    admin = create_user("admin", full_name="Project office", locale="ru")
    admin.email = "office@example.org"
    db.session.commit()
    return {"officer_a": officer_a, "facilitator": facilitator, "officer_b": officer_b,
            "no_email": no_email, "admin": admin, "late": late, "due": due, "late_b": late_b,
            "group_a": group_a, "district_a": village_a.district,
            "district_b": village_b.district}


def _mailer(server) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", server.port, sender="ledger@example.org")


def _one(server, address, words):
    found = [m for m in server.to(address) if words in m["subject"]]
    assert len(found) == 1, [m["subject"] for m in server.to(address)]
    return found[0]


def test_officers_are_told_their_own_districts_late_loans_in_their_language(
        programme, smtp_server):
    reminders.run(MONDAY, None, now=MORNING, mailer=_mailer(smtp_server))

    late, due = programme["late"], programme["due"]
    position = services.position(late, MONDAY)
    with force_locale("ru"):
        arrears = money(position.arrears, "KGS")
        due_amount = money(due.schedule[0].owed, "KGS")
        monday, thursday = day(MONDAY), day(date(2024, 2, 15))
    mail = _one(smtp_server, "bakyt@example.org", "Просрочка")
    body = mail["body"]
    assert mail["subject"].startswith(f"Просрочка на {monday}: 1")
    assert "Доброе утро, Бакыт Осмонов." in body
    assert "Кара-Суу — Ынтымак" in body
    assert f"Айгуль Бекова, +996700111222: просрочка {position.days_past_due} дн., " \
           f"просрочено {arrears}" in body
    assert position.days_past_due == 1
    assert "Жылдыз Асанова, +996700333444, " + due_amount in body
    assert f"{thursday}: Жылдыз" in body
    assert "Гульнара" not in body  # another district's loan

    other = _one(smtp_server, "ermek@example.org", "Просрочка")["body"]
    assert "Гульнара Токтосунова, +996700555666" in other
    assert "Айгуль" not in other and "Жылдыз" not in other


def test_facilitator_is_told_tomorrows_meetings_with_the_collection_due(programme,
                                                                       smtp_server):
    reminders.run(MONDAY, None, now=MORNING, mailer=_mailer(smtp_server))

    sheet = services.collection_sheet(programme["group_a"].id, MONDAY + timedelta(days=1))
    collection = sum((due_now for _loan, due_now, _owed in sheet), Decimal("0.00"))
    assert collection > 0
    mail = _one(smtp_server, "nurgul@example.org", "Meetings tomorrow")
    with force_locale("en"):
        assert mail["subject"] == f"Meetings tomorrow, {day(MONDAY + timedelta(days=1))}: 1"
        assert f"Кара-Суу — Ынтымак: collection due {money(collection, 'KGS')} (1 borrowers)" \
            in mail["body"]
    # and her overdue digest, in English
    digest = _one(smtp_server, "nurgul@example.org", "Overdue loans")["body"]
    assert "Айгуль Бекова" in digest and "1 days late" in digest
    # the officers are not facilitators of a group: no meeting e-mail for them
    assert not [m for m in smtp_server.to("bakyt@example.org") if "Собрания" in m["subject"]]


def test_project_office_gets_the_weekly_portfolio_by_district_on_mondays(programme,
                                                                          smtp_server, app):
    app.config["PROJECT_OFFICE_EMAILS"] = "donor@example.org, office@example.org"
    reminders.run(MONDAY, None, now=MORNING, mailer=_mailer(smtp_server))

    mail = _one(smtp_server, "office@example.org", "Кредитный портфель")
    for district in ("district_a", "district_b"):
        (figures,) = portfolio(MONDAY, district_id=programme[district].id).values()
        with force_locale("ru"):
            line = (f"{programme[district].name}: {figures.active_loans}; "
                    f"{money(figures.gross_outstanding, 'KGS')}; {percent(figures.par30)}; "
                    f"{percent(figures.on_time_rate)}")
        assert line in mail["body"]
    assert len(smtp_server.to("office@example.org")) == 1  # the admin's address, once
    assert _one(smtp_server, "donor@example.org", "Кредитный портфель")

    smtp_server.messages.clear()
    tuesday = MONDAY + timedelta(days=1)
    reminders.run(tuesday, None, now=MORNING + timedelta(days=1), mailer=_mailer(smtp_server))
    assert not [m for m in smtp_server.messages if "портфель" in m["subject"]]


def test_no_digest_on_a_weekend(programme, smtp_server):
    saturday = date(2024, 2, 17)
    reminders.run(saturday, None, now=datetime(2024, 2, 17, 3, 0), mailer=_mailer(smtp_server))
    assert not [m for m in smtp_server.messages if "Overdue" in m["subject"]
                or "Просрочка" in m["subject"]]


def test_staff_without_an_email_address_is_skipped_with_the_reason(programme, smtp_server):
    written, _ = reminders.run(MONDAY, None, now=MORNING, mailer=_mailer(smtp_server))

    (row,) = [r for r in written if r.user_id == programme["no_email"].id]
    assert (row.kind, row.state, row.skip_reason, row.recipient) == \
        ("overdue_digest", "skipped", "no_email", "")
    assert row.sent_at is None


def test_members_and_staff_in_one_run_each_in_their_language(programme, smtp_server,
                                                             gateway_server):
    reminders.run(MONDAY, HttpJsonGateway(gateway_server.url), now=MORNING,
                  mailer=_mailer(smtp_server))

    texts = {m["to"]: m["text"] for m in gateway_server.received}
    assert set(texts) == {"+996700111222", "+996700333444"}
    assert texts["+996700111222"].startswith("Насыя төлөмү (2024-ж., 11-февраль)")  # Kyrgyz
    assert texts["+996700333444"].startswith("Напоминание: 15 февраля 2024 г. нужно внести")


def test_a_second_run_sends_nothing_again(programme, smtp_server, gateway_server):
    gateway = HttpJsonGateway(gateway_server.url)
    reminders.run(MONDAY, gateway, now=MORNING, mailer=_mailer(smtp_server))
    mails, sms = len(smtp_server.messages), len(gateway_server.received)
    assert mails >= 5 and sms == 2

    written, result = reminders.run(MONDAY, gateway, now=MORNING + timedelta(hours=2),
                                    mailer=_mailer(smtp_server))
    assert written == [] and result.sent == 0
    assert (len(smtp_server.messages), len(gateway_server.received)) == (mails, sms)


def test_smtp_down_for_the_first_run_then_everything_is_delivered_once(programme,
                                                                       smtp_server):
    mailer = _mailer(smtp_server)
    smtp_server.stop()
    written, result = reminders.run(MONDAY, None, now=MORNING, mailer=mailer)
    queued = [r for r in written if r.channel == "email" and r.state != "skipped"]
    assert result.sent == 0 and result.failed == len(queued) >= 5
    rows = db.session.scalars(select(Reminder).where(Reminder.channel == "email",
                                                     Reminder.state != "skipped")).all()
    assert {r.state for r in rows} == {"failed"}
    assert all("127.0.0.1" in r.last_error and r.next_attempt_at == MORNING
               + timedelta(minutes=1) for r in rows)

    # still down a minute later: the second attempt fails too, and waits five minutes
    reminders.send_due(None, now=MORNING + timedelta(minutes=1), mailer=mailer)
    smtp_server.start()
    assert reminders.send_due(None, now=MORNING + timedelta(minutes=2), mailer=mailer).sent == 0
    result = reminders.send_due(None, now=MORNING + timedelta(minutes=7), mailer=mailer)

    assert result.sent == len(queued)
    db.session.expire_all()
    rows = db.session.scalars(select(Reminder).where(Reminder.channel == "email",
                                                     Reminder.state != "skipped")).all()
    assert {r.state for r in rows} == {"sent"}
    assert sorted(m["message_id"] for m in smtp_server.messages) == \
        sorted(r.provider_id for r in rows)
    assert sorted(a for m in smtp_server.messages for a in m["to"]) == \
        sorted(r.recipient for r in rows)
