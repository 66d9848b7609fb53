"""Portfolio figures: PAR30 and its buckets, rates, disbursements by gender, per currency."""
from datetime import date
from decimal import Decimal

import pytest

from loans import portfolio, services
from shg.extensions import db
from shg.pagination import paginate

D = Decimal


@pytest.fixture
def officer(create_user):
    return create_user("admin")


@pytest.fixture
def four_loans(create_group, create_member, create_loan, officer):
    """In one group: a loan on time, one 20 days late, one 45 days late, one repaid; as of
    1 May 2024 (monthly installments of 412 due on the 10th from February)."""
    group = create_group()
    women = [create_member(group, full_name=n) for n in ("Айгуль", "Бурул", "Чолпон")]
    man = create_member(group, full_name="Азамат", gender="male")
    loans = [create_loan(member=m, principal=D("1200.00"), installments=3, rate=D("12"))
             for m in women + [man]]
    on_time, late20, late45, repaid = loans
    services.post_repayment(on_time, D("824.00"), date(2024, 3, 10), by=officer)
    services.post_repayment(late20, D("412.00"), date(2024, 2, 10), by=officer)
    services.post_repayment(late20, D("412.00"), date(2024, 3, 10), by=officer)   # April unpaid
    services.post_repayment(late45, D("412.00"), date(2024, 2, 10), by=officer)   # March unpaid
    services.post_repayment(repaid, D("1236.00"), date(2024, 2, 1), by=officer)
    db.session.commit()
    return group, loans


def test_par30_is_the_outstanding_of_loans_over_30_days_late_over_the_gross(four_loans):
    group, (on_time, late20, late45, repaid) = four_loans
    figures = portfolio.portfolio(date(2024, 5, 1), group_id=group.id)["KGS"]
    # outstanding: 400 (on time: April's 400 due 10 April... paid through March), 400, 800, 0
    assert services.position(on_time, date(2024, 5, 1)).days_past_due == 21
    assert figures.gross_outstanding == D("400.00") + D("400.00") + D("800.00")
    assert figures.at_risk_30 == D("800.00")
    assert figures.par30 == D("800.00") / D("1600.00")
    assert figures.buckets["1-30"] == [2, D("800.00")]
    assert figures.buckets["31-60"] == [1, D("800.00")]
    assert figures.active_loans == 3


def test_disbursements_are_split_by_gender(four_loans):
    group, _loans = four_loans
    figures = portfolio.portfolio(date(2024, 5, 1), group_id=group.id)["KGS"]
    assert figures.disbursed_count == 4 and figures.disbursed_amount == D("4800.00")
    assert figures.disbursed_by_gender["female"] == [3, D("3600.00")]
    assert figures.disbursed_by_gender["male"] == [1, D("1200.00")]


def test_on_time_and_collection_rates(four_loans):
    group, _loans = four_loans
    figures = portfolio.portfolio(date(2024, 5, 1), group_id=group.id)["KGS"]
    # fallen due before 1 May: 3 installments x 412 x 4 loans
    assert figures.fallen_due == D("4944.00")
    # by their due dates: on_time 412 (Feb, paid 10 Mar) no -> 0 + 412 (Mar); late20 824;
    # late45 412; repaid 1236
    assert figures.paid_on_time == D("412.00") + D("824.00") + D("412.00") + D("1236.00")
    assert figures.paid == D("824.00") + D("824.00") + D("412.00") + D("1236.00")
    assert figures.on_time_rate == figures.paid_on_time / figures.fallen_due
    assert figures.collection_rate == figures.paid / figures.fallen_due


def test_restructured_loans_count_as_at_risk_by_the_setting(four_loans, officer):
    group, (on_time, *_rest) = four_loans
    services.reschedule(on_time, date(2024, 4, 20), {"installments": 2}, by=officer)
    db.session.commit()
    counted = portfolio.portfolio(date(2024, 5, 1), group_id=group.id)["KGS"]
    not_counted = portfolio.portfolio(date(2024, 5, 1), group_id=group.id,
                                      restructured_at_risk=False)["KGS"]
    assert counted.at_risk_30 - not_counted.at_risk_30 == \
        services.position(on_time, date(2024, 5, 1)).outstanding_principal


def test_currencies_are_never_added_together(four_loans, create_village, create_group,
                                             create_member, create_loan):
    tj = create_group(create_village(country_code="TJ"))
    loan = create_loan(member=create_member(tj), principal=D("500.00"))
    assert loan.currency == "TJS"
    figures = portfolio.portfolio(date(2024, 5, 1))
    assert set(figures) == {"KGS", "TJS"}
    assert figures["TJS"].gross_outstanding == D("500.00")


def test_overdue_list_shows_the_longest_late_first(four_loans, create_user):
    group, (on_time, late20, late45, repaid) = four_loans
    officer = create_user("loan_officer", districts=[group.village.district])
    db.session.commit()
    today = date.today()
    page = paginate(portfolio.overdue_query(officer), 1)
    rows = portfolio.overdue_rows(page.items)
    assert [r.loan.id for r in rows] == [late45.id, on_time.id, late20.id]
    assert [r.position.days_past_due for r in rows] == [
        (today - date(2024, 3, 10)).days, (today - date(2024, 4, 10)).days,
        (today - date(2024, 4, 10)).days]
    assert rows[0].member.full_name == "Чолпон"
    only_90_plus = paginate(portfolio.overdue_query(officer, bucket="90+"), 1)
    assert len(only_90_plus.items) == 3
    only_31_60 = paginate(portfolio.overdue_query(officer, bucket="31-60"), 1)
    assert only_31_60.items == []


def test_overdue_list_of_another_district_is_empty(four_loans, create_user, create_village):
    other = create_user("loan_officer", districts=[create_village().district])
    db.session.commit()
    assert paginate(portfolio.overdue_query(other), 1).items == []


def test_overdue_list_is_not_offered_for_an_earlier_day(four_loans, create_user):
    """The stored dates count every payment so far: a past day is read loan by loan."""
    officer = create_user("admin")
    with pytest.raises(ValueError):
        portfolio.overdue_query(officer, as_of=date(2024, 5, 1))
