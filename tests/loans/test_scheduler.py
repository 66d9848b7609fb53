"""The scheduler as its own process (`flask reminders scheduler`), against a real database,
a real SMTP server and a real HTTP SMS gateway on 127.0.0.1: two processes started together
send each reminder once, and a daily run missed while the process was down is caught up once
when it starts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import func, select

from loans import reminders, scheduler
from loans.reminders import Reminder
from shg.extensions import db

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def daytime_zone() -> str:
    """A fixed-offset zone where it is now between 10:00 and 18:00, so that the members'
    quiet hours never hold the test's SMS back, whatever the hour the suite runs at."""
    hour = datetime.now(timezone.utc).hour
    for offset in range(-12, 15):
        if 10 <= (hour + offset) % 24 < 18:
            # Etc/GMT-6 is UTC+6: the sign is the POSIX one, reversed
            return "Etc/GMT" + ("+" if offset < 0 else "-") + str(abs(offset)) \
                if offset else "Etc/UTC"
    raise AssertionError("unreachable")


@pytest.fixture
def day_programme(app, create_country, create_village, create_group, create_member,
                  create_loan, create_user):
    """Today, local to the programme's country: an installment due in three days, one fallen
    due yesterday and unpaid, an officer with an e-mail address, and a facilitator whose
    group meets tomorrow."""
    zone = daytime_zone()
    country = create_country("KG", timezone=zone)
    local_now = datetime.now(ZoneInfo(zone))
    today = local_now.date()
    # the daily run was due an hour ago, today
    daily_at = (local_now - timedelta(hours=1)).strftime("%H:%M")
    app.config["REMINDERS_DAILY_AT"] = daily_at
    village = create_village(country_code="KG")
    facilitator = create_user("facilitator", districts=[village.district], locale="ru")
    facilitator.email = "fac@example.org"
    officer = create_user("loan_officer", districts=[village.district], locale="ru")
    officer.email = "officer@example.org"
    group = create_group(village=village, facilitator=facilitator, meeting_frequency="weekly",
                         meeting_day=(today + timedelta(days=1)).weekday())
    for phone, disbursed, first_due in (("+996700111222", 30, -3), ("+996700333444", 40, 1)):
        member = create_member(group=group, phone=phone, language="ru")
        member.sms_consent = True
        create_loan(member=member, disbursed_on=today - timedelta(days=disbursed),
                    first_due_on=today - timedelta(days=first_due))
    db.session.commit()
    expected = [p for p in reminders.pending(today) if p.state == "queued"]
    assert Counter(p.channel for p in expected)["sms"] == 2
    assert any(p.kind == "meetings_tomorrow" for p in expected)
    return {"country": country, "today": today, "daily_at": daily_at, "expected": expected}


def _store(app):
    """The job store as the scheduler process reads it, opened without a running scheduler
    (a running one, even paused, runs due jobs once more as it shuts down)."""
    with app.app_context():
        store = SQLAlchemyJobStore(engine=db.engine, tablename=scheduler.JOBSTORE_TABLE)
    store.start(scheduler.make_scheduler(app), "default")
    return store


def _missed_run(app, code: str, days_ago: int = 0) -> None:
    """Put the jobs in the store as a process stopped over the daily run would have left
    them: the daily run's next time in the past."""
    sched = scheduler.make_scheduler(app)
    sched.start(paused=True)
    try:
        scheduler.ensure_jobs(sched, app)  # nothing is due yet: the run is an hour ahead
    finally:
        sched.shutdown()
    store = _store(app)
    job = store.lookup_job(f"daily:{code}")
    now = datetime.now(timezone.utc)
    missed = job.trigger.get_next_fire_time(None, now - timedelta(days=1))
    assert now - timedelta(hours=2) < missed < now
    job._modify(next_run_time=missed - timedelta(days=days_ago))
    store.update_job(job)


def _start(tmp_path, name, database_url, smtp, gateway, daily_at):
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="scheduler-test",
               SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, MAIL_SERVER="127.0.0.1",
               MAIL_PORT=str(smtp.port), REMINDERS_DAILY_AT=daily_at,
               REMINDERS_SEND_EVERY_SECONDS="1", PROJECT_OFFICE_EMAILS="")
    env.pop("FLASK_DEBUG", None)
    log = open(tmp_path / f"{name}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "shg", "reminders",
                                "scheduler"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    process.log_path = tmp_path / f"{name}.log"
    return process


def _stop(process) -> str:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return process.log_path.read_text()


def _wait_for_all(expected, smtp, gateway, timeout=60):
    emails = sum(1 for p in expected if p.channel == "email")
    sms = sum(1 for p in expected if p.channel == "sms")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (len(smtp.messages) < emails
                                           or len(gateway.received) < sms):
        time.sleep(0.2)
    time.sleep(3)  # the sender runs every second: time enough for a second copy to show
    return emails, sms


def _next_daily_run(app, code):
    return _store(app).lookup_job(f"daily:{code}").next_run_time


def test_two_scheduler_processes_started_together_send_each_reminder_once(
        app, day_programme, smtp_server, gateway_server, database_url, tmp_path):
    _missed_run(app, "KG")
    processes = [_start(tmp_path, name, database_url, smtp_server, gateway_server,
                        day_programme["daily_at"]) for name in ("first", "second")]
    try:
        emails, sms = _wait_for_all(day_programme["expected"], smtp_server, gateway_server)
    finally:
        logs = [_stop(p) for p in processes]

    assert sorted(m["to"] for m in gateway_server.received) == \
        sorted(p.recipient for p in day_programme["expected"] if p.channel == "sms")
    assert sorted(a for m in smtp_server.messages for a in m["to"]) == \
        sorted(p.recipient for p in day_programme["expected"] if p.channel == "email")
    assert (len(smtp_server.messages), len(gateway_server.received)) == (emails, sms)
    db.session.expire_all()
    rows = db.session.scalars(select(Reminder).where(Reminder.state != "skipped")).all()
    assert len(rows) == emails + sms and {r.state for r in rows} == {"sent"}
    assert all("Reminder scheduler stopped." in log for log in logs), logs
    assert _next_daily_run(app, "KG") > datetime.now(timezone.utc)


def test_a_process_stopped_over_the_daily_run_catches_it_up_once_on_start(
        app, day_programme, smtp_server, gateway_server, database_url, tmp_path):
    _missed_run(app, "KG", days_ago=3)  # down for three days and more: one run, not four
    process = _start(tmp_path, "catch-up", database_url, smtp_server, gateway_server,
                     day_programme["daily_at"])
    try:
        emails, sms = _wait_for_all(day_programme["expected"], smtp_server, gateway_server)
    finally:
        log = _stop(process)
    assert (len(smtp_server.messages), len(gateway_server.received)) == (emails, sms)
    assert log.count("daily KG ") == 1, log
    assert f"daily KG {day_programme['today'].isoformat()}" in log
    db.session.expire_all()
    assert set(db.session.scalars(select(Reminder.for_date).distinct())) == \
        {day_programme["today"]}
    assert _next_daily_run(app, "KG") > datetime.now(timezone.utc)

    # started again the same day: the run is done, nothing more goes out
    rows_before = db.session.scalar(select(func.count(Reminder.id)))
    process = _start(tmp_path, "again", database_url, smtp_server, gateway_server,
                     day_programme["daily_at"])
    deadline = time.monotonic() + 60
    while "job daily:KG: next run" not in process.log_path.read_text() \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.5)  # its jobs are read and waiting: the sender has run twice meanwhile
    log = _stop(process)
    assert "daily KG " not in log
    assert (len(smtp_server.messages), len(gateway_server.received)) == (emails, sms)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Reminder.id))) == rows_before
