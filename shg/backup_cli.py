"""`flask backup`, `flask ledger export|restore`: getting everything out safely.

The commands call ``shg.backup``; a refusal is a clear message and exit status 1.
"""
import os

import click
from flask import Blueprint, current_app

bp = Blueprint("backup_cli", __name__, cli_group=None)


@bp.cli.command("backup")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the backup file.  [default: instance/backups]")
def backup_command(out_dir):
    """A consistent backup of the running database (SQLite's online backup, or pg_dump -Fc
    on PostgreSQL) to a timestamped file. README.md, "Backup and restore", says how to
    restore it."""
    from shg import backup
    out_dir = out_dir or os.path.join(current_app.instance_path, "backups")
    try:
        path = backup.backup(out_dir)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"Backup written to {path} ({path.stat().st_size:,} bytes).")


@bp.cli.group("ledger")
def ledger():
    """The whole ledger as CSV files in a zip, and its restore into an empty database."""


@ledger.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def export_command(file):
    """Write every table as CSV, with a manifest, into the zip FILE."""
    from shg import backup
    try:
        result = backup.export_ledger(file)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc))
    tables = result.manifest["tables"]
    click.echo(f"Exported {len(tables)} tables, {sum(t['rows'] for t in tables):,} rows, "
               f"schema revision {result.manifest['alembic_revision']}, to {result.path}.")


@ledger.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore_command(file):
    """Restore the export FILE into this app's database, which must be empty: the schema
    is made by the migrations, the rows are loaded in one transaction."""
    from shg import backup
    try:
        loaded = backup.restore_ledger(file)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"Restored {sum(loaded.values()):,} rows into {len(loaded)} tables.")
