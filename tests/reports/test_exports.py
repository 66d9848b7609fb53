"""CSV and XLSX exports of the lists: read back, they hold what the database holds.

Every figure compared here is read from the database or from the function that owns it
(``loans.services.position``, ``registry.meeting_register``), never typed into the test.
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest
from sqlalchemy import func, select

from loans import services as loan_services
from loans.models import Installment, Loan, Repayment
from reports import exports
from shg.extensions import db
from shg.money import parse_decimal
from shg.registry import services as registry
from shg.registry.models import Attendance, Meeting, Member

CENT = Decimal("0.01")


@pytest.fixture
def programme(create_village, create_group, create_member, create_user, create_loan):
    """Two districts of Kyrgyzstan. District A: a group of three with two meetings, a loan
    with a repayment, seeds and a harvest; district B: a group of one. Users: the project
    office, and district A's facilitator and loan officer, all reading Russian."""
    from harvests import services as harvest_services
    a = create_village(name="Кара-Жыгач")
    b = create_village(name="Ак-Суу")
    admin = create_user("admin", locale="ru", full_name="Офис проекта")
    facilitator = create_user("facilitator", districts=[a.district], locale="ru",
                              full_name="Жылдыз Асанова")
    officer = create_user("loan_officer", districts=[a.district], locale="ru")
    group = create_group(a, name="Ынтымак", facilitator=facilitator)
    other_group = create_group(b, name="Бирлик")
    aigul = create_member(group, full_name="Айгуль Токтогулова", phone="+996555123456")
    gulnara = create_member(group, full_name="Гүлнара Өмүрбекова")
    gafur = create_member(group, full_name="Ҷӯраев Ғафур", gender="male", language="tg")
    stranger = create_member(other_group, full_name="Нургүл Асанова")
    meetings = []
    for held_on, savings in ((date(2024, 3, 6), ("150.50", "0", "99.99")),
                             (date(2024, 4, 3), ("1250.00", "10.05", "0"))):
        rows = [{"member_id": m.id, "status": s, "savings": Decimal(v)}
                for m, s, v in zip((aigul, gulnara, gafur), ("present", "absent", "late"),
                                   savings)]
        meetings.append(registry.save_meeting(None, group, {"held_on": held_on,
                                                            "attendance": rows},
                                              by=facilitator))
    registry.save_meeting(None, other_group, {"held_on": date(2024, 3, 7), "attendance": [
        {"member_id": stranger.id, "status": "present", "savings": Decimal("5.00")}]},
        by=admin)
    loan = create_loan(member=aigul, principal=Decimal("12000.00"),
                       disbursed_on=date(2024, 1, 10))
    loan_services.post_repayment(loan, Decimal("1240.00"), date(2024, 2, 10), by=admin,
                                 receipt_no="№ 17")
    other_loan = create_loan(member=stranger, principal=Decimal("5000.00"),
                             disbursed_on=date(2024, 1, 12))
    units = {u.code: u for u in harvest_services.ensure_standard_units()}
    tomato = harvest_services.save_crop(None, {"name": "Tomato", "name_ru": "Помидор",
                                               "default_unit": "kg"}, by=admin)
    round_ = harvest_services.save_round(None, {"name": "Весна 2024",
                                                "started_on": date(2024, 3, 1)}, by=admin)
    delivery = harvest_services.record_delivery(
        {"round_id": round_.id, "member_id": aigul.id, "delivered_on": date(2024, 3, 12),
         "crop_id": tomato.id, "quantity": "0,125", "unit": "kg", "value": "300,50",
         "currency": "KGS"}, by=facilitator)
    harvest = harvest_services.record_harvest(
        {"member_id": aigul.id, "crop_id": tomato.id, "season": "summer",
         "harvested_on": date(2024, 8, 15), "area": "8", "area_unit": "sotka",
         "volume": "2400,5", "unit": "kg", "quantity_sold": "2000", "price": "13,80",
         "currency": "KGS"}, by=facilitator)
    db.session.commit()
    return SimpleNamespace(a=a, b=b, admin=admin, facilitator=facilitator, officer=officer,
                           group=group, other_group=other_group, aigul=aigul, gulnara=gulnara,
                           gafur=gafur, stranger=stranger, meetings=meetings, loan=loan,
                           other_loan=other_loan, delivery=delivery, harvest=harvest,
                           units=units, tomato=tomato, round=round_)


def read_csv(response, delimiter=";"):
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark: Excel would garble Cyrillic"
    text = raw.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def read_xlsx(response):
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    sheet = book.worksheets[0]
    return sheet, [list(row) for row in sheet.iter_rows()]


def by_header(rows):
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


# ---------------------------------------------------------------- CSV


def test_members_csv_has_bom_russian_headers_and_cyrillic_names(client, auth, programme):
    auth.login(programme.admin)
    response = client.get("/reports/export/members.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)  # Russian reader: semicolons
    records = by_header(rows)
    assert "ФИО" in rows[0] and "Телефон" in rows[0]
    expected = db.session.scalars(registry.members_query(programme.admin)).all()
    assert [r["ID"] for r in records] == [str(m.id) for m in expected]
    assert [r["ФИО"] for r in records] == [m.full_name for m in expected]
    aigul = next(r for r in records if r["ФИО"] == "Айгуль Токтогулова")
    assert aigul["Телефон"] == "+996555123456"
    assert aigul["Группа"] == "Ынтымак"
    assert aigul["Пол"] == "Женский"
    assert date.fromisoformat(aigul["Дата вступления"]) == \
        programme.aigul.current_membership.joined_on


def test_meetings_csv_amounts_read_back_exactly_with_a_decimal_comma(client, auth, programme):
    auth.login(programme.admin)
    records = by_header(read_csv(client.get(
        f"/reports/export/meetings.csv?group={programme.group.id}")))
    register = {line.meeting.id: line for line in registry.meeting_register(programme.group.id)}
    assert len(records) == len(register) == 2
    for record in records:
        line = register[int(record["ID"])]
        assert "," in record["Сбережения"]
        assert parse_decimal(record["Сбережения"]) == line.savings
        assert date.fromisoformat(record["Дата"]) == line.meeting.held_on
        assert int(record["Присутствует"]) == line.present


def test_csv_separator_can_be_chosen_and_english_reader_gets_commas(client, auth, programme,
                                                                    create_user):
    auth.login(programme.admin)
    rows = read_csv(client.get("/reports/export/attendance.csv?sep=comma"), delimiter=",")
    savings = {(int(r[0]), int(r[5])): r[9] for r in rows[1:]}
    stored = dict(((m, p), s) for m, p, s in db.session.execute(
        select(Attendance.meeting_id, Attendance.member_id, Attendance.savings)))
    assert {k: Decimal(v) for k, v in savings.items()} == stored
    auth.logout()
    english = create_user("admin", locale="en")
    db.session.commit()
    auth.login(english)
    rows = read_csv(client.get("/reports/export/groups.csv"), delimiter=",")
    assert rows[0][:2] == ["ID", "Group"]


def test_text_that_excel_would_run_as_a_formula_stays_text(client, auth, programme,
                                                           create_member):
    create_member(programme.group, full_name="=HYPERLINK(\"http://x\")")
    db.session.commit()
    auth.login(programme.admin)
    csv_names = [r["ФИО"] for r in by_header(read_csv(client.get("/reports/export/members.csv")))]
    assert "'=HYPERLINK(\"http://x\")" in csv_names
    sheet, rows = read_xlsx(client.get("/reports/export/members.xlsx"))
    cell = next(row[1] for row in rows if row[1].value == "=HYPERLINK(\"http://x\")")
    assert cell.data_type == "s"


# ---------------------------------------------------------------- XLSX


def test_xlsx_money_is_a_number_with_two_places_and_dates_are_dates(client, auth, programme):
    auth.login(programme.admin)
    response = client.get("/reports/export/attendance.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet, rows = read_xlsx(response)
    header = [c.value for c in rows[0]]
    assert header[:2] == ["ID собрания", "Дата"] and all(c.font.b for c in rows[0])
    stored = {(a.meeting_id, a.member_id): a for a in db.session.scalars(select(Attendance))}
    assert len(rows) - 1 == len(stored)
    for row in rows[1:]:
        attendance = stored[(row[0].value, row[5].value)]
        savings = row[header.index("Сбережения")]
        assert isinstance(savings.value, (int, float)) and savings.number_format == "0.00"
        assert Decimal(str(savings.value)).quantize(CENT) == attendance.savings
        held = row[1]
        assert held.is_date and held.value.date() == attendance.meeting.held_on
        assert row[6].value == attendance.member.full_name
        assert isinstance(row[0].value, int)


def test_loans_xlsx_figures_are_the_loan_position(client, auth, programme):
    auth.login(programme.officer)
    sheet, rows = read_xlsx(client.get("/reports/export/loans.xlsx"))
    records = by_header([[c.value for c in row] for row in rows])
    assert [r["ID кредита"] for r in records] == [programme.loan.id]  # her district only
    record = records[0]
    loan = db.session.get(Loan, programme.loan.id)
    position = loan_services.position(loan)
    assert Decimal(str(record["Сумма"])).quantize(CENT) == loan.principal
    assert Decimal(str(record["Остаток основного долга"])).quantize(CENT) == \
        position.outstanding_principal
    assert record["Дней просрочки"] == position.days_past_due
    assert Decimal(str(record["Задолженность"])).quantize(CENT) == position.arrears
    assert record["Дата выдачи"].date() == loan.disbursed_on
    assert record["Участник"] == "Айгуль Токтогулова"


def test_installments_and_repayments_hold_the_schedule_and_its_allocations(client, auth,
                                                                           programme):
    auth.login(programme.admin)
    loan_id = programme.loan.id
    rows = read_csv(client.get(f"/reports/export/installments.csv?group={programme.group.id}"))
    schedule = db.session.scalars(select(Installment).where(Installment.loan_id == loan_id)
                                  .order_by(Installment.number)).all()
    assert len(rows) - 1 == len(schedule)
    for row, line in zip(rows[1:], schedule):
        assert int(row[0]) == loan_id and int(row[4]) == line.number
        assert date.fromisoformat(row[5]) == line.due_on
        assert [parse_decimal(v) for v in row[6:10]] == \
            [line.principal, line.interest, line.fee, line.total]
        assert parse_decimal(row[10]) == line.principal_paid
    sheet, xrows = read_xlsx(client.get("/reports/export/repayments.xlsx"))
    repayment = db.session.scalars(select(Repayment).where(Repayment.loan_id == loan_id)).one()
    record = next(r for r in by_header([[c.value for c in row] for row in xrows])
                  if r["ID кредита"] == loan_id)
    parts = [Decimal(str(record[h])).quantize(CENT)
             for h in ("Штраф", "Комиссия", "Проценты", "Основной долг")]
    assert sum(parts) == repayment.amount == Decimal(str(record["Сумма"])).quantize(CENT)
    assert {c: a for c, a in zip(("penalty", "fee", "interest", "principal"), parts) if a} == \
        {a.component: a.amount for a in repayment.allocations}
    assert record["Квитанция"] == "№ 17"


def test_seed_and_harvest_quantities_are_exact(client, auth, programme):
    auth.login(programme.facilitator)
    sheet, rows = read_xlsx(client.get("/reports/export/deliveries.xlsx"))
    record = by_header([[c.value for c in row] for row in rows])[0]
    assert Decimal(str(record["Количество"])) == programme.delivery.quantity == Decimal("0.125")
    assert record["Культура"] == "Помидор"
    assert Decimal(str(record["Стоимость"])).quantize(CENT) == programme.delivery.value
    rows = read_csv(client.get("/reports/export/harvests.csv"))
    record = by_header(rows)[0]
    assert parse_decimal(record["Объём урожая"]) == programme.harvest.volume
    assert parse_decimal(record["Рыночная стоимость"]) == programme.harvest.market_value
    assert parse_decimal(record["Площадь"]) == programme.harvest.area
    assert record["Участник"] == "Айгуль Токтогулова"


# ---------------------------------------------------------------- every list, scope, filters


def test_every_list_exports_in_both_formats_within_the_users_districts(client, auth, programme):
    auth.login(programme.facilitator)
    facilitator = db.session.get(type(programme.admin), programme.facilitator.id)
    for kind in sorted(exports.KINDS):
        csv_rows = read_csv(client.get(f"/reports/export/{kind}.csv"))
        sheet, xlsx_rows = read_xlsx(client.get(f"/reports/export/{kind}.xlsx"))
        with client.application.test_request_context():
            headers, rows = exports.export_rows(kind, facilitator)
        assert len(csv_rows) == len(xlsx_rows) == len(rows) + 1 > 1, kind
        flat = "\n".join(";".join(r) for r in csv_rows)
        assert "Нургүл Асанова" not in flat and "Бирлик" not in flat, kind  # district B
        assert sheet.freeze_panes == "A2"


def test_filters_of_the_page_narrow_the_export(client, auth, programme):
    auth.login(programme.admin)
    names = [r[1] for r in read_csv(client.get("/reports/export/members.csv?q=айгуль"))[1:]]
    assert names == ["Айгуль Токтогулова"]
    rows = read_csv(client.get("/reports/export/meetings.csv?from=2024-04-01&to=2024-04-30"))
    assert [r[1] for r in rows[1:]] == ["2024-04-03"]
    rows = read_csv(client.get(f"/reports/export/groups.csv?district={programme.b.district_id}"))
    assert [r[1] for r in rows[1:]] == ["Бирлик"]
    rows = read_csv(client.get("/reports/export/loans.csv?status=closed"))
    assert rows[1:] == []


def test_another_district_is_forbidden(client, auth, programme):
    auth.login(programme.facilitator)
    for url in (f"/reports/export/members.csv?district={programme.b.district_id}",
                f"/reports/export/loans.xlsx?group={programme.other_group.id}",
                f"/reports/export/harvests.csv?village={programme.b.id}"):
        assert client.get(url).status_code == 403, url


BAD_INPUT = [
    ("/reports/export/members.csv?district=abc", 422),
    ("/reports/export/members.csv?district=99999999999", 422),
    ("/reports/export/groups.xlsx?status=sleeping", 422),
    ("/reports/export/meetings.csv?from=2024-13-01", 422),
    ("/reports/export/members.csv?sep=tab", 422),
    ("/reports/export/nothing.csv", 404),
    ("/reports/export/members.pdf", 404),
]


def test_bad_input_is_a_clear_refusal_not_an_error(client, auth, programme):
    auth.login(programme.admin)
    for url, code in BAD_INPUT:
        response = client.get(url)
        assert response.status_code == code, url
        if code == 422:
            text = response.get_data(as_text=True)
            assert "Недопустимое значение фильтра" in text or "запятую" in text, url


def test_export_needs_a_login(client, programme):
    response = client.get("/reports/export/members.csv")
    assert response.status_code in (302, 401)


def test_too_many_rows_for_a_sheet_is_refused_with_a_message(client, auth, programme,
                                                             monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    auth.login(programme.admin)
    response = client.get("/reports/export/members.xlsx")
    assert response.status_code == 422
    assert "CSV" in response.get_data(as_text=True)


# ---------------------------------------------------------------- API


def test_api_exports_with_a_token_in_the_token_users_scope(client, programme, api_token):
    headers = api_token(programme.facilitator)
    response = client.get("/api/v1/reports/exports/members.csv", headers=headers)
    assert response.status_code == 200
    names = [r[1] for r in read_csv(response)[1:]]
    assert sorted(names) == sorted(m.full_name for m in db.session.scalars(
        select(Member).where(Member.id.in_([programme.aigul.id, programme.gulnara.id,
                                            programme.gafur.id]))))
    response = client.get("/api/v1/reports/exports/meetings.xlsx", headers=headers)
    sheet, rows = read_xlsx(response)
    assert len(rows) - 1 == db.session.scalar(
        select(func.count(Meeting.id)).where(Meeting.group_id == programme.group.id))
    assert client.get("/api/v1/reports/exports/members.csv").status_code == 401
    bad = client.get("/api/v1/reports/exports/members.csv?district=x", headers=headers)
    assert bad.status_code == 422 and "district" in bad.get_json()["errors"]["json"]
    other = client.get(f"/api/v1/reports/exports/members.csv?district={programme.b.district_id}",
                       headers=headers)
    assert other.status_code == 403 and other.is_json
