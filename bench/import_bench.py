"""How fast a big member spreadsheet comes in: 50,000 rows, under 60 s on SQLite, under 500 MB.

    python bench/import_bench.py [--rows 50000] [--db sqlite|postgresql|both] [--xlsx]

Into a fresh database (``bench/run.py``'s ``sqlite_url`` / ``postgres_url``) it puts a
programme's geography (2 countries, 12 districts, 60 villages, 600 groups) and an admin,
writes a CSV (UTF-8, ``;``, Russian headers; ``--xlsx`` also an XLSX) of ``--rows`` members,
about 1.3 to a household, with Cyrillic names and phones, then times, each through
``shg.imports.services.run_import`` as the page and the command run it:

1. the dry run (every row checked, everything rolled back),
2. the import (one transaction, committed),
3. the same file again (every row already there, nothing written),

and prints the seconds (wall clock, and the CPU time of this process: on a machine busy with
other work the wall clock overstates), rows per second and the process's peak RSS after each
step (``resource.getrusage``: the high-water mark of the whole process, file and all).
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import sys
import tempfile
import time
from datetime import date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.run import postgres_url, sqlite_url  # noqa: E402
from shg import create_app  # noqa: E402
from shg.extensions import db  # noqa: E402

TARGET_S = 60.0
TARGET_MB = 500.0
FIRST = ("Айгуль", "Гүлнара", "Жаныл", "Анара", "Бурул", "Чолпон", "Нургуль", "Зарина",
         "Мадина", "Дилноза", "Малика", "Гулзода", "Бакыт", "Азамат")
LAST = ("Токтогулова", "Өмүрбекова", "Сыдыкова", "Асанова", "Жумабаева", "Рахимова",
        "Каримова", "Назарова", "Абдыкадырова", "Исмаилова")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_geography():
    """Two countries, 12 districts, 60 villages with 10 groups each, and an admin."""
    from shg.accounts.models import User
    from shg.registry.models import Country, District, Group, Region, Village

    admin = User(username="office", full_name="Project office", role="admin", locale="ru")
    admin.set_password("bench-pass")
    db.session.add(admin)
    villages = []
    for code, name, currency in (("KG", "Кыргызстан", "KGS"), ("TJ", "Таджикистан", "TJS")):
        country = Country(code=code, name=name, currency=currency,
                          timezone="Asia/Bishkek" if code == "KG" else "Asia/Dushanbe")
        region = Region(country=country, name=f"Область {code}")
        for d in range(6):
            district = District(region=region, name=f"Район {code}-{d + 1}")
            for v in range(5):
                village = Village(district=district, name=f"Село {code}-{d + 1}-{v + 1}",
                                  is_pilot=True, pilot_joined_on=date(2011, 3, 1))
                for g in range(10):
                    db.session.add(Group(village=village, name=f"Группа {g + 1}",
                                         formed_on=date(2010, 5, 1), meeting_day=g % 7,
                                         meeting_frequency="monthly"))
                villages.append((village, code))
        db.session.add(country)
    db.session.commit()
    return [(v.name, code) for v, code in villages]


def member_csv(rows: int, villages) -> bytes:
    """Members spread over the villages' groups; phones unique, local or international."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Село", "Семья", "Группа", "ФИО", "Пол", "Год рождения", "Телефон",
                     "Дата вступления", "Язык SMS", "Мигранты"])
    household = 0
    for i in range(rows):
        village, code = villages[(i // 4) % len(villages)]
        if i % 4 != 3:  # every fourth member shares the family of the one before her
            household += 1
        prefix = "+996 555" if code == "KG" else "+992 91"
        phone = f"{prefix} {i:06d}" if code == "KG" else f"{prefix}{i:07d}"
        writer.writerow([village, f"{LAST[household % len(LAST)]}ы {household}",
                         f"Группа {i % 10 + 1}",
                         f"{FIRST[i % len(FIRST)]} {LAST[(i // 3) % len(LAST)]} {i}",
                         "ж" if i % 12 else "м", str(1960 + i % 45), phone,
                         f"{1 + i % 28:02d}.{1 + i % 12:02d}.2015",
                         "ky" if code == "KG" else "tg", "Россия 1" if i % 3 == 0 else ""])
    return out.getvalue().encode("utf-8")


def as_xlsx(data: bytes) -> bytes:
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in csv.reader(io.StringIO(data.decode("utf-8")), delimiter=";"):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(kind: str, url: str, rows: int, xlsx: bool) -> list[dict]:
    from shg.accounts.models import User
    from shg.imports.services import run_import
    from sqlalchemy import func, select

    from shg.registry.models import Household, Member

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    results = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        villages = build_geography()
        admin = db.session.scalar(select(User).where(User.username == "office"))
        files = [("csv", member_csv(rows, villages))]
        if xlsx:
            files.append(("xlsx", as_xlsx(files[0][1])))
        print(f"\n{kind}: {rows:,} member rows, CSV {len(files[0][1]) / 1e6:.1f} MB"
              + (f", XLSX {len(files[1][1]) / 1e6:.1f} MB" if xlsx else ""), flush=True)
        for fmt, data in files:
            steps = [("dry run", True), ("import", False), ("again", False)] if fmt == "csv" \
                else [("dry run", True)]
            for step, dry in steps:
                started, cpu = time.perf_counter(), time.process_time()
                report = run_import("members", data, admin, dry_run=dry,
                                    filename=f"members.{fmt}")
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
                db.session.expire_all()
                counted = db.session.scalar(select(func.count(Member.id)))
                families = db.session.scalar(select(func.count(Household.id)))
                result = {"db": kind, "file": fmt, "step": step, "seconds": round(seconds, 1),
                          "cpu_seconds": round(cpu, 1),
                          "rows_per_s": round(rows / seconds), "created": report.created,
                          "existing": report.existing, "problems": len(report.problems),
                          "members": counted, "households": families,
                          "peak_rss_mb": round(peak_mb())}
                results.append(result)
                ok = seconds < TARGET_S and result["peak_rss_mb"] < TARGET_MB
                print(f"  {fmt:<4} {step:<8} {seconds:6.1f} s (CPU {cpu:5.1f} s)  "
                      f"{result['rows_per_s']:>6,} rows/s  "
                      f"new {report.created:>6,}  there {report.existing:>6,}  "
                      f"problems {len(report.problems):>3}  members {counted:>6,}  "
                      f"households {families:>6,}  peak RSS {result['peak_rss_mb']:>4} MB  "
                      f"{'OK' if ok else 'MISSED'} (<{TARGET_S:.0f} s, <{TARGET_MB:.0f} MB)",
                      flush=True)
                if report.problems:
                    for problem in report.problems[:5]:
                        print("    ", problem)
        db.session.remove()
        db.engine.dispose()
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--xlsx", action="store_true", help="also time the dry run of an XLSX")
    args = parser.parse_args(argv)
    missed = False
    for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        folder = tempfile.mkdtemp(prefix="shg-import-bench-")
        stop = None
        try:
            url = sqlite_url(folder) if kind == "sqlite" else None
            if url is None:
                url, stop = postgres_url()
            for result in run(kind, url, args.rows, args.xlsx):
                if result["step"] == "import" and (result["seconds"] >= TARGET_S
                                                   or result["peak_rss_mb"] >= TARGET_MB):
                    missed = True
        finally:
            if stop:
                stop()
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
