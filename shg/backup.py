"""Getting everything out safely: the full export of the ledger, its restore, and backups.

* ``export_ledger(path)``: every table of the schema as CSV in a zip, with ``manifest.json``
  (app version, Alembic revision, when, and per table its columns, row count and the SHA-256
  of its CSV). The export reads one consistent snapshot while the app goes on writing: a
  copy made with SQLite's online backup, or a REPEATABLE READ transaction on PostgreSQL.
* ``restore_ledger(path)``: into an EMPTY database only, its schema made by the migrations;
  the manifest is checked first (the schema revision must be the one this code migrates to,
  every checksum and row count must hold), then every table is loaded in foreign-key order
  in one transaction, and PostgreSQL's sequences continue after the highest id.
* ``backup(out_dir)``: a consistent copy of the running database, as the database itself
  makes it: SQLite's online backup API, or ``pg_dump -Fc`` on PostgreSQL.

The CSV is the database's own values, written so they come back exactly on either
database: money and quantities as the exact decimals the ledger holds (never a float),
dates and times in ISO 8601, booleans ``true``/``false``, bytes in base64, and NULL as ``\\N`` (as
PostgreSQL's COPY writes it), so that NULL and an empty text stay apart; a text that begins
with a backslash is written with one more in front.
"""
from __future__ import annotations

import base64
import binascii
import csv
import glob
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterator, Optional

from flask import current_app
from sqlalchemy import Table, create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine, make_url

from shg.extensions import db
from shg.timeutil import utcnow

FORMAT = "shg-ledger-export/1"
MANIFEST = "manifest.json"
NULL = "\\N"
#: rows sent to the database at a time while restoring
BATCH = 1000


class BackupError(Exception):
    """The export, restore or backup cannot be done; the message says why and what to do."""


# ---------------------------------------------------------------- values to CSV and back


def _python_type(column) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:
        return str


def encode(value) -> str:
    """One value as its CSV text (see the module's docstring)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, str):
        return "\\" + value if value.startswith("\\") else value
    return str(value)


def decode(textual: str, kind: type):
    """The value a CSV text stands for, as the column's Python type."""
    if textual == NULL:
        return None
    if kind is bool:
        if textual not in ("true", "false"):
            raise ValueError(f"not a boolean: {textual!r}")
        return textual == "true"
    if kind is int:
        return int(textual)
    if kind is Decimal:
        return Decimal(textual)
    if kind is datetime:
        return datetime.fromisoformat(textual)
    if kind is date:
        return date.fromisoformat(textual)
    if kind is bytes:
        return base64.b64decode(textual, validate=True)
    return textual[1:] if textual.startswith("\\") else textual


# ---------------------------------------------------------------- what the database is


def tables() -> list[Table]:
    """Every table of the schema, parents before children (the order a restore loads)."""
    return list(db.metadata.sorted_tables)


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("shg-ledger")
    except PackageNotFoundError:
        return "unknown"


def database_revision(connection: Connection) -> Optional[str]:
    """The Alembic revision the database is at (None if it was not made by migrations)."""
    from alembic.runtime.migration import MigrationContext
    return MigrationContext.configure(connection).get_current_revision()


def _alembic_config():
    return current_app.extensions["migrate"].migrate.get_config()


def code_revision() -> Optional[str]:
    """The revision this code's migrations lead to."""
    from alembic.script import ScriptDirectory
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    return heads[0] if len(heads) == 1 else None


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _missing_tables(connection: Connection) -> list[str]:
    present = set(inspect(connection).get_table_names())
    return [t.name for t in tables() if t.name not in present]


def rows_in_database(connection: Connection) -> dict[str, int]:
    """Rows in each table of the schema that the database has."""
    present = set(inspect(connection).get_table_names())
    return {t.name: connection.scalar(select(func.count()).select_from(t))
            for t in tables() if t.name in present}


# ---------------------------------------------------------------- export


class _Hashing(io.RawIOBase):
    """Writes through to the zip member and counts the SHA-256 of what passed."""

    def __init__(self, target):
        self.target, self.sha256 = target, hashlib.sha256()

    def writable(self):
        return True

    def write(self, data):
        self.sha256.update(data)
        self.target.write(data)
        return len(data)


@dataclass
class ExportResult:
    path: Path
    manifest: dict


def export_ledger(path, engine: Optional[Engine] = None) -> ExportResult:
    """Write every table as CSV in a zip at ``path``, with the manifest; returns both.

    The tables are read from one snapshot, so an export taken while officers post
    repayments holds each repayment with all of its allocations or not at all.
    """
    engine = engine or db.engine
    path = Path(path)
    with _snapshot(engine) as connection:
        missing = _missing_tables(connection)
        if missing:
            raise BackupError(
                f"The database has no table {', '.join(missing)}: bring its schema up to date "
                "first (flask db upgrade).")
        manifest = {"format": FORMAT, "app_version": app_version(),
                    "alembic_revision": database_revision(connection),
                    "created_at": utcnow().isoformat(timespec="seconds") + "Z",
                    "dialect": engine.dialect.name, "null": NULL, "tables": []}
        partial = path.with_name(path.name + ".part")
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for table in tables():
                    manifest["tables"].append(_export_table(connection, table, archive))
                archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
            os.replace(partial, path)
        finally:
            if partial.exists():
                partial.unlink()
    return ExportResult(path=path, manifest=manifest)


def _export_table(connection: Connection, table: Table, archive: zipfile.ZipFile) -> dict:
    columns = [c.name for c in table.columns]
    order = list(table.primary_key.columns) or list(table.columns)
    name = f"{table.name}.csv"
    count = 0
    with archive.open(name, "w") as member:
        sink = _Hashing(member)
        writer_stream = io.TextIOWrapper(io.BufferedWriter(sink, 1 << 16), encoding="utf-8",
                                         newline="")
        writer = csv.writer(writer_stream, lineterminator="\n")
        writer.writerow(columns)
        result = connection.execution_options(yield_per=BATCH).execute(
            select(table).order_by(*order))
        for row in result:
            writer.writerow([encode(value) for value in row])
            count += 1
        writer_stream.flush()
        writer_stream.detach().flush()
    return {"name": table.name, "file": name, "columns": columns, "rows": count,
            "sha256": sink.sha256.hexdigest()}


class _snapshot:
    """A connection that sees one moment of the database while others write.

    SQLite: the online backup API copies the database (with what is still in its WAL) to a
    temporary file, and the export reads the copy. PostgreSQL: a read-only REPEATABLE READ
    transaction, which sees what was committed when it started and nothing after.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.folder = None
        self.copy_engine = None
        self.connection = None

    def __enter__(self) -> Connection:
        if self.engine.dialect.name == "sqlite":
            self.folder = tempfile.mkdtemp(prefix="shg-export-")
            copy = os.path.join(self.folder, "snapshot.sqlite")
            sqlite_backup(_sqlite_path(self.engine), copy)
            self.copy_engine = create_engine("sqlite:///" + copy)
            self.connection = self.copy_engine.connect()
        else:
            self.connection = self.engine.connect().execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True)
        self.connection.begin()
        return self.connection

    def __exit__(self, *exc):
        self.connection.rollback()
        self.connection.close()
        if self.copy_engine is not None:
            self.copy_engine.dispose()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        return False


# ---------------------------------------------------------------- reading an export back


@dataclass
class Export:
    """An export, opened and checked: its manifest, and its tables by name."""

    archive: zipfile.ZipFile
    manifest: dict

    def table(self, name: str) -> dict:
        return next(t for t in self.manifest["tables"] if t["name"] == name)

    def rows(self, name: str) -> Iterator[list[str]]:
        """The data rows of a table's CSV (without the header)."""
        with self.archive.open(self.table(name)["file"]) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
            next(reader)
            yield from reader


def open_export(path) -> Export:
    """Open an export and check it whole before anything is written: its manifest, each
    CSV's SHA-256, header and row count. A damaged or foreign file is refused."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackupError(f"{path} is not a ledger export (a zip file): {exc}") from None
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (KeyError, ValueError, UnicodeDecodeError):
        archive.close()
        raise BackupError(f"{path} has no readable {MANIFEST}: it is not a ledger export.") \
            from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("tables"), list):
        archive.close()
        raise BackupError(f"{path} is not a ledger export of format {FORMAT}.")
    names = set(archive.namelist())
    for entry in manifest["tables"]:
        if entry.get("file") not in names:
            archive.close()
            raise BackupError(f"The export lacks {entry.get('file')!r}, listed in its manifest.")
        digest, count, header = hashlib.sha256(), 0, None
        with archive.open(entry["file"]) as raw:
            for chunk in iter(lambda: raw.read(1 << 16), b""):
                digest.update(chunk)
        if digest.hexdigest() != entry.get("sha256"):
            archive.close()
            raise BackupError(f"{entry['file']} does not match its checksum in the manifest: "
                              "the export is damaged.")
        with archive.open(entry["file"]) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
            header = next(reader, None)
            for _row in reader:
                count += 1
        if header != entry.get("columns") or count != entry.get("rows"):
            archive.close()
            raise BackupError(f"{entry['file']} does not hold the columns and rows its manifest "
                              "lists: the export is damaged.")
    return Export(archive=archive, manifest=manifest)


# ---------------------------------------------------------------- restore


def restore_ledger(path) -> dict[str, int]:
    """Restore an export into this app's database, which must hold no record at all.

    Refused, with nothing written, when the export is damaged, when it was made at another
    schema revision than the one this code migrates to, or when the database holds any row.
    The schema is made by the migrations; the rows go in, parents first, in one
    transaction. Returns the rows loaded per table.
    """
    engine = db.engine
    export = open_export(path)
    try:
        revision, ours = export.manifest.get("alembic_revision"), code_revision()
        if revision != ours:
            raise BackupError(
                f"The export was made at schema revision {revision or 'none'} (app version "
                f"{export.manifest.get('app_version', '?')}); this version of the ledger is at "
                f"{ours}. Restore it with the version of the ledger that made it.")
        _refuse_unless_empty(engine)
        _migrate()
        with engine.connect() as connection:
            at = database_revision(connection)
        if at != revision:
            raise BackupError(f"The database is at schema revision {at}, the export at "
                              f"{revision}: nothing was restored.")
        known = {t.name: t for t in tables()}
        listed = [t["name"] for t in export.manifest["tables"]]
        if set(listed) != set(known):
            raise BackupError(
                "The export's tables are not this schema's: "
                f"missing {sorted(set(known) - set(listed))}, "
                f"unknown {sorted(set(listed) - set(known))}. Nothing was restored.")
        loaded = {}
        with engine.begin() as connection:
            _refuse_unless_empty(connection)  # nobody wrote while the schema was being made
            for table in tables():
                loaded[table.name] = _load_table(connection, table, export)
            if connection.dialect.name == "postgresql":
                _continue_sequences(connection)
        return loaded
    finally:
        export.archive.close()


def _refuse_unless_empty(bind) -> None:
    def check(connection):
        holding = {name: n for name, n in rows_in_database(connection).items() if n}
        if holding:
            listed = ", ".join(f"{name} ({n})" for name, n in sorted(holding.items()))
            raise BackupError(
                "A ledger is restored only into an empty database, and this one holds "
                f"records: {listed}. Point DATABASE_URL at a new, empty database and "
                "run the restore again.")
    if isinstance(bind, Connection):
        check(bind)
    else:
        with bind.connect() as connection:
            check(connection)


def _migrate() -> None:
    """The app's schema, made by the migrations (as ``flask db upgrade`` makes it).

    Alembic's env.py reconfigures logging from alembic.ini (and switches off every logger
    already made); the app's logging is put back as it was afterwards.
    """
    from alembic import command
    manager = logging.root.manager
    saved = {name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
             for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    root = (logging.root.level, list(logging.root.handlers))
    try:
        command.upgrade(_alembic_config(), "head")
    finally:
        for name, (disabled, level, handlers, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.disabled, logger.level, logger.propagate = disabled, level, propagate
            logger.handlers[:] = handlers
        logging.root.setLevel(root[0])
        logging.root.handlers[:] = root[1]


def _load_table(connection: Connection, table: Table, export: Export) -> int:
    entry = export.table(table.name)
    columns = [table.columns[name] for name in entry["columns"]
               if name in table.columns]
    if len(columns) != len(entry["columns"]) or len(columns) != len(table.columns):
        raise BackupError(f"The columns of {table.name} in the export ({entry['columns']}) "
                          "are not the schema's: nothing was restored.")
    kinds = [(c.name, _python_type(c)) for c in columns]
    count, batch = 0, []
    for line, row in enumerate(export.rows(table.name), start=2):
        try:
            batch.append({name: decode(value, kind) for (name, kind), value in zip(kinds, row)})
        except (ValueError, InvalidOperation, binascii.Error) as exc:
            raise BackupError(f"{entry['file']}, line {line}: {exc}. Nothing was restored.") \
                from None
        if len(batch) >= BATCH:
            connection.execute(table.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
        count += len(batch)
    return count


def _continue_sequences(connection: Connection) -> None:
    """Rows came with their ids: each sequence goes on after the highest one, so the next
    record the app makes does not collide with a restored one."""
    for table in tables():
        for column in table.primary_key.columns:
            if _python_type(column) is not int:
                continue
            quoted = _quoted(connection, table.name)
            sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                         {"t": quoted, "c": column.name})
            if sequence:
                connection.execute(text(
                    f"SELECT setval(:s, COALESCE((SELECT MAX({_quoted(connection, column.name)}) "
                    f"FROM {quoted}), 0) + 1, false)"), {"s": sequence})


# ---------------------------------------------------------------- backups of a running ledger


def _sqlite_path(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return database


def sqlite_backup(source: str, target: str) -> None:
    """Copy a live SQLite database with its online backup API: a consistent copy even
    while others write (it includes what is still in the WAL), as one self-contained
    file (journal mode DELETE)."""
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()


def find_postgres_tool(name: str) -> str:
    """A PostgreSQL client program: the newest Debian install, else the one on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise BackupError(f"{name} was not found on PATH nor under /usr/lib/postgresql/*/bin: "
                      "install PostgreSQL's client programs (Debian: apt-get install "
                      "postgresql-client) of the server's version or newer.")


def libpq_target(url) -> tuple[str, dict[str, str]]:
    """The database URL as PostgreSQL's own programs read it, and their environment: the
    password goes in PGPASSWORD, never on a command line that ``ps`` shows."""
    url = make_url(url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                       database=url.database, query=url.query)
    return plain.render_as_string(hide_password=False), env


def timestamped(out_dir, suffix: str) -> Path:
    """shg-backup-20250301T063000Z.sqlite, with -2, -3 … if one of that second exists."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"shg-backup-{utcnow():%Y%m%dT%H%M%SZ}"
    candidate, n = out / f"{stem}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = out / f"{stem}-{n}{suffix}"
    return candidate


def backup(out_dir, engine: Optional[Engine] = None) -> Path:
    """A consistent backup of the running database in ``out_dir``; returns its path.

    SQLite: a copy by the online backup API, checked with ``PRAGMA integrity_check``.
    PostgreSQL: ``pg_dump -Fc`` (one snapshot of the whole database; restore it with
    ``pg_restore``), with the credentials of the database URL.
    """
    engine = engine or db.engine
    if engine.dialect.name == "sqlite":
        source = _sqlite_path(engine)
        target = timestamped(out_dir, ".sqlite")
        partial = target.with_name(target.name + ".part")
        try:
            sqlite_backup(source, str(partial))
            problems = sqlite_problems(str(partial))
            if problems:
                raise BackupError("The copy failed its integrity check: " + "; ".join(problems))
            os.replace(partial, target)
        finally:
            if partial.exists():
                partial.unlink()
        return target
    if engine.dialect.name == "postgresql":
        pg_dump = find_postgres_tool("pg_dump")
        target = timestamped(out_dir, ".dump")
        partial = target.with_name(target.name + ".part")
        url, env = libpq_target(engine.url)
        done = subprocess.run([pg_dump, "-Fc", "--no-password", "-f", str(partial),
                               "--dbname", url], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            if partial.exists():
                partial.unlink()
            raise BackupError(f"pg_dump failed: {done.stderr.strip() or done.returncode}")
        os.replace(partial, target)
        return target
    raise BackupError(f"No backup is known for a {engine.dialect.name} database.")


def sqlite_problems(path: str) -> list[str]:
    """What ``PRAGMA integrity_check`` and ``foreign_key_check`` find wrong (none: [])."""
    connection = sqlite3.connect(path)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")
                    if row[0] != "ok"]
        problems += [f"foreign key: {row}" for row in connection.execute(
            "PRAGMA foreign_key_check")]
        return problems
    finally:
        connection.close()
