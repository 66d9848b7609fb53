"""Bad rows, bad files and failures part-way: every problem is reported with its line,
column and reason in the user's language, and a refused import leaves every table as it was."""
from __future__ import annotations

import io
import os
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from shg.extensions import db
from shg.imports import kinds
from shg.imports.reading import cell_value
from shg.imports.services import report_csv, run_import
from shg.registry.models import Member
from tests.imports.conftest import csv_bytes, xlsx_bytes
from tests.imports.test_kinds import MEMBERS_RU

BAD_MEMBERS = [MEMBERS_RU[0],
               MEMBERS_RU[1],
               ["Лебединовка", "Асановы", "Ынтымак", "Бакыт Асанов", "x", "3000", "12",
                "31.02.2021", "", "", ""],
               ["Нет-Такого", "Асановы", "Ынтымак", "Айжан", "ж", "", "", "", "", "", ""],
               ["Лебединовка", "Жаныловы", "Ынтымак", "Жаныл", "ж", "1980", "", "01.01.2030", "",
                "", ""],
               ["Лебединовка", "", "Ынтымак", "Жаныл", "ж", "1980", "", "", "", "", ""]]


def russian(message, **kw):
    with force_locale("ru"):
        return gettext(message, **kw)


def test_dry_run_reports_each_bad_row_with_line_column_and_reason_in_her_language(
        world, table_counts):
    before = table_counts()
    report = run_import("members", csv_bytes(BAD_MEMBERS), world.officer, dry_run=True,
                        filename="members.csv")
    assert table_counts() == before
    found = {(p.line, p.column): p.reason for p in report.problems}
    # cells that cannot be read, and the services' own refusals, at once for one row
    assert found[(3, "Пол")].startswith(russian("Unknown value %(value)s: write %(allowed)s.",
                                                value="x", allowed="")[:10])
    assert found[(3, "Дата вступления")] == russian("No such day in the calendar: %(value)s.",
                                                     value="31.02.2021")
    assert found[(3, "Год рождения")] == russian(
        "Enter a year of birth between 1920 and 14 years ago.")
    assert found[(3, "Телефон")] == russian("This is not a valid phone number.")
    assert found[(4, "Село")] == russian("No village named %(name)s.", name="Нет-Такого")
    assert found[(5, "Дата вступления")] == russian("This date is in the future.")
    assert found[(6, "Семья")] == russian("Fill in this cell.")
    assert all(any("а" <= ch <= "я" for ch in reason.lower()) for reason in found.values())
    assert report.bad_rows == 4 and report.created == 1 and not report.imported
    # the downloadable report has the same lines
    lines = report_csv(report).decode("utf-8-sig").splitlines()
    assert lines[0] == "Line;Column;Cell;Reason"
    assert any(line.startswith("3;Пол;x;") for line in lines)
    assert any(line.startswith("4;Село;Нет-Такого;") for line in lines)


def test_an_import_with_one_bad_row_writes_nothing(world, table_counts):
    before = table_counts()
    report = run_import("members", csv_bytes(BAD_MEMBERS), world.admin, dry_run=False)
    assert not report.imported and report.problems
    assert table_counts() == before


def _many_members(count: int, bad_at: int | None = None) -> list[list]:
    rows = [["Village", "Household", "Group", "Full name", "Gender", "Joined the group"]]
    for i in range(count):
        gender = "?" if i == bad_at else "female"
        rows.append(["Лебединовка", f"Семья {i}", "Ынтымак", f"Айгуль {i}", gender, "01.03.2021"])
    return rows


def test_a_bad_row_after_a_written_batch_leaves_every_table_as_it_was(world, table_counts):
    before = table_counts()
    report = run_import("members", csv_bytes(_many_members(1100, bad_at=1050)), world.admin,
                        dry_run=False)
    assert [(p.line, p.column) for p in report.problems] == [(1052, "Gender")]
    assert report.created == 1099 and not report.imported
    assert table_counts() == before


def test_a_failure_part_way_leaves_every_table_as_it_was(world, table_counts, monkeypatch):
    from shg.registry import services as registry_services
    real = registry_services.check_member
    calls = []

    def failing(data, by):
        calls.append(1)
        if len(calls) == 700:
            raise RuntimeError("the disk is full")
        return real(data, by)
    monkeypatch.setattr(registry_services, "check_member", failing)
    before = table_counts()
    report = run_import("members", csv_bytes(_many_members(900)), world.admin, dry_run=False)
    assert not report.imported and len(report.problems) == 1
    assert report.problems[0].line == 0
    assert table_counts() == before


def test_a_loan_refused_at_disbursement_leaves_no_application_behind(world, create_member,
                                                                    table_counts):
    create_member(world.group, full_name="Айгуль Токтогулова", joined_on=date(2010, 6, 1))
    db.session.commit()
    rows = [["Village", "Group", "Member", "Product", "Lender", "Principal", "Purpose",
             "Approved on", "Disbursed on"],
            ["Лебединовка", "Ынтымак", "Айгуль Токтогулова", "Теплица", "Кредит-Ордо", "1000",
             "Семена", "10.02.2024", "01.02.2024"],
            ["Лебединовка", "Ынтымак", "Айгуль Токтогулова", "Теплица", "Кредит-Ордо", "1000",
             "Семена", "01.02.2024", "01.02.2024"]]
    before = table_counts()
    report = run_import("loans", csv_bytes(rows), world.admin, dry_run=True)
    assert [(p.line, p.column) for p in report.problems] == [(2, "Disbursed on")]
    # the second row (same member, day and principal) was not taken for the first
    assert report.created == 1 and report.existing == 0
    assert table_counts() == before


def test_a_district_facilitator_imports_only_into_her_districts(world, table_counts):
    rows = [["Village", "Household", "Group", "Full name", "Gender"],
            ["Кара-Жыгач", "Асановы", "Ынтымак", "Бакыт", "male"]]
    before = table_counts()
    report = run_import("members", csv_bytes(rows), world.facilitator, dry_run=False)
    assert report.problems and not report.imported
    assert table_counts() == before
    villages = run_import("villages", csv_bytes([["District", "Village"],
                                                 [world.district.name, "Ак-Суу"]]),
                          world.facilitator, dry_run=True)
    assert villages.problems[0].line == 0  # only the project office adds villages
    loans = run_import("loans", csv_bytes([["Member"], ["x"]]), world.facilitator)
    assert loans.problems[0].line == 0


def test_a_repeated_row_in_one_file_is_already_there(world, table_counts):
    rows = [MEMBERS_RU[0], MEMBERS_RU[1], MEMBERS_RU[1]]
    report = run_import("members", csv_bytes(rows), world.admin, dry_run=False)
    assert (report.created, report.existing, report.existing_lines) == (1, 1, [3])
    assert db.session.scalar(select(Member.id).where(Member.phone == "+996555123456"))


GARBAGE = {
    "binary": os.urandom(3000) + b"\x00\x01",
    "empty": b"",
    "spaces": b"  \n\n ",
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    "zip, not a workbook": b"",
    "header only": "Село;Семья;Группа;ФИО\n".encode(),
    "wrong columns": b"foo,bar,baz\n1,2,3\n",
    "not cp1251 nor utf-8": b"\x98\x98\x98;\x98\n\x98;\x98\n",
    "unclosed quote": b'Village;Household;Group;Full name\n"Lebed;x;y;z\n' + b"a" * 200000,
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_files_are_refused_with_a_reason(world, table_counts, name):
    data = GARBAGE[name]
    if name == "zip, not a workbook":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("hello.txt", "hello")
        data = out.getvalue()
    before = table_counts()
    report = run_import("members", data, world.admin, dry_run=False)
    assert report.problems and not report.imported
    assert all(p.reason for p in report.problems)
    assert table_counts() == before


def test_huge_numbers_are_refused_not_overflowed(world, create_member, table_counts):
    create_member(world.group, full_name="Айгуль Токтогулова", joined_on=date(2010, 6, 1))
    db.session.commit()
    header = ["Member", "Village", "Group", "Product", "Lender", "Principal", "Purpose",
              "Disbursed on", "Installments", "Interest rate"]
    base = ["Айгуль Токтогулова", "Лебединовка", "Ынтымак", "Теплица", "Кредит-Ордо"]
    rows = [header,
            base + ["99999999999999999999", "x", "10.01.2024", "12", ""],
            base + ["1000", "x", "10.01.2024", str(10 ** 30), ""],
            base + ["1000", "x", "10.01.2024", "12", "1e400"],
            base + [1e300, "x", "10.01.2024", 10 ** 12, float("1e-300")]]
    before = table_counts()
    for data in (csv_bytes(rows[:4]), xlsx_bytes(rows)):
        report = run_import("loans", data, world.officer, dry_run=False)
        assert not report.imported
        assert {p.line for p in report.problems} >= {2, 3, 4}
    assert table_counts() == before
    members = run_import("members", csv_bytes([["Village", "Household", "Group", "Full name",
                                                 "Gender", "Year of birth"],
                                                ["Лебединовка", "x", "Ынтымак", "y", "female",
                                                 "1" * 40]]), world.admin)
    assert members.problems[0].column == "Year of birth"


def test_spreadsheet_numbers_become_exact_decimals():
    assert cell_value(1250.5) == Decimal("1250.5")
    assert cell_value(0.1) == Decimal("0.1")
    assert cell_value(13.8) * 2400 == Decimal("33120.0")
    assert isinstance(cell_value(1985), int)


def test_columns_are_read_in_either_language_whatever_the_case_and_spacing(world):
    rows = [["  ФИО ", "SELO", "village"], ["a", "b", "c"]]
    report = run_import("members", csv_bytes(rows), world.admin)
    # "SELO" is no header; "village" is; "  ФИО " is the full name
    assert report.ignored == ["SELO"]
    assert {p.column for p in report.problems if p.line == 1} >= {"Household", "Group"}
    assert kinds.MEMBERS.column("member").ru == "ФИО"
