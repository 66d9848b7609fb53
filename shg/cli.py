"""Commands for the whole ledger: `flask demo-data`."""
from datetime import date

import click
from flask import Blueprint

bp = Blueprint("shg_cli", __name__, cli_group=None)


@bp.cli.command("demo-data")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="1 is the published programme (about 500 groups, 3,200 members); "
                   "10 is ten times that; 0.05 a small sample.")
@click.option("--seed", type=int, default=None,
              help="The same seed, scale and --until give the same data.  [default: 2011]")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Reference day (YYYY-MM-DD): meetings run for the year ending the day "
                   "before it.  [default: today]")
@click.option("--loans", type=int, default=None,
              help="How many loans to make, with their schedules and repayments.  "
                   "[default: about a fifth of the members have had one, some two; "
                   "more than that spreads them over more years before --until]")
@click.option("--reset", is_flag=True,
              help="Drop every table and make them again first: ALL DATA IS LOST.")
@click.option("--yes", is_flag=True, help="Do not ask before --reset replaces existing data.")
def demo_data(scale, seed, until, loans, reset, yes):
    """Fill the ledger with a realistic, deterministic demo programme."""
    from shg import demo

    if scale <= 0:
        raise click.BadParameter("must be positive", param_hint="--scale")
    if loans is not None and loans < 0:
        raise click.BadParameter("cannot be negative", param_hint="--loans")
    if reset and not yes and demo.database_has_data():
        click.confirm("--reset drops every table and all the data in them. Go on?", abort=True)
    try:
        result = demo.build_demo(scale=scale,
                                 seed=demo.DEFAULT_SEED if seed is None else seed,
                                 until=until.date() if until else None, reset=reset,
                                 loans=loans)
    except RuntimeError as exc:
        raise click.ClickException(str(exc))
    counts = result.counts
    click.echo(f"Demo programme built in {result.seconds:.1f} s (scale {scale:g}, meetings "
               f"until {result.until - date.resolution:%Y-%m-%d}):")
    for table in ("country", "region", "district", "village", "shg_group", "household",
                  "member", "membership", "meeting", "attendance", "user", "lender",
                  "loan_product", "loan", "installment", "repayment", "allocation"):
        click.echo(f"  {table:<12} {counts.get(table, 0):>9,}")
    click.echo("\nAccounts (username / password / role / reach):")
    for username, password, role, where in result.accounts:
        click.echo(f"  {username:<12} {password:<11} {role:<13} {where}")


@bp.cli.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also start the reminder scheduler, in a process of its own.")
def dev(host, port, scheduler):
    """Development: the schema by migrations, demo data on first start, then the reminder
    scheduler (its own process, started once: the server has no reloader) and the server."""
    from flask import current_app
    from flask_migrate import upgrade

    from shg import demo

    upgrade()
    if not demo.database_has_data():
        click.echo("Building the demo programme (first start only)…")
        result = demo.build_demo(scale=1.0, seed=demo.DEFAULT_SEED, until=None, reset=False)
        click.echo(f"Built in {result.seconds:.1f} s. Log in as admin / admin-demo "
                   "(facilitators fac-1, … / demo-pass).")
    from werkzeug.serving import run_simple
    app = current_app._get_current_object()
    process = _start_scheduler(app) if scheduler else None
    click.echo(f"Serving on http://{host}:{port}")
    import signal
    import sys
    # stopped with SIGTERM (not only Ctrl+C), the server still stops its scheduler below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)


def _start_scheduler(app):
    """`flask reminders scheduler` as a child process on the same database and settings
    (the web process itself never runs jobs)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "shg", "reminders",
                                "scheduler"], env=env)
    click.echo(f"Reminder scheduler started (process {process.pid}).")
    return process
