"""`flask users create`: the first admin of a new ledger, and any user after."""
import click
from flask import Blueprint
from sqlalchemy import select

from shg.accounts import services
from shg.errors import Invalid
from shg.extensions import db
from shg.registry.models import District

bp = Blueprint("users", __name__, cli_group="users")


@bp.cli.command("create")
@click.option("--username", prompt=True)
@click.option("--full-name", prompt="Full name")
@click.option("--role", type=click.Choice(["admin", "loan_officer", "facilitator", "viewer"]),
              default="admin", show_default=True)
@click.option("--locale", type=click.Choice(["en", "ru"]), default="en", show_default=True)
@click.option("--district", "districts", multiple=True, help="District name (repeatable).")
@click.password_option()
def create(username, full_name, role, locale, districts, password):
    """Create a user (the first one is usually the project office's admin)."""
    found = []
    for name in districts:
        district = db.session.scalar(select(District).where(District.name == name))
        if district is None:
            raise click.BadParameter(f"no district named {name!r}", param_hint="--district")
        found.append(district)
    try:
        user = services.create_user({"username": username, "full_name": full_name, "role": role,
                                     "locale": locale, "password": password}, found)
    except Invalid as exc:
        raise click.ClickException(str(exc))
    db.session.commit()
    click.echo(f"Created {user.role} {user.username}.")
