"""SMS reminders: who is reminded, in which words, and that nothing is sent twice or lost."""
from __future__ import annotations

import socket
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from loans import reminders
from loans.reminders import Reminder
from loans.sms import ConsoleGateway, GatewayError, HttpJsonGateway
from shg.extensions import db

DISBURSED = date(2024, 1, 10)
FIRST_DUE = date(2024, 2, 10)  # monthly, one period after disbursement
#: 10:00 in Bishkek (UTC+6): daytime, outside the quiet hours
DAYTIME = datetime(2024, 2, 7, 4, 0)


@pytest.fixture(autouse=True)
def sms_only(monkeypatch):
    """This module is about the members' SMS; the staff's e-mail digests that the same run
    decides are proved in test_digests.py."""
    from loans import digests
    monkeypatch.setattr(digests, "plan", lambda as_of, country_id=None: [])


@pytest.fixture
def borrower(create_member):
    def make(language="ky", phone="+996700123456", consent=True, **kw):
        member = create_member(language=language, phone=phone, **kw)
        member.sms_consent = consent
        db.session.flush()
        return member
    return make


def _rows(**where):
    query = select(Reminder).order_by(Reminder.id)
    for key, value in where.items():
        query = query.where(getattr(Reminder, key) == value)
    return db.session.scalars(query).all()


def _count():
    return db.session.scalar(select(func.count(Reminder.id)))


def _closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/send"


# ---------------------------------------------------------------- deciding


def test_due_reminder_in_kyrgyz_with_amount_and_date(app, create_loan, borrower):
    member = borrower(language="ky")
    loan = create_loan(member=member, principal=Decimal("12000.00"), disbursed_on=DISBURSED)
    first = loan.schedule[0]
    assert first.due_on == FIRST_DUE

    written = reminders.decide(date(2024, 2, 7), now=DAYTIME)

    assert len(written) == 1
    row = written[0]
    assert (row.kind, row.channel, row.state) == ("installment_due", "sms", "queued")
    assert row.recipient == "+996700123456"
    assert row.member_id == member.id and row.installment_id == first.id
    assert row.language == "ky"
    # 1 000 principal + 240 flat interest (24 % a year on 12 000, a month)
    assert first.total == Decimal("1240.00")
    assert row.body == ("Эскертүү: насыя боюнча 1 240,00 KGS төлөө мөөнөтү — 2024-ж., 10-февраль. "
                        f"«{loan.group.name}» тобу.")


def test_due_reminder_in_russian(app, create_loan, borrower):
    member = borrower(language="ru")
    loan = create_loan(member=member, principal=Decimal("10000.00"), disbursed_on=DISBURSED)

    (row,) = reminders.decide(date(2024, 2, 7), now=DAYTIME)

    amount = loan.schedule[0].total
    assert amount == Decimal("1033.33")
    assert row.body == (f"Напоминание: 10 февраля 2024 г. нужно внести 1 033,33 KGS по кредиту. "
                        f"ГСП «{loan.group.name}».")


@pytest.mark.parametrize("language, words", [
    ("tg", ("Ёдрасонӣ", "1 240,00", "10 Феврал 2024")),
    ("uz", ("Eslatma", "1 240,00", "fevral")),
    ("en", ("Reminder", "1,240.00", "February 10, 2024")),
])
def test_due_reminder_in_other_languages(app, create_loan, borrower, language, words):
    create_loan(member=borrower(language=language), disbursed_on=DISBURSED)

    (row,) = reminders.decide(date(2024, 2, 7), now=DAYTIME)

    assert row.language == language
    for word in words:
        assert word in row.body


def test_reminder_follows_the_products_days_before(app, create_loan, borrower):
    create_loan(member=borrower(), disbursed_on=DISBURSED, reminder_days_before=5)

    assert reminders.decide(date(2024, 2, 7), now=DAYTIME) == []
    (row,) = reminders.decide(date(2024, 2, 5), now=DAYTIME)
    assert row.kind == "installment_due"


def test_loan_without_product_is_reminded_three_days_before(app, create_loan, borrower):
    loan = create_loan(member=borrower(), disbursed_on=DISBURSED)
    loan.product_id = None
    db.session.flush()
    db.session.expire(loan, ["product"])

    assert len(reminders.decide(date(2024, 2, 7), now=DAYTIME)) == 1


def test_undisbursed_and_paid_ahead_are_not_reminded(app, create_loan, create_user, borrower):
    from loans import services
    create_loan(member=borrower(), disbursed_on=DISBURSED, status="approved")
    paid = create_loan(member=borrower(), disbursed_on=DISBURSED)
    services.post_repayment(paid, paid.schedule[0].total, date(2024, 2, 1), by=create_user("admin"))

    assert reminders.decide(date(2024, 2, 7), now=DAYTIME) == []


def test_deciding_twice_queues_each_reminder_once(app, create_loan, borrower):
    create_loan(member=borrower(), disbursed_on=DISBURSED)
    create_loan(member=borrower(language="ru", phone="+996555000111"), disbursed_on=DISBURSED)

    assert len(reminders.decide(date(2024, 2, 7), now=DAYTIME)) == 2
    db.session.commit()
    assert reminders.decide(date(2024, 2, 7), now=DAYTIME) == []
    db.session.commit()
    assert _count() == 2


def test_a_row_queued_by_another_process_is_not_queued_again(app, create_loan, borrower,
                                                             monkeypatch):
    """Between our look and our insert another process queued it: the key refuses ours."""
    create_loan(member=borrower(), disbursed_on=DISBURSED)
    reminders.decide(date(2024, 2, 7), now=DAYTIME)
    db.session.commit()
    monkeypatch.setattr(reminders, "_existing_keys", lambda as_of: set())

    assert reminders.decide(date(2024, 2, 7), now=DAYTIME) == []
    db.session.commit()
    assert _count() == 1


def test_member_without_phone_is_skipped_with_the_reason(app, create_loan, borrower):
    create_loan(member=borrower(phone=None), disbursed_on=DISBURSED)

    (row,) = reminders.decide(date(2024, 2, 7), now=DAYTIME)

    assert (row.state, row.skip_reason, row.recipient) == ("skipped", "no_phone", "")
    db.session.commit()
    gateway = ConsoleGateway()
    assert reminders.send_due(gateway, now=DAYTIME).sent == 0
    assert gateway.sent == []
    assert reminders.decide(date(2024, 2, 7), now=DAYTIME) == []  # once, even when skipped


def test_member_who_did_not_agree_to_sms_is_skipped(app, create_loan, borrower):
    create_loan(member=borrower(consent=False), disbursed_on=DISBURSED)

    (row,) = reminders.decide(date(2024, 2, 7), now=DAYTIME)

    assert (row.state, row.skip_reason) == ("skipped", "no_sms_consent")
    assert row.next_attempt_at is None


def test_overdue_notice_the_day_after_an_unpaid_due_date(app, create_loan, create_user, borrower):
    from loans import services
    member = borrower(language="ru")
    loan = create_loan(member=member, disbursed_on=DISBURSED)
    services.post_repayment(loan, Decimal("240.00"), date(2024, 2, 10), by=create_user("admin"))

    assert [r.kind for r in reminders.decide(date(2024, 2, 10), now=DAYTIME)] == []
    (row,) = reminders.decide(date(2024, 2, 11), now=DAYTIME)

    assert row.kind == "installment_overdue"
    assert row.installment_id == loan.schedule[0].id
    assert row.body.startswith(
        "Платёж по кредиту (10 февраля 2024 г.) не внесён. Долг: 1 000,00 KGS.")
    assert reminders.decide(date(2024, 2, 12), now=DAYTIME) == []  # only the day after


def test_paid_installment_gets_no_overdue_notice(app, create_loan, create_user, borrower):
    from loans import services
    loan = create_loan(member=borrower(), disbursed_on=DISBURSED)
    services.post_repayment(loan, loan.schedule[0].total, date(2024, 2, 10),
                            by=create_user("admin"))

    assert reminders.decide(date(2024, 2, 11), now=DAYTIME) == []


# ---------------------------------------------------------------- sending through a real gateway


def test_messages_arrive_at_the_http_gateway_with_their_text(app, create_loan, borrower,
                                                             gateway_server):
    ky = borrower(language="ky", phone="+996700123456")
    ru = borrower(language="ru", phone="+996555000111")
    create_loan(member=ky, disbursed_on=DISBURSED)
    create_loan(member=ru, disbursed_on=DISBURSED)
    reminders.decide(date(2024, 2, 7), now=DAYTIME)
    db.session.commit()

    result = reminders.send_due(HttpJsonGateway(gateway_server.url, "k3y", timeout=5), now=DAYTIME)

    assert result.sent == 2
    got = {m["to"]: m for m in gateway_server.received}
    rows = {r.recipient: r for r in _rows()}
    assert set(got) == {"+996700123456", "+996555000111"}
    for phone, message in got.items():
        assert message["auth"] == "Bearer k3y"
        assert message["text"] == rows[phone].body
        assert rows[phone].state == "sent" and rows[phone].provider_id.startswith("gw-")
        assert rows[phone].attempts == 1 and rows[phone].sent_at == DAYTIME
    assert got["+996700123456"]["text"].startswith("Эскертүү: насыя боюнча 1 240,00 KGS")
    assert got["+996555000111"]["text"].startswith("Напоминание: 10 февраля 2024 г.")
    # a second run sends nothing more
    assert reminders.send_due(HttpJsonGateway(gateway_server.url, "k3y"), now=DAYTIME).sent == 0
    assert len(gateway_server.received) == 2


def test_gateway_error_backs_off_and_a_later_run_delivers(app, create_loan, borrower,
                                                          gateway_server):
    create_loan(member=borrower(), disbursed_on=DISBURSED)
    reminders.decide(date(2024, 2, 7), now=DAYTIME)
    db.session.commit()
    gateway = HttpJsonGateway(gateway_server.url, "k3y", timeout=5)

    gateway_server.status = 500
    assert reminders.send_due(gateway, now=DAYTIME).failed == 1
    (row,) = _rows()
    assert (row.state, row.attempts) == ("failed", 1)
    assert "500" in row.last_error
    assert row.next_attempt_at == DAYTIME + timedelta(minutes=1)

    # still down a minute later: the next wait is 5 minutes
    later = DAYTIME + timedelta(minutes=1)
    assert reminders.send_due(gateway, now=later - timedelta(seconds=1)).failed == 0  # not yet
    assert reminders.send_due(gateway, now=later).failed == 1
    db.session.refresh(row)
    assert (row.state, row.attempts) == ("failed", 2)
    assert row.next_attempt_at == later + timedelta(minutes=5)

    gateway_server.status = 200
    assert reminders.send_due(gateway, now=later + timedelta(minutes=4)).sent == 0
    assert gateway_server.received == []
    assert reminders.send_due(gateway, now=later + timedelta(minutes=5)).sent == 1
    db.session.refresh(row)
    assert (row.state, row.attempts, row.last_error) == ("sent", 3, None)
    assert [m["text"] for m in gateway_server.received] == [row.body]


def test_gateway_port_closed_then_open_nothing_lost(app, create_loan, borrower, gateway_server):
    create_loan(member=borrower(phone="+996700000001"), disbursed_on=DISBURSED)
    create_loan(member=borrower(phone="+996700000002", language="ru"), disbursed_on=DISBURSED)
    reminders.decide(date(2024, 2, 7), now=DAYTIME)
    db.session.commit()

    down = reminders.send_due(HttpJsonGateway(_closed_port_url(), "k", timeout=2), now=DAYTIME)
    assert down.failed == 2
    assert all(r.state == "failed" and "unreachable" in r.last_error for r in _rows())

    back = reminders.send_due(HttpJsonGateway(gateway_server.url, "k"),
                              now=DAYTIME + timedelta(minutes=1))
    assert back.sent == 2
    assert sorted(m["to"] for m in gateway_server.received) == ["+996700000001", "+996700000002"]
    assert {r.state for r in _rows()} == {"sent"}


def test_given_up_after_five_attempts(app, create_loan, borrower):
    class Down:
        def send(self, to, text):
            raise GatewayError("down")

    create_loan(member=borrower(), disbursed_on=DISBURSED)
    reminders.decide(date(2024, 2, 7), now=DAYTIME)
    db.session.commit()
    now = DAYTIME
    for waited in (0, 1, 5, 25, 125):
        now += timedelta(minutes=waited)
        reminders.send_due(Down(), now=now)
    (row,) = _rows()
    assert (row.state, row.attempts, row.next_attempt_at) == ("given_up", 5, None)
    assert reminders.send_due(Down(), now=now + timedelta(days=1)).failed == 0


def test_a_row_claimed_by_another_process_is_not_sent(app, create_loan, borrower, monkeypatch):
    create_loan(member=borrower(), disbursed_on=DISBURSED)
    (row,) = reminders.decide(date(2024, 2, 7), now=DAYTIME)
    db.session.commit()
    gateway = ConsoleGateway()

    class ClaimFirst:
        """Another process claims the row just before we do."""

        def __init__(self):
            self.done = False

        def __call__(self, now, zone):
            if not self.done:
                self.done = True
                db.session.execute(update(Reminder).values(state="sending"))
                db.session.commit()
            return None

    monkeypatch.setattr(reminders, "quiet_until", ClaimFirst())

    assert reminders.send_due(gateway, now=DAYTIME).sent == 0
    assert gateway.sent == []
    db.session.refresh(row)
    assert (row.state, row.attempts) == ("sending", 0)


def test_no_sms_at_night_held_until_eight_local(app, create_loan, borrower):
    create_loan(member=borrower(), disbursed_on=DISBURSED)
    reminders.decide(date(2024, 2, 7), now=DAYTIME)
    db.session.commit()
    gateway = ConsoleGateway()
    night = datetime(2024, 2, 7, 16, 30)  # 22:30 in Bishkek

    result = reminders.send_due(gateway, now=night)

    assert (result.sent, result.deferred) == (0, 1)
    (row,) = _rows()
    assert row.state == "queued"
    assert row.next_attempt_at == datetime(2024, 2, 8, 2, 0)  # 08:00 in Bishkek
    assert reminders.send_due(gateway, now=datetime(2024, 2, 8, 2, 0)).sent == 1


# ---------------------------------------------------------------- the command


def test_cli_dry_run_writes_nothing(app, runner, create_loan, borrower):
    create_loan(member=borrower(language="ru"), disbursed_on=DISBURSED)
    create_loan(member=borrower(phone=None), disbursed_on=DISBURSED)
    db.session.commit()

    result = runner.invoke(args=["reminders", "run", "--date", "2024-02-07", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "Напоминание: 10 февраля 2024 г. нужно внести" in result.output
    assert "no_phone" in result.output
    assert "2 new" in result.output
    db.session.rollback()
    assert _count() == 0


def test_cli_run_queues_and_sends(app, runner, create_loan, borrower, gateway_server):
    create_loan(member=borrower(language="ky"), disbursed_on=DISBURSED)
    db.session.commit()
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway_server.url, SMS_GATEWAY_KEY="k3y")

    result = runner.invoke(args=["reminders", "run", "--date", "2024-02-07"])

    assert result.exit_code == 0, result.output
    assert "1 queued" in result.output
    (row,) = _rows()
    # sent, unless the test happens to run during the Bishkek night
    if row.state == "queued":
        assert reminders.quiet_until(datetime.utcnow(), "Asia/Bishkek") is not None
    else:
        assert row.state == "sent"
        assert gateway_server.received[0]["text"] == row.body
    again = runner.invoke(args=["reminders", "run", "--date", "2024-02-07"])
    assert "0 queued" in again.output
    assert _count() == 1
