"""The loan pages, as a loan officer, a facilitator, a viewer and the project office use them."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from loans import services
from loans.credit import GRADE_RULES
from loans.models import Lender, Loan, LoanProduct, Repayment
from shg.extensions import db
from shg.timeutil import today

D = Decimal


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, field_id: str) -> str:
    """The message shown beside a field (Bootstrap's invalid-feedback after the input)."""
    match = re.search(rf'id="{re.escape(field_id)}"[^>]*>.*?'
                      r'<div class="invalid-feedback[^"]*"[^>]*>\s*(.*?)\s*</div>', page, re.S)
    assert match, f"no message beside {field_id}"
    return match.group(1)


def assert_page(response, url, text):
    assert response.status_code == 200, (url, response.status_code)
    page = html(response)
    assert text in page, (url, text)
    # the Content-Security-Policy allows no inline styles or scripts
    assert 'style="' not in page, url
    assert "<script>" not in page and "onclick=" not in page, url
    assert 'name="viewport"' in page, url
    return page


@pytest.fixture
def world(create_village, create_group, create_member, create_user, create_loan, create_product):
    """A Kyrgyz village with a group, a member with a phone and a loan paid out in January
    2024 (12,000 KGS, 12 months, flat 24 % a year: 1,240 a month), and the people who use
    the pages: the district's loan officer and facilitator, another district's officer, a
    viewer and the project office."""
    village = create_village(name="Кара-Жыгач")
    group = create_group(village, name="Ынтымак")
    member = create_member(group, full_name="Айгуль Токтогулова", phone="+996555123456")
    loan = create_loan(member=member, principal=D("12000.00"), disbursed_on=date(2024, 1, 10),
                       installments=12, rate=D("24"), name="Теплица-12")
    officer = create_user("loan_officer", districts=[village.district],
                          full_name="Гүлнара Өмүрбекова")
    facilitator = create_user("facilitator", districts=[village.district],
                              full_name="Жаңыл Асанова")
    stranger = create_user("loan_officer", districts=[create_village(name="Сары-Булак").district],
                           full_name="Бакыт Чужой")
    viewer = create_user("viewer", full_name="Донор Читатель")
    admin = create_user("admin", full_name="Бакыт Асанов")
    db.session.commit()
    return SimpleNamespace(village=village, district=village.district, group=group, member=member,
                           loan=loan, product=loan.product, lender=loan.lender, officer=officer,
                           facilitator=facilitator, stranger=stranger, viewer=viewer, admin=admin)


def _url(template, w, **extra):
    return template.format(loan=w.loan.id, member=w.member.id, group=w.group.id,
                           product=w.product.id, lender=w.lender.id, **extra)


# ---------------------------------------------------------------- every page renders

OFFICER_PAGES = [
    ("/loans", "Айгуль Токтогулова"),
    ("/loans?q=айгуль&status=disbursed", "Айгуль Токтогулова"),
    ("/loans/new", "Айгуль Токтогулова"),
    ("/loans/new?member={member}", "Айгуль Токтогулова"),
    ("/loans/{loan}", "Кара-Жыгач"),
    ("/loans/{loan}?as_of=2024-03-15", "Айгуль Токтогулова"),
    ("/loans/overdue", "Айгуль Токтогулова"),
    ("/loans/overdue?bucket=90%2B", "Айгуль Токтогулова"),
    ("/loans/portfolio", "KGS"),
    ("/loans/portfolio?as_of=2024-06-30&from=2024-01-01&district={district}", "KGS"),
    ("/members/{member}/credit", "Айгуль Токтогулова"),
    ("/members/{member}", "Теплица"),
    ("/groups/{group}/meetings/new", "Айгуль Токтогулова"),
]

ADMIN_PAGES = [
    ("/loans/products", "Теплица-12"),
    ("/loans/products/new", "Penalty"),
    ("/loans/products/{product}", "Теплица-12"),
    ("/loans/lenders", "МФК"),
    ("/loans/lenders/new", "Kind"),
    ("/loans/lenders/{lender}", "МФК"),
]


def test_every_loan_page_renders_for_the_loan_officer_of_the_district(world, client, auth):
    auth.login(world.officer)
    for url, text in OFFICER_PAGES:
        url = _url(url, world, district=world.district.id)
        assert_page(client.get(url), url, text)


def test_every_admin_loan_page_renders_for_the_project_office(world, client, auth):
    auth.login(world.admin)
    for url, text in ADMIN_PAGES + OFFICER_PAGES:
        url = _url(url, world, district=world.district.id)
        assert_page(client.get(url), url, text)


def test_loans_not_yet_paid_out_show_their_schedule_preview(world, client, auth, create_loan):
    applied = create_loan(member=world.member, status="applied", disbursed_on=date(2024, 5, 2),
                          installments=6, rate=D("24"))
    approved = create_loan(member=world.member, status="approved", disbursed_on=date(2024, 5, 2),
                           installments=6, rate=D("24"))
    db.session.commit()
    auth.login(world.officer)
    for loan, button in ((applied, "Approve"), (approved, "Disburse")):
        page = assert_page(client.get(f"/loans/{loan.id}"), loan.id, "Schedule if paid out today")
        assert 'id="schedule-preview"' in page and button in page
        assert page.count("<tr>") >= 7  # a header and six installments


def test_officer_of_another_district_gets_403_and_sees_nothing(world, client, auth):
    auth.login(world.stranger)
    for url in ("/loans/{loan}", "/members/{member}/credit", "/loans/new?member={member}"):
        assert client.get(_url(url, world)).status_code == 403, url
    for url in ("/loans", "/loans/overdue"):
        assert "Айгуль Токтогулова" not in html(client.get(url)), url
    assert "KGS" not in html(client.get("/loans/portfolio"))
    repayments = count(Repayment)
    assert client.post(f"/loans/{world.loan.id}/repayments", data={
        "repay-paid_on": "2024-02-10", "repay-amount": "1240"}).status_code == 403
    assert count(Repayment) == repayments


CHANGES = [
    ("/loans/{loan}/approve", {"approve-approved_on": "2024-01-10"}),
    ("/loans/{loan}/disburse", {"disburse-disbursed_on": "2024-01-10"}),
    ("/loans/{loan}/repayments", {"repay-paid_on": "2024-02-10", "repay-amount": "1240"}),
    ("/loans/{loan}/repayments/1/reverse", {"reverse-reason": "ошибка"}),
    ("/loans/{loan}/write-off", {"write_off-written_off_on": "2024-05-01",
                                 "write_off-reason": "уехала"}),
    ("/loans/{loan}/reschedule", {"reschedule-rescheduled_on": "2024-05-01",
                                  "reschedule-installments": "6"}),
]


def test_viewer_reads_a_loan_but_gets_403_on_every_change(world, client, auth):
    auth.login(world.viewer)
    page = assert_page(client.get(f"/loans/{world.loan.id}"), "loan", "Айгуль Токтогулова")
    assert 'id="repay-form"' not in page and 'id="write-off-form"' not in page
    assert client.get(f"/loans/new?member={world.member.id}").status_code == 403
    assert client.post("/loans/new", data={"member_id": world.member.id}).status_code == 403
    for url, data in CHANGES:
        assert client.post(_url(url, world), data=data).status_code == 403, url
    assert count(Repayment) == 0 and db.session.get(Loan, world.loan.id).status == "disbursed"


def test_facilitator_posts_repayments_but_not_the_officers_actions(world, client, auth):
    auth.login(world.facilitator)
    page = html(client.get(f"/loans/{world.loan.id}"))
    assert 'id="repay-form"' in page and 'id="write-off-form"' not in page
    for url, data in CHANGES:
        if "/repayments" in url and "reverse" not in url:
            continue
        assert client.post(_url(url, world), data=data).status_code == 403, url
    response = client.post(f"/loans/{world.loan.id}/repayments", data={
        "repay-paid_on": "2024-02-10", "repay-amount": "1 240,00"})
    assert response.status_code == 302
    assert count(Repayment) == 1


def test_products_and_lenders_are_for_the_project_office_only(world, client, auth):
    auth.login(world.officer)
    for url in ("/loans/products", "/loans/products/new", "/loans/lenders", "/loans/lenders/new"):
        assert client.get(url).status_code == 403, url
    response = client.post("/loans/lenders/new", data={"name": "Банк", "kind": "bank"})
    assert response.status_code == 403
    assert count(Lender) == 1


# ---------------------------------------------------------------- products and lenders


def _product_form(**changes):
    data = {"name": "Урожай-2025", "method": "flat", "rate": "24", "rate_period": "year",
            "frequency": "month", "installments": "12", "grace_on_principal": "0",
            "grace_on_interest": "0", "balloon_month": "None", "balloon_interest": "interest_only",
            "day_count": "per_period", "in_multiples_of": "", "penalty_method": "none",
            "penalty_rate": "0", "penalty_amount": "0", "penalty_grace_days": "0",
            "allocation_order": "penalty,fee,interest,principal", "reminder_days_before": "3",
            "is_active": "y"}
    data.update(changes)
    return data


def test_admin_creates_a_harvest_product_with_decimal_comma_terms(world, client, auth):
    auth.login(world.admin)
    response = client.post("/loans/products/new", data=_product_form(
        rate="1,5", rate_period="month", balloon_month="9", penalty_method="percent",
        penalty_rate="0,5", penalty_grace_days="5", in_multiples_of="1"))
    assert response.status_code == 302, html(response)
    product = db.session.scalar(select(LoanProduct).where(LoanProduct.name == "Урожай-2025"))
    assert (product.rate, product.rate_period, product.balloon_month) == (D("1.5"), "month", 9)
    assert (product.penalty_method, product.penalty_rate, product.in_multiples_of) == (
        "percent", D("0.5"), D("1"))
    assert "Урожай-2025" in html(client.get("/loans/products"))


BAD_TERMS = [
    ({"installments": "0"}, "installments", "A loan needs at least one installment."),
    ({"rate": "101", "rate_period": "month"}, "rate", "more than 100% a month"),
    ({"rate": "1300", "rate_period": "year"}, "rate", "more than 100% a month"),
    ({"installments": "6", "grace_on_principal": "6"}, "grace_on_principal",
     "The grace period must be shorter than the loan."),
    ({"penalty_method": "percent", "penalty_rate": "0"}, "penalty_rate", "Enter the penalty rate."),
    ({"rate": "двадцать"}, "rate", "Not a valid number."),
]


def test_product_form_refuses_bad_terms_beside_the_field_and_saves_nothing(world, client, auth):
    """One setup for every case: each refusal is read beside its own field."""
    auth.login(world.admin)
    products = count(LoanProduct)
    for changes, field, message in BAD_TERMS:
        response = client.post("/loans/products/new", data=_product_form(**changes))
        assert response.status_code == 200, changes
        assert message in field_error(html(response), field), changes
        assert count(LoanProduct) == products, changes
    # an existing product refused the same way keeps its terms
    response = client.post(f"/loans/products/{world.product.id}",
                           data=_product_form(name="Теплица-12", installments="0"))
    assert "at least one installment" in field_error(html(response), "installments")
    db.session.expire_all()
    assert db.session.get(LoanProduct, world.product.id).installments == 12


def test_product_form_puts_a_bad_installment_multiple_beside_the_multiple(world, client, auth):
    auth.login(world.admin)
    response = client.post("/loans/products/new", data=_product_form(in_multiples_of="0"))
    assert "greater than zero" in field_error(html(response), "in_multiples_of")


def test_admin_records_a_lender_and_a_second_with_the_same_name_is_refused(world, client, auth):
    auth.login(world.admin)
    assert client.post("/loans/lenders/new", data={"name": "Фонд группы «Ынтымак»",
                                                   "kind": "group_fund"}).status_code == 302
    response = client.post("/loans/lenders/new", data={"name": "Фонд группы «Ынтымак»",
                                                       "kind": "bank"})
    assert "already recorded" in field_error(html(response), "name")
    assert count(Lender) == 2


# ---------------------------------------------------------------- applying


def _apply_form(w, **changes):
    data = {"member_id": str(w.member.id), "product_id": str(w.product.id),
            "lender_id": str(w.lender.id), "principal": "12 000,00",
            "purpose": "Теплица для томатов",
            "applied_on": (today() - timedelta(days=100)).isoformat(),
            "first_due_on": "", "installments": "", "action": "apply"}
    data.update(changes)
    return data


def test_preview_shows_the_schedule_and_saves_nothing(world, client, auth):
    auth.login(world.officer)
    loans = count(Loan)
    response = client.post("/loans/new", data=_apply_form(world, action="preview",
                                                          installments="6"))
    page = assert_page(response, "preview", 'id="schedule-preview"')
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>", page.split('id="schedule-preview"')[1])
    assert rows == ["1", "2", "3", "4", "5", "6"]
    assert "2,000.00" in page and "240.00" in page  # 12,000 over 6; 2 % a month on 12,000
    assert count(Loan) == loans


def test_preview_with_terms_no_schedule_can_honour_says_why(world, client, auth):
    auth.login(world.officer)
    response = client.post("/loans/new", data=_apply_form(world, action="preview",
                                                          installments="0"))
    assert "at least one installment" in field_error(html(response), "installments")


def test_application_for_a_member_who_has_left_is_refused(world, client, auth):
    world.member.memberships[0].left_on = date(2024, 6, 1)
    db.session.commit()
    auth.login(world.officer)
    loans = count(Loan)
    page = assert_page(client.get(f"/loans/new?member={world.member.id}"), "apply",
                       "Айгуль Токтогулова")
    assert 'id="borrower"' in page
    response = client.post(f"/loans/new?member={world.member.id}", data=_apply_form(world))
    assert response.status_code == 200
    assert "She has left her group" in html(response)
    assert count(Loan) == loans


# ---------------------------------------------------------------- the loan's life


def _allocations(page: str, repayment_id: int) -> list[tuple[str, str, str]]:
    block = page.split(f'id="repayment-{repayment_id}"')[1].split("</table>")[0]
    return [(n, c, a) for n, c, a in re.findall(
        r"<td>No\. (\d+)[^<]*</td>\s*<td>(\w+)</td>\s*<td class=\"shg-money\">([\d,.]+)</td>",
        block)]


def test_a_loan_goes_through_its_whole_life_on_the_pages(world, client, auth):
    auth.login(world.officer)
    applied_on = today() - timedelta(days=100)
    disbursed_on = applied_on + timedelta(days=10)
    first_due = disbursed_on + timedelta(days=30)

    # apply
    response = client.post("/loans/new", data=_apply_form(world, applied_on=applied_on.isoformat()))
    assert response.status_code == 302, html(response)
    loan = db.session.scalar(select(Loan).where(Loan.purpose == "Теплица для томатов"))
    assert response.headers["Location"].endswith(f"/loans/{loan.id}")
    assert (loan.status, loan.principal, loan.currency) == ("applied", D("12000.00"), "KGS")

    # approve, then pay out with a chosen first repayment date
    assert client.post(f"/loans/{loan.id}/approve", data={
        "approve-approved_on": (applied_on + timedelta(days=5)).isoformat()}).status_code == 302
    assert client.post(f"/loans/{loan.id}/disburse", data={
        "disburse-disbursed_on": disbursed_on.isoformat(),
        "disburse-first_due_on": first_due.isoformat()}).status_code == 302
    db.session.refresh(loan)
    assert loan.status == "disbursed" and loan.schedule[0].due_on == first_due
    assert len(loan.schedule) == 12

    # a repayment typed with the decimal comma and a space, and how it was allocated
    response = client.post(f"/loans/{loan.id}/repayments", data={
        "repay-paid_on": first_due.isoformat(), "repay-amount": "1 240,00",
        "repay-receipt_no": "№ 17"})
    assert response.status_code == 302, html(response)
    repayment = db.session.scalar(select(Repayment).where(Repayment.loan_id == loan.id))
    assert (repayment.amount, repayment.paid_on, repayment.receipt_no) == (
        D("1240.00"), first_due, "№ 17")
    page = html(client.get(f"/loans/{loan.id}"))
    assert _allocations(page, repayment.id) == [("1", "Interest", "240.00"),
                                                ("1", "Principal", "1,000.00")]
    assert 'data-number="1"' in page and "shg-installment-paid" in page

    # reversed, with its reason: struck through, the installment unpaid again
    response = client.post(f"/loans/{loan.id}/repayments/{repayment.id}/reverse",
                           data={"reverse-reason": "Ошибка кассира"})
    assert response.status_code == 302, html(response)
    page = html(client.get(f"/loans/{loan.id}"))
    block = page.split(f'id="repayment-{repayment.id}"')[1].split("</li>")[0]
    assert "<del>" in block and "Reversed: Ошибка кассира" in block
    db.session.expire_all()
    assert db.session.get(Repayment, repayment.id).is_reversed
    assert db.session.get(Loan, loan.id).schedule[0].paid_on is None

    # the morning worklist: the loan, her phone to call, its days late
    days_late = (today() - first_due).days
    assert days_late == services.position(db.session.get(Loan, loan.id)).days_past_due
    page = html(client.get("/loans/overdue"))
    row = page.split(f'data-loan="{loan.id}"')[1].split("</tr>")[0]
    assert "Айгуль Токтогулова" in row and 'href="tel:+996555123456"' in row
    assert f'shg-dpd">{days_late}</td>' in row
    assert f'data-loan="{loan.id}"' in html(client.get("/loans/overdue?bucket=31-60"))
    assert f'data-loan="{loan.id}"' not in html(client.get("/loans/overdue?bucket=1-30"))

    # her credit history: late more than 30 days now, so D, with the rule written out
    page = html(client.get(f"/members/{world.member.id}/credit"))
    assert 'id="grade-letter">D<' in page
    for letter, rule in GRADE_RULES:
        assert str(rule) in page, letter
    assert f"credit-loan-{loan.id}" in page

    # written off, with its reason
    response = client.post(f"/loans/{loan.id}/write-off", data={
        "write_off-written_off_on": today().isoformat(), "write_off-reason": "Уехала в Россию"})
    assert response.status_code == 302, html(response)
    page = html(client.get(f"/loans/{loan.id}"))
    assert "Written off" in page and "Уехала в Россию" in page
    assert f'data-loan="{loan.id}"' not in html(client.get("/loans/overdue"))


def test_overpayment_through_the_page_is_refused_and_nothing_is_written(world, client, auth):
    auth.login(world.officer)
    response = client.post(f"/loans/{world.loan.id}/repayments", data={
        "repay-paid_on": "2024-02-10", "repay-amount": "99 999,00"})
    assert response.status_code == 200
    assert "more than she owes" in field_error(html(response), "repay-amount")
    assert count(Repayment) == 0
    assert db.session.get(Loan, world.loan.id).outstanding_principal == D("12000.00")


def test_payment_dated_in_the_future_is_refused(world, client, auth):
    auth.login(world.officer)
    response = client.post(f"/loans/{world.loan.id}/repayments", data={
        "repay-paid_on": (today() + timedelta(days=2)).isoformat(), "repay-amount": "1240"})
    assert response.status_code == 200
    assert "This date is in the future." in field_error(html(response), "repay-paid_on")
    assert count(Repayment) == 0


def test_amount_that_is_not_a_number_is_refused_beside_the_box(world, client, auth):
    auth.login(world.officer)
    response = client.post(f"/loans/{world.loan.id}/repayments", data={
        "repay-paid_on": "2024-02-10", "repay-amount": "тысяча"})
    assert "Not a valid number." in field_error(html(response), "repay-amount")
    assert count(Repayment) == 0


def test_reversal_without_a_reason_is_refused(world, client, auth, create_user):
    repayment = services.post_repayment(world.loan, D("1240.00"), date(2024, 2, 10),
                                        by=world.admin)
    db.session.commit()
    auth.login(world.officer)
    response = client.post(f"/loans/{world.loan.id}/repayments/{repayment.id}/reverse",
                           data={"reverse-reason": "  "})
    assert response.status_code == 200
    assert "Give the reason for the reversal." in field_error(html(response),
                                                              f"reverse-reason-{repayment.id}")
    db.session.expire_all()
    assert not db.session.get(Repayment, repayment.id).is_reversed


def test_position_box_reads_the_loan_as_of_the_chosen_day(world, client, auth):
    services.post_repayment(world.loan, D("1000.00"), date(2024, 2, 10), by=world.admin)
    db.session.commit()
    auth.login(world.officer)
    page = html(client.get(f"/loans/{world.loan.id}?as_of=2024-03-01"))
    assert 'id="days-past-due">20<' in page  # 1 March - 10 February
    assert 'id="arrears">240.00<' in page
    assert 'id="par-bucket">1-30 days<' in page


def test_reschedule_keeps_the_old_schedule_on_the_page(world, client, auth):
    services.post_repayment(world.loan, D("1240.00"), date(2024, 2, 10), by=world.admin)
    db.session.commit()
    auth.login(world.officer)
    response = client.post(f"/loans/{world.loan.id}/reschedule", data={
        "reschedule-rescheduled_on": "2024-04-01", "reschedule-installments": "6"})
    assert response.status_code == 302, html(response)
    page = html(client.get(f"/loans/{world.loan.id}"))
    assert "Rescheduled" in page and "Schedule version 1, in force" in page
    assert 'id="schedule-v1"' in page
    assert page.split('id="schedule"')[1].split("</table>")[0].count("data-number=") == 6


def test_loan_list_filters_by_status_and_shows_days_late(world, client, auth, create_loan):
    create_loan(member=world.member, status="applied", disbursed_on=date(2024, 5, 2),
                principal=D("5000.00"))
    db.session.commit()
    auth.login(world.officer)
    applied = html(client.get("/loans?status=applied"))
    assert "5,000.00 KGS" in applied and "12,000.00 KGS" not in applied
    listed = html(client.get("/loans?status=disbursed"))
    row = listed.split("12,000.00 KGS")[1].split("</tr>")[0]
    days_late = services.position(world.loan).days_past_due
    assert f">{days_late}<" in row


def test_an_action_the_status_does_not_allow_is_refused_with_a_message(world, client, auth):
    auth.login(world.officer)
    response = client.post(f"/loans/{world.loan.id}/approve",
                           data={"approve-approved_on": "2024-01-10"})
    assert response.status_code == 200
    assert "Not possible for a loan that is" in html(response)
    assert db.session.get(Loan, world.loan.id).status == "disbursed"


def test_refusal_names_the_loan_status_in_words(world, client, auth):
    services.write_off(world.loan, date(2024, 6, 1), "уехала", by=world.admin)
    db.session.commit()
    auth.login(world.officer)
    page = html(client.post(f"/loans/{world.loan.id}/approve",
                            data={"approve-approved_on": "2024-06-02"}))
    assert "Not possible for a loan that is Written off." in page
