"""The full export of the ledger and its restore into an empty database (SQLite and
PostgreSQL, either way round): the same figures come back, read through the functions every
page calls, and a damaged export, another schema revision or a database that holds records
is refused with nothing written.

The databases here are made by the migrations (as in production), not by ``create_all``:
the export names the schema revision and the restore requires it.
"""
from __future__ import annotations

import json
import uuid
import zipfile
from dataclasses import fields, is_dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import inspect, text

from shg import backup
from shg.extensions import db
from tests import pg
from tests.conftest import _need_postgres, make_app

D = Decimal
AS_OF = date(2024, 12, 31)
#: more than a float's 15-16 significant digits: it comes back exactly or not at all
BIG = D("98765432109.87")


# ---------------------------------------------------------------- databases made by migrations


@pytest.fixture
def fresh_database(request, tmp_path):
    """``make(kind)``: the URL of a new, empty database (no schema) of that kind."""
    made = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / uuid.uuid4().hex}.sqlite"
        server = request.getfixturevalue("pg_server")
        if server is None:
            _need_postgres()
        url = pg.create_database(server, f"shg_restore_{uuid.uuid4().hex[:16]}")
        made.append(url)
        return url

    yield make
    for url in made:
        import psycopg
        server, name = url.rsplit("/", 1)
        with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://")
                             + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_app(url):
    """An app on ``url`` whose schema the migrations made."""
    app = make_app(url)
    with app.app_context():
        backup._migrate()
        db.engine.dispose()
    return app


# ---------------------------------------------------------------- a small ledger, by the services


def prepare_ledger() -> dict:
    """A programme in one Kyrgyz district: the registry with migrants and a meeting, loans
    with repayments, a reversal and a write-off, seeds, harvests and exchange rates; every
    record made by the services the pages call. Returns the ids the figures are read by."""
    from harvests import services as harvests
    from loans import services as loans
    from shg.accounts.models import User
    from shg.registry import services as registry
    from shg.registry.models import Country, District, Region, Village

    admin = User(username="office", full_name="Проектный офис", role="admin", locale="ru")
    admin.set_password("secret-pass")
    country = Country(code="KG", name="Кыргызстан", currency="KGS", timezone="Asia/Bishkek")
    district = District(region=Region(country=country, name="Иссык-Кульская область"),
                        name="Тюпский район")
    village = Village(district=district, name="Кара-Жыгач", is_pilot=True,
                      pilot_joined_on=date(2011, 3, 1))
    facilitator = User(username="fac", full_name="Гүлнара Өмүрбекова", role="facilitator")
    facilitator.set_password("secret-pass")
    facilitator.districts = [district]
    db.session.add_all([admin, country, village, facilitator])
    db.session.flush()
    group = registry.save_group(None, {"name": "Ынтымак", "village_id": village.id,
                                       "formed_on": date(2010, 5, 1), "meeting_day": 2,
                                       "meeting_frequency": "monthly", "status": "active",
                                       "facilitator_id": facilitator.id}, by=admin)
    people = [("Айгуль Токтогулова", "female", "", [{"destination": "RU", "people": 2}]),
              ("Ҷӯраев Ғафур", "male", None, [{"destination": "KZ", "people": 1}]),
              # a text that reads like the export's NULL marker must come back as text
              ("Гүлнара \\N Өмүрбекова", "female", "\\N", [])]
    members = []
    for name, gender, address, migrants in people:
        household = registry.save_household(None, {"village_id": village.id,
                                                   "name": name.split()[0] + " (семья)",
                                                   "address": address, "migrants": migrants},
                                            by=admin)
        members.append(registry.create_member({
            "household_id": household.id, "group_id": group.id, "full_name": name,
            "gender": gender, "birth_year": 1980, "language": "ky",
            "joined_on": date(2010, 6, 1)}, by=admin))
    registry.save_meeting(None, group, {
        "held_on": date(2024, 3, 6), "topics": "Сбережения, кредиты",
        "attendance": [{"member_id": members[0].id, "status": "present", "savings": D("150.50")},
                       {"member_id": members[1].id, "status": "late", "savings": D("0.01")},
                       {"member_id": members[2].id, "status": "excused", "savings": D("0")}]},
        by=admin)

    lender = loans.save_lender(None, {"name": "МФК Бай-Түшүм", "kind": "mfi"}, by=admin)
    product = loans.save_product(None, {
        "name": "Теплица-2024", "method": "declining_equal_installments", "rate": D("24"),
        "rate_period": "year", "frequency": "month", "installments": 12,
        "penalty_method": "percent", "penalty_rate": D("0.1")}, by=admin)

    def loan(member, principal, on):
        made = loans.apply_for_loan({"member_id": member.id, "product_id": product.id,
                                     "lender_id": lender.id, "principal": principal,
                                     "purpose": "Теплица", "applied_on": on}, by=admin)
        loans.approve_loan(made, on, by=admin)
        return loans.disburse_loan(made, on, by=admin)

    first = loan(members[0], D("12000.00"), date(2024, 1, 10))
    loans.post_repayment(first, D("1134.71"), date(2024, 2, 10), by=admin, receipt_no="A-1")
    wrong = loans.post_repayment(first, D("900.00"), date(2024, 3, 12), by=admin)
    loans.reverse_repayment(wrong, "Не тот заём", by=admin)
    loans.post_repayment(first, D("1000.00"), date(2024, 4, 1), by=admin)
    second = loan(members[1], BIG, date(2024, 2, 1))
    loans.post_repayment(second, D("12345.67"), date(2024, 3, 1), by=admin)
    third = loan(members[2], D("5000.00"), date(2024, 1, 20))
    loans.write_off(third, date(2024, 10, 1), "Семья уехала", by=admin)

    harvests.ensure_standard_units()
    tomato = harvests.save_crop(None, {"name": "Tomato", "name_ru": "Помидор",
                                       "default_unit": "kg"}, by=admin)
    pink = harvests.save_variety(None, {"crop_id": tomato.id, "name": "Pink Paradise F1",
                                        "is_hybrid": True}, by=admin)
    spring = harvests.save_round(None, {"name": "Весна 2024", "started_on": date(2024, 4, 1),
                                        "source": "Программа"}, by=admin)
    for member in members[:2]:
        harvests.record_delivery({"round_id": spring.id, "member_id": member.id,
                                  "delivered_on": date(2024, 4, 12), "crop_id": tomato.id,
                                  "variety_id": pink.id, "quantity": "2", "unit": "kg",
                                  "value": "300,25", "currency": "KGS"}, by=admin)
    harvests.record_harvest({"member_id": members[0].id, "crop_id": tomato.id,
                             "season": "summer", "harvested_on": date(2024, 8, 15), "area": "8",
                             "area_unit": "sotka", "volume": "2400,5", "unit": "kg",
                             "quantity_sold": "2000", "price": "13,85", "currency": "KGS"},
                            by=admin)
    harvests.record_harvest({"member_id": members[1].id, "crop_id": tomato.id,
                             "season": "summer", "harvested_on": date(2024, 8, 20),
                             "volume": "1,25", "unit": "t", "market_value": "17500,55",
                             "currency": "KGS"}, by=admin)
    harvests.save_exchange_rate(None, {"currency": "KGS", "units_per_usd": "87,4521",
                                       "valid_from": date(2024, 1, 1)}, by=admin)
    db.session.commit()
    return {"members": [m.id for m in members]}


def plain(value):
    """A figure as plain values: dataclasses as dicts, a record (a loan in a credit history)
    as its columns, so figures read from two databases compare."""
    if is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if hasattr(value, "__table__"):
        return {c.key: getattr(value, c.key) for c in value.__table__.columns}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def figures(ids: dict) -> dict:
    """What the ledger says, read through the one function of each figure."""
    from harvests import figures as harvest_figures
    from loans import credit, portfolio
    from shg.registry import services as registry
    from shg.registry.models import Group

    db.session.expire_all()
    group_ids = [g for g in db.session.scalars(db.select(Group.id))]
    return {
        "portfolio": plain(portfolio.portfolio(as_of=AS_OF)),
        "credit": [plain(credit.credit_history(m, AS_OF)) for m in ids["members"]],
        "harvests": plain(harvest_figures.harvest_results()),
        "savings": {g: registry.group_savings(g) for g in group_ids},
        "rows": backup.rows_in_database(db.session.connection()),
    }


# ---------------------------------------------------------------- export and restore


@pytest.mark.parametrize("source_kind, target_kind",
                         [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_restore_into_an_empty_database_of_the_other_kind_gives_back_the_same_figures(
        fresh_database, tmp_path, source_kind, target_kind):
    source = migrated_app(fresh_database(source_kind))
    with source.app_context():
        ids = prepare_ledger()
        before = figures(ids)
        result = source.test_cli_runner().invoke(args=["ledger", "export",
                                                       str(tmp_path / "ledger.zip")])
        assert result.exit_code == 0, result.output
        db.session.remove()
        db.engine.dispose()
    assert before["portfolio"]["KGS"]["disbursed_amount"] == D("17000.00") + BIG
    assert before["rows"]["repayment"] == 4 and before["rows"]["harvest"] == 2

    target = make_app(fresh_database(target_kind))  # not even a schema yet
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["ledger", "restore",
                                                       str(tmp_path / "ledger.zip")])
        assert result.exit_code == 0, result.output
        assert figures(ids) == before
        db.session.remove()
        db.engine.dispose()


def test_export_manifest_lists_every_table_with_its_rows_and_checksum(
        fresh_database, tmp_path):
    app = migrated_app(fresh_database("sqlite"))
    with app.app_context():
        prepare_ledger()
        counts = backup.rows_in_database(db.session.connection())
        result = backup.export_ledger(tmp_path / "ledger.zip")
        revision = backup.database_revision(db.session.connection())
    with zipfile.ZipFile(tmp_path / "ledger.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest == result.manifest
        assert manifest["alembic_revision"] == revision and revision
        assert manifest["app_version"] and manifest["created_at"]
        assert [t["name"] for t in manifest["tables"]] == \
            [t.name for t in db.metadata.sorted_tables]
        for entry in manifest["tables"]:
            assert entry["rows"] == counts[entry["name"]]
            assert entry["columns"] == [c.name for c in
                                        db.metadata.tables[entry["name"]].columns]
            import hashlib
            assert hashlib.sha256(archive.read(entry["file"])).hexdigest() == entry["sha256"]
        assert {"loan", "installment", "repayment", "allocation", "harvest", "seed_delivery",
                "exchange_rate", "reminder"} <= {t["name"] for t in manifest["tables"]}
        # money is written as the exact amount the ledger holds, never a float
        loans = archive.read("loan.csv").decode("utf-8")
        assert str(BIG) in loans


@pytest.mark.parametrize("value", [None, "", "\\N", "\\", "\\\\x", "a\nb, \"c\"", "Ҷӯраев",
                                   True, False, 0, -7, D("0.00"), D("-0.0005"), BIG,
                                   date(2024, 2, 29)])
def test_every_value_survives_its_csv_text(value):
    kind = type(value) if value is not None else str
    assert backup.decode(backup.encode(value), kind) == value
    if value is not None:
        assert backup.encode(value) != backup.NULL


# ---------------------------------------------------------------- refusals


@pytest.fixture
def exported(fresh_database, tmp_path):
    app = migrated_app(fresh_database("sqlite"))
    with app.app_context():
        prepare_ledger()
        backup.export_ledger(tmp_path / "ledger.zip")
        db.engine.dispose()
    return tmp_path / "ledger.zip"


def _rewritten(path, out, change):
    """A copy of the export with one member changed by ``change(name, data) -> data``."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, change(info.filename, source.read(info.filename)))
    return out


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_restore_into_a_database_that_holds_records_is_refused_and_changes_nothing(
        exported, fresh_database, database):
    app = migrated_app(fresh_database(database))
    with app.app_context():
        from shg.registry.models import Country
        db.session.add(Country(code="TJ", name="Таджикистан", currency="TJS"))
        db.session.commit()
        before = backup.rows_in_database(db.session.connection())
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["ledger", "restore", str(exported)])
        assert result.exit_code == 1
        assert "only into an empty database" in result.output and "country (1)" in result.output
        assert backup.rows_in_database(db.session.connection()) == before
        db.session.remove()
        db.engine.dispose()


def _tables(app) -> list[str]:
    with app.app_context():
        names = inspect(db.engine).get_table_names()
        db.engine.dispose()
    return names


def test_damaged_export_is_refused_before_anything_is_written(
        exported, fresh_database, tmp_path):
    def damage(name, data):
        return data.replace("Айгуль".encode(), "Айгүл".encode()) if name == "member.csv" \
            else data
    damaged = _rewritten(exported, tmp_path / "damaged.zip", damage)
    app = make_app(fresh_database("sqlite"))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["ledger", "restore", str(damaged)])
    assert result.exit_code == 1
    assert "member.csv does not match its checksum" in result.output
    assert _tables(app) == []


def test_export_of_another_schema_revision_is_refused(exported, fresh_database, tmp_path):
    def older(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["alembic_revision"] = "0ddedd137d16"
        return json.dumps(manifest).encode()
    other = _rewritten(exported, tmp_path / "older.zip", older)
    app = make_app(fresh_database("sqlite"))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["ledger", "restore", str(other)])
    assert result.exit_code == 1
    assert "schema revision 0ddedd137d16" in result.output
    assert _tables(app) == []


def test_a_file_that_is_not_an_export_is_refused(fresh_database, tmp_path):
    path = tmp_path / "members.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("members.csv", "full_name\nАйгуль\n")
    app = make_app(fresh_database("sqlite"))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["ledger", "restore", str(path)])
    assert result.exit_code == 1 and "not a ledger export" in result.output


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_after_a_restore_new_records_get_new_ids(exported, fresh_database, database):
    """PostgreSQL's sequences go on after the restored ids: the next loan product, lender
    and country are saved, not refused as duplicates of restored rows."""
    from loans import services as loans
    from shg.accounts.models import User
    from shg.registry.models import Country
    app = make_app(fresh_database(database))
    with app.app_context():
        assert backup.restore_ledger(exported)["loan"] == 3
        admin = db.session.scalar(db.select(User).where(User.username == "office"))
        lender = loans.save_lender(None, {"name": "Банк", "kind": "bank"}, by=admin)
        country = Country(code="TJ", name="Таджикистан", currency="TJS")
        db.session.add(country)
        db.session.commit()
        assert lender.id > 1 and country.id > 1
        assert db.session.execute(text("SELECT count(*) FROM lender")).scalar() == 2
        db.session.remove()
        db.engine.dispose()
