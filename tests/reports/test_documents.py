"""The documents printed for one record, read back from the PDF and compared with the database.

Each figure expected here comes from the function the page reads it from (meeting_register,
savings_by_member, credit_history, position, overdue_rows), formatted as the Russian reader
sees it; names are checked in Cyrillic, as printed.
"""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pdfplumber
import pytest
from flask_babel import force_locale

from loans import credit, portfolio
from loans import services as loan_services
from loans.models import Loan
from shg import formatting
from shg.extensions import db
from shg.registry import services as registry
from tests.reports import test_exports

programme = test_exports.programme  # the same small programme as the exports' tests


def pdf_text(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    with pdfplumber.open(io.BytesIO(response.get_data())) as document:
        return [_plain(page.extract_text() or "") for page in document.pages]


def _plain(text: str) -> str:
    """Babel's Russian numbers group with no-break spaces; the PDF may give plain ones."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.fixture
def ru(app):
    """Format a value as the Russian reader's page does: ru(formatting.money, amount)."""
    def fmt(function, *args):
        with app.test_request_context(), force_locale("ru"):
            return _plain(function(*args))
    return fmt


# ---------------------------------------------------------------- the group's register


def test_meeting_register_lists_every_meeting_and_member_with_savings(client, auth, programme, ru):
    auth.login(programme.facilitator)
    pages = pdf_text(client.get(f"/reports/groups/{programme.group.id}/register.pdf"))
    text = "\n".join(pages)
    assert "Журнал собраний: Ынтымак" in text
    for name in ("Айгуль Токтогулова", "Гүлнара Өмүрбекова", "Ҷӯраев Ғафур"):
        assert name in text
    assert "Нургүл Асанова" not in text
    for line in registry.meeting_register(programme.group.id):
        assert ru(formatting.day, line.meeting.held_on) in text
        assert ru(formatting.money, line.savings) in text
        assert f"{line.present}/{line.listed}" in text
    for member_id, total in registry.savings_by_member(programme.group.id).items():
        assert ru(formatting.money, total) in text
    assert ru(formatting.money, registry.group_savings(programme.group.id), "KGS") in text
    assert ru(formatting.percent, registry.attendance_rate(programme.group.id)) in text


def test_meeting_register_keeps_to_the_period(client, auth, programme, ru):
    auth.login(programme.facilitator)
    text = "\n".join(pdf_text(client.get(
        f"/reports/groups/{programme.group.id}/register.pdf?from=2024-04-01&to=2024-04-30")))
    first, second = programme.meetings
    assert ru(formatting.day, second.held_on) in text
    assert ru(formatting.day, first.held_on) not in text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_meeting_register_draws_to_an_image(client, auth, programme, tmp_path):
    auth.login(programme.facilitator)
    response = client.get(f"/reports/groups/{programme.group.id}/register.pdf")
    source = tmp_path / "register.pdf"
    source.write_bytes(response.get_data())
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(source),
                    str(tmp_path / "page")], check=True, timeout=60)
    image = next(tmp_path.glob("page*.png"))
    assert image.stat().st_size > 5000  # a drawn page, not a blank one


# ---------------------------------------------------------------- passbooks


def test_passbook_shows_her_savings_balance_and_her_loan_repayments(client, auth, programme, ru):
    auth.login(programme.facilitator)
    aigul = programme.aigul
    pages = pdf_text(client.get(
        f"/reports/groups/{programme.group.id}/passbook.pdf?member={aigul.id}"))
    text = "\n".join(pages)
    assert "Сберегательная книжка: Айгуль Токтогулова" in text
    assert "Гүлнара Өмүрбекова" not in text
    balance = registry.savings_by_member(programme.group.id)[aigul.id]
    assert ru(formatting.money, balance, "KGS") in text
    loan = db.session.get(Loan, programme.loan.id)
    assert ru(formatting.money, loan.principal, "KGS") in text
    for repayment in loan.repayments:
        left = loan_services.position(loan, repayment.paid_on).outstanding_principal
        day = ru(formatting.day, repayment.paid_on)
        line = next(ln for ln in text.splitlines() if ln.startswith(day))
        assert ru(formatting.money, repayment.amount) in line
        assert line.endswith(ru(formatting.money, left))
        for allocation in repayment.allocations:
            assert ru(formatting.money, allocation.amount) in line


def test_group_passbooks_give_each_member_her_own_numbered_pages(client, auth, programme):
    auth.login(programme.facilitator)
    pages = pdf_text(client.get(f"/reports/groups/{programme.group.id}/passbook.pdf"))
    names = ["Айгуль Токтогулова", "Гүлнара Өмүрбекова", "Ҷӯраев Ғафур"]
    starts = [i for i, page in enumerate(pages)
              if any(f"Сберегательная книжка: {n}" in page for n in names)]
    assert len(pages) >= len(names) and len(starts) >= len(names)
    for name in names:
        assert any(f"Сберегательная книжка: {name}" in page for page in pages)


# ---------------------------------------------------------------- credit history, schedule


def test_credit_history_statement_has_the_grade_and_every_installment(
        client, auth, programme, ru):
    auth.login(programme.officer)
    text = "\n".join(pdf_text(client.get(
        f"/reports/members/{programme.aigul.id}/credit-history.pdf")))
    history = credit.credit_history(programme.aigul.id)
    assert "Кредитная история: Айгуль Токтогулова" in text
    assert f"Оценка {history.grade}" in text
    assert ru(formatting.percent, history.on_time_rate) in text
    assert ru(formatting.money, history.current_arrears, "KGS") in text
    for record in history.loans:
        for item in record.installments:
            line = next(ln for ln in text.splitlines()
                        if ln.startswith(f"{item.number} {ru(formatting.day, item.due_on)}"))
            assert ru(formatting.money, item.amount_due) in line
            assert line.endswith(str(item.days_late))


def test_repayment_schedule_shows_paid_and_unpaid_installments_and_the_position(
        client, auth, programme, ru):
    auth.login(programme.officer)
    loan_id = programme.loan.id
    text = "\n".join(pdf_text(client.get(
        f"/reports/loans/{loan_id}/schedule.pdf?as_of=2024-06-01")))
    loan = db.session.get(Loan, loan_id)
    assert "График погашения: Айгуль Токтогулова" in text
    position = loan_services.position(loan, date(2024, 6, 1))
    assert ru(formatting.money, position.arrears, "KGS") in text
    assert ru(formatting.money, position.outstanding_principal, "KGS") in text
    for installment in loan.schedule:
        start = f"{installment.number} {ru(formatting.day, installment.due_on)}"
        line = next(ln for ln in text.splitlines() if ln.startswith(start))
        assert ru(formatting.money, installment.total) in line
        assert ru(formatting.money, installment.paid) in line
        assert ("Оплачен" in line) == (installment.paid_on is not None)


def test_schedule_of_a_loan_not_yet_paid_out_is_the_planned_one(
        client, auth, programme, create_loan, ru):
    from loans.views import planned_schedule
    applied = create_loan(member=programme.gulnara, status="applied")
    db.session.commit()
    auth.login(programme.officer)
    with client.application.test_request_context():
        lines = planned_schedule(db.session.get(Loan, applied.id))
    text = "\n".join(pdf_text(client.get(f"/reports/loans/{applied.id}/schedule.pdf")))
    assert "График при выдаче сегодня" in text and lines
    for line in lines:
        assert ru(formatting.money, line.total) in text


# ---------------------------------------------------------------- the overdue list


def test_overdue_list_prints_every_row_of_every_page(client, auth, programme, create_loan, ru):
    more = [create_loan(member=programme.gafur, principal=Decimal("3000.00"),
                        disbursed_on=date(2024, 2, 1)),
            create_loan(member=programme.gulnara, principal=Decimal("4000.00"),
                        disbursed_on=date(2024, 3, 1))]
    db.session.commit()
    client.application.config["PAGE_SIZE"] = 1  # the page shows one loan; the PDF all
    auth.login(programme.officer)
    page = client.get("/loans/overdue")
    assert page.get_data(as_text=True).count('data-loan="') == 1
    text = "\n".join(pdf_text(client.get("/reports/overdue.pdf")))
    officer = db.session.get(type(programme.officer), programme.officer.id)
    rows = portfolio.overdue_rows(db.session.scalars(portfolio.overdue_query(officer)).all())
    assert {row.loan.id for row in rows} == {programme.loan.id, *(loan.id for loan in more)}
    assert f"Кредитов с просрочкой: {len(rows)}" in text
    for row in rows:
        line = next(ln for ln in text.splitlines() if ln.startswith(row.loan.member.full_name))
        assert str(row.position.days_past_due) in line
        assert ru(formatting.money, row.position.arrears, "KGS") in line
    assert "Нургүл Асанова" not in text  # district B


def test_overdue_list_keeps_the_pages_filters(client, auth, programme):
    auth.login(programme.admin)
    text = "\n".join(pdf_text(client.get(f"/reports/overdue.pdf?group={programme.other_group.id}")))
    assert "Нургүл Асанова" in text and "Айгуль Токтогулова" not in text
    page = client.get(f"/loans/overdue?group={programme.other_group.id}&page=1")
    assert f"/reports/overdue.pdf?group={programme.other_group.id}" in page.get_data(as_text=True)


# ---------------------------------------------------------------- access and bad input


def test_documents_of_another_district_are_forbidden(client, auth, programme, api_token):
    auth.login(programme.facilitator)
    for url in (f"/reports/groups/{programme.other_group.id}/register.pdf",
                f"/reports/groups/{programme.other_group.id}/passbook.pdf",
                f"/reports/members/{programme.stranger.id}/credit-history.pdf",
                f"/reports/loans/{programme.other_loan.id}/schedule.pdf",
                f"/reports/overdue.pdf?district={programme.b.district_id}"):
        assert client.get(url).status_code == 403, url
    for url in ("/reports/groups/999999/register.pdf", "/reports/loans/999999/schedule.pdf",
                "/reports/members/99999999999/credit-history.pdf"):
        assert client.get(url).status_code == 404, url
    headers = api_token(programme.facilitator)
    response = client.get(f"/api/v1/reports/members/{programme.stranger.id}/credit-history.pdf",
                          headers=headers)
    assert response.status_code == 403 and response.is_json


BAD_INPUT = [
    ("/reports/groups/{group}/register.pdf?from=2024-02-30", 422),
    ("/reports/groups/{group}/passbook.pdf?member=abc", 422),
    ("/reports/groups/{group}/passbook.pdf?member={stranger}", 404),
    ("/reports/loans/{loan}/schedule.pdf?as_of=yesterday", 422),
    ("/reports/members/{member}/credit-history.pdf?as_of=99999-01-01", 422),
    ("/reports/overdue.pdf?bucket=5", 422),
    ("/reports/overdue.pdf?village=x", 422),
]


def test_bad_input_is_a_clear_refusal(client, auth, programme):
    auth.login(programme.admin)
    for url, code in BAD_INPUT:
        response = client.get(url.format(group=programme.group.id, stranger=programme.stranger.id,
                                         loan=programme.loan.id, member=programme.aigul.id))
        assert response.status_code == code, url
        assert "text/html" in response.content_type


def test_api_prints_documents_with_a_token(client, programme, api_token):
    headers = api_token(programme.officer)
    for url in (f"/api/v1/reports/groups/{programme.group.id}/register.pdf",
                f"/api/v1/reports/groups/{programme.group.id}/passbook.pdf",
                f"/api/v1/reports/members/{programme.aigul.id}/credit-history.pdf",
                f"/api/v1/reports/loans/{programme.loan.id}/schedule.pdf",
                "/api/v1/reports/overdue.pdf"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and response.mimetype == "application/pdf", url
        assert "Айгуль Токтогулова" in "\n".join(pdf_text(response)), url
    assert client.get("/api/v1/reports/overdue.pdf").status_code == 401
    bad = client.get(f"/api/v1/reports/loans/{programme.loan.id}/schedule.pdf?as_of=x",
                     headers=headers)
    assert bad.status_code == 422 and "as_of" in bad.get_json()["errors"]["json"]


# ---------------------------------------------------------------- the buttons on the pages


def test_pages_have_print_and_export_buttons_carrying_their_filters(client, auth, programme):
    auth.login(programme.admin)
    group = client.get(f"/groups/{programme.group.id}").get_data(as_text=True)
    assert f"/reports/groups/{programme.group.id}/register.pdf" in group
    assert f"/reports/groups/{programme.group.id}/passbook.pdf" in group
    member = client.get(f"/members/{programme.aigul.id}").get_data(as_text=True)
    assert f"/reports/members/{programme.aigul.id}/credit-history.pdf" in member
    assert f"/reports/groups/{programme.group.id}/passbook.pdf?member={programme.aigul.id}" \
        in member
    loan = client.get(f"/loans/{programme.loan.id}").get_data(as_text=True)
    assert f"/reports/loans/{programme.loan.id}/schedule.pdf" in loan
    credit_page = client.get(f"/members/{programme.aigul.id}/credit").get_data(as_text=True)
    assert f"/reports/members/{programme.aigul.id}/credit-history.pdf" in credit_page
    groups = client.get("/groups?status=active&page=1").get_data(as_text=True)
    assert "/reports/export/groups.csv?status=active" in groups
    assert "/reports/export/groups.xlsx?status=active" in groups
    for url, kind in (("/members", "members"), ("/meetings", "attendance"),
                      ("/loans", "repayments"), ("/seeds", "deliveries"),
                      ("/harvests", "harvests")):
        assert f"/reports/export/{kind}.csv" in client.get(url).get_data(as_text=True), url
