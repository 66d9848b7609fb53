"""`flask reminders run|scheduler`: the daily SMS and e-mail reminders.

``run`` is the day's work by hand (the same ``loans.reminders.run`` the scheduler's daily
job calls); ``scheduler`` is the scheduler process itself (loans/scheduler.py), which the
web workers never start. Output is in English like the other commands (shg/cli.py,
accounts/cli.py): run by the project office's administrator, not in a page.
"""
import logging
import signal
import threading

import click
from flask import Blueprint, current_app

bp = Blueprint("reminders_cli", __name__, cli_group="reminders")


@bp.cli.command("run")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to decide reminders for (YYYY-MM-DD).  [default: today]")
@click.option("--dry-run", is_flag=True,
              help="Print what would be queued and sent; write and send nothing.")
def run_command(day, dry_run):
    """Queue the day's SMS and e-mail reminders, then send those that are due."""
    from loans import reminders
    from loans.sms import gateway_from_config
    from shg.extensions import db
    from shg.mail import mailer_from_config
    from shg.timeutil import today

    as_of = day.date() if day else today()
    if dry_run:
        planned = reminders.pending(as_of)
        for p in planned:
            what = f"loan {p.loan_id}" if p.loan_id else p.about
            if p.state == "skipped":
                click.echo(f"SKIP {p.kind} {p.channel} {what} {p.name}: {p.skip_reason}")
            elif p.channel == "sms":
                click.echo(f"SEND {p.kind} sms {what} to {p.recipient} [{p.language}]: {p.body}")
            else:
                click.echo(f"SEND {p.kind} email to {p.recipient} [{p.language}]: {p.subject}")
        waiting = db.session.scalar(
            db.select(db.func.count(reminders.Reminder.id)).where(
                reminders.Reminder.state.in_(("queued", "failed"))))
        click.echo(f"Dry run for {as_of.isoformat()}: {len(planned)} new, {waiting} already "
                   "waiting in the outbox. Nothing was written or sent.")
        return

    written, sent = reminders.run(as_of, gateway_from_config(current_app.config),
                                  mailer=mailer_from_config(current_app.config))
    skipped = sum(1 for r in written if r.state == "skipped")
    emails = sum(1 for r in written if r.channel == "email" and r.state != "skipped")
    click.echo(f"Reminders for {as_of.isoformat()}: {len(written) - skipped} queued "
               f"({emails} e-mail), {skipped} skipped; {sent.sent} sent, {sent.failed} failed "
               f"(will retry), {sent.given_up} given up, {sent.deferred} held for the night.")


@bp.cli.command("scheduler")
def scheduler_command():
    """Run the reminder scheduler until stopped (Ctrl+C or SIGTERM): its own process."""
    from loans import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("Reminder scheduler started; jobs are kept in the database.")
    scheduler.serve(current_app._get_current_object(), stop)
    click.echo("Reminder scheduler stopped.")
