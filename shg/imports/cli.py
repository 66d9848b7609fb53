"""`flask import …`: importing a spreadsheet from the command line.

    flask import run members members.xlsx --dry-run --user office
    flask import run members members.xlsx --user office --report problems.csv
    flask import template members members-ru.xlsx --lang ru

The command runs the same ``ImportRun`` as the page, as the user named (their districts,
their role, their language for the reasons), so a district facilitator's file is refused
outside her districts on the command line too. It exits with status 1 when anything is
refused: nothing is then written.
"""
from __future__ import annotations

import os

import click
from flask import Blueprint
from flask_babel import force_locale
from sqlalchemy import select

from shg.extensions import db
from shg.imports.kinds import KINDS

bp = Blueprint("imports_cli", __name__, cli_group="import")


def _user(username):
    from shg.accounts.models import User
    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None or not user.is_active_user:
            raise click.BadParameter(f"no active user {username!r}", param_hint="--user")
        return user
    user = db.session.scalar(select(User).where(User.role == "admin", User.is_active_user)
                             .order_by(User.id).limit(1))
    if user is None:
        raise click.UsageError("No admin user exists: create one or name a user with --user.")
    return user


@bp.cli.command("run")
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--user", "username", default=None,
              help="Import as this user (role, districts, language).  [default: the first admin]")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write the report (line, column, value, reason) to this CSV file.")
def run(kind, path, dry_run, username, report_path):
    """Import a CSV or XLSX FILE of KIND: all rows, or none."""
    from shg.audit import set_actor
    from shg.imports.services import ImportRun, report_csv

    user = _user(username)
    set_actor(user)
    with open(path, "rb") as fh:
        data = fh.read()
    with force_locale(user.locale or "en"):
        job = ImportRun(KINDS[kind], data, user, dry_run=dry_run,
                        filename=os.path.basename(path))
        shown = -1
        for done, total in job:
            if total and done * 10 // total != shown:
                shown = done * 10 // total
                click.echo(f"\r{done:,} / {total:,} rows", nl=False, err=True)
        click.echo("", err=True)
        report = job.report
        for problem in report.problems[:50]:
            where = f"line {problem.line}" if problem.line else "file"
            column = f", {problem.column}" if problem.column else ""
            value = f" ({problem.value})" if problem.value else ""
            click.echo(f"{where}{column}{value}: {problem.reason}")
        if len(report.problems) > 50:
            click.echo(f"… and {len(report.problems) - 50} more (see --report)")
        if report_path:
            with open(report_path, "wb") as fh:
                fh.write(report_csv(report))
    click.echo(f"{report.total:,} rows: {report.created:,} new, {report.existing:,} already "
               f"there, {report.bad_rows:,} with problems ({report.seconds:.1f} s).")
    if report.imported:
        click.echo("Imported.")
    elif dry_run and report.ok:
        click.echo("Dry run: every row is good; nothing was written.")
    else:
        click.echo("Nothing was imported.")
    if not report.ok:
        raise SystemExit(1)


@bp.cli.command("template")
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.argument("path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@click.option("--lang", type=click.Choice(["en", "ru"]), default="en", show_default=True,
              help="The language of the column headers.")
def template_command(kind, path, lang):
    """Write an empty template for KIND to OUTPUT (.csv or .xlsx)."""
    from shg.imports.services import template
    fmt = "xlsx" if path.lower().endswith(".xlsx") else "csv"
    with open(path, "wb") as fh:
        fh.write(template(kind, lang, fmt))
    click.echo(f"Wrote {path}")
