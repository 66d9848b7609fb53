"""The portfolio summed from stored columns (today's figures for big reports) is the replay's,
figure for figure, on a portfolio with every kind of loan."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from loans import portfolio, services
from shg.extensions import db
from shg.timeutil import today

D = Decimal


@pytest.fixture
def mixed_portfolio(create_group, create_member, create_loan, create_user, create_village):
    """Loans late, early, partly paid, reversed, restructured, written off (also backdated
    before a payment), repaid, with a penalty, in two currencies, and one not paid out."""
    officer = create_user("admin")
    now = today()
    group = create_group()
    members = [create_member(group, full_name=f"Айгуль {i}", gender="female" if i % 3 else "male")
               for i in range(12)]
    old, recent = date(2024, 1, 10), now - timedelta(days=75)
    loans = {}

    def loan(key, member, on=old, **terms):
        terms.setdefault("installments", 6)
        loans[key] = create_loan(member=member, principal=D("1200.00"), disbursed_on=on, **terms)
        return loans[key]

    def pay(key, amount, on):
        return services.post_repayment(loans[key], D(amount), on, by=officer)

    loan("on_time", members[0], on=recent, installments=3)
    first = loans["on_time"].schedule[0]
    pay("on_time", first.total, first.due_on)
    loan("late", members[1])
    pay("late", "206.00", date(2024, 2, 10))
    pay("late", "100.00", date(2024, 5, 1))           # partial, months late
    loan("early", members[2], on=recent, installments=4)
    pay("early", "700.00", recent + timedelta(days=5))  # pays ahead
    loan("reversed", members[3])
    wrong = pay("reversed", "600.00", date(2024, 2, 1))
    pay("reversed", "206.00", date(2024, 3, 1))
    services.reverse_repayment(wrong, "не та сумма", by=officer)
    loan("restructured", members[4])
    pay("restructured", "206.00", date(2024, 2, 10))
    services.reschedule(loans["restructured"], date(2024, 4, 20), {"installments": 8}, by=officer)
    pay("restructured", "150.00", date(2024, 6, 1))
    loan("written_off", members[5])
    pay("written_off", "206.00", date(2024, 2, 10))
    services.write_off(loans["written_off"], date(2024, 9, 1), "уехала", by=officer)
    loan("written_off_backdated", members[6])
    pay("written_off_backdated", "206.00", date(2024, 2, 10))
    pay("written_off_backdated", "206.00", date(2024, 5, 10))
    services.write_off(loans["written_off_backdated"], date(2024, 4, 1), "долг", by=officer)
    loan("repaid", members[7], installments=3)
    pay("repaid", services.ledger(loans["repaid"]).owed(date(2024, 2, 1)), date(2024, 2, 1))
    loan("penalty", members[8], penalty_method="percent", penalty_rate=D("2"))
    pay("penalty", "250.00", date(2024, 3, 20))
    loan("recent_late", members[9], on=now - timedelta(days=50), installments=2)
    tj_village = create_village(country_code="TJ")
    tj_member = create_member(create_group(village=tj_village), full_name="Ҷӯраев Ғафур",
                              gender="male")
    loans["somoni"] = create_loan(member=tj_member, principal=D("5000.00"), disbursed_on=old,
                                  installments=5)
    services.post_repayment(loans["somoni"], D("1100.00"), date(2024, 3, 1), by=officer)
    loans["applied"] = create_loan(member=members[10], status="applied")
    db.session.commit()
    return group, tj_village, loans


def _both(**kwargs):
    return (portfolio.portfolio(method="sql", **kwargs),
            portfolio.portfolio(method="replay", **kwargs))


def test_summed_portfolio_equals_replayed_portfolio(mixed_portfolio):
    for period_start in (None, date(2024, 3, 1), today() - timedelta(days=60)):
        for restructured_at_risk in (True, False):
            summed, replayed = _both(period_start=period_start,
                                     restructured_at_risk=restructured_at_risk)
            assert set(summed) == {"KGS", "TJS"}
            assert summed == replayed, (period_start, restructured_at_risk)
    kgs = portfolio.portfolio(method="sql")["KGS"]
    assert kgs.written_off_count == 2 and kgs.at_risk_30 > 0
    assert all(kgs.buckets[b][0] for b in ("current", "1-30", "90+"))
    assert kgs.paid_on_time < kgs.paid < kgs.fallen_due


def test_summed_portfolio_equals_replayed_in_each_scope_and_later_day(mixed_portfolio, create_user):
    group, tj_village, loans = mixed_portfolio
    district = tj_village.district
    officer = create_user("loan_officer", districts=[district])
    for scope in ({"group_id": group.id}, {"village_id": tj_village.id},
                  {"district_id": district.id}, {"country_id": district.region.country_id},
                  {"user": officer}, {"group_id": 10 ** 6}):
        summed, replayed = _both(**scope)
        assert summed == replayed, scope

    later = today() + timedelta(days=40)
    summed, replayed = _both(as_of=later)
    assert summed == replayed
    with pytest.raises(ValueError):
        portfolio.portfolio(as_of=today() - timedelta(days=1), method="sql")


def test_default_path_for_today_is_the_sum(mixed_portfolio, monkeypatch):
    monkeypatch.setattr(portfolio, "_replayed_portfolio",
                        lambda *a, **k: pytest.fail("replayed a whole portfolio for today"))
    assert portfolio.portfolio()["KGS"].disbursed_count == 10


def test_portfolio_by_place_gives_each_places_portfolio_and_adds_up(mixed_portfolio):
    group, tj_village, loans = mixed_portfolio
    for as_of in (None, date(2024, 6, 1)):  # summed today, replayed on an earlier day
        by_village = portfolio.portfolio_by("village", as_of)
        assert set(by_village) == {group.village_id, tj_village.id}
        for village_id, figures in by_village.items():
            assert figures == portfolio.portfolio(as_of, village_id=village_id)
        assert portfolio.combine(by_village.values()) == portfolio.portfolio(as_of)
    by_group = portfolio.portfolio_by("group", district_id=group.village.district_id)
    assert list(by_group) == [group.id]
