"""Each kind of record imported from CSV (UTF-8 and Windows-1251) and XLSX, with Russian and
English headers: the dry run writes nothing, the import writes what the services would,
and a second import of the same file finds every row already there."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from harvests.models import Harvest, SeedDelivery
from loans import services as loan_services
from loans.models import Loan, Repayment
from shg.extensions import db
from shg.imports.services import run_import
from shg.registry.models import Group, Member, Village
from tests.imports.conftest import as_xlsx_values, csv_bytes, xlsx_bytes

FORMATS = ["csv-utf8", "csv-cp1251", "xlsx"]


def encode(rows, fmt):
    if fmt == "csv-utf8":
        return csv_bytes(rows, "utf-8", ";")
    if fmt == "csv-utf8-bom":
        return csv_bytes(rows, "utf-8", ",", bom=True)
    if fmt == "csv-cp1251":
        return csv_bytes(rows, "cp1251", ";")
    return xlsx_bytes(as_xlsx_values(rows))


def round_trip(kind, rows, fmt, user, table_counts):
    """Dry run (nothing written), import (every row created), import again (every row
    already there, nothing written); the import's report is returned."""
    data = encode(rows, fmt)
    before = table_counts()
    dry = run_import(kind, data, user, dry_run=True, filename=f"{kind}.{fmt}")
    assert dry.problems == [], dry.problems
    assert (dry.created, dry.existing, dry.imported) == (len(rows) - 1, 0, False)
    assert table_counts() == before
    done = run_import(kind, data, user, dry_run=False, filename=f"{kind}.{fmt}")
    assert done.problems == [] and done.imported and done.created == len(rows) - 1
    after = table_counts()
    again = run_import(kind, data, user, dry_run=False, filename=f"{kind}.{fmt}")
    assert (again.created, again.existing, again.problems) == (0, len(rows) - 1, [])
    assert again.existing_lines == list(range(2, len(rows) + 1))
    assert table_counts() == after
    db.session.expire_all()
    return done


@pytest.mark.parametrize("fmt", FORMATS)
def test_villages_import_with_russian_headers(world, table_counts, fmt):
    rows = [["Район", "Село", "Пилотное село", "Дата вступления в программу"],
            [world.district.name, "Ак-Суу", "да", "01.03.2011"],
            [world.district.name, "Сары-Булак", "нет", ""]]
    round_trip("villages", rows, fmt, world.admin, table_counts)
    ak_suu = db.session.scalar(select(Village).where(Village.name == "Ак-Суу"))
    assert (ak_suu.district_id, ak_suu.is_pilot, ak_suu.pilot_joined_on) == (
        world.district.id, True, date(2011, 3, 1))
    assert db.session.scalar(select(Village).where(Village.name == "Сары-Булак")).is_pilot is False


@pytest.mark.parametrize("fmt", FORMATS)
def test_groups_import_with_english_headers(world, table_counts, fmt):
    rows = [["Village", "Group", "Formed on", "Meeting day", "Meets", "Status", "Facilitator"],
            ["Лебединовка", "Бирге", "01.02.2015", "Tuesday", "monthly", "active", "fac"],
            ["Кара-Жыгач", "Ак-Ниет", "2016-03-05", "среда", "еженедельно", "", ""]]
    round_trip("groups", rows, fmt, world.admin, table_counts)
    birge = db.session.scalar(select(Group).where(Group.name == "Бирге"))
    assert (birge.village_id, birge.formed_on, birge.meeting_day, birge.meeting_frequency,
            birge.facilitator_id) == (world.village.id, date(2015, 2, 1), 1, "monthly",
                                      world.facilitator.id)
    ak_niet = db.session.scalar(select(Group).where(Group.name == "Ак-Ниет"))
    assert (ak_niet.village_id, ak_niet.meeting_day, ak_niet.meeting_frequency, ak_niet.status) \
        == (world.other.id, 2, "weekly", "active")


MEMBERS_RU = [["Село", "Семья", "Группа", "ФИО", "Пол", "Год рождения", "Телефон",
               "Дата вступления", "Должность", "Мигранты", "Согласие на SMS"],
              ["Лебединовка", "Токтогуловы", "Ынтымак", "Айгуль Токтогулова", "ж", "1985",
               "0555 123 456", "01.03.2021", "лидер", "Россия 2", "да"],
              ["Лебединовка", "Токтогуловы", "Ынтымак", "Гульнара Омурбекова", "Женский", "1990",
               "", "2021-03-01", "", "", ""],
              ["лебединовка", "Асановы", "ынтымак", "Бакыт Асанов", "м", "1979",
               "+996 700 111 222", "15.04.2021", "", "KZ 1; RU 1", "нет"]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_households_and_members_import(world, table_counts, fmt):
    round_trip("members", MEMBERS_RU, fmt, world.facilitator, table_counts)
    aigul = db.session.scalar(select(Member).where(Member.full_name == "Айгуль Токтогулова"))
    assert (aigul.gender, aigul.birth_year, aigul.phone, aigul.sms_consent) == (
        "female", 1985, "+996555123456", True)
    membership = aigul.current_membership
    assert (membership.group_id, membership.joined_on, membership.office) == (
        world.group.id, date(2021, 3, 1), "leader")
    family = aigul.household
    assert family.name == "Токтогуловы" and family.village_id == world.village.id
    assert [(m.destination, m.people) for m in family.migrants] == [("RU", 2)]
    assert sorted(m.full_name for m in family.members) == ["Айгуль Токтогулова",
                                                         "Гульнара Омурбекова"]
    bakyt = db.session.scalar(select(Member).where(Member.full_name == "Бакыт Асанов"))
    assert (bakyt.gender, bakyt.phone) == ("male", "+996700111222")
    assert [(m.destination, m.people) for m in bakyt.household.migrants] == [("KZ", 1), ("RU", 1)]


def test_members_from_utf8_with_bom_commas_and_english_headers(world, table_counts):
    rows = [["Village", "Household", "Group", "Full name", "Gender", "Phone", "Joined the group"],
            ["Лебединовка", "Өмүрбековы", "Ынтымак", "Гүлнара Өмүрбекова", "female",
             "996555000111", "01.03.2021"]]
    round_trip("members", rows, "csv-utf8-bom", world.admin, table_counts)
    member = db.session.scalar(select(Member).where(Member.phone == "+996555000111"))
    assert member.full_name == "Гүлнара Өмүрбекова"


def test_member_rows_are_matched_by_phone_before_name(world, create_member, table_counts):
    create_member(world.group, full_name="Айгуль Токтогулова", phone="+996555123456")
    rows = [MEMBERS_RU[0], ["Лебединовка", "Токтогуловы", "Ынтымак", "Айгуль Т.", "ж", "1985",
                            "+996 555 123 456", "01.03.2021", "", "", ""]]
    report = run_import("members", csv_bytes(rows), world.admin, dry_run=False)
    assert (report.created, report.existing, report.problems) == (0, 1, [])


@pytest.fixture
def members(world, create_member):
    aigul = create_member(world.group, full_name="Айгуль Токтогулова", phone="+996555123456",
                          joined_on=date(2010, 6, 1))
    anara = create_member(world.group, full_name="Анара Сыдыкова", phone="+996555987654",
                          joined_on=date(2010, 6, 1))
    db.session.commit()
    return aigul, anara


@pytest.mark.parametrize("fmt", FORMATS)
def test_seed_deliveries_import(world, members, table_counts, fmt):
    aigul, anara = members
    rows = [["Раунд распределения", "Село", "Группа", "Участница", "Телефон", "Дата выдачи",
             "Культура", "Сорт", "Количество", "Единица", "Стоимость", "Валюта"],
            ["Весна 2011", "Лебединовка", "Ынтымак", "Айгуль Токтогулова", "", "12.04.2011",
             "Помидор", "Pink Paradise F1", "2,5", "г", "300,50", "KGS"],
            ["весна 2011", "", "", "", "0555987654", "12.04.2011", "Tomato", "", "0,5", "кг",
             "", ""]]
    round_trip("deliveries", rows, fmt, world.facilitator, table_counts)
    first = db.session.scalar(select(SeedDelivery).where(SeedDelivery.member_id == aigul.id))
    assert (first.round_id, first.crop_id, first.variety_id, first.quantity, first.unit.code,
            first.value, first.currency, first.group_id) == (
        world.round.id, world.tomato.id, world.pink.id, Decimal("2.5"), "g", Decimal("300.50"),
        "KGS", world.group.id)
    second = db.session.scalar(select(SeedDelivery).where(SeedDelivery.member_id == anara.id))
    assert (second.quantity, second.unit.code, second.variety_id) == (Decimal("0.5"), "kg", None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_harvests_import(world, members, table_counts, fmt):
    aigul, anara = members
    rows = [["Village", "Group", "Member", "Phone", "Crop", "Season", "Harvested on", "Area",
             "Area unit", "Volume", "Unit", "Sold", "Price per unit", "Currency", "Own seeds"],
            ["Лебединовка", "Ынтымак", "Айгуль Токтогулова", "", "Tomato", "лето", "15.08.2011",
             "8", "сотка", "2400", "kg", "2000", "13,80", "KGS", "yes"],
            ["", "", "", "+996555987654", "Помидор", "summer", "20.08.2011", "", "", "1,5", "t",
             "", "", "", ""]]
    round_trip("harvests", rows, fmt, world.facilitator, table_counts)
    first = db.session.scalar(select(Harvest).where(Harvest.member_id == aigul.id))
    assert (first.season, first.year, first.area, first.area_unit.code, first.volume,
            first.quantity_sold, first.price, first.market_value, first.delivery_id) == (
        "summer", 2011, Decimal("8"), "sotka", Decimal("2400"), Decimal("2000"),
        Decimal("13.80"), Decimal("33120.00"), None)
    second = db.session.scalar(select(Harvest).where(Harvest.member_id == anara.id))
    assert (second.volume, second.unit.code) == (Decimal("1.5"), "t")


LOANS_RU = [["Село", "Группа", "Участница", "Кредитный продукт", "Кредитор", "Сумма кредита",
             "Цель", "Дата выдачи", "Число взносов"],
            ["Лебединовка", "Ынтымак", "Айгуль Токтогулова", "Теплица", "Кредит-Ордо",
             "12 000,00", "Теплица для помидоров", "10.01.2024", "6"],
            ["Лебединовка", "Ынтымак", "Анара Сыдыкова", "теплица", "кредит-ордо", "50000",
             "Корова", "15.02.2024", ""]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_loans_import_with_their_schedules(world, members, table_counts, fmt):
    aigul, anara = members
    round_trip("loans", LOANS_RU, fmt, world.officer, table_counts)
    loan = db.session.scalar(select(Loan).where(Loan.member_id == aigul.id))
    assert (loan.status, loan.principal, loan.currency, loan.disbursed_on, loan.installments) \
        == ("disbursed", Decimal("12000.00"), "KGS", date(2024, 1, 10), 6)
    # the schedule the loan services build from the terms, nothing of the import's own
    expected = loan_services.preview(loan, loan.disbursed_on)
    assert [(i.due_on, i.principal, i.interest) for i in loan.schedule] == [
        (line.due_on, line.principal, line.interest) for line in expected]
    assert len(loan.schedule) == 6 and loan.schedule[0].interest == Decimal("240.00")
    other = db.session.scalar(select(Loan).where(Loan.member_id == anara.id))
    assert (other.principal, len(other.schedule)) == (Decimal("50000.00"), 12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_repayments_import_through_the_ledger(world, members, table_counts, fmt):
    aigul, anara = members
    run_import("loans", csv_bytes(LOANS_RU), world.officer, dry_run=False)
    other = db.session.scalar(select(Loan).where(Loan.member_id == anara.id))
    rows = [["Loan number", "Village", "Group", "Member", "Loan disbursed on", "Paid on",
             "Amount", "Receipt"],
            ["", "Лебединовка", "Ынтымак", "Айгуль Токтогулова", "10.01.2024", "10.02.2024",
             "2 240,00", "R-1"],
            [str(other.id), "", "", "", "", "15.03.2024", "5166,67", ""]]
    round_trip("repayments", rows, fmt, world.facilitator, table_counts)
    loan = db.session.scalar(select(Loan).where(Loan.member_id == aigul.id))
    repayment = db.session.scalar(select(Repayment).where(Repayment.loan_id == loan.id))
    assert (repayment.amount, repayment.paid_on, repayment.receipt_no) == (
        Decimal("2240.00"), date(2024, 2, 10), "R-1")
    # allocated by the ledger: the first installment paid, the rest ahead of its dates
    assert loan.schedule[0].paid_on == date(2024, 2, 10)
    assert sum(i.paid for i in loan.schedule) == Decimal("2240.00")
    assert loan.outstanding_principal == loan_services.ledger(loan).position(
        date(2024, 2, 10)).outstanding_principal
    assert db.session.scalar(select(Repayment.amount).where(Repayment.loan_id == other.id)) \
        == Decimal("5166.67")
