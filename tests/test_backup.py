"""`flask backup` while the ledger is in use: a consistent copy of the running database
(SQLite's online backup, pg_dump on PostgreSQL) that opens, or restores with pg_restore,
whole: every repayment in it has all of its allocations, and each loan's outstanding
principal agrees with them, however many repayments were being posted meanwhile."""
from __future__ import annotations

import sqlite3
import subprocess
import threading
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, func, select, text

from loans.models import Loan, Repayment
from shg import backup
from shg.extensions import db
from tests import pg
from tests.test_ledger_export import migrated_app, prepare_ledger
from tests.test_ledger_export import fresh_database  # noqa: F401  (a fixture)

D = Decimal

CONSISTENCY = """
    SELECT
      (SELECT count(*) FROM repayment) AS repayments,
      (SELECT count(*) FROM repayment r WHERE r.reversed_at IS NULL AND r.amount <>
         (SELECT coalesce(sum(a.amount), 0) FROM allocation a WHERE a.repayment_id = r.id))
         AS repayments_not_fully_allocated,
      (SELECT count(*) FROM loan l WHERE l.status = 'disbursed' AND
         l.principal - l.outstanding_principal <>
         (SELECT coalesce(sum(a.amount), 0) FROM allocation a
            JOIN repayment r ON r.id = a.repayment_id
            JOIN installment i ON i.id = a.installment_id
          WHERE i.loan_id = l.id AND a.component = 'principal' AND r.reversed_at IS NULL))
         AS loans_disagreeing_with_allocations
"""


def consistency(connection) -> tuple[int, int, int]:
    return tuple(connection.execute(text(CONSISTENCY)).one())


class RepaymentWriter(threading.Thread):
    """An officer posting small repayments to one loan, one transaction each, until told
    to stop, as the pages and the API do (commit_with_retry)."""

    def __init__(self, app, loan_id: int, user_id: int):
        super().__init__(daemon=True)
        self.app, self.loan_id, self.user_id = app, loan_id, user_id
        self.stop, self.posted, self.error = threading.Event(), 0, None
        self.started_posting = threading.Event()

    def run(self):
        from loans import services
        from shg.accounts.models import User
        from shg.transactions import commit_with_retry
        try:
            with self.app.app_context():
                while not self.stop.is_set():
                    commit_with_retry(lambda: services.post_repayment(
                        db.session.get(Loan, self.loan_id), D("10.01"), date(2024, 5, 2),
                        by=db.session.get(User, self.user_id)))
                    self.posted += 1
                    if self.posted >= 3:
                        self.started_posting.set()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.started_posting.set()


def _backup_while_writing(app, tmp_path):
    """Start the writer, back up while it posts, stop it; returns (path, before, after)."""
    from shg.accounts.models import User
    with app.app_context():
        prepare_ledger()
        loan_id = db.session.scalar(select(Loan.id).order_by(Loan.id))
        user_id = db.session.scalar(select(User.id).where(User.username == "office"))
        before = db.session.scalar(select(func.count(Repayment.id)))
        db.session.remove()
    writer = RepaymentWriter(app, loan_id, user_id)
    writer.start()
    try:
        assert writer.started_posting.wait(60)
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["backup", "--out",
                                                        str(tmp_path / "backups")])
        posted_by_then = writer.posted
    finally:
        writer.stop.set()
        writer.join(60)
    assert writer.error is None, writer.error
    assert result.exit_code == 0, result.output
    [path] = (tmp_path / "backups").iterdir()
    assert str(path) in result.output
    with app.app_context():
        after = db.session.scalar(select(func.count(Repayment.id)))
        assert consistency(db.session.connection()) == (after, 0, 0)
        db.session.remove()
        db.engine.dispose()
    assert posted_by_then >= 3 and after > before + 3
    return path, before, after


def test_sqlite_backup_while_repayments_are_posted_is_a_whole_copy(fresh_database, tmp_path):
    app = migrated_app(fresh_database("sqlite"))
    path, before, after = _backup_while_writing(app, tmp_path)
    assert path.name.startswith("shg-backup-") and path.suffix == ".sqlite"
    assert not path.with_name(path.name + "-wal").exists()  # one self-contained file
    assert backup.sqlite_problems(str(path)) == []
    with sqlite3.connect(path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
    # what the app reads from the copy: a whole ledger, with the repayments of that moment
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        repayments, unallocated, disagreeing = consistency(connection)
    engine.dispose()
    assert before + 3 <= repayments <= after
    assert (unallocated, disagreeing) == (0, 0)


def test_postgresql_backup_while_repayments_are_posted_restores_whole_with_pg_restore(
        fresh_database, tmp_path, request):
    url = fresh_database("postgresql")
    app = migrated_app(url)
    path, before, after = _backup_while_writing(app, tmp_path)
    assert path.name.startswith("shg-backup-") and path.suffix == ".dump"
    assert path.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    # README: pg_restore into a new, empty database
    server = url.rsplit("/", 1)[0]
    name = f"shg_pgrestore_{uuid.uuid4().hex[:12]}"
    restored = pg.create_database(server + "/postgres", name)
    request.addfinalizer(lambda: _drop(server, name))
    target, env = backup.libpq_target(restored)
    done = subprocess.run([backup.find_postgres_tool("pg_restore"), "--no-owner",
                           "--exit-on-error", "--dbname", target, str(path)],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    engine = create_engine(restored)
    with engine.connect() as connection:
        repayments, unallocated, disagreeing = consistency(connection)
        tables = {row[0] for row in connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
        # the foreign keys came back too: the copy keeps refusing an orphan allocation
        with pytest.raises(Exception, match="foreign key"):
            connection.execute(text("INSERT INTO allocation (repayment_id, installment_id, "
                                    "component, amount) VALUES (999999, 999999, 'fee', 1)"))
    engine.dispose()
    assert before + 3 <= repayments <= after
    assert (unallocated, disagreeing) == (0, 0)
    assert {t.name for t in db.metadata.sorted_tables} | {"alembic_version"} <= tables


def _drop(server: str, name: str) -> None:
    import psycopg
    with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://")
                         + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_goes_to_the_instance_folder_unless_told(fresh_database, tmp_path):
    app = migrated_app(fresh_database("sqlite"))
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["backup"])
        db.engine.dispose()
    assert result.exit_code == 0, result.output
    [path] = (tmp_path / "instance" / "backups").iterdir()
    assert backup.sqlite_problems(str(path)) == []


def test_two_backups_in_one_second_keep_both(tmp_path):
    first = backup.timestamped(tmp_path, ".sqlite")
    first.write_bytes(b"")
    second = backup.timestamped(tmp_path, ".sqlite")
    assert second != first and second.name.startswith(first.stem)


def test_missing_pg_dump_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(backup.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(backup.BackupError, match="pg_dump was not found.*postgresql-client"):
        backup.find_postgres_tool("pg_dump")


def test_database_password_goes_to_the_environment_not_the_command_line():
    url, env = backup.libpq_target("postgresql+psycopg://shg:s3cret@db.example:5433/ledger")
    assert url == "postgresql://shg@db.example:5433/ledger"
    assert env["PGPASSWORD"] == "s3cret"


def test_in_memory_database_cannot_be_backed_up(tmp_path):
    engine = create_engine("sqlite://")
    with pytest.raises(backup.BackupError, match="in-memory"):
        backup.backup(tmp_path, engine=engine)
