"""The demo programme: a year in the life of the SHG programme, made up but shaped like it.

``build_demo`` fills an empty ledger with what the published results describe (DOMAIN.md):
Kyrgyzstan and Tajikistan, their regions, districts and villages; about 500 self-help groups
and 3,200 members at scale 1, 92 % of them women, each representing a migrant family; officers;
a few members who left and joined another group; and a year of meetings with attendance and
savings per member. Staff accounts to try the ledger with are made too.

Then the loans: three MFIs, a bank and each group's own fund as lenders; four products (flat
monthly, equal installments, every second week from the group fund, and a harvest loan whose
principal falls due in September and October; two with penalties); and loans to about a fifth
of the members (some two), applied, approved, disbursed, closed or written off, paid out over
the year before ``until``, with repayment histories: most on time, some late, some in part, a
few far behind or written off, a few payments reversed and a few loans rescheduled. Asked for
more loans (``loans=100_000``), members borrow more often and over more years.

Three promises shape the code:

* **Deterministic.** The same seed, scale, loans and reference date give the same rows, ids
  included: every random choice comes from ``random.Random`` streams seeded here (never the
  global ``random``; each loan has its own), loops run over sorted or generated-in-order
  sequences, and nothing reads the clock (``created_at`` is derived from the records' own
  dates). Tests and benchmarks can compare figures across runs and databases.
* **What the services write.** A loan's schedule is ``build_schedule`` of its terms, its
  repayments are allocated by the ledger's own ``Ledger.pay``/``replay`` with the loan's
  penalty rule and allocation order, and its paid columns, allocations and kept figures are
  those ``loans.services._rewrite`` writes (``_LoanLife``). tests/test_demo_data.py rewrites
  demo loans through the service and finds nothing to change.
* **Fast.** At scale 10 (5,000 groups, 32,000 members, ~100k meetings, ~600k attendance rows)
  the registry must load in well under two minutes on SQLite and PostgreSQL alike. Rows are
  plain dicts sent in chunks (COPY on PostgreSQL, the driver's executemany on SQLite: see
  ``_send``), with primary keys assigned here, so no ORM object is made per row and no
  RETURNING is needed. Values still pass through each column type's bind processing (the money
  column's Decimal to minor units). Bulk rows bypass the ORM's ``after_flush`` hook, so demo
  rows are not in the audit log, which is intended: nobody made them. 100,000 loans take a few
  minutes, most of it in the ledger's replay; from ``LOAN_WORKERS_FROM`` loans on, they are
  worked out in worker processes.
"""
from __future__ import annotations

import bisect
import itertools
import math
import multiprocessing
import os
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock, timedelta
from decimal import ROUND_DOWN, Decimal
from types import SimpleNamespace

from sqlalchemy import insert, inspect, select, text
from werkzeug.security import generate_password_hash

from loans import ledger as L
from loans import schedules
from loans import services as loan_services
from loans.models import (DEFAULT_ORDER, Allocation, Installment, Lender, Loan, LoanProduct,
                          Repayment)
from shg import demo_names as names
from shg.accounts.models import User, user_districts
from shg.extensions import db
from shg.registry.services import meeting_days
from shg.registry.models import (Attendance, Country, District, Group, Household, Meeting, Member,
                                 Membership, Migrant, Region, Village)

DEFAULT_SEED = 2011
ADMIN_PASSWORD = "admin-demo"
STAFF_PASSWORD = "demo-pass"

#: Rows sent to the database per statement: big enough to amortise the round trip,
#: small enough that a chunk of attendance rows stays a few megabytes.
CHUNK = 10_000

#: What scale 1 means, per country. Groups and members are the published figures
#: (KG 289 SHGs and 1,820 families, TJ 235 SHGs and 1,387 members) brought to a round
#: 500 groups and 3,200 members; pilot villages and their districts are the published ones.
BASE = {
    "KG": {"pilot_villages": 54, "pilot_districts": 20, "other_villages": 40,
           "groups": 289 * 500 / 524, "members": 1820 * 3200 / 3207},
    "TJ": {"pilot_villages": 11, "pilot_districts": 3, "other_villages": 20,
           "groups": 235 * 500 / 524, "members": 1387 * 3200 / 3207},
}

WOMEN_SHARE = 0.92
PHONE_SHARE = 0.88
#: members who left a group that goes on, and of them the share who joined another group
LEAVER_SHARE = 0.04
REJOIN_SHARE = 0.6
GROUP_STATUS_WEIGHTS = (("active", 86), ("dormant", 9), ("dissolved", 5))
FREQUENCY_WEIGHTS = (("monthly", 38), ("biweekly", 42), ("weekly", 20))
#: Monday … Sunday; fewer groups meet on Friday (prayers) and Sunday (market day)
WEEKDAY_WEIGHTS = (16, 16, 18, 16, 10, 16, 8)
#: a group skips a meeting now and then (holidays, funerals, harvest)
SKIP_SHARE = 0.04

#: the usual contribution per meeting, by country and how often the group meets
CONTRIBUTIONS = {
    ("KG", "monthly"): (100, 150, 200, 250, 300, 500),
    ("KG", "biweekly"): (50, 100, 150, 200),
    ("KG", "weekly"): (50, 70, 100),
    ("TJ", "monthly"): (20, 30, 50, 100),
    ("TJ", "biweekly"): (10, 15, 20, 30, 50),
    ("TJ", "weekly"): (10, 15, 20),
}

#: who lives where: shares of family origin per region (the rest are Kyrgyz or Tajik)
ORIGINS = {
    "Чуйская область": (("KG", 72), ("RU", 25), ("UZ", 3)),
    "Ошская область": (("KG", 80), ("UZ", 17), ("RU", 3)),
    "Джалал-Абадская область": (("KG", 82), ("UZ", 15), ("RU", 3)),
    "Баткенская область": (("KG", 85), ("UZ", 8), ("TJ", 7)),
    "Согдийская область": (("TJ", 84), ("UZ", 15), ("RU", 1)),
}
DEFAULT_ORIGINS = {"KG": (("KG", 95), ("RU", 5)), "TJ": (("TJ", 97), ("UZ", 2), ("RU", 1))}
#: the SMS language a family of each origin asks for
LANGUAGES = {"KG": (("ky", 82), ("ru", 18)), "TJ": (("tg", 88), ("ru", 12)),
             "UZ": (("uz", 80), ("ru", 12), ("ky", 8)), "RU": (("ru", 100),)}

LEFT_REASONS = ("Переезд в другое село", "Уехала к мужу на заработки в Россию",
                "Семейные обстоятельства", "По собственному желанию",
                "Уход за больным родственником")
MOVED_REASON = "Перешла в другую группу"
DISSOLVED_REASON = "Группа распалась"
STREETS = ("ул. Ленина", "ул. Манаса", "ул. Центральная", "ул. Мира", "ул. Садовая",
           "ул. Школьная", "ул. Айтматова", "ул. Рудаки", "ул. Сомони", "ул. Исмоили Сомони")

#: Letters found only in Tajik: an Uzbek family's names written the Russian way have none.
_TAJIK_ONLY = set("ғӣқҳҷӯҒӢҚҲҶӮ")


def _plain(words):
    return tuple(w for w in words if not _TAJIK_ONLY & set(w))


NAME_SETS = {
    **names.NAME_SETS,
    "UZ": {"female": _plain(names.TJ_FEMALE_NAMES), "male": _plain(names.TJ_MALE_NAMES),
           "surnames": tuple(p for p in names.TJ_SURNAMES if not _TAJIK_ONLY & set(p[0]))},
}


# ---------------------------------------------------------------- loans: what they look like

#: Scale-free shares: a fifth of the members have had a loan, and some of those a second one.
BORROWER_SHARE = 0.20
SECOND_LOAN_SHARE = 0.15
#: With more loans than this per borrower and year (``--loans`` well above the default),
#: the loans are spread over more years before ``until``, up to ``MAX_LOAN_YEARS``.
LOANS_PER_YEAR = 1.3
MAX_LOAN_YEARS = 5
#: a loan applied for in the last three weeks may still wait for approval or disbursement
PENDING_DAYS = 21

#: The programme's partner lenders (made up). Each group's own fund is a lender too.
LENDERS = (("akjol", "МКК «Ак-Жол Финанс»", "mfi"),
           ("meerim", "МКК «Мээрим Кредит»", "mfi"),
           ("sarvat", "МДО «Сарват Микрофинанс»", "mfi"),
           ("bank", "ОАО «Агрокредит Банк»", "bank"))
#: who lends in each country ("fund": the borrower's own group fund)
LENDER_WEIGHTS = {"KG": (("akjol", 30), ("meerim", 22), ("bank", 16), ("fund", 32)),
                  "TJ": (("sarvat", 62), ("fund", 38))}


def _product(name: str, **terms) -> dict:
    """A loan_product row: the model's defaults, then the product's own terms."""
    row = {"name": name, "method": "flat", "rate": Decimal("24"), "rate_period": "year",
           "frequency": "month", "installments": 12, "grace_on_principal": 0,
           "grace_on_interest": 0, "balloon_interest": "interest_only",
           "day_count": "per_period", "in_multiples_of": None, "penalty_method": "none",
           "penalty_rate": Decimal("0"), "penalty_amount": Decimal("0"),
           "penalty_grace_days": 0, "allocation_order": DEFAULT_ORDER, "balloon_month": None,
           "reminder_days_before": 3, "is_active": True}
    row.update(terms)
    return row


PRODUCTS = {
    # the MFIs' usual loan: flat 2 % a month, installments in whole som, 50 for each late one
    "flat": _product("Микрокредит «Старт»: 12 месяцев, фиксированный процент", method="flat",
                     rate=Decimal("2"), rate_period="month", in_multiples_of=Decimal("1"),
                     penalty_method="flat", penalty_amount=Decimal("50"), penalty_grace_days=3),
    # equal installments on the declining balance
    "annuity": _product("Кредит «Ырыс»: 12 месяцев, равные платежи",
                        method="declining_equal_installments", rate=Decimal("28")),
    # the group's own fund, repaid at the group's meetings every second week for half a
    # year; the fund's rule is to take its money back first, then the interest
    "fund": _product("Заём из общего фонда группы: раз в 2 недели, полгода",
                     method="declining_equal_principal", rate=Decimal("12"), frequency="2weeks",
                     installments=13, allocation_order="penalty,fee,principal,interest",
                     reminder_days_before=2),
    # interest only until the harvest, the principal in September and October; 1 % of the
    # overdue amount a month after ten days' grace
    "harvest": _product("Сезонный кредит «Урожай»: основной долг в сентябре и октябре",
                        method="declining_equal_principal", rate=Decimal("22"), installments=9,
                        balloon_month=9, reminder_days_before=7, penalty_method="percent",
                        penalty_rate=Decimal("1"), penalty_grace_days=10),
}
PRODUCT_WEIGHTS = {"mfi": (("flat", 50), ("annuity", 30), ("harvest", 20)),
                   "bank": (("annuity", 60), ("harvest", 40)),
                   "group_fund": (("fund", 100),)}
#: a harvest loan is paid out in January to June, so that it has installments before
#: the harvest and its principal falls due in September and October of the same year
HARVEST_MONTHS = range(1, 7)
HARVEST_PRINCIPAL_INSTALLMENTS = 2
#: the principal: (lowest, most usual, highest, rounded to), in the country's currency
PRINCIPALS = {
    ("KG", "flat"): (10_000, 20_000, 60_000, 1_000),
    ("KG", "annuity"): (20_000, 40_000, 100_000, 5_000),
    ("KG", "fund"): (3_000, 5_000, 15_000, 500),
    ("KG", "harvest"): (15_000, 30_000, 80_000, 5_000),
    ("TJ", "flat"): (2_000, 4_000, 12_000, 500),
    ("TJ", "annuity"): (4_000, 8_000, 20_000, 1_000),
    ("TJ", "fund"): (500, 1_000, 3_000, 100),
    ("TJ", "harvest"): (3_000, 6_000, 15_000, 1_000),
}
PURPOSES = {
    "flat": ("Теплица для томатов", "Покупка телёнка", "Швейная машина и ткани",
             "Мелкая торговля на базаре", "Пчелиные ульи", "Овцы на откорм"),
    "annuity": ("Корова", "Ремонт теплицы", "Мини-пекарня", "Холодильная витрина для магазина",
                "Мотоблок"),
    "fund": ("Семена и удобрения", "Школьная форма детям", "Лечение", "Куры-несушки",
             "Шерсть для войлочных изделий"),
    "harvest": ("Семена, удобрения и полив до урожая", "Аренда земли под огурцы",
                "Плёнка и рассада для теплицы"),
}
#: How a borrower repays. Most pay on time; some now and then a few days late ("late"),
#: some often and up to six weeks late ("slow"), some only part of each installment, some
#: stopped paying at some point, a few almost never paid: enough of each for the overdue
#: list, every PAR bucket and every credit grade.
PROFILES = (("good", 64), ("late", 15), ("slow", 7), ("partial", 6), ("stopped", 5),
            ("defaulted", 3))
#: days before the due date a punctual member pays (most on the day itself)
EARLY_DAYS = (0, 0, 0, 0, 1, 1, 2, 3, 5)
#: the share of loans with a payment recorded by mistake and reversed, and of loans late
#: enough to be rescheduled that are
REVERSAL_SHARE = 0.015
RESCHEDULE_SHARE = 0.1
WRITE_OFF_AFTER_DAYS = 180
WRITE_OFF_SHARE = 0.6
WRITE_OFF_REASONS = ("Уехала на заработки в Россию, связи с ней нет",
                     "Неурожай: хозяйству нечем платить",
                     "Смерть заёмщика; у семьи нет средств",
                     "Семья переехала, долг признан безнадёжным")
REVERSAL_REASONS = {"duplicate": "Платёж записан дважды",
                    "typo": "Ошибка в сумме: записано {wrong} вместо {right}",
                    "other": "Платёж другой участницы, записан не на тот кредит"}
ZERO = Decimal("0.00")


@dataclass
class DemoResult:
    """What was made: row counts per table, and the accounts to log in with."""

    counts: dict[str, int]
    #: (username, password, role, what the account reaches)
    accounts: list[tuple[str, str, str, str]]
    seconds: float
    until: date
    #: seconds per part: "registry" (geography to meetings), "loans" (all of the loans part),
    #: "schedules" (build_schedule alone), "installments_saved" (sending installment rows)
    timings: dict[str, float] = field(default_factory=dict)


def _fresh_schema() -> None:
    """Drop every table and build the schema again by the migrations, as production does.

    Every table the database holds is dropped, also those of models not imported and the
    migrations' own version table, so the upgrade starts from nothing.
    """
    from flask_migrate import upgrade
    from sqlalchemy import MetaData
    db.session.close()
    existing = MetaData()
    existing.reflect(db.engine)
    existing.drop_all(db.engine)
    upgrade()


def _tables():
    return [Country.__table__, Region.__table__, District.__table__, Village.__table__,
            User.__table__, user_districts, Group.__table__, Household.__table__,
            Member.__table__, Migrant.__table__, Membership.__table__, Meeting.__table__,
            Attendance.__table__, Lender.__table__, LoanProduct.__table__, Loan.__table__,
            Installment.__table__, Repayment.__table__, Allocation.__table__]


def database_has_data() -> bool:
    """Whether the ledger holds any users or registry rows (tables missing count as empty)."""
    existing = set(inspect(db.engine).get_table_names())
    for table in _tables():
        if table.name in existing and db.session.execute(select(text("1")).select_from(table)
                                                         .limit(1)).first():
            return True
    return False


def build_demo(scale: float = 1.0, seed: int = DEFAULT_SEED, until: date | None = None,
               reset: bool = False, loans: int | None = None) -> DemoResult:
    """Fill the ledger with the demo programme and commit.

    ``until`` is the reference day: meetings run for the year ending the day before it
    (default: today). Without ``reset`` the ledger must be empty; with it every table is
    dropped and made again first. ``loans`` is the number of loans to make (default: about a
    fifth of the members have had a loan, some of them two; see ``_Builder.loans``).
    """
    from shg.timeutil import today
    if scale <= 0:
        raise ValueError("scale must be positive")
    if loans is not None and loans < 0:
        raise ValueError("loans cannot be negative")
    until = until or today()
    started = time.perf_counter()
    if reset:
        _fresh_schema()
    else:
        existing = set(inspect(db.engine).get_table_names())
        if not {t.name for t in _tables()} <= existing:
            raise RuntimeError("The ledger has no tables yet: run with --reset to make them.")
        if database_has_data():
            raise RuntimeError("The ledger already holds data: run with --reset to replace it.")
    builder = _Builder(scale, seed, until, loans)
    builder.run()
    db.session.commit()
    _after_bulk_load()
    return DemoResult(counts=builder.writer.counts, accounts=builder.accounts,
                      seconds=time.perf_counter() - started, until=until,
                      timings=builder.timings)


def _after_bulk_load() -> None:
    """Make the database ready for ordinary use after rows came in with their own ids.

    PostgreSQL's id sequences still stand at 1: set each to the largest id, or the next
    ORM insert collides. Then gather planner statistics on both databases, so the first
    pages use the indexes without waiting for autovacuum.
    """
    engine = db.engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in _tables():
                if "id" not in table.c:
                    continue
                quoted = engine.dialect.identifier_preparer.quote(table.name)
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{quoted}', 'id'), "
                    f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {quoted}"))
        conn.execute(text("ANALYZE"))


# ---------------------------------------------------------------- writing rows


class _Writer:
    """Buffers rows per table and sends them in chunks, parents before children.

    Flushing a table first flushes every table before it in ``_tables()`` order, so a
    chunk of attendance never reaches the database ahead of its meetings (SQLite checks
    foreign keys row by row).
    """

    def __init__(self):
        self.order = _tables()
        self.rows = {t.name: [] for t in self.order}
        self.counts = {t.name: 0 for t in self.order}
        #: time spent in the database per table, for the benchmark's report
        self.seconds = {t.name: 0.0 for t in self.order}
        self._next = {t.name: 1 for t in self.order}

    def next_id(self, table) -> int:
        return self.take_ids(table, 1)

    def take_ids(self, table, n: int) -> int:
        """Reserve ``n`` consecutive ids; returns the first."""
        first = self._next[table.name]
        self._next[table.name] = first + n
        return first

    def add(self, table, row: dict) -> None:
        buffer = self.rows[table.name]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush(upto=table)

    def flush(self, upto=None) -> None:
        for table in self.order:
            buffer = self.rows[table.name]
            if buffer:
                started = time.perf_counter()
                _send(table, buffer)
                self.seconds[table.name] += time.perf_counter() - started
                self.counts[table.name] += len(buffer)
                self.rows[table.name] = []
            if table is upto:
                return


def _send(table, rows: list[dict]) -> None:
    """One chunk of rows into a table: COPY on PostgreSQL, the driver's executemany on SQLite.

    psycopg runs an executemany as one INSERT per row (about 12,000 rows a second here,
    with or without SQLAlchemy's "insertmanyvalues" batching): scale 10 took 98 s on
    PostgreSQL that way and about a third of it with COPY. On SQLite, SQLAlchemy's own
    executemany spent ~60 µs a row building parameters (1.2 million installments: 80 s);
    sqlite3's executemany of ready tuples takes a few. Either way each value passes through
    its column type's bind processing (``_remembered``), so money is still checked and turned
    into minor units by ``ExactDecimal``, and dates are written as SQLAlchemy writes them.
    """
    conn = db.session.connection()
    dialect = conn.dialect
    columns = list(rows[0])
    processors = [_remembered(table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                  for name in columns]
    quote = dialect.identifier_preparer.quote
    names_sql = ", ".join(quote(name) for name in columns)
    target = dialect.identifier_preparer.format_table(table)
    values = ([process(row[name]) if process else row[name]
               for name, process in zip(columns, processors)] for row in rows)
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        statement = f"INSERT INTO {target} ({names_sql}) VALUES ({', '.join('?' * len(columns))})"
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(statement, values)
        finally:
            cursor.close()
        return
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        conn.execute(insert(table), rows)
        return
    statement = f"COPY {target} ({names_sql}) FROM STDIN"
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in values:
            copy.write_row(row)


def _remembered(process):
    """A bind processor that converts each distinct value once per chunk: a chunk of
    installments repeats the same zeros, dates and amounts thousands of times, and converting
    them took half the time of sending them. Equal values convert alike (1.0 and 1.00 are
    both 100 minor units), so the result is the processor's own."""
    if process is None:
        return None
    done = {}

    def convert(value):
        try:
            return done[value]
        except KeyError:
            converted = done[value] = process(value)
            return converted
        except TypeError:  # not hashable
            return process(value)
    return convert


# ---------------------------------------------------------------- the programme


@dataclass
class _Village:
    id: int
    country: str
    district_id: int
    region: str
    pilot_joined_on: date | None


@dataclass
class _Group:
    id: int
    country: str
    village: _Village
    facilitator_id: int
    formed_on: date
    frequency: str
    meeting_day: int
    status: str
    #: the last day it could meet: yesterday, or when it fell dormant or dissolved
    last_day: date
    contribution: int
    members: list = field(default_factory=list)
    name: str = ""


@dataclass
class _Membership:
    id: int
    member_id: int
    group: _Group
    joined_on: date
    left_on: date | None = None
    left_reason: str | None = None
    office: str | None = None
    #: her chance of coming to a meeting
    reliability: float = 0.85


class _Builder:
    def __init__(self, scale: float, seed: int, until: date, n_loans: int | None = None):
        self.scale, self.seed, self.until = scale, seed, until
        self.n_loans = n_loans
        self.timings: dict[str, float] = {}
        #: region id -> the loan officer's user id (he posts the region's repayments)
        self.officer_of_region: dict[int, int] = {}
        self.yesterday = until - timedelta(days=1)
        self.year_start = until - timedelta(days=365)
        self.writer = _Writer()
        self.accounts: list[tuple[str, str, str, str]] = []
        #: (country code, region id, region name), in id order
        self.regions: list[tuple[str, int, str]] = []
        #: (country code, region id, district id, district name), in id order
        self.districts: list[tuple[str, int, int, str]] = []
        self.pilots: dict[str, list[_Village]] = {"KG": [], "TJ": []}
        self.groups: list[_Group] = []
        self.memberships: list[_Membership] = []
        self.facilitator_of: dict[int, int] = {}
        self.phones: set[str] = set()

    def rng(self, purpose: str) -> random.Random:
        """An independent stream per part, so adding to one part leaves the others as they were."""
        return random.Random(f"{self.seed}:{purpose}")

    def scaled(self, value: float, minimum: int = 1) -> int:
        return max(minimum, round(value * self.scale))

    def run(self) -> None:
        started = time.perf_counter()
        self.geography()
        self.users()
        self.make_groups()
        self.members()
        self.meetings()
        self.writer.flush()
        self.timings["registry"] = time.perf_counter() - started
        started = time.perf_counter()
        self.loans()
        self.writer.flush()
        self.timings["loans"] = time.perf_counter() - started
        self.timings["installments_saved"] = self.writer.seconds["installment"]

    # ------------------------------------------------------------ geography

    def geography(self) -> None:
        rng, w = self.rng("geography"), self.writer
        T = Village.__table__
        for code in sorted(names.GEOGRAPHY):
            spec, base = names.GEOGRAPHY[code], BASE[code]
            country_id = w.next_id(Country.__table__)
            w.add(Country.__table__, {"id": country_id, "code": code, "name": spec["name"],
                                      "currency": spec["currency"], "timezone": spec["timezone"]})
            districts = []  # (district_id, region name, village names)
            for region_name in sorted(spec["regions"]):
                region_id = w.next_id(Region.__table__)
                w.add(Region.__table__, {"id": region_id, "country_id": country_id,
                                         "name": region_name})
                self.regions.append((code, region_id, region_name))
                for district_name in sorted(spec["regions"][region_name]):
                    district_id = w.next_id(District.__table__)
                    w.add(District.__table__, {"id": district_id, "region_id": region_id,
                                               "name": district_name})
                    self.districts.append((code, region_id, district_id, district_name))
                    districts.append((district_id, region_name,
                                      _village_names(rng, code,
                                                     spec["regions"][region_name][district_name])))
            n_pilot = self.scaled(base["pilot_villages"])
            n_pilot_districts = min(len(districts), n_pilot, self.scaled(base["pilot_districts"]))
            pilot_districts = sorted(rng.sample(range(len(districts)), n_pilot_districts))
            placed = [pilot_districts[i % n_pilot_districts] for i in range(n_pilot)]
            placed += [rng.randrange(len(districts))
                       for _ in range(self.scaled(base["other_villages"]))]
            for n, index in enumerate(placed):
                district_id, region_name, village_names = districts[index]
                pilot = n < n_pilot
                joined = None
                if pilot:
                    joined = (self.until - timedelta(days=rng.randint(540, 6 * 365))).replace(day=1)
                village = _Village(w.next_id(T), code, district_id, region_name, joined)
                w.add(T, {"id": village.id, "district_id": district_id,
                          "name": next(village_names), "is_pilot": pilot,
                          "pilot_joined_on": joined})
                if pilot:
                    self.pilots[code].append(village)

    # ------------------------------------------------------------ staff

    def users(self) -> None:
        """The project office's admin, a facilitator per district, a loan officer per region
        and a read-only viewer. Passwords are hashed once each: hashing is slow on purpose."""
        rng, w, T = self.rng("users"), self.writer, User.__table__
        hashes = {p: generate_password_hash(p) for p in (ADMIN_PASSWORD, STAFF_PASSWORD)}
        made_on = datetime.combine(self.until - timedelta(days=400), clock(9))

        def add(username, full_name, role, password, locale, district_ids=(), where=""):
            user_id = w.next_id(T)
            w.add(T, {"id": user_id, "username": username, "full_name": full_name,
                      "email": f"{username}@demo.shg.example", "password_hash": hashes[password],
                      "role": role, "locale": locale, "is_active_user": True,
                      "created_at": made_on})
            for district_id in district_ids:
                w.add(user_districts, {"user_id": user_id, "district_id": district_id})
            self.accounts.append((username, password, role, where))
            return user_id

        add("admin", "Администратор проекта", "admin", ADMIN_PASSWORD, "en", where="everything")
        for n, (code, _region_id, district_id, district_name) in enumerate(self.districts, 1):
            gender = "female" if rng.random() < 0.7 else "male"
            self.facilitator_of[district_id] = add(
                f"fac-{n}", _person(rng, code, gender)[0], "facilitator", STAFF_PASSWORD, "ru",
                [district_id], district_name)
        for n, (code, region_id, region_name) in enumerate(self.regions, 1):
            ids = [d[2] for d in self.districts if d[1] == region_id]
            self.officer_of_region[region_id] = add(
                f"officer-{n}", _person(rng, code, rng.choice(("female", "male")))[0],
                "loan_officer", STAFF_PASSWORD, "ru", ids, region_name)
        add("viewer", "Донор (только чтение)", "viewer", STAFF_PASSWORD, "en",
            where="reads everything")

    # ------------------------------------------------------------ groups

    def make_groups(self) -> None:
        rng, w, T = self.rng("groups"), self.writer, Group.__table__
        for code in sorted(self.pilots):
            villages = self.pilots[code]
            n_groups = self.scaled(BASE[code]["groups"])
            weights = [rng.uniform(0.4, 1.6) for _ in villages]
            homes = list(range(len(villages)))[:n_groups]
            homes += rng.choices(range(len(villages)), weights, k=n_groups - len(homes))
            taken: dict[int, set] = {}
            for index in sorted(homes):
                village = villages[index]
                name = _group_name(rng, code, village, taken.setdefault(village.id, set()))
                earliest = max(village.pilot_joined_on, self.until - timedelta(days=5 * 365))
                if rng.random() < 0.12:  # a new group, formed during the year
                    earliest = max(earliest, self.year_start)
                formed_on = _day_between(rng, earliest, self.until - timedelta(days=60))
                frequency = _pick(rng, FREQUENCY_WEIGHTS)
                status = _pick(rng, GROUP_STATUS_WEIGHTS)
                last_day = self.yesterday
                if status == "dormant":
                    last_day = self.until - timedelta(days=rng.randint(100, 250))
                elif status == "dissolved":
                    last_day = self.until - timedelta(days=rng.randint(30, 300))
                if last_day < formed_on + timedelta(days=60):
                    status, last_day = "active", self.yesterday
                group = _Group(
                    id=w.next_id(T), country=code, village=village,
                    facilitator_id=self.facilitator_of[village.district_id], formed_on=formed_on,
                    frequency=frequency, meeting_day=rng.choices(range(7), WEEKDAY_WEIGHTS)[0],
                    status=status, last_day=last_day,
                    contribution=rng.choice(CONTRIBUTIONS[(code, frequency)]), name=name)
                self.groups.append(group)
                w.add(T, {"id": group.id, "name": name, "village_id": village.id,
                          "facilitator_id": group.facilitator_id, "formed_on": formed_on,
                          "meeting_day": group.meeting_day, "meeting_frequency": frequency,
                          "status": status, "created_at": datetime.combine(formed_on, clock(9))})

    # ------------------------------------------------------------ families and members

    def members(self) -> None:
        rng, w = self.rng("members"), self.writer
        for code in sorted(self.pilots):
            groups = [g for g in self.groups if g.country == code]
            sizes = _sizes(rng, self.scaled(BASE[code]["members"]), len(groups))
            for group, size in zip(groups, sizes):
                for _ in range(size):
                    self._member(rng, group)
        self._moves(self.rng("moves"))
        self._officers(self.rng("officers"))
        T = Membership.__table__
        for membership in sorted(self.memberships, key=lambda m: m.id):
            w.add(T, {"id": membership.id, "member_id": membership.member_id,
                      "group_id": membership.group.id, "joined_on": membership.joined_on,
                      "left_on": membership.left_on, "left_reason": membership.left_reason,
                      "office": membership.office})

    def _member(self, rng: random.Random, group: _Group) -> None:
        w, village = self.writer, group.village
        origin = _pick(rng, ORIGINS.get(village.region, DEFAULT_ORIGINS[group.country]))
        gender = "female" if rng.random() < WOMEN_SHARE else "male"
        full_name, family_name = _person(rng, origin, gender)
        if rng.random() < 0.75:
            joined_on = group.formed_on  # a founding member
        else:
            joined_on = _day_between(rng, group.formed_on,
                                     min(group.last_day, self.until - timedelta(days=14)))
        registered = datetime.combine(joined_on, clock(10))
        household_id = w.next_id(Household.__table__)
        address = (f"{rng.choice(STREETS)}, {rng.randint(1, 120)}" if rng.random() < 0.4
                   else None)
        w.add(Household.__table__, {"id": household_id, "village_id": village.id,
                                    "name": family_name, "address": address,
                                    "created_at": registered})
        member_id = w.next_id(Member.__table__)
        phone = self._phone(rng, group.country) if rng.random() < PHONE_SHARE else None
        age = round(rng.triangular(20, 66, 38))
        w.add(Member.__table__, {
            "id": member_id, "household_id": household_id, "full_name": full_name,
            "gender": gender, "birth_year": self.until.year - age, "phone": phone,
            "language": _pick(rng, LANGUAGES[origin]),
            "sms_consent": phone is not None and rng.random() < 0.75, "created_at": registered})
        # most families have someone working abroad; some have two destinations
        if rng.random() < 0.95:
            places = {_pick(rng, names.MIGRATION_DESTINATIONS)}
            if rng.random() < 0.12:
                places.add(_pick(rng, names.MIGRATION_DESTINATIONS))
            for destination in sorted(places):
                w.add(Migrant.__table__, {"id": w.next_id(Migrant.__table__),
                                          "household_id": household_id,
                                          "destination": destination,
                                          "people": rng.choices((1, 2, 3, 4), (60, 28, 9, 3))[0]})
        membership = _Membership(w.next_id(Membership.__table__), member_id, group, joined_on,
                                 reliability=min(0.98, rng.betavariate(9, 1.4)))
        group.members.append(membership)
        self.memberships.append(membership)

    def _phone(self, rng: random.Random, country: str) -> str:
        prefixes, code = ((names.KG_MOBILE_PREFIXES, "+996") if country == "KG"
                          else (names.TJ_MOBILE_PREFIXES, "+992"))
        length = (names.KG_NATIONAL_NUMBER_LENGTH if country == "KG"
                  else names.TJ_NATIONAL_NUMBER_LENGTH)
        while True:
            prefix = rng.choice(prefixes)
            digits = "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
            phone = code + prefix + digits
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _moves(self, rng: random.Random) -> None:
        """Members of dissolved groups leave with it; a few others leave their group.
        Some of both join another group of their village (or district) later."""
        open_groups: dict[tuple[str, int], list[_Group]] = {}
        for group in self.groups:
            if group.status != "dissolved":
                open_groups.setdefault(("village", group.village.id), []).append(group)
                open_groups.setdefault(("district", group.village.district_id), []).append(group)
        for membership in list(self.memberships):
            group = membership.group
            if group.status == "dissolved":
                membership.left_on = max(group.last_day, membership.joined_on)
                membership.left_reason = DISSOLVED_REASON
                rejoin = rng.random() < 0.5
            elif rng.random() < LEAVER_SHARE:
                latest = self.until - timedelta(days=7)
                if membership.joined_on + timedelta(days=30) > latest:
                    continue
                membership.left_on = _day_between(rng, membership.joined_on + timedelta(days=30),
                                                  latest)
                rejoin = rng.random() < REJOIN_SHARE
                membership.left_reason = MOVED_REASON if rejoin else rng.choice(LEFT_REASONS)
            else:
                continue
            if not rejoin:
                continue
            joined_on = min(self.yesterday, membership.left_on + timedelta(days=rng.randint(3, 60)))
            village, district = group.village.id, group.village.district_id
            choices = [g for g in open_groups.get(("village", village), [])
                       if g is not group and g.formed_on <= joined_on and joined_on <= g.last_day]
            if not choices:
                choices = [g for g in open_groups.get(("district", district), [])
                           if g is not group and g.formed_on <= joined_on
                           and joined_on <= g.last_day]
            if not choices:
                continue
            target = rng.choice(choices)
            moved = _Membership(self.writer.next_id(Membership.__table__), membership.member_id,
                                target, joined_on, reliability=membership.reliability)
            target.members.append(moved)
            self.memberships.append(moved)

    def _officers(self, rng: random.Random) -> None:
        """Leader, treasurer and secretary of each group that goes on: usually founders."""
        for group in self.groups:
            if group.status == "dissolved":
                continue
            active = sorted((m for m in group.members if m.left_on is None),
                            key=lambda m: (m.joined_on, m.id))
            pool = active[:max(3, len(active) // 2)]
            for office, membership in zip(("leader", "treasurer", "secretary"),
                                          rng.sample(pool, min(3, len(pool)))):
                membership.office = office

    # ------------------------------------------------------------ meetings

    def meetings(self) -> None:
        rng, w = self.rng("meetings"), self.writer
        MT, AT = Meeting.__table__, Attendance.__table__
        topics, decisions = names.MEETING_TOPICS, names.MEETING_DECISIONS
        amounts_cache: dict[int, tuple[list, list]] = {}
        zero = Decimal("0.00")
        for group in self.groups:
            first = max(group.formed_on, self.year_start)
            days = _meeting_days(group, first, group.last_day)
            if group.contribution not in amounts_cache:
                c = Decimal(group.contribution)
                # mostly the agreed sum; sometimes double (catching up), half, or half again
                amounts = [c, c * 2, (c / 2).quantize(Decimal("0.01")),
                           (c * Decimal("1.5")).quantize(Decimal("0.01"))]
                amounts_cache[group.contribution] = (amounts, list(itertools.accumulate(
                    (80, 8, 7, 5))))
            amounts, cum = amounts_cache[group.contribution]
            total = cum[-1]
            members = sorted(group.members, key=lambda m: m.id)
            for day in days:
                if rng.random() < SKIP_SHARE:
                    continue
                meeting_id = w.next_id(MT)
                k = rng.choices((1, 2, 3), (50, 35, 15))[0]
                decided = "; ".join(rng.sample(decisions, rng.choice((1, 1, 2)))) \
                    if rng.random() < 0.55 else None
                w.add(MT, {"id": meeting_id, "group_id": group.id, "held_on": day,
                           "facilitator_id": group.facilitator_id,
                           "topics": "; ".join(rng.sample(topics, k)), "decisions": decided,
                           "created_at": datetime.combine(day, clock(12))})
                # field work in summer keeps some away
                dip = 0.07 if 6 <= day.month <= 9 else 0.0
                for m in members:
                    if m.joined_on > day or (m.left_on is not None and m.left_on < day):
                        continue
                    came = m.reliability - dip
                    u = rng.random()
                    if u < came:
                        status = "present" if u < came * 0.9 else "late"
                        savings = amounts[bisect.bisect_right(cum, rng.random() * total)]
                    elif u < came + (1 - came) / 2:
                        status = "excused"
                        # a neighbour often brings her contribution
                        savings = amounts[0] if rng.random() < 0.3 else zero
                    else:
                        status, savings = "absent", zero
                    w.add(AT, {"id": w.next_id(AT), "meeting_id": meeting_id,
                               "member_id": m.member_id, "status": status, "savings": savings})

    # ------------------------------------------------------------ loans

    def loans(self) -> None:
        """Lenders, products and loans, with their schedules and repayments.

        Who borrows, when, from whom and how she repays is drawn here; what that makes of
        the loan is worked out by ``_LoanLife`` with the loans package's own functions, so
        the rows are those the services would have written.
        """
        rng, w = self.rng("loans"), self.writer
        LT, PT = Lender.__table__, LoanProduct.__table__
        lenders = {}
        for key, name, kind in LENDERS:
            lenders[key] = (w.next_id(LT), kind)
            w.add(LT, {"id": lenders[key][0], "name": name, "kind": kind})
        fund_of = {}
        for group in self.groups:
            fund_of[group.id] = w.next_id(LT)
            w.add(LT, {"id": fund_of[group.id], "kind": "group_fund",
                       "name": f"Общий фонд группы «{group.name}» (№{group.id})"})
        products = {}
        for key, spec in PRODUCTS.items():
            products[key] = w.next_id(PT)
            w.add(PT, {"id": products[key], **spec})

        plans = self._loan_plans(rng, lenders, fund_of, products)
        region_of = {d[2]: d[1] for d in self.districts}
        for plan in plans:
            plan.officer_id = self.officer_of_region[region_of[plan.district_id]]
        jobs = ((plan, self.yesterday, self.seed) for plan in plans)
        schedule_seconds = 0.0
        workers = _loan_workers(len(plans))
        if workers > 1:
            # Each loan's life depends on its plan and its own random stream only, so worker
            # processes give the same rows. Forked: "spawn" would run the calling script's
            # main module again in each worker. The workers never touch the database
            # connection they inherit, and end without cleaning up (os._exit).
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for lived in pool.imap(_live_loan, jobs, chunksize=250):
                    schedule_seconds += lived.schedule_seconds
                    self._write_loan(lived)
        else:
            for lived in map(_live_loan, jobs):
                schedule_seconds += lived.schedule_seconds
                self._write_loan(lived)
        #: CPU seconds in build_schedule, over all processes
        self.timings["schedules"] = schedule_seconds

    def _loan_plans(self, rng: random.Random, lenders: dict, fund_of: dict,
                    products: dict) -> list["_LoanPlan"]:
        """Who borrows what, when and from whom, in the order the loans were applied for."""
        horizon = self.yesterday
        by_member: dict[int, list[_Membership]] = {}
        for membership in self.memberships:
            by_member.setdefault(membership.member_id, []).append(membership)
        n_members = len(by_member)
        wanted = (self.n_loans if self.n_loans is not None
                  else round(n_members * BORROWER_SHARE * (1 + SECOND_LOAN_SHARE)))
        if wanted == 0 or n_members == 0:
            return []
        n_borrowers = min(wanted, max(round(n_members * BORROWER_SHARE), math.ceil(wanted / 3)))
        years = min(MAX_LOAN_YEARS, max(1.0, wanted / max(1, n_borrowers) / LOANS_PER_YEAR))
        first_day = self.until - timedelta(days=round(365 * years))
        # the days each member could borrow: while in a group that still meets
        spans: dict[int, list[tuple[date, date, _Membership]]] = {}
        for member_id in sorted(by_member):
            for m in sorted(by_member[member_id], key=lambda m: (m.joined_on, m.id)):
                start = max(first_day, m.joined_on, m.group.formed_on)
                end = min(horizon, m.group.last_day,
                          m.left_on - timedelta(days=1) if m.left_on else horizon)
                if (end - start).days >= 30:
                    spans.setdefault(member_id, []).append((start, end, m))
        eligible = sorted(spans)
        borrowers = sorted(rng.sample(eligible, min(n_borrowers, len(eligible))))
        if not borrowers:
            return []
        counts = dict.fromkeys(borrowers, 1)
        extra = wanted - len(borrowers)
        if extra > 0:
            for member_id in rng.choices(borrowers, k=extra):
                counts[member_id] += 1
        plans = []
        for member_id in borrowers:
            base = _pick(rng, PROFILES)
            member_spans = spans[member_id]
            lengths = [(end - start).days + 1 for start, end, _m in member_spans]
            days = []
            for _ in range(counts[member_id]):
                start, end, membership = rng.choices(member_spans, lengths)[0]
                days.append((_day_between(rng, start, end), membership))
            days.sort(key=lambda d: (d[0], d[1].id))
            for seq, (day, membership) in enumerate(days):
                plans.append(self._plan(rng, member_id, seq, day, membership,
                                        last=seq == len(days) - 1, base=base, lenders=lenders,
                                        fund_of=fund_of, products=products))
        plans.sort(key=lambda p: (p.applied_on, p.member_id, p.key))
        return plans

    def _plan(self, rng, member_id, seq, day, membership, last, base, lenders, fund_of,
              products) -> "_LoanPlan":
        horizon, group = self.yesterday, membership.group
        country = group.country
        status = "disbursed"
        if (last and membership.left_on is None and group.status == "active"
                and (horizon - day).days < PENDING_DAYS and rng.random() < 0.6):
            status = "applied" if rng.random() < 0.55 else "approved"
        lender_key = _pick(rng, LENDER_WEIGHTS[country])
        if lender_key == "fund":
            lender_id, kind = fund_of[group.id], "group_fund"
        else:
            lender_id, kind = lenders[lender_key]
        product = _pick(rng, PRODUCT_WEIGHTS[kind])
        if status == "disbursed":
            disbursed_on = day
            applied_on = max(membership.joined_on, day - timedelta(days=rng.randint(2, 20)))
            approved_on = _day_between(rng, applied_on, day)
        else:
            disbursed_on, applied_on = None, day
            approved_on = _day_between(rng, day, horizon) if status == "approved" else None
        if product == "harvest" and day.month not in HARVEST_MONTHS:
            product = "annuity" if kind == "bank" else "flat"
        low, mode, high, step = PRINCIPALS[(country, product)]
        principal = Decimal(round(rng.triangular(low, high, mode) / step) * step)
        profile = base if rng.random() < 0.8 else _pick(rng, PROFILES)
        return _LoanPlan(
            key=f"{member_id}:{seq}", member_id=member_id, group_id=group.id,
            district_id=group.village.district_id,
            currency=names.GEOGRAPHY[country]["currency"], lender_id=lender_id,
            product_key=product, product_id=products[product], principal=principal,
            purpose=rng.choice(PURPOSES[product]), status=status, applied_on=applied_on,
            approved_on=approved_on, disbursed_on=disbursed_on, profile=profile,
            reversal=rng.random() < REVERSAL_SHARE,
            reschedule=(profile in ("partial", "stopped") and product != "harvest"
                        and rng.random() < RESCHEDULE_SHARE))

    def _write_loan(self, life: "_Lived") -> None:
        """The loan's rows with their ids: local keys (1, 2, … per loan) become table ids."""
        w = self.writer
        IT, RT, AT = Installment.__table__, Repayment.__table__, Allocation.__table__
        loan_id = w.next_id(Loan.__table__)
        w.add(Loan.__table__, {"id": loan_id, **life.row})
        first_installment = w.take_ids(IT, len(life.installments))
        for row in life.installments:
            row["id"] = first_installment + row.pop("key") - 1
            row["loan_id"] = loan_id
            w.add(IT, row)
        first_repayment = w.take_ids(RT, len(life.repayments))
        for row in life.repayments:
            row["id"] = first_repayment + row.pop("key") - 1
            row["loan_id"] = loan_id
            w.add(RT, row)
        first_allocation = w.take_ids(AT, len(life.allocations))
        for n, (payment_key, line_key, component, amount) in enumerate(life.allocations):
            w.add(AT, {"id": first_allocation + n,
                       "repayment_id": first_repayment + payment_key - 1,
                       "installment_id": first_installment + line_key - 1,
                       "component": component, "amount": amount})

# ---------------------------------------------------------------- a loan's life


@dataclass
class _LoanPlan:
    """What is drawn for a loan before its life is worked out."""

    #: "<member id>:<her n-th loan>": names the loan's own random stream
    key: str
    member_id: int
    group_id: int
    district_id: int
    currency: str
    lender_id: int
    product_key: str
    product_id: int
    principal: Decimal
    purpose: str
    #: applied, approved or disbursed (what repayments make of it comes later)
    status: str
    applied_on: date
    approved_on: date | None
    disbursed_on: date | None
    profile: str
    reversal: bool
    reschedule: bool
    officer_id: int | None = None


@dataclass
class _Version:
    """A schedule version: its lines (keyed by the installments' local keys) and ledger."""

    number: int
    in_force_from: date
    lines: list
    book: L.Ledger
    #: the repayments, not reversed, this version's ledger has taken, in the order paid
    payments: list = field(default_factory=list)


class _LoanLife:
    """One loan from its application to ``horizon``, with the rows the services write.

    * The loan copies its product's terms, and a harvest loan's ``balloon_on`` is
      ``services._balloon_date`` of the application day, as ``apply_for_loan`` does; the
      officer sets a harvest loan's installment count so that the principal falls due in
      September and October (``installments_until_harvest``).
    * At disbursement the schedule is ``build_schedule(services.terms_of(loan))``, and the
      loan's ``first_due_on``, ``outstanding_principal`` and ``oldest_unpaid_due_on`` are
      set as ``disburse_loan`` sets them.
    * Each repayment is allocated by ``Ledger.pay`` over the schedule in force, with
      ``services._rule(loan)`` and the loan's allocation order, in the order paid (date,
      then id): the loop of ``ledger.replay``, which ``services._rewrite`` runs on every
      posting. A payment posted by mistake is allocated by ``ledger.replay`` of the
      payments then standing plus itself, as at its posting; its reversal leaves those
      allocations, as ``reverse_repayment`` does. A reschedule follows
      ``services.reschedule`` (carried interest, fees and penalty on the first new line).
    * ``_finish`` writes what ``services._rewrite`` writes after the last posting: the paid
      columns and paid-on days, the outstanding principal, the oldest unpaid due date, the
      last payment day and closing; ``lock_version`` counts postings, reversals and
      reschedules, each of which bumps it.

    Installments and repayments carry local keys (1, 2, … within the loan, in id order);
    ``_Builder._write_loan`` turns them into ids.
    """

    def __init__(self, plan: _LoanPlan, horizon: date, rng: random.Random):
        self.plan, self.horizon, self.rng = plan, horizon, rng
        self.installments: list[dict] = []
        self.repayments: list[dict] = []
        self.allocations: list[L.Allocated] = []
        self.versions: list[_Version] = []
        #: the last day paid, of the repayments standing
        self.last_paid_on: date | None = None
        self.locks = 0
        self.posted = 0
        self.reversal_at: int | None = None
        self.clock: datetime | None = None
        self.schedule_seconds = 0.0
        product = PRODUCTS[plan.product_key]
        self.row = {
            "member_id": plan.member_id, "group_id": plan.group_id, "lender_id": plan.lender_id,
            "product_id": plan.product_id, "purpose": plan.purpose, "principal": plan.principal,
            "currency": plan.currency, "status": plan.status, "applied_on": plan.applied_on,
            "approved_on": plan.approved_on, "disbursed_on": None, "first_due_on": None,
            "balloon_on": loan_services._balloon_date(product["balloon_month"], plan.applied_on,
                                                      product["frequency"]),
            "closed_on": None, "written_off_on": None, "write_off_reason": None,
            "restructured": False, "schedule_version": 1,
            "outstanding_principal": Decimal("0"), "oldest_unpaid_due_on": None,
            "last_paid_on": None, "lock_version": 0, "created_by_id": plan.officer_id,
            "created_at": datetime.combine(plan.applied_on, clock(9, 30)),
            **{key: product[key] for key in loan_services.TERM_FIELDS},
        }

    # ------------------------------------------------------------ the loan's life

    def run(self) -> None:
        plan, row = self.plan, self.row
        day = plan.disbursed_on or plan.applied_on
        if row["balloon_on"] is not None:
            first = schedules.first_due_date(day, row["frequency"])
            row["installments"] = schedules.installments_until_harvest(
                first, row["frequency"], row["balloon_on"], HARVEST_PRINCIPAL_INSTALLMENTS)
        started = time.perf_counter()
        # apply_for_loan refuses terms with no schedule; disbursement fixes the schedule
        loan = SimpleNamespace(**{**row, "disbursed_on": plan.disbursed_on})
        lines = schedules.build_schedule(loan_services.terms_of(loan, day))
        self.schedule_seconds = time.perf_counter() - started
        if plan.status != "disbursed":
            return
        row.update(disbursed_on=plan.disbursed_on, first_due_on=lines[0].due_on,
                   outstanding_principal=plan.principal, oldest_unpaid_due_on=lines[0].due_on)
        self.rule = loan_services._rule(loan)
        self.order = row["allocation_order"].split(",")
        self._add_version(plan.disbursed_on, lines)
        self._repay()
        self._finish()

    def _repay(self) -> None:
        plan, rng, horizon = self.plan, self.rng, self.horizon
        if plan.reversal:
            self.reversal_at = rng.randrange(0, 4)
        if plan.reschedule:
            on = plan.disbursed_on + timedelta(days=rng.randint(100, 160))
            if on <= horizon - timedelta(days=45):
                # paid until some weeks before, late since: the officer reschedules
                self._pay("good", stop_day=on - timedelta(days=rng.randint(35, 60)))
                if not self._closed() and (self.last_paid_on is None or self.last_paid_on < on):
                    self._reschedule(on)
                    self._pay("good", stop_day=horizon)
                return
        stop_day = horizon
        if plan.profile == "stopped":
            stop_day = horizon - timedelta(days=rng.randint(0, 210))
        self._pay(plan.profile, stop_day)
        if plan.profile in ("stopped", "defaulted") and not self._closed():
            self._maybe_write_off()

    def _pay(self, profile: str, stop_day: date) -> None:
        """Pay the installments falling due up to ``stop_day`` the way the profile pays."""
        rng, version = self.rng, self.versions[-1]
        book = version.book
        paid_lines = rng.choice((0, 1, 1, 2, 2, 3)) if profile == "defaulted" else None
        prepay_at = None
        if profile == "good" and rng.random() < 0.06 and len(book.states) > 2:
            prepay_at = rng.randrange(1, len(book.states) - 1)
        for i, state in enumerate(book.states):
            due = state.line.due_on
            if due > stop_day or (paid_lines is not None and i >= paid_lines):
                break
            if state.unpaid() <= 0:
                continue
            day = max(self._pay_day(profile, due), self.last_paid_on or version.in_force_from)
            if day > self.horizon:
                break
            amount = self._amount(profile, i, day)
            self._post(day, amount)
            if self._closed():
                return
            if prepay_at == i:  # she pays off the whole loan early
                self._post(day, book.owed(day))
                return
        if profile == "defaulted" and rng.random() < 0.3:
            # a small sum, long after she stopped paying
            earliest = (self.last_paid_on or version.in_force_from) + timedelta(days=20)
            if earliest <= self.horizon:
                day = _day_between(rng, earliest, self.horizon)
                unpaid = sum((s.unpaid() for s in book.states), ZERO)
                small = (self.plan.principal / 20).quantize(Decimal("1"), ROUND_DOWN)
                amount = min(max(small, Decimal("1")), unpaid)
                if amount > 0:
                    self._post(day, amount)

    def _pay_day(self, profile: str, due: date) -> date:
        rng = self.rng
        if profile == "late":
            delay = rng.randint(3, 25) if rng.random() < 0.1 else -rng.choice(EARLY_DAYS)
        elif profile in ("slow", "defaulted"):
            u = rng.random()
            if u < 0.4:
                delay = -rng.choice(EARLY_DAYS)
            elif u < 0.85:
                delay = rng.randint(1, 20)
            else:
                delay = rng.randint(21, 45)
        elif profile == "partial":
            delay = rng.randint(-2, 6)
        else:
            delay = -rng.choice(EARLY_DAYS)
        return due + timedelta(days=delay)

    def _amount(self, profile: str, i: int, day: date) -> Decimal:
        """What she brings: everything fallen due up to this installment, with any penalty
        (a partial payer, usually a round part of the installment)."""
        book = self.versions[-1].book
        due = sum((s.unpaid() for s in book.states[:i + 1]), ZERO) + self._penalties(day)
        if profile == "partial" and self.rng.random() < 0.8:
            step = Decimal(10) if self.plan.currency == "KGS" else Decimal(5)
            share = Decimal(self.rng.randint(45, 90)) / 100
            part = (book.states[i].line.total * share / step).to_integral_value(ROUND_DOWN) * step
            if 0 < part < due:
                return part
        return due

    def _penalties(self, day: date) -> Decimal:
        """The penalty due on a day (the ledger's own figure), asked only of the lines that
        can have one: due (with the grace days) before the day and not paid by then."""
        rule = self.rule
        if rule.method == "none":
            return ZERO
        book = self.versions[-1].book
        grace = timedelta(days=rule.grace_days)
        total = ZERO
        for state in book.states:
            first = state.line.due_on + grace
            if first >= day:
                break
            paid_on = state.paid_on()
            if paid_on is not None and paid_on <= first:
                continue
            total += book.penalty_due(state, day)
        return total

    def _closed(self) -> bool:
        """Closed by the last posting, as ``services._rewrite`` decides it."""
        book = self.versions[-1].book
        return (self.last_paid_on is not None and book.fully_paid()
                and book.position(self.last_paid_on).penalty_due <= 0)

    def _maybe_write_off(self) -> None:
        oldest = self.versions[-1].book.oldest_unpaid_due_on()
        if oldest is None or self.rng.random() >= WRITE_OFF_SHARE:
            return
        day = oldest + timedelta(days=WRITE_OFF_AFTER_DAYS + self.rng.randint(0, 80))
        day = max(day, self.last_paid_on or self.plan.disbursed_on)
        if day <= self.horizon:
            self.row.update(status="written_off", written_off_on=day,
                            write_off_reason=self.rng.choice(WRITE_OFF_REASONS))

    # ------------------------------------------------------------ postings

    def _post(self, day: date, amount: Decimal) -> None:
        """A repayment; now and then one recorded by mistake beside it, then reversed."""
        mistake = None
        if self.reversal_at is not None and self.reversal_at == self.posted:
            mistake, self.reversal_at = self.rng.choice(("duplicate", "typo", "other")), None
        if mistake == "typo":
            wrong = amount + Decimal(self.rng.choice((90, 180, 900)))
            self._post_reversed(day, wrong, REVERSAL_REASONS["typo"].format(
                wrong=_say(wrong), right=_say(amount)))
        elif mistake == "other":
            wrong = Decimal(self.rng.choice((300, 500, 1000)))
            self._post_reversed(day, wrong, REVERSAL_REASONS["other"])
        version = self.versions[-1]
        key = self._repayment(day, amount)
        payment = L.Payment(key, day, amount)
        self.allocations.extend(version.book.pay(payment))
        version.payments.append(payment)
        self.last_paid_on = day
        self.posted += 1
        if mistake == "duplicate":
            self._post_reversed(day, amount, REVERSAL_REASONS["duplicate"])

    def _post_reversed(self, day: date, amount: Decimal, reason: str) -> None:
        version = self.versions[-1]
        key = len(self.repayments) + 1
        try:
            _book, allocated = L.replay(version.lines,
                                        [*version.payments, L.Payment(key, day, amount)],
                                        self.rule, self.order)
        except L.Overpaid:
            return  # post_repayment refuses it: nothing is written
        self._repayment(day, amount)
        self.allocations.extend(a for a in allocated if a.payment_key == key)
        self.clock += timedelta(minutes=self.rng.randint(5, 90))
        self.repayments[-1].update(reversed_at=self.clock, reversed_by_id=self.plan.officer_id,
                                   reversal_reason=reason)
        self.locks += 1

    def _repayment(self, day: date, amount: Decimal) -> int:
        """The repayment row; its key. Recorded that day, after anything recorded before."""
        key = len(self.repayments) + 1
        at = datetime.combine(day, clock(9)) + timedelta(minutes=self.rng.randint(0, 480))
        self.clock = at if self.clock is None or at > self.clock else \
            self.clock + timedelta(minutes=2)
        receipt = f"КВ-{self.rng.randint(10000, 99999)}" if self.rng.random() < 0.85 else None
        self.repayments.append({
            "key": key, "paid_on": day, "amount": amount, "receipt_no": receipt,
            "meeting_id": None, "recorded_by_id": self.plan.officer_id,
            "recorded_at": self.clock, "reversed_at": None, "reversed_by_id": None,
            "reversal_reason": None})
        self.locks += 1
        return key

    # ------------------------------------------------------------ schedules

    def _add_version(self, start: date, lines, carried_interest: Decimal = ZERO,
                     carried_fee: Decimal = ZERO) -> None:
        number = len(self.versions) + 1
        book_lines = []
        for line in lines:
            key = len(self.installments) + 1
            interest = line.interest + (carried_interest if line.number == 1 else 0)
            fee = carried_fee if line.number == 1 else Decimal("0")
            self.installments.append({
                "key": key, "version": number, "in_force_from": start, "superseded_on": None,
                "number": line.number, "due_on": line.due_on, "principal": line.principal,
                "interest": interest, "fee": fee, "principal_paid": Decimal("0"),
                "interest_paid": Decimal("0"), "fee_paid": Decimal("0"),
                "penalty_paid": Decimal("0"), "paid_on": None})
            book_lines.append(L.Line(key, line.due_on, line.principal, interest, fee))
        self.versions.append(_Version(number, start, book_lines,
                                      L.Ledger(book_lines, self.rule, self.order)))

    def _reschedule(self, on: date) -> None:
        """``services.reschedule``: a longer schedule for the principal outstanding, with
        the interest and fees fallen due unpaid and the penalty due on its first line."""
        version = self.versions[-1]
        book = version.book
        position = book.position(on)
        carried_interest = sum((s.line.interest - s.paid("interest") for s in book.states
                                if s.line.due_on < on), Decimal("0.00"))
        carried_fee = sum((s.line.fee - s.paid("fee") for s in book.states
                           if s.line.due_on < on), Decimal("0.00")) + position.penalty_due
        remaining = sum(1 for s in book.states if s.line.due_on >= on)
        changes = {"installments": remaining + self.rng.choice((3, 4, 6))}
        started = time.perf_counter()
        lines = schedules.build_schedule(loan_services._terms(
            {**{k: self.row[k] for k in loan_services.TERM_FIELDS}, **changes},
            position.outstanding_principal, on, None, None))
        self.schedule_seconds += time.perf_counter() - started
        for row in self.installments:
            if row["version"] == version.number:
                row["superseded_on"] = on
        self.row.update(changes, schedule_version=version.number + 1, restructured=True)
        self.locks += 1
        self._add_version(on, lines, carried_interest, carried_fee)

    def _finish(self) -> None:
        """What ``services._rewrite`` leaves after the last posting (or, with none, what
        ``disburse_loan`` left)."""
        from shg.timeutil import today
        row = self.row
        row["lock_version"] = self.locks
        if not self.repayments and not row["restructured"]:
            return
        by_key = {r["key"]: r for r in self.installments}
        for version in self.versions:
            for state in version.book.states:
                by_key[state.line.key].update(
                    principal_paid=state.paid("principal"), interest_paid=state.paid("interest"),
                    fee_paid=state.paid("fee"), penalty_paid=state.paid("penalty"),
                    paid_on=state.paid_on())
        current = self.versions[-1].book
        row["outstanding_principal"] = sum((s.line.principal - s.paid("principal")
                                            for s in current.states), Decimal("0.00"))
        row["oldest_unpaid_due_on"] = current.oldest_unpaid_due_on()
        row["last_paid_on"] = max((r["paid_on"] for r in self.repayments
                                   if r["reversed_at"] is None), default=None)
        if row["status"] in ("disbursed", "closed"):
            if (current.fully_paid() and
                    current.position(row["last_paid_on"] or today()).penalty_due <= 0):
                row["status"], row["closed_on"] = "closed", row["last_paid_on"]
            else:
                row["status"], row["closed_on"] = "disbursed", None


#: from this many loans on, their lives are worked out in worker processes
LOAN_WORKERS_FROM = 20_000


def _loan_workers(n_loans: int) -> int:
    if n_loans < LOAN_WORKERS_FROM:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class _Lived:
    """What ``_live_loan`` hands back: the rows of one loan, with local keys."""

    row: dict
    installments: list
    repayments: list
    #: (payment key, line key, component, amount)
    allocations: list
    schedule_seconds: float


def _live_loan(job) -> _Lived:
    plan, horizon, seed = job
    life = _LoanLife(plan, horizon, random.Random(f"{seed}:loan:{plan.key}"))
    life.run()
    return _Lived(life.row, life.installments, life.repayments,
                  [(a.payment_key, a.line_key, a.component, a.amount) for a in life.allocations],
                  life.schedule_seconds)


def _say(amount: Decimal) -> str:
    """An amount as a Russian-speaking officer writes it: 1 240,00."""
    return f"{amount:,.2f}".replace(",", "\u00a0").replace(".", ",")


# ---------------------------------------------------------------- small helpers


def _pick(rng: random.Random, weighted) -> str:
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def _day_between(rng: random.Random, first: date, last: date) -> date:
    if last <= first:
        return first
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _person(rng: random.Random, origin: str, gender: str) -> tuple[str, str]:
    """A full name ("Айгуль Токтогулова") and the family's name (the male form, as the
    village calls the household after its head)."""
    sets = NAME_SETS[origin]
    given = rng.choice(sets[gender])
    if origin == "TJ" and rng.random() < 0.15:
        surname = family = rng.choice(names.TJ_SURNAMES_UNGENDERED)
    else:
        male, female = rng.choice(sets["surnames"])
        surname, family = (female if gender == "female" else male), male
    return f"{given} {surname}", family


def _village_names(rng: random.Random, country: str, base: tuple[str, ...]):
    """The district's villages in a shuffled order, then new ones made from them as villages
    are named ("Жогорку Ноокат", "Ашти Боло"), then numbered: scale 10 needs more villages
    than the list has."""
    order = list(base)
    rng.shuffle(order)
    yield from order
    forms = (("Жогорку {}", "Төмөнкү {}", "Жаңы {}") if country == "KG"
             else ("{}и Боло", "{}и Поён", "Нави {}"))
    for form in forms:
        for name in order:
            yield form.format(name)
    for n in itertools.count(2):
        for name in order:
            yield f"{name} {n}"


def _group_name(rng: random.Random, country: str, village: _Village, taken: set) -> str:
    pool = names.KG_GROUP_NAMES if country == "KG" else names.TJ_GROUP_NAMES
    if village.region == "Чуйская область" and rng.random() < 0.3:
        pool = names.RU_GROUP_NAMES
    name = rng.choice(pool)
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _sizes(rng: random.Random, members: int, groups: int) -> list[int]:
    """Members per group: at least three where there are enough (a group needs its officers),
    the rest spread unevenly, as real groups differ in size."""
    if groups == 0:
        return []
    floor = min(3, members // groups)
    sizes = [floor] * groups
    weights = [rng.uniform(0.3, 1.7) for _ in range(groups)]
    for index in rng.choices(range(groups), weights, k=members - floor * groups):
        sizes[index] += 1
    return sizes


def _meeting_days(group: _Group, first: date, last: date) -> list[date]:
    return meeting_days(group.formed_on, group.meeting_day, group.frequency, first, last)