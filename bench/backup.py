"""How long the full export, its restore and a backup take on a demo programme.

    python bench/backup.py [--scale 1] [--loans N] [--db sqlite|postgresql|both]

For each database: the schema by the migrations, the demo programme (``shg.demo``), then
``flask ledger export`` (shg.backup.export_ledger), its restore into a fresh database of the
same kind, and ``flask backup``; prints the seconds, the rows, the file sizes and the peak
memory of the process. The restored database is checked to hold as many rows per table.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.run import SEED, postgres_url, sqlite_url  # noqa: E402
from shg import backup, create_app, demo  # noqa: E402
from shg.extensions import db  # noqa: E402


def _app(url):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                       "SECRET_KEY": "bench"})


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(kind: str, scale: float, loans, folder: str) -> None:
    stops = []

    def url():
        if kind == "sqlite":
            return sqlite_url(tempfile.mkdtemp(dir=folder))
        made, stop = postgres_url()
        if stop:
            stops.append(stop)
        return made

    source = _app(url())
    with source.app_context():
        backup._migrate()
        built = demo.build_demo(scale=scale, seed=SEED, loans=loans)
        rows = backup.rows_in_database(db.session.connection())
        db.session.commit()
        started = time.perf_counter()
        export = backup.export_ledger(os.path.join(folder, f"{kind}.zip"))
        exported = time.perf_counter() - started
        started = time.perf_counter()
        copy = backup.backup(os.path.join(folder, "backups"))
        backed_up = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    target_url = url() if kind == "sqlite" else None
    if kind == "postgresql":  # a second database on the same server
        from tests import pg
        target_url = pg.create_database(source.config["SQLALCHEMY_DATABASE_URI"],
                                        "shg_bench_restore")
    target = _app(target_url)
    with target.app_context():
        started = time.perf_counter()
        backup.restore_ledger(export.path)
        restored = time.perf_counter() - started
        assert backup.rows_in_database(db.session.connection()) == rows
        db.session.remove()
        db.engine.dispose()
    for stop in stops:
        stop()
    total = sum(rows.values())
    print(f"{kind}: demo scale {scale:g} built in {built.seconds:.1f} s, "
          f"{total:,} rows in {len(rows)} tables")
    print(f"  export   {exported:7.2f} s  {os.path.getsize(export.path) / 1e6:8.1f} MB zip")
    print(f"  restore  {restored:7.2f} s  (same rows in every table: checked)")
    print(f"  backup   {backed_up:7.2f} s  {copy.stat().st_size / 1e6:8.1f} MB {copy.suffix}")
    print(f"  peak memory of the process so far: {_peak_mb():.0f} MB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--loans", type=int, default=None)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="shg-bench-backup-")
    try:
        for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
            run(kind, args.scale, args.loans, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
