"""`flask reminders run --date YYYY-MM-DD [--dry-run]`: the daily SMS reminders.

The same ``loans.reminders.run`` a scheduler job would call (in its own process: see the
APScheduler notes in STACK.md). Its output is in English like the other commands
(shg/cli.py, accounts/cli.py): run by the project office's administrator, not in a page.
"""
import click
from flask import Blueprint, current_app

bp = Blueprint("reminders_cli", __name__, cli_group="reminders")


@bp.cli.command("run")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to decide reminders for (YYYY-MM-DD).  [default: today]")
@click.option("--dry-run", is_flag=True,
              help="Print what would be queued and sent; write and send nothing.")
def run_command(day, dry_run):
    """Queue the day's SMS reminders, then send those that are due."""
    from loans import reminders
    from loans.sms import gateway_from_config
    from shg.extensions import db
    from shg.timeutil import today

    as_of = day.date() if day else today()
    if dry_run:
        planned = reminders.pending(as_of)
        for p in planned:
            if p.state == "skipped":
                click.echo(f"SKIP {p.kind} loan {p.loan_id} {p.member_name}: {p.skip_reason}")
            else:
                click.echo(f"SEND {p.kind} loan {p.loan_id} to {p.recipient} "
                           f"[{p.language}]: {p.body}")
        waiting = db.session.scalar(
            db.select(db.func.count(reminders.Reminder.id)).where(
                reminders.Reminder.state.in_(("queued", "failed"))))
        click.echo(f"Dry run for {as_of.isoformat()}: {len(planned)} new, {waiting} already "
                   "waiting in the outbox. Nothing was written or sent.")
        return

    gateway = gateway_from_config(current_app.config)
    written, sent = reminders.run(as_of, gateway)
    skipped = sum(1 for r in written if r.state == "skipped")
    click.echo(f"Reminders for {as_of.isoformat()}: {len(written) - skipped} queued, "
               f"{skipped} skipped; {sent.sent} sent, {sent.failed} failed (will retry), "
               f"{sent.given_up} given up, {sent.deferred} held for the night.")
