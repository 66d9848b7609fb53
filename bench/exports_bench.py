"""How long the exports take on a programme ten times the published one.

    python bench/exports_bench.py [--scale 10] [--loans 0] [--db sqlite|postgresql|both]
                                  [--runs 3] [--all] [--reuse FILE.sqlite]

Builds the demo programme with ``bench/run.py``'s helpers (a fresh database; ``--reuse`` keeps
an SQLite file between runs and builds it only when missing), logs in as ``admin`` through the
login form, and times the members export of the whole programme (32,000 members at scale 10,
both countries) as CSV and as XLSX through the Flask test client: routing, login, the query,
the file. Next to it, the plain SQL that fetches the same rows. ``--all`` also times the CSV
of every other list (attendance is some 600,000 rows at scale 10).

Prints, per export: the median and slowest of ``--runs`` runs, rows, bytes, the plain query's
time, and the process's peak memory after the runs. Target: the members export well under a
minute in either format (the issue: "must not take minutes").
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.run import SEED, login, postgres_url, sqlite_url  # noqa: E402
from shg import create_app, demo  # noqa: E402
from shg.extensions import db  # noqa: E402

TARGET_S = 60.0


def build(url: str, scale: float, loans: int, reuse: bool):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret",
                      "RATELIMIT_ENABLED": False})
    with app.app_context():
        if reuse:
            db.create_all()
            from shg.registry.models import Member
            if db.session.query(Member.id).first() is not None:
                print("   reusing the programme already built", flush=True)
                db.session.remove()
                return app
        started = time.perf_counter()
        result = demo.build_demo(scale=scale, seed=SEED, reset=True, loans=loans)
        tables = ("shg_group", "member", "meeting", "attendance", "loan")
        print(f"   built in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{result.counts[t]:,} {t}" for t in tables), flush=True)
        db.session.remove()
    return app


def time_download(client, url: str, runs: int) -> tuple[list[float], int, int]:
    samples, size, rows = [], 0, 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        data = response.get_data()  # a streamed CSV is produced while it is read
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {data[:300]!r}")
        size = len(data)
        if url.split("?")[0].endswith(".csv"):
            rows = data.count(b"\r\n") - 1
        else:
            import io

            import openpyxl
            sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
            rows = sum(1 for _row in sheet.iter_rows(values_only=True)) - 1
    return samples, size, rows


def plain_sql_seconds(app, kind: str) -> float:
    """The export's own query, run alone: the rows straight from the database."""
    from shg.accounts.models import User
    from reports import exports
    with app.test_request_context():
        admin = db.session.query(User).filter_by(username="admin").one()
        prepared = exports.prepare(kind, {}, admin)
        started = time.perf_counter()
        for _chunk in db.session.execute(
                prepared.query.execution_options(yield_per=exports.CHUNK)).partitions():
            pass
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds


def run(kind_of_db: str, url: str, args) -> list[dict]:
    print(f"\n== {kind_of_db}: the demo programme at scale {args.scale:g}", flush=True)
    app = build(url, args.scale, args.loans, reuse=bool(args.reuse))
    client = app.test_client()
    login(client, "admin", demo.ADMIN_PASSWORD)
    plan = [("members", "csv"), ("members", "xlsx")]
    if args.all:
        from reports import exports
        plan += [(k, "csv") for k in exports.KINDS if k != "members"]
    results = []
    for kind, fmt in plan:
        samples, size, rows = time_download(client, f"/reports/export/{kind}.{fmt}", args.runs)
        sql = plain_sql_seconds(app, kind)
        median = statistics.median(samples)
        results.append({"db": kind_of_db, "export": f"{kind}.{fmt}", "median_s": median,
                        "max_s": max(samples), "rows": rows, "bytes": size, "sql_s": sql,
                        "ok": median < TARGET_S})
        print(f"   {kind}.{fmt}: {median:.2f} s median ({rows:,} rows, {size / 1e6:.1f} MB, "
              f"plain SQL {sql:.2f} s)", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"   peak memory of the process: {peak_mb:.0f} MB", flush=True)
    for r in results:
        r["peak_mb"] = round(peak_mb)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--loans", type=int, default=0,
                        help="loans in the demo (the members export needs none)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--all", action="store_true", help="also every other list, as CSV")
    parser.add_argument("--reuse", help="an SQLite file kept between runs (built if empty)")
    args = parser.parse_args(argv)
    results = []
    for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        folder, stop = tempfile.mkdtemp(prefix="shg-exports-bench-"), None
        try:
            if kind == "sqlite":
                url = ("sqlite:///" + os.path.abspath(args.reuse)) if args.reuse \
                    else sqlite_url(folder)
            else:
                url, stop = postgres_url()
            results += run(kind, url, args)
        finally:
            if stop:
                stop()
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\n  {'database':<11} {'export':<20} {'median':>8} {'slowest':>8} {'rows':>9} "
          f"{'MB':>6} {'SQL':>7}  target")
    for r in results:
        print(f"  {r['db']:<11} {r['export']:<20} {r['median_s']:>7.2f}s {r['max_s']:>7.2f}s "
              f"{r['rows']:>9,} {r['bytes'] / 1e6:>6.1f} {r['sql_s']:>6.2f}s  "
              f"<{TARGET_S:.0f}s {'OK' if r['ok'] else 'MISSED'}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
