"""The reminder scheduler: a process of its own, started with `flask reminders scheduler`.

Web workers never run jobs (STACK.md: a scheduler in each gunicorn worker runs every job once
per worker). This process keeps its jobs in the application's database (APScheduler's
SQLAlchemyJobStore, table ``apscheduler_jobs``, made by the migrations):

* ``daily:<country code>``: at REMINDERS_DAILY_AT local time of the country (Asia/Bishkek,
  Asia/Dushanbe), decide the day's SMS and e-mail for that country and send them;
* ``send``: every REMINDERS_SEND_EVERY_SECONDS, send what is waiting (retries after
  back-off, SMS held over the members' night).

A daily run missed while the process was down is run once when it starts: the jobs are
kept in the database with their next run time, ``coalesce`` folds several missed runs into
one, and the grace period covers a whole day. The run works out the day it was meant for
from the clock, so a run caught up after midnight still decides the missed day.

Nothing here is what prevents a second message: two processes, a duplicate run or a restart
all meet the outbox's unique key (loans/reminders.py), and each row is claimed before it is
sent. So two scheduler processes started together each run the jobs, and every reminder
still goes out once.
"""
from __future__ import annotations

import logging
import threading
from datetime import date, datetime, time, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shg.extensions import db

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
#: a daily run missed by up to this much is still run (once) when the process starts
MISFIRE_GRACE = timedelta(hours=23, minutes=59)

#: the app the jobs run in: set by ``make_scheduler`` in the scheduler process only
_app = None


def parse_daily_at(text: str) -> time:
    """"07:00" -> time(7, 0); a clear error for anything else."""
    try:
        hour, minute = (int(part) for part in str(text).strip().split(":"))
        return time(hour, minute)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"REMINDERS_DAILY_AT must be HH:MM, not {text!r}") from exc


def scheduled_day(now_utc: datetime, timezone: str, daily_at: time) -> date:
    """The local day whose daily run is the latest one due at ``now_utc`` (naive UTC): today
    after the hour, yesterday before it (a run caught up at 06:00 is yesterday's)."""
    local = now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone))
    return local.date() if local.time() >= daily_at else local.date() - timedelta(days=1)


def run_daily(country_code: str, now: Optional[datetime] = None) -> str:
    """One country's daily run: decide and send. Returns a line for the log."""
    from flask import current_app

    from loans import reminders
    from loans.sms import gateway_from_config
    from shg.mail import mailer_from_config
    from shg.registry.models import Country
    from shg.timeutil import utcnow

    now = now or utcnow()
    country = db.session.scalar(select(Country).where(Country.code == country_code))
    if country is None:
        return f"daily {country_code}: no such country, nothing to do"
    daily_at = parse_daily_at(current_app.config.get("REMINDERS_DAILY_AT", "07:00"))
    as_of = scheduled_day(now, country.timezone or "Asia/Bishkek", daily_at)
    written, result = reminders.run(as_of, gateway_from_config(current_app.config), now=now,
                                    mailer=mailer_from_config(current_app.config),
                                    country_id=country.id)
    return (f"daily {country_code} {as_of.isoformat()}: {len(written)} new in the outbox; "
            f"{result.sent} sent, {result.failed} failed, {result.given_up} given up, "
            f"{result.deferred} held for the night")


def daily_job(country_code: str) -> None:
    """The job the store keeps (by reference, so it survives restarts)."""
    with _app.app_context():
        try:
            log.info(run_daily(country_code))
        finally:
            db.session.remove()


def send_job() -> None:
    from loans import reminders
    from loans.sms import gateway_from_config
    from shg.mail import mailer_from_config

    with _app.app_context():
        try:
            result = reminders.send_due(gateway_from_config(_app.config),
                                        mailer=mailer_from_config(_app.config))
            if result.sent or result.failed or result.given_up:
                log.info("send: %s sent, %s failed, %s given up", result.sent, result.failed,
                         result.given_up)
        finally:
            db.session.remove()


def wanted_jobs(app) -> list[dict]:
    """The jobs the settings call for: one daily run per country, and the sender."""
    from shg.registry.models import Country

    daily_at = parse_daily_at(app.config.get("REMINDERS_DAILY_AT", "07:00"))
    jobs = []
    with app.app_context():
        for code, timezone in db.session.execute(select(Country.code, Country.timezone)
                                                 .order_by(Country.code)):
            jobs.append({"id": f"daily:{code}", "func": "loans.scheduler:daily_job",
                         "args": [code],
                         "trigger": CronTrigger(hour=daily_at.hour, minute=daily_at.minute,
                                                timezone=timezone or "Asia/Bishkek")})
        db.session.remove()
    every = int(app.config.get("REMINDERS_SEND_EVERY_SECONDS", 60))
    jobs.append({"id": "send", "func": "loans.scheduler:send_job", "args": [],
                 "trigger": IntervalTrigger(seconds=every, timezone="UTC")})
    return jobs


def ensure_jobs(scheduler, app) -> list[str]:
    """Add the jobs the store lacks; replace one whose timing changed. A job already there
    keeps its next run time: that is what lets a missed run be caught up on start."""
    changed = []
    for spec in wanted_jobs(app):
        existing = scheduler.get_job(spec["id"])
        if existing is not None and str(existing.trigger) == str(spec["trigger"]) \
                and list(existing.args) == spec["args"] and existing.func_ref == spec["func"]:
            continue
        try:
            scheduler.add_job(spec["func"], spec["trigger"], args=spec["args"], id=spec["id"],
                              name=spec["id"], replace_existing=existing is not None)
        except (ConflictingIdError, IntegrityError):
            continue  # another scheduler process added it a moment ago
        changed.append(spec["id"])
    return changed


def make_scheduler(app) -> BackgroundScheduler:
    """A scheduler on the application's database, not started."""
    global _app
    _app = app
    with app.app_context():
        engine = db.engine
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(MISFIRE_GRACE.total_seconds())},
        timezone="UTC")


def serve(app, stop: threading.Event) -> None:
    """Start the jobs (after catching up what was missed) and run until ``stop`` is set."""
    scheduler = make_scheduler(app)
    scheduler.start(paused=True)  # the store is read only once the scheduler runs
    try:
        changed = ensure_jobs(scheduler, app)
        if changed:
            log.info("jobs added or changed: %s", ", ".join(changed))
        for job in scheduler.get_jobs():
            log.info("job %s: next run %s", job.id, job.next_run_time)
        scheduler.resume()
        stop.wait()
    finally:
        # APScheduler makes one last pass over the store as it shuts down, with its
        # executors already stopped: a run due at that moment would be marked done without
        # running. Without the store, the pass finds nothing; the run waits for the restart.
        scheduler.remove_jobstore("default", shutdown=True)
        scheduler.shutdown(wait=True)
