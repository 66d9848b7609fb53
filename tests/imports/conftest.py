"""Fixtures for imports: a small programme to import into (a district with a village and a
group, the catalogue, a round, a loan product and a lender), files written as the field
writes them (CSV in UTF-8 or Windows-1251, with ; or ,; XLSX with real numbers and dates),
and a count of every table, to prove that a refused import changed nothing."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from harvests import services as harvest_services
from loans import services as loan_services
from loans.models import Lender
from shg.extensions import db


@pytest.fixture
def world(create_village, create_group, create_user):
    """A Kyrgyz pilot village with a group, its facilitator and loan officer, an admin, the
    seed catalogue, a distribution round, a loan product and a lender."""
    village = create_village(name="Лебединовка", country_code="KG")
    district = village.district
    group = create_group(village, name="Ынтымак", formed_on=date(2010, 5, 1))
    admin = create_user("admin", username="office")
    facilitator = create_user("facilitator", districts=[district], username="fac")
    officer = create_user("loan_officer", districts=[district], username="officer",
                          locale="ru")
    other_village = create_village(name="Кара-Жыгач", country_code="KG")
    harvest_services.ensure_standard_units()
    tomato = harvest_services.save_crop(None, {"name": "Tomato", "name_ru": "Помидор",
                                               "default_unit": "kg"}, by=admin)
    pink = harvest_services.save_variety(None, {"crop_id": tomato.id, "name": "Pink Paradise F1",
                                                "is_hybrid": True}, by=admin)
    spring = harvest_services.save_round(None, {"name": "Весна 2011", "started_on": date(2011, 4, 1)},
                                         by=admin)
    product = loan_services.save_product(None, {
        "name": "Теплица", "method": "flat", "rate": Decimal("24"), "rate_period": "year",
        "frequency": "month", "installments": 12}, by=admin)
    lender = Lender(name="Кредит-Ордо", kind="mfi")
    db.session.add(lender)
    db.session.commit()
    return SimpleNamespace(village=village, district=district, group=group, admin=admin,
                           facilitator=facilitator, officer=officer, other=other_village,
                           tomato=tomato, pink=pink, round=spring, product=product,
                           lender=lender)


def csv_bytes(rows: list[list], encoding: str = "utf-8", delimiter: str = ";",
              bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return ("\ufeff" if bom else "").encode(encoding) + out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    """A workbook as Excel writes it: numbers as numbers (float for a decimal), dates as
    dates."""
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def table_counts(app):
    """Rows in every table of the schema, by table name."""
    def count():
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in db.metadata.sorted_tables}
    return count


def as_xlsx_values(rows: list[list]) -> list[list]:
    """The same rows typed into Excel: "01.03.2021" becomes a date, "1250,5" a float,
    "1985" an int."""
    import re
    typed = [rows[0]]
    for row in rows[1:]:
        out = []
        for cell in row:
            if isinstance(cell, str) and re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", cell):
                day, month, year = cell.split(".")
                out.append(datetime(int(year), int(month), int(day)))
            elif isinstance(cell, str) and re.fullmatch(r"\d+,\d+", cell):
                out.append(float(cell.replace(",", ".")))
            elif isinstance(cell, str) and re.fullmatch(r"[1-9]\d{0,5}", cell):
                out.append(int(cell))
            else:
                out.append(cell)
        typed.append(out)
    return typed
