"""Money is exact on SQLite and PostgreSQL alike (STACK.md: SQLite stores Numeric as REAL)."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from shg.extensions import db
from shg.money import ExactDecimal, parse_decimal, round_money
from shg.registry.models import Attendance, Meeting


def test_savings_of_ten_tiyin_a_million_times_sum_to_exactly_100000(app, create_member):
    member = create_member()
    group_id = member.current_membership.group_id
    db.session.commit()
    meetings = [{"id": i, "group_id": group_id, "held_on": date.fromordinal(730000 + i)}
                for i in range(1, 1001)]
    db.session.execute(insert(Meeting), meetings)
    rows = ({"meeting_id": m, "member_id": member.id, "status": "present",
             "savings": Decimal("0.10")} for m in range(1, 1001))
    db.session.execute(insert(Attendance), list(rows))
    db.session.commit()
    total = db.session.scalar(select(func.sum(Attendance.savings)))
    assert total == Decimal("100.00")
    # Each of the 1,000 rows joined to the group's 1,000 meetings: a million additions of 0.10.
    cross = db.session.scalar(
        select(func.sum(Attendance.savings)).select_from(Attendance).join(
            Meeting, Meeting.group_id == group_id))
    assert cross == Decimal("100000.00")
    assert isinstance(cross, Decimal)


def test_large_amount_survives_the_round_trip_to_the_cent(app, create_member):
    member = create_member()
    meeting = Meeting(group_id=member.current_membership.group_id, held_on=date(2024, 1, 1))
    db.session.add(meeting)
    db.session.flush()
    amount = Decimal("12345678901234.78")
    db.session.add(Attendance(meeting=meeting, member=member, status="present", savings=amount))
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(Attendance.savings)) == amount


def test_amount_with_more_decimals_than_the_column_is_refused_not_rounded():
    column = ExactDecimal(2)
    with pytest.raises(ValueError):
        column.process_bind_param(Decimal("1.005"), None)
    assert column.process_bind_param(Decimal("1.50"), None) == 150
    assert column.process_result_value(150, None) == Decimal("1.50")


@pytest.mark.parametrize("typed, value", [
    ("10,5", Decimal("10.5")), ("1 250,50", Decimal("1250.50")), ("1\u00a0250,50", Decimal("1250.50")),
    ("1250.50", Decimal("1250.50")), ("0", Decimal("0")),
])
def test_amount_typed_with_decimal_comma_is_read(typed, value):
    assert parse_decimal(typed) == value


@pytest.mark.parametrize("typed", ["abc", "1,2,3", "NaN", "Infinity", ""])
def test_text_that_is_not_an_amount_is_refused(typed):
    with pytest.raises(ValueError):
        parse_decimal(typed)


def test_float_is_never_taken_for_money():
    with pytest.raises(TypeError):
        parse_decimal(0.1)


def test_money_rounds_half_up():
    assert round_money(Decimal("2.345")) == Decimal("2.35")
    assert round_money(Decimal("-2.345")) == Decimal("-2.35")
