"""How long the daily reminder run takes to decide what to send, over a big portfolio.

    python bench/reminders_bench.py [--loans 100000] [--scale 10] [--db sqlite|postgresql|both]
                                    [--reuse FILE.sqlite]

Builds the demo programme (``shg.demo.build_demo``, as bench/run.py does) with ``--loans``
loans and their schedules and repayments, then times, for a working Tuesday and for a
Monday (when the project office's weekly portfolio is decided too):

* the members' SMS (``reminders.plan_sms``),
* the staff's e-mail (``digests.plan``: overdue digests, meetings tomorrow, portfolio),
* the whole decision written to the outbox (``reminders.decide`` + commit), which is what
  the scheduler's daily job does before sending (the target: under 30 s).

``--reuse`` keeps the SQLite file: built on the first run, read on the next ones.
Figures go to the terminal.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sqlalchemy import delete, func, select  # noqa: E402

from bench.run import LOANS, SEED, postgres_url, sqlite_url  # noqa: E402
from shg import create_app, demo  # noqa: E402
from shg.extensions import db  # noqa: E402

TARGET_S = 30.0


def timed(work):
    """(result, wall seconds, CPU seconds of this process). SQLite runs in this process, so
    on a machine shared with other work the CPU time is the fairer figure."""
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - started, time.process_time() - cpu


def measure(url: str, kind: str, scale: float, loans: int, until: date, build: bool,
            only_tuesday: bool = False) -> list:
    from loans import digests, reminders
    from loans.models import Installment, Loan

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "PROJECT_OFFICE_EMAILS": "office@example.org"})
    rows = []
    with app.app_context():
        if build:
            print(f"== {kind}: building the demo at scale {scale:g} with {loans:,} loans …",
                  flush=True)
            result = demo.build_demo(scale=scale, seed=SEED, until=until, reset=True,
                                     loans=loans)
            print(f"   built in {result.seconds:.0f} s", flush=True)
        counts = (db.session.scalar(select(func.count(Loan.id))),
                  db.session.scalar(select(func.count(Installment.id))))
        print(f"== {kind}: {counts[0]:,} loans, {counts[1]:,} installments", flush=True)
        # the scheduler decides for today: the coming Tuesday and Monday (today included)
        tuesday = until + timedelta(days=(1 - until.weekday()) % 7)
        monday = until + timedelta(days=(0 - until.weekday()) % 7)
        for label, day in (("Tuesday", tuesday), ("Monday (+ weekly portfolio)", monday)):
            db.session.execute(delete(reminders.Reminder))
            db.session.commit()
            sms, sms_s, sms_cpu = timed(lambda: reminders.plan_sms(day))
            db.session.expire_all()
            mail, mail_s, mail_cpu = timed(lambda: digests.plan(day))
            db.session.expire_all()

            def decide():
                written = reminders.decide(day)
                db.session.commit()
                return written
            written, decide_s, decide_cpu = timed(decide)
            rows.append((kind, label, day, len(sms), sms_s, len(mail), mail_s, len(written),
                         decide_s, decide_cpu))
            print(f"   {label} {day}: {len(sms):,} SMS decided in {sms_s:.1f} s "
                  f"({sms_cpu:.1f} s CPU); {len(mail):,} e-mail in {mail_s:.1f} s "
                  f"({mail_cpu:.1f} s CPU); decide + write {len(written):,} rows in "
                  f"{decide_s:.1f} s ({decide_cpu:.1f} s CPU) "
                  f"({'OK' if decide_s < TARGET_S else 'MISSED'}, target < {TARGET_S:.0f} s)",
                  flush=True)
            if only_tuesday:
                break
        db.session.execute(delete(reminders.Reminder))
        db.session.commit()
        db.session.remove()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"   peak memory of this process: {peak:.0f} MB", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--loans", type=int, default=LOANS)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--until", type=date.fromisoformat, default=None)
    parser.add_argument("--reuse", help="a SQLite file to build once and read afterwards")
    parser.add_argument("--tuesday", action="store_true",
                        help="only the working day (the Monday adds the weekly portfolio)")
    args = parser.parse_args(argv)
    from shg.timeutil import today
    until = args.until or today()
    rows = []
    for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        folder, stop = tempfile.mkdtemp(prefix="shg-bench-"), None
        try:
            if kind == "sqlite":
                path = args.reuse or os.path.join(folder, "bench.sqlite")
                build = not os.path.exists(path)
                url = "sqlite:///" + os.path.abspath(path) if args.reuse else sqlite_url(folder)
            else:
                (url, stop), build = postgres_url(), True
            rows += measure(url, kind, args.scale, args.loans, until, build, args.tuesday)
        finally:
            if stop:
                stop()
            shutil.rmtree(folder, ignore_errors=True)
    print("\ndatabase    day                            SMS   decide s   e-mail   decide s   "
          "written   decide+write s   (CPU s)")
    for kind, label, day, n_sms, sms_s, n_mail, mail_s, n_written, decide_s, cpu in rows:
        print(f"{kind:<11} {label:<28} {n_sms:>7,} {sms_s:>10.1f} {n_mail:>8,} {mail_s:>10.1f} "
              f"{n_written:>9,} {decide_s:>15.1f} {cpu:>9.1f}")
    return 0 if all(r[-2] < TARGET_S for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
