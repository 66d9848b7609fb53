"""How fast the ledger is with a programme ten times the published one.

    python bench/run.py [--scale 10] [--loans 100000] [--db sqlite|postgresql|both]
                        [--runs 20] [--explain] [--only WORD …]

For each database it builds the demo programme (``shg.demo.build_demo``) into a fresh
database, with ``--loans`` loans and their schedules and repayments, prints the build time,
then times each registered benchmark: a page through the Flask test client, logged in as a
district facilitator or loan officer (full request handling: routing, session, login,
queries, templates, CSRF), or an API call with a personal token, next to the plain SQL that
fetches the same rows. The ratio says how much the application adds on top of the database.
A benchmark whose page or API route does not exist (yet) is skipped, with a message.

SQLite lives in a temporary folder. PostgreSQL is $SHG_BENCH_POSTGRES_URL (a server; a
database ``shg_bench`` is made on it) or a throwaway cluster from ``tests/pg.py``.

Figures go to the terminal and to bench/results/<timestamp>.json (git-ignored).

Adding a benchmark: write a function taking a ``Context`` and returning a ``Measurement``,
decorated with ``@bench("name")``; use ``ctx.http`` and ``ctx.sql`` to time, and
``ctx.facts`` for the ids chosen after the build (or add your own in ``choose_facts``).
Raise ``Skip("why")`` when what it times is not there; ``ctx.has_route`` tells.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import sqlalchemy  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402

from shg import create_app, demo  # noqa: E402
from shg.extensions import db  # noqa: E402
from shg.timeutil import utcnow  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results")
#: the registry part of the build (groups, members, meetings) at scale 10
BUILD_TARGET_S = 120.0
SEED = demo.DEFAULT_SEED
#: 100,000 loans with ~1.2 million installments (the issue's figure)
LOANS = 100_000
#: repayments posted by the write benchmarks, on loans of the officer's region
POSTED_AMOUNT = "10.00"


# ---------------------------------------------------------------- the registry of benchmarks


@dataclass
class Measurement:
    """One benchmark's samples in milliseconds; ``sql_ms`` is the plain query's."""

    http_ms: list[float]
    sql_ms: list[float] = field(default_factory=list)
    #: SQL statements one request ran (the median request)
    queries: int = 0
    #: rows the page shows (and the plain query returns)
    rows: int = 0
    what: str = ""


@dataclass
class Bench:
    name: str
    func: Callable[["Context"], Measurement]
    target_ms: float


BENCHES: list[Bench] = []


class Skip(Exception):
    """What the benchmark times is not there (yet); the message says what is missing."""


def bench(name: str, target_ms: float = 200.0):
    """Register a benchmark function under a name, with its target for the median."""
    def register(func):
        BENCHES.append(Bench(name, func, target_ms))
        return func
    return register


class Context:
    """What a benchmark needs: the app, a logged-in client, a raw connection, the chosen ids."""

    def __init__(self, app, client, admin, csrf: str, facts: dict, runs: int, explain: bool,
                 officer=None, officer_csrf: str = "", api_headers: dict | None = None):
        #: ``client`` is logged in as the district's facilitator, ``admin`` as the admin,
        #: ``officer`` as the loan officer of the district's region; ``csrf`` and
        #: ``officer_csrf`` are their form tokens; ``api_headers`` carry the officer's
        #: personal API token
        self.app, self.client, self.admin, self.csrf, self.facts = app, client, admin, csrf, facts
        self.officer, self.officer_csrf = officer, officer_csrf
        self.api_headers = api_headers or {}
        self.runs, self.explain = runs, explain
        self.warmup = 2
        self._statements = 0
        with app.app_context():
            self.engine = db.engine

        @event.listens_for(self.engine, "before_cursor_execute")
        def _count(*_args):
            self._statements += 1

    def http(self, request: Callable[[int], object], expect: int = 200) -> tuple[list[float], int]:
        """Time ``request(i)`` (a test-client call) ``runs`` times after a warm-up.

        Returns the samples in ms and the statement count of the median request.
        """
        samples, counts = [], []
        for i in range(self.warmup + self.runs):
            before = self._statements
            started = time.perf_counter()
            response = request(i)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != expect:
                raise RuntimeError(f"{response.request.path}: {response.status_code}, "
                                   f"expected {expect}\n{response.get_data(as_text=True)[:2000]}")
            if i >= self.warmup:
                samples.append(elapsed)
                counts.append(self._statements - before)
        return samples, sorted(counts)[len(counts) // 2]

    def sql(self, statement: str, params: Callable[[int], dict] | dict | None = None,
            commit: bool = False) -> tuple[list[float], int]:
        """Time the plain SQL on one connection (its own transaction per run)."""
        samples, rows = [], 0
        query = text(statement)
        with self.engine.connect() as conn:
            if self.explain:
                self._explain(conn, statement, params(0) if callable(params) else params or {})
            for i in range(self.warmup + self.runs):
                values = params(i) if callable(params) else (params or {})
                started = time.perf_counter()
                result = conn.execute(query, values)
                rows = len(result.all()) if result.returns_rows else result.rowcount
                if commit:
                    conn.commit()
                elapsed = (time.perf_counter() - started) * 1000
                if not commit:
                    conn.rollback()
                if i >= self.warmup:
                    samples.append(elapsed)
        return samples, rows

    def sql_steps(self, steps: Callable[[object, int], int]) -> list[float]:
        """Time a few statements run by ``steps(conn, i)`` and committed together."""
        samples = []
        with self.engine.connect() as conn:
            for i in range(self.warmup + self.runs):
                started = time.perf_counter()
                steps(conn, i)
                conn.commit()
                elapsed = (time.perf_counter() - started) * 1000
                if i >= self.warmup:
                    samples.append(elapsed)
        return samples

    def has_route(self, method: str, path: str) -> bool:
        """Whether the app answers ``method`` on a URL like ``path`` ("/loans/<id>/repayments":
        any converter matches ``<…>``)."""
        wanted = re.sub(r"<[^>]*>", "<>", path)
        return any(re.sub(r"<[^>]*>", "<>", rule.rule) == wanted and method in rule.methods
                   for rule in self.app.url_map.iter_rules())

    def require_route(self, method: str, path: str) -> None:
        if not self.has_route(method, path):
            raise Skip(f"{method} {path} does not exist yet")

    def _explain(self, conn, statement: str, params: dict) -> None:
        prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
        print(f"\n    {prefix.strip()}:")
        for row in conn.execute(text(prefix + statement), params):
            print("      " + " | ".join(str(v) for v in row))
        conn.rollback()


# ---------------------------------------------------------------- the benchmarks


GROUP_PAGE_SQL = """
SELECT g.id, g.name, v.name, d.name, g.status,
       (SELECT count(*) FROM membership ms WHERE ms.group_id = g.id AND ms.left_on IS NULL),
       (SELECT count(*) FROM membership ms JOIN member m ON m.id = ms.member_id
         WHERE ms.group_id = g.id AND ms.left_on IS NULL AND m.gender = 'female')
FROM shg_group g JOIN village v ON v.id = g.village_id JOIN district d ON d.id = v.district_id
WHERE v.district_id = :district AND g.status = 'active'
ORDER BY g.name, g.id LIMIT 25
"""

ALL_GROUPS_PAGE_SQL = GROUP_PAGE_SQL.replace("v.district_id = :district AND ", "")

REGISTER_SQL = """
SELECT mt.id, mt.held_on, mt.topics,
       coalesce(sum(CASE WHEN a.status IN ('present', 'late') THEN 1 ELSE 0 END), 0),
       count(a.id), coalesce(sum(a.savings), 0)
FROM meeting mt LEFT JOIN attendance a ON a.meeting_id = mt.id
WHERE mt.group_id = :group
GROUP BY mt.id, mt.held_on, mt.topics ORDER BY mt.held_on DESC LIMIT 50
"""


@bench("group list, district + active (facilitator)")
def group_list(ctx: Context) -> Measurement:
    url = f"/groups?district={ctx.facts['district_id']}&status=active"
    http, queries = ctx.http(lambda i: ctx.client.get(url))
    sql, rows = ctx.sql(GROUP_PAGE_SQL, {"district": ctx.facts["district_id"]})
    return Measurement(http, sql, queries, rows, "GET " + url)


@bench("group list, all districts + active (admin)")
def group_list_admin(ctx: Context) -> Measurement:
    url = "/groups?status=active"
    http, queries = ctx.http(lambda i: ctx.admin.get(url))
    sql, rows = ctx.sql(ALL_GROUPS_PAGE_SQL)
    return Measurement(http, sql, queries, rows, "GET " + url)


@bench("meeting register of the busiest group")
def meeting_register(ctx: Context) -> Measurement:
    url = f"/groups/{ctx.facts['busiest_group_id']}/meetings"
    http, queries = ctx.http(lambda i: ctx.client.get(url))
    sql, rows = ctx.sql(REGISTER_SQL, {"group": ctx.facts["busiest_group_id"]})
    return Measurement(http, sql, queries, rows, "GET " + url)


@bench("save a meeting of 15 members")
def save_meeting(ctx: Context) -> Measurement:
    group_id, members = ctx.facts["bench_group_id"], ctx.facts["bench_member_ids"]
    url = f"/groups/{group_id}/meetings/new"
    last = ctx.facts["until"] - timedelta(days=1)

    def post(i):
        form = {"csrf_token": ctx.csrf, "held_on": (last - timedelta(days=i)).isoformat(),
                "topics": "Сбережения; Безопасная миграция", "decisions": ""}
        for n, member_id in enumerate(members):
            form[f"status-{member_id}"] = ("present", "present", "late", "absent")[n % 4]
            form[f"savings-{member_id}"] = "" if n % 4 == 3 else "150,50"
        return ctx.client.post(url, data=form)

    http, queries = ctx.http(post, expect=302)
    first = ctx.facts["bench_group_formed_on"]

    def steps(conn, i):
        # the same rows, by hand: the meeting, then one attendance row per member
        held_on = first + timedelta(days=i)
        meeting_id = conn.execute(text(
            "INSERT INTO meeting (group_id, held_on, facilitator_id, topics, created_at) "
            "VALUES (:g, :d, :f, :t, :c) RETURNING id"),
            {"g": group_id, "d": held_on, "f": ctx.facts["facilitator_id"],
             "t": "Сбережения; Безопасная миграция", "c": utcnow()}).scalar_one()
        conn.execute(text("INSERT INTO attendance (meeting_id, member_id, status, savings) "
                          "VALUES (:m, :p, :s, :v)"),
                     [{"m": meeting_id, "p": member_id, "s": "present", "v": 15050}
                      for member_id in members])
        return len(members) + 1

    sql = ctx.sql_steps(steps)
    return Measurement(http, sql, queries, len(members) + 1,
                       f"POST {url} (15 attendance rows, a new date each run)")


# ---------------------------------------------------------------- loans

OVERDUE_PAGE_SQL = """
SELECT l.id, m.full_name, m.phone, g.name, v.name, l.oldest_unpaid_due_on, l.last_paid_on
FROM loan l JOIN member m ON m.id = l.member_id JOIN shg_group g ON g.id = l.group_id
JOIN village v ON v.id = g.village_id
WHERE l.status = 'disbursed' AND l.oldest_unpaid_due_on < :today {districts}
ORDER BY l.oldest_unpaid_due_on, l.id LIMIT 25
"""

CREDIT_SQL = """
SELECT l.id, l.status, i.version, i.number, i.due_on, i.principal + i.interest + i.fee,
       i.principal_paid + i.interest_paid + i.fee_paid, i.paid_on
FROM loan l JOIN installment i ON i.loan_id = l.id
WHERE l.member_id = :member AND l.disbursed_on IS NOT NULL
ORDER BY l.disbursed_on, l.id, i.version, i.number
"""


def _need_loans(ctx: Context) -> None:
    if not ctx.facts.get("loans"):
        raise Skip("the demo has no loans (--loans 0)")


def _overdue(ctx: Context, client, districts) -> Measurement:
    _need_loans(ctx)
    ctx.require_route("GET", "/loans/overdue")
    http, queries = ctx.http(lambda i: client.get("/loans/overdue"))
    where = (f"AND v.district_id IN ({', '.join(str(int(d)) for d in districts)})"
             if districts else "")
    sql, rows = ctx.sql(OVERDUE_PAGE_SQL.format(districts=where), {"today": ctx.facts["today"]})
    return Measurement(http, sql, queries, rows,
                       f"GET /loans/overdue ({ctx.facts['overdue_loans']:,} loans late in all)")


@bench("overdue worklist, first page (loan officer)")
def overdue_officer(ctx: Context) -> Measurement:
    return _overdue(ctx, ctx.officer, ctx.facts.get("officer_district_ids"))


@bench("overdue worklist, first page (admin)")
def overdue_admin(ctx: Context) -> Measurement:
    return _overdue(ctx, ctx.admin, None)


@bench("credit history page, member with most loans")
def credit_page(ctx: Context) -> Measurement:
    _need_loans(ctx)
    ctx.require_route("GET", "/members/<id>/credit")
    url = f"/members/{ctx.facts['borrower_id']}/credit"
    http, queries = ctx.http(lambda i: ctx.officer.get(url))
    sql, rows = ctx.sql(CREDIT_SQL, {"member": ctx.facts["borrower_id"]})
    return Measurement(http, sql, queries, rows,
                       f"GET {url} ({ctx.facts['borrower_loans']} loans)")


@bench("credit history API, member with most loans")
def credit_api(ctx: Context) -> Measurement:
    _need_loans(ctx)
    ctx.require_route("GET", "/api/v1/members/<id>/credit-history")
    url = f"/api/v1/members/{ctx.facts['borrower_id']}/credit-history"
    http, queries = ctx.http(lambda i: ctx.officer.get(url, headers=ctx.api_headers))
    sql, rows = ctx.sql(CREDIT_SQL, {"member": ctx.facts["borrower_id"]})
    return Measurement(http, sql, queries, rows,
                       f"GET {url} ({ctx.facts['borrower_loans']} loans)")


def _posting_sql(ctx: Context, loan_ids: list[int]) -> list[float]:
    """A hand-written posting, for scale: lock the loan, read its schedule, write the
    repayment and one allocation, keep the last payment day; commit."""
    paid_on = ctx.facts["paid_on"]

    def steps(conn, i):
        loan_id = loan_ids[i % len(loan_ids)]
        conn.execute(text("UPDATE loan SET lock_version = lock_version + 1 WHERE id = :l"),
                     {"l": loan_id})
        installment = conn.execute(text(
            "SELECT id FROM installment WHERE loan_id = :l AND paid_on IS NULL "
            "ORDER BY version DESC, number LIMIT 1"), {"l": loan_id}).scalar()
        repayment = conn.execute(text(
            "INSERT INTO repayment (loan_id, paid_on, amount, recorded_at) "
            "VALUES (:l, :d, 1000, :at) RETURNING id"),
            {"l": loan_id, "d": paid_on, "at": utcnow()}).scalar_one()
        conn.execute(text("INSERT INTO allocation (repayment_id, installment_id, component, "
                          "amount) VALUES (:r, :i, 'interest', 1000)"),
                     {"r": repayment, "i": installment})
        conn.execute(text("UPDATE loan SET last_paid_on = :d WHERE id = :l"),
                     {"d": paid_on, "l": loan_id})
        return 4
    return ctx.sql_steps(steps)


@bench("post a repayment (loan page)")
def repayment_page(ctx: Context) -> Measurement:
    _need_loans(ctx)
    ctx.require_route("POST", "/loans/<id>/repayments")
    loans = ctx.facts["repay_loan_ids"][:ctx.warmup + ctx.runs]

    def post(i):
        return ctx.officer.post(f"/loans/{loans[i]}/repayments", data={
            "repay-csrf_token": ctx.officer_csrf, "repay-paid_on": ctx.facts["paid_on"],
            "repay-amount": POSTED_AMOUNT.replace(".", ","), "repay-receipt_no": f"Б-{i}"})

    http, queries = ctx.http(post, expect=302)
    return Measurement(http, _posting_sql(ctx, loans), queries, 1,
                       f"POST /loans/<id>/repayments, {POSTED_AMOUNT}, a new loan each run")


@bench("post a repayment (API)")
def repayment_api(ctx: Context) -> Measurement:
    _need_loans(ctx)
    ctx.require_route("POST", "/api/v1/loans/<id>/repayments")
    n = ctx.warmup + ctx.runs
    loans = ctx.facts["repay_loan_ids"][n:2 * n]

    def post(i):
        return ctx.officer.post(
            f"/api/v1/loans/{loans[i]}/repayments",
            json={"paid_on": ctx.facts["paid_on"], "amount": POSTED_AMOUNT,
                  "receipt_no": f"А-{i}"},
            headers={**ctx.api_headers, "Idempotency-Key": f"bench-{loans[i]}-{i}"})

    http, queries = ctx.http(post, expect=201)
    return Measurement(http, _posting_sql(ctx, loans), queries, 1,
                       f"POST /api/v1/loans/<id>/repayments with an Idempotency-Key, "
                       f"{POSTED_AMOUNT}, a new loan each run")


@bench("post a repayment (service, no route yet)")
def repayment_service(ctx: Context) -> Measurement:
    """Only when neither the page nor the API can post a repayment: the service alone."""
    _need_loans(ctx)
    if (ctx.has_route("POST", "/loans/<id>/repayments")
            or ctx.has_route("POST", "/api/v1/loans/<id>/repayments")):
        raise Skip("timed through the page and the API instead")
    from loans import services
    from loans.models import Loan
    from shg.accounts.models import User
    n = ctx.warmup + ctx.runs
    loans = ctx.facts["repay_loan_ids"][2 * n:3 * n]
    paid_on = date.fromisoformat(ctx.facts["paid_on"])
    samples, counts = [], []
    with ctx.app.app_context():
        officer = db.session.get(User, ctx.facts["officer_id"])
        for i in range(n):
            before = ctx._statements
            started = time.perf_counter()
            services.post_repayment(db.session.get(Loan, loans[i]), Decimal(POSTED_AMOUNT),
                                    paid_on, by=officer)
            db.session.commit()
            if i >= ctx.warmup:
                samples.append((time.perf_counter() - started) * 1000)
                counts.append(ctx._statements - before)
        db.session.remove()
    return Measurement(samples, _posting_sql(ctx, loans), sorted(counts)[len(counts) // 2], 1,
                       "services.post_repayment + commit (no page or API route exists)")


@bench("build and save the schedules of all loans", target_ms=60_000)
def all_schedules(ctx: Context) -> Measurement:
    """build_schedule for every loan (as disbursed, or as it would be), the installments
    sent in chunks as the demo sends them (COPY on PostgreSQL), then rolled back. One run:
    it is minutes of work, not milliseconds."""
    from types import SimpleNamespace

    from loans import schedules
    from loans import services as loan_services
    from loans.models import Installment, Loan
    _need_loans(ctx)
    columns = [Loan.id, Loan.principal, Loan.applied_on, Loan.disbursed_on, Loan.first_due_on,
               Loan.balloon_on, *(getattr(Loan, k) for k in loan_services.TERM_FIELDS)]
    nothing = Decimal("0")
    table = Installment.__table__
    timings = {"read": 0.0, "build": 0.0, "save": 0.0}
    count = 0
    with ctx.app.app_context():
        started = time.perf_counter()
        loans = db.session.execute(select(*columns).order_by(Loan.id)).all()
        next_id = (db.session.scalar(select(func.max(Installment.id))) or 0) + 1
        timings["read"] = time.perf_counter() - started
        batch: list[dict] = []
        for row in loans:
            started = time.perf_counter()
            loan = SimpleNamespace(**row._mapping)
            day = loan.disbursed_on or loan.applied_on
            for line in schedules.build_schedule(loan_services.terms_of(loan)):
                batch.append({"id": next_id, "loan_id": loan.id, "version": 1000,
                              "in_force_from": day, "superseded_on": None,
                              "number": line.number, "due_on": line.due_on,
                              "principal": line.principal, "interest": line.interest,
                              "fee": nothing, "principal_paid": nothing,
                              "interest_paid": nothing, "fee_paid": nothing,
                              "penalty_paid": nothing, "paid_on": None})
                next_id += 1
            timings["build"] += time.perf_counter() - started
            if len(batch) >= demo.CHUNK:
                started = time.perf_counter()
                demo._send(table, batch)
                timings["save"] += time.perf_counter() - started
                count += len(batch)
                batch = []
        started = time.perf_counter()
        if batch:
            demo._send(table, batch)
            count += len(batch)
        db.session.flush()
        timings["save"] += time.perf_counter() - started
        db.session.rollback()
        db.session.remove()
    total = sum(timings.values()) * 1000
    return Measurement([total], [], 0, count,
                       f"{len(loans):,} schedules: read {timings['read']:.1f} s, "
                       f"build_schedule {timings['build']:.1f} s, save {count:,} "
                       f"installments {timings['save']:.1f} s (rolled back)")


# ---------------------------------------------------------------- setting up a database


def choose_facts(app, until: date) -> dict:
    """Pick what the benchmarks look at: the district with the most groups, its facilitator,
    its busiest group, and a new group of 15 members to record meetings for (made through
    the ORM, which also proves the id sequences were moved past the bulk-loaded rows)."""
    from shg.accounts.models import User, user_districts
    from shg.registry.models import (Attendance, Group, Household, Meeting, Member, Membership,
                                     Village)

    with app.app_context():
        district_id = db.session.execute(
            select(Village.district_id).join(Group, Group.village_id == Village.id)
            .group_by(Village.district_id).order_by(func.count(Group.id).desc(),
                                                    Village.district_id).limit(1)).scalar_one()
        facilitator = db.session.scalars(
            select(User).join(user_districts, user_districts.c.user_id == User.id)
            .where(User.role == "facilitator", user_districts.c.district_id == district_id)
            .order_by(User.id)).first()
        busiest = db.session.execute(
            select(Meeting.group_id, func.count(Attendance.id).label("n"))
            .join(Attendance, Attendance.meeting_id == Meeting.id)
            .join(Group, Group.id == Meeting.group_id).join(Village)
            .where(Village.district_id == district_id)
            .group_by(Meeting.group_id).order_by(func.count(Attendance.id).desc(),
                                                 Meeting.group_id).limit(1)).one()
        village = db.session.scalars(select(Village).where(Village.district_id == district_id,
                                                           Village.is_pilot)
                                     .order_by(Village.id)).first()
        formed_on = until - timedelta(days=3 * 365)
        group = Group(village=village, name="Бенчмарк", formed_on=formed_on,
                      facilitator_id=facilitator.id, meeting_frequency="weekly", meeting_day=2)
        db.session.add(group)
        members = []
        for n in range(15):
            household = Household(village=village, name=f"Токтогулов {n + 1}")
            member = Member(household=household, full_name=f"Айгуль Токтогулова {n + 1}",
                            gender="female", language="ky")
            db.session.add_all([household, member, Membership(member=member, group=group,
                                                              joined_on=formed_on)])
            members.append(member)
        db.session.commit()
        facts = {"district_id": district_id, "facilitator": facilitator.username,
                 "facilitator_id": facilitator.id, "busiest_group_id": busiest.group_id,
                 "busiest_group_attendance_rows": busiest.n, "bench_group_id": group.id,
                 "bench_group_formed_on": formed_on, "bench_member_ids": [m.id for m in members],
                 "until": until}
        facts.update(_loan_facts(district_id, until))
        db.session.remove()
    return facts


def _loan_facts(district_id: int, until: date) -> dict:
    """The loan officer of the district's region, the borrower with the most loans there,
    loans to post repayments on (disbursed, with principal outstanding; a new one each run),
    and how many loans are late in all."""
    from loans.models import Loan
    from shg.accounts.models import User, user_districts
    from shg.registry.models import Group, Village
    from shg.timeutil import today

    loans = db.session.scalar(select(func.count(Loan.id)))
    if not loans:
        return {"loans": 0}
    officer = db.session.scalars(
        select(User).join(user_districts, user_districts.c.user_id == User.id)
        .where(User.role == "loan_officer", user_districts.c.district_id == district_id)
        .order_by(User.id)).first()
    districts = sorted(d.id for d in officer.districts)
    reach = (select(Loan.id).join(Group, Group.id == Loan.group_id)
             .join(Village, Village.id == Group.village_id)
             .where(Village.district_id.in_(districts)))
    borrower = db.session.execute(
        select(Loan.member_id, func.count(Loan.id))
        .where(Loan.id.in_(reach), Loan.disbursed_on.is_not(None))
        .group_by(Loan.member_id).order_by(func.count(Loan.id).desc(), Loan.member_id)
        .limit(1)).one()
    repay = db.session.scalars(
        select(Loan.id).where(Loan.id.in_(reach), Loan.status == "disbursed",
                              Loan.outstanding_principal >= Decimal("1000"),
                              Loan.disbursed_on < until - timedelta(days=30))
        .order_by(Loan.id).limit(200)).all()
    on = today()
    late = db.session.scalar(select(func.count(Loan.id)).where(
        Loan.status == "disbursed", Loan.oldest_unpaid_due_on < on))
    return {"loans": loans, "officer": officer.username, "officer_id": officer.id,
            "officer_district_ids": districts, "borrower_id": borrower[0],
            "borrower_loans": borrower[1], "repay_loan_ids": repay,
            "paid_on": (until - timedelta(days=1)).isoformat(), "today": on,
            "overdue_loans": late}


def login(client, username: str, password: str) -> str:
    """Log in through the form, with its CSRF token; return the token for later posts."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page)
    token = token.group(1) if token else ""
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"could not log in as {username}: {response.status_code}")
    return token


def run_database(kind: str, url: str, scale: float, until: date, runs: int,
                 explain: bool, only: list[str] | None, loans: int | None = LOANS) -> dict:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret",
                      "RATELIMIT_ENABLED": False})
    print(f"\n== {kind}: building the demo programme at scale {scale:g}"
          f"{'' if loans is None else f' with {loans:,} loans'} …", flush=True)
    with app.app_context():
        result = demo.build_demo(scale=scale, seed=SEED, until=until, reset=True, loans=loans)
        server = db.session.execute(text(
            "select sqlite_version()" if kind == "sqlite" else "show server_version")).scalar()
        db.session.remove()
    registry_s = result.timings.get("registry", result.seconds)
    ok = registry_s < BUILD_TARGET_S
    print(f"   built in {result.seconds:.1f} s: the registry in {registry_s:.1f} s "
          f"(target < {BUILD_TARGET_S:.0f} s) {'OK' if ok else 'MISSED'}: " + ", ".join(
              f"{result.counts[t]:,} {t}"
              for t in ("shg_group", "member", "meeting", "attendance")))
    print(f"   the loans in {result.timings.get('loans', 0):.1f} s (build_schedule "
          f"{result.timings.get('schedules', 0):.1f} s CPU, installments sent in "
          f"{result.timings.get('installments_saved', 0):.1f} s): " + ", ".join(
              f"{result.counts[t]:,} {t}"
              for t in ("loan", "installment", "repayment", "allocation")), flush=True)
    facts = choose_facts(app, until)
    client, admin, officer = app.test_client(), app.test_client(), app.test_client()
    csrf = login(client, facts["facilitator"], demo.STAFF_PASSWORD)
    login(admin, "admin", demo.ADMIN_PASSWORD)
    officer_csrf, api_headers = "", {}
    if facts.get("loans"):
        officer_csrf = login(officer, facts["officer"], demo.STAFF_PASSWORD)
        api_headers = api_token(app, facts["officer_id"])
    ctx = Context(app, client, admin, csrf, facts, runs, explain, officer, officer_csrf,
                  api_headers)
    rows, skipped = [], []
    for b in BENCHES:
        if only and not any(word in b.name for word in only):
            continue
        print(f"   … {b.name}", flush=True)
        try:
            m = b.func(ctx)
        except Skip as why:
            print(f"     skipped: {why}", flush=True)
            skipped.append({"name": b.name, "why": str(why)})
            continue
        except Exception as exc:  # a page broken by work in progress: say so, go on
            why = f"FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
            traceback.print_exc()
            print(f"     {why}", flush=True)
            skipped.append({"name": b.name, "why": why, "failed": True})
            continue
        median = statistics.median(m.http_ms)
        sql_median = statistics.median(m.sql_ms) if m.sql_ms else None
        rows.append({
            "name": b.name, "what": m.what, "target_ms": b.target_ms,
            "median_ms": round(median, 2), "p90_ms": round(_p90(m.http_ms), 2),
            "min_ms": round(min(m.http_ms), 2),
            "sql_median_ms": round(sql_median, 3) if sql_median is not None else None,
            "ratio": round(median / sql_median, 1) if sql_median else None,
            "queries": m.queries, "rows": m.rows, "runs": len(m.http_ms),
            "ok": median < b.target_ms})
    return {"database": kind, "server_version": server, "build_seconds": round(result.seconds, 2),
            "build_ok": ok, "counts": result.counts,
            "build_timings": {k: round(v, 2) for k, v in result.timings.items()},
            "facts": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in facts.items()
                      if k not in ("bench_member_ids", "repay_loan_ids")},
            "benchmarks": rows, "skipped": skipped}


def api_token(app, user_id: int) -> dict:
    """Headers with a new personal API token of the user."""
    from shg.accounts.models import User
    from shg.accounts.services import create_token
    with app.app_context():
        _token, plain = create_token(db.session.get(User, user_id), "bench")
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {plain}"}


def _p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def print_table(report: dict) -> None:
    timings = report.get("build_timings", {})
    print(f"\n{report['database']} {report['server_version']}: build "
          f"{report['build_seconds']:.1f} s (registry {timings.get('registry', 0):.1f} s "
          f"{'OK' if report['build_ok'] else 'MISSED'}, loans {timings.get('loans', 0):.1f} s)")
    header = (f"  {'benchmark':<46} {'median':>8} {'p90':>8} {'SQL':>8} {'ratio':>6} "
              f"{'stmts':>5} {'rows':>5}  target")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in report["benchmarks"]:
        sql = f"{r['sql_median_ms']:.2f}" if r["sql_median_ms"] is not None else "—"
        ratio = f"{r['ratio']:.0f}×" if r["ratio"] is not None else "—"
        print(f"  {r['name']:<46} {r['median_ms']:>6.1f}ms {r['p90_ms']:>6.1f}ms {sql:>6}ms "
              f"{ratio:>6} {r['queries']:>5} {r['rows']:>5}  "
              f"<{r['target_ms']:.0f}ms {'OK' if r['ok'] else 'MISSED'}")
        if r["target_ms"] >= 10_000:
            print(f"  {'':<46} {r['what']}")
    for skipped in report.get("skipped", []):
        print(f"  {skipped['name']:<46} skipped: {skipped['why']}")


# ---------------------------------------------------------------- databases


def sqlite_url(folder: str) -> str:
    return "sqlite:///" + os.path.join(folder, "bench.sqlite")


def postgres_url():
    """(url, stop) for a database to fill: $SHG_BENCH_POSTGRES_URL's server, or a new cluster."""
    from tests import pg
    server = os.environ.get("SHG_BENCH_POSTGRES_URL")
    stop = None
    if not server:
        started = pg.start_cluster()
        if started is None:
            raise SystemExit("PostgreSQL is not installed: set SHG_BENCH_POSTGRES_URL.")
        server, stop = started
    server = server.replace("postgres://", "postgresql://", 1)
    if server.startswith("postgresql://"):
        server = "postgresql+psycopg://" + server[len("postgresql://"):]
    return pg.create_database(server, "shg_bench"), stop


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--loans", type=int, default=LOANS,
                        help="loans in the demo, with their schedules and repayments "
                             f"(default {LOANS:,})")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per benchmark")
    parser.add_argument("--until", type=date.fromisoformat, default=None,
                        help="the demo's reference day (default today)")
    parser.add_argument("--only", nargs="*", help="run the benchmarks whose name has a word")
    parser.add_argument("--explain", action="store_true",
                        help="print the plan of each benchmark's plain SQL")
    args = parser.parse_args(argv)
    from shg.timeutil import today
    until = args.until or today()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    reports = []
    for kind in kinds:
        folder = tempfile.mkdtemp(prefix="shg-bench-")
        stop = None
        try:
            if kind == "sqlite":
                url = sqlite_url(folder)
            else:
                url, stop = postgres_url()
            reports.append(run_database(kind, url, args.scale, until, args.runs, args.explain,
                                        args.only, args.loans))
        finally:
            if stop:
                stop()
            shutil.rmtree(folder, ignore_errors=True)
    for report in reports:
        print_table(report)
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(RESULTS, f"{stamp}.json")
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"at": datetime.now().isoformat(timespec="seconds"), "scale": args.scale,
                   "seed": SEED, "until": until.isoformat(), "runs": args.runs,
                   "loans": args.loans,
                   "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                               "platform": platform.platform(),
                               "sqlalchemy": sqlalchemy.__version__},
                   "results": reports}, out, ensure_ascii=False, indent=2)
    print(f"\nwritten to {os.path.relpath(path, ROOT)}")
    missed = [r for rep in reports for r in rep["benchmarks"] if not r["ok"]]
    missed += [r for rep in reports for r in rep["skipped"] if r.get("failed")]
    return 1 if missed or not all(rep["build_ok"] for rep in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
