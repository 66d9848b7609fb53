"""The demo programme: a year in the life of the SHG programme, made up but shaped like it.

``build_demo`` fills an empty ledger with what the published results describe (DOMAIN.md):
Kyrgyzstan and Tajikistan, their regions, districts and villages; about 500 self-help groups
and 3,200 members at scale 1, 92 % of them women, each representing a migrant family; officers;
a few members who left and joined another group; and a year of meetings with attendance and
savings per member. Staff accounts to try the ledger with are made too.

Two promises shape the code:

* **Deterministic.** The same seed, scale and reference date give the same rows, ids included:
  every random choice comes from ``random.Random`` streams seeded here (never the global
  ``random``), loops run over sorted or generated-in-order sequences, and nothing reads the
  clock (``created_at`` is derived from the records' own dates). Tests and benchmarks can
  compare figures across runs and databases.
* **Fast.** At scale 10 (5,000 groups, 32,000 members, ~100k meetings, ~600k attendance rows)
  it must load in well under two minutes on SQLite and PostgreSQL alike. Rows are plain dicts
  sent in chunks through SQLAlchemy Core ``insert(table)`` (COPY on PostgreSQL: see ``_send``),
  with primary keys assigned here, so no ORM object is made per row and no RETURNING is
  needed. Values still pass through each column type's bind processing (the money column's
  Decimal to minor units). Bulk rows bypass the ORM's ``after_flush`` hook, so demo rows are
  not in the audit log, which is intended: nobody made them.
"""
from __future__ import annotations

import bisect
import itertools
import math
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock, timedelta
from decimal import Decimal

from sqlalchemy import insert, inspect, select, text
from werkzeug.security import generate_password_hash

from shg import demo_names as names
from shg.accounts.models import User, user_districts
from shg.extensions import db
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


@dataclass
class DemoResult:
    """What was made: row counts per table, and the accounts to log in with."""

    counts: dict[str, int]
    #: (username, password, role, what the account reaches)
    accounts: list[tuple[str, str, str, str]]
    seconds: float
    until: date


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
            Attendance.__table__]


def database_has_data() -> bool:
    """Whether the ledger holds any users or registry rows (tables missing count as empty)."""
    existing = set(inspect(db.engine).get_table_names())
    for table in _tables():
        if table.name in existing and db.session.execute(select(text("1")).select_from(table)
                                                         .limit(1)).first():
            return True
    return False


def build_demo(scale: float = 1.0, seed: int = DEFAULT_SEED, until: date | None = None,
               reset: bool = False) -> DemoResult:
    """Fill the ledger with the demo programme and commit.

    ``until`` is the reference day: meetings run for the year ending the day before it
    (default: today). Without ``reset`` the ledger must be empty; with it every table is
    dropped and made again first.
    """
    from shg.timeutil import today
    if scale <= 0:
        raise ValueError("scale must be positive")
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
    builder = _Builder(scale, seed, until)
    builder.run()
    db.session.commit()
    _after_bulk_load()
    return DemoResult(counts=builder.writer.counts, accounts=builder.accounts,
                      seconds=time.perf_counter() - started, until=until)


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
        self._ids = {t.name: itertools.count(1) for t in self.order}

    def next_id(self, table) -> int:
        return next(self._ids[table.name])

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
    """One chunk of rows into a table: a Core executemany, or COPY on PostgreSQL.

    psycopg runs an executemany as one INSERT per row (about 12,000 rows a second here,
    with or without SQLAlchemy's "insertmanyvalues" batching): scale 10 took 98 s on
    PostgreSQL that way and about a third of it with COPY. Either way each value passes
    through its column type's bind processing, so money is still checked and turned into
    minor units by ``ExactDecimal``.
    """
    conn = db.session.connection()
    dialect = conn.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    processors = [(name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                  for name in columns]
    quote = dialect.identifier_preparer.quote
    statement = (f"COPY {dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(quote(name) for name in columns)}) FROM STDIN")
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([process(row[name]) if process else row[name]
                            for name, process in processors])


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
    def __init__(self, scale: float, seed: int, until: date):
        self.scale, self.seed, self.until = scale, seed, until
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
        self.geography()
        self.users()
        self.make_groups()
        self.members()
        self.meetings()
        self.writer.flush()

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
            add(f"officer-{n}", _person(rng, code, rng.choice(("female", "male")))[0],
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
                    contribution=rng.choice(CONTRIBUTIONS[(code, frequency)]))
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
    """The days the group meets between two dates: every week or every second week on its
    day (counted from the day it was formed), or the first such weekday of each month."""
    if last < first:
        return []
    offset = (group.meeting_day - group.formed_on.weekday()) % 7
    anchor = group.formed_on + timedelta(days=offset)
    if group.frequency in ("weekly", "biweekly"):
        step = 7 if group.frequency == "weekly" else 14
        skip = max(0, math.ceil((first - anchor).days / step))
        day = anchor + timedelta(days=skip * step)
        days = []
        while day <= last:
            days.append(day)
            day += timedelta(days=step)
        return days
    days = []
    month = first.replace(day=1)
    while month <= last:
        day = month + timedelta(days=(group.meeting_day - month.weekday()) % 7)
        if first <= day <= last:
            days.append(day)
        month = (month + timedelta(days=32)).replace(day=1)
    return days
