"""How fast the printed summaries are on a programme ten times the published one.

    python bench/reports_bench.py [--scale 10] [--loans 100000] [--db sqlite|postgresql]
                                  [--runs 3] [--reuse FILE.sqlite]

Builds the demo programme as ``bench/run.py`` does (its helpers: ``demo.build_demo``, the
database URLs, ``login``), then times, in the reader's way (a logged-in admin's request
through the Flask test client, PDF bytes and all):

- a village summary (target < 1 s),
- the country summary over all its groups (target < 10 s),
- the batch of every village summary of the district with the most villages (< 30 s),

and the memory: the peak Python allocation of each (tracemalloc, a separate untimed run)
and the process's peak resident size (target < 300 MB). ``--reuse`` keeps a built SQLite
file between runs (built if missing).
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
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sqlalchemy import func, select  # noqa: E402

from bench.run import LOANS, SEED, login, postgres_url, sqlite_url  # noqa: E402
from shg import create_app, demo  # noqa: E402
from shg.extensions import db  # noqa: E402

TARGETS_S = {"village summary": 1.0, "country summary": 10.0, "district batch": 30.0}
MEMORY_MB = 300


def _facts(app) -> dict:
    from shg.registry.models import Country, District, Group, Region, Village
    with app.app_context():
        country_id, groups = db.session.execute(
            select(Region.country_id, func.count(Group.id)).join(District, District.region_id == Region.id)
            .join(Village, Village.district_id == District.id).join(Group, Group.village_id == Village.id)
            .group_by(Region.country_id).order_by(func.count(Group.id).desc())).first()
        district_id, villages = db.session.execute(
            select(Village.district_id, func.count(Village.id)).group_by(Village.district_id)
            .order_by(func.count(Village.id).desc())).first()
        village_id, village_groups = db.session.execute(
            select(Group.village_id, func.count(Group.id)).group_by(Group.village_id)
            .order_by(func.count(Group.id).desc())).first()
        name = db.session.get(Country, country_id).name
        db.session.remove()
    return {"country_id": country_id, "country": name, "country_groups": groups,
            "district_id": district_id, "district_villages": villages,
            "village_id": village_id, "village_groups": village_groups}


def _time(client, url: str, runs: int) -> tuple[list[float], int]:
    samples, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200 or response.mimetype != "application/pdf":
            raise SystemExit(f"{url}: {response.status_code} {response.data[:300]!r}")
        size = len(response.data)
    return samples, size


def _peak_mb(client, url: str) -> float:
    tracemalloc.start()
    try:
        client.get(url)
        return tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--loans", type=int, default=LOANS)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", help="a SQLite file to build once and reuse")
    args = parser.parse_args(argv)
    from shg.timeutil import today

    folder, stop, build = tempfile.mkdtemp(prefix="shg-reports-bench-"), None, True
    if args.db == "sqlite":
        url = "sqlite:///" + os.path.abspath(args.reuse) if args.reuse else sqlite_url(folder)
        build = not (args.reuse and os.path.exists(args.reuse))
    else:
        url, stop = postgres_url()
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret",
                          "RATELIMIT_ENABLED": False})
        if build:
            print(f"building the demo at scale {args.scale:g} with {args.loans:,} loans "
                  f"({args.db}) …", flush=True)
            with app.app_context():
                result = demo.build_demo(scale=args.scale, seed=SEED, until=today(), reset=True,
                                         loans=args.loans)
                db.session.remove()
            print(f"  built in {result.seconds:.0f} s: " + ", ".join(
                f"{result.counts[t]:,} {t}" for t in ("shg_group", "member", "attendance",
                                                        "loan", "installment", "repayment")))
        facts = _facts(app)
        print(f"  country {facts['country']} ({facts['country_groups']:,} groups); district "
              f"{facts['district_id']} ({facts['district_villages']} villages); village "
              f"{facts['village_id']} ({facts['village_groups']} groups)", flush=True)
        client = app.test_client()
        login(client, "admin", demo.ADMIN_PASSWORD)
        urls = {"village summary": f"/reports/villages/{facts['village_id']}.pdf",
                "country summary": f"/reports/countries/{facts['country_id']}.pdf",
                "district batch": f"/reports/districts/{facts['district_id']}/villages.pdf"}
        ok = True
        print(f"\n  {'report':<18} {'median':>9} {'max':>9} {'pages KB':>9} {'peak py MB':>11}"
              "  target")
        for name, path in urls.items():
            samples, size = _time(client, path, 1 if name == "district batch" else args.runs)
            median = statistics.median(samples)
            peak = _peak_mb(client, path)
            good = median < TARGETS_S[name] and peak < MEMORY_MB
            ok &= good
            print(f"  {name:<18} {median:>8.2f}s {max(samples):>8.2f}s {size / 1024:>9.0f} "
                  f"{peak:>11.1f}  <{TARGETS_S[name]:g} s {'OK' if good else 'MISSED'}",
                  flush=True)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n  peak resident size of the process (build included): {rss:.0f} MB "
              f"(target < {MEMORY_MB} MB) {'OK' if rss < MEMORY_MB else 'MISSED'}")
        return 0 if ok else 1
    finally:
        if stop:
            stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
