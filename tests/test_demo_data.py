"""The demo programme: shaped like the published one, valid by the ledger's own rules, and
the same rows every time for the same seed, scale and reference day. Its loans are what the
loan services would have written, to the cent."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import phonenumbers
import pytest
from sqlalchemy import func, select

from loans import credit, portfolio, services
from loans.models import Allocation, Installment, Lender, Loan, LoanProduct, Repayment
from shg import demo
from shg.accounts.models import User
from shg.extensions import db
from shg.registry.models import (Attendance, Country, Group, Household, Meeting, Member,
                                 Membership, Village)
from tests.conftest import make_app

UNTIL = date(2025, 6, 1)
SEED = 17
SCALE = 0.05
#: enough loans among the sample's 160 members for every status, bucket and grade
LOANS = 300
CYRILLIC_WORD = r"[\u0400-\u04FF]+(?:-[\u0400-\u04FF]+)*"
PERSON = re.compile(rf"^{CYRILLIC_WORD}(?: {CYRILLIC_WORD})+$")
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture
def built(app):
    return demo.build_demo(scale=SCALE, seed=SEED, until=UNTIL)


@pytest.fixture
def lent(app):
    return demo.build_demo(scale=SCALE, seed=SEED, until=UNTIL, loans=LOANS)


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_counts_follow_the_scale(built):
    assert built.counts["shg_group"] == _count(Group) == 14 + 11
    assert built.counts["member"] == _count(Member) == 91 + 69
    assert _count(Country) == 2
    by_country = Counter(
        v.district.region.country.code
        for v in db.session.scalars(select(Village).where(Village.is_pilot)))
    assert by_country == {"KG": 3, "TJ": 1}
    assert db.session.scalar(select(func.count()).select_from(Village)
                             .where(Village.is_pilot.is_(False))) > 0
    # every group meets in a pilot village, with its district's facilitator
    for group in db.session.scalars(select(Group)):
        assert group.village.is_pilot
        assert group.village.district in group.facilitator.districts
    roles = Counter(db.session.scalars(select(User.role)))
    assert roles == {"admin": 1, "facilitator": 34, "loan_officer": 10, "viewer": 1}
    assert built.counts["meeting"] > 300 and built.counts["attendance"] > 2000


def test_demo_members_are_mostly_women(built):
    genders = Counter(db.session.scalars(select(Member.gender)))
    assert genders["female"] / sum(genders.values()) == pytest.approx(0.92, abs=0.05)


def test_demo_phones_are_valid_e164_of_the_members_country(built):
    rows = [(m.phone, m.household.village.district.region.country.code)
            for m in db.session.scalars(select(Member))]
    phones = [(p, c) for p, c in rows if p]
    assert 0.8 < len(phones) / len(rows) < 0.95
    for phone, country in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.region_code_for_number(number) == country
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
    assert len({p for p, _c in phones}) == len(phones)


def test_demo_names_are_cyrillic_with_female_surnames_for_women(built):
    for member in db.session.scalars(select(Member)):
        assert PERSON.match(member.full_name), member.full_name
        if member.gender == "female":
            assert member.full_name.endswith(("а", "я")), member.full_name
    places = [*db.session.scalars(select(Household.name)), *db.session.scalars(select(Group.name)),
              *db.session.scalars(select(Village.name))]
    for name in places:
        assert not LATIN.search(name), name
    assert Counter(db.session.scalars(select(Member.language))).keys() <= {"ky", "tg", "ru", "uz"}


def test_demo_memberships_keep_the_ledgers_rules(built):
    memberships = db.session.scalars(select(Membership)).all()
    active = Counter(m.member_id for m in memberships if m.left_on is None)
    assert max(active.values()) == 1
    # some left a group and joined another one later
    by_member: dict[int, list[Membership]] = {}
    for m in memberships:
        by_member.setdefault(m.member_id, []).append(m)
    moved = [ms for ms in by_member.values() if len(ms) > 1]
    assert moved
    for ms in moved:
        left, joined = sorted(ms, key=lambda m: m.joined_on)
        assert left.left_on is not None and joined.joined_on >= left.left_on
        assert left.group_id != joined.group_id and left.office is None
    assert any(m.left_on and len(by_member[m.member_id]) == 1 for m in memberships)
    # one leader, treasurer and secretary in each group that goes on
    for group in db.session.scalars(select(Group).where(Group.status != "dissolved")):
        offices = sorted(m.office for m in group.memberships if m.left_on is None and m.office)
        assert offices == ["leader", "secretary", "treasurer"], group.name
    statuses = Counter(db.session.scalars(select(Group.status)))
    assert statuses["active"] > statuses["dormant"] + statuses["dissolved"]


def test_demo_meetings_list_every_active_member_once_in_the_year(built):
    first, last = UNTIL - timedelta(days=365), UNTIL - timedelta(days=1)
    days = db.session.execute(select(func.min(Meeting.held_on), func.max(Meeting.held_on))).one()
    assert first <= days[0] and days[1] <= last
    memberships: dict[int, list[Membership]] = {}
    for m in db.session.scalars(select(Membership)):
        memberships.setdefault(m.group_id, []).append(m)
    listed: dict[int, set[int]] = {}
    for meeting_id, member_id in db.session.execute(select(Attendance.meeting_id,
                                                           Attendance.member_id)):
        listed.setdefault(meeting_id, set()).add(member_id)
    for meeting in db.session.scalars(select(Meeting)):
        expected = {m.member_id for m in memberships[meeting.group_id]
                    if m.active_on(meeting.held_on)}
        assert listed.get(meeting.id, set()) == expected
        assert meeting.topics and meeting.facilitator_id is not None
    statuses = Counter(db.session.scalars(select(Attendance.status)))
    came = (statuses["present"] + statuses["late"]) / sum(statuses.values())
    assert set(statuses) == {"present", "late", "absent", "excused"} and 0.75 < came < 0.93
    savings = db.session.scalars(select(Attendance.savings)).all()
    assert all(isinstance(s, Decimal) and s >= 0 and s == s.quantize(Decimal("0.01"))
               for s in savings)
    assert any(s % 1 == Decimal("0.5") for s in savings)
    absent = db.session.scalars(select(Attendance.savings).where(Attendance.status == "absent"))
    assert set(absent) == {Decimal("0")}


# ---------------------------------------------------------------- loans


def _written_by_rewrite(loan) -> tuple:
    """Everything ``services._rewrite`` writes for a loan, comparable (allocation ids apart:
    a rewrite makes new rows)."""
    installments = db.session.execute(
        select(Installment.id, Installment.version, Installment.superseded_on,
               Installment.principal_paid, Installment.interest_paid, Installment.fee_paid,
               Installment.penalty_paid, Installment.paid_on)
        .where(Installment.loan_id == loan.id).order_by(Installment.id)).all()
    allocations = sorted(db.session.execute(
        select(Allocation.repayment_id, Allocation.installment_id, Allocation.component,
               Allocation.amount)
        .join(Repayment, Repayment.id == Allocation.repayment_id)
        .where(Repayment.loan_id == loan.id)).all())
    return (loan.status, loan.closed_on, loan.outstanding_principal, loan.oldest_unpaid_due_on,
            loan.last_paid_on, installments, allocations)


def test_demo_loans_are_what_the_services_write_to_the_cent(lent):
    """The bulk-loaded loans agree with the service path: each sampled loan's schedule is
    build_schedule of its terms, rewriting it as every posting does (services._rewrite)
    changes nothing, and its position on the day agrees with the figures kept for the
    overdue list."""
    from loans import schedules
    loans = db.session.scalars(select(Loan).where(Loan.disbursed_on.is_not(None))
                               .order_by(Loan.id)).all()
    reversed_ = set(db.session.scalars(select(Repayment.loan_id)
                                       .where(Repayment.reversed_at.is_not(None))))
    sample = [loan for n, loan in enumerate(loans)
              if n % 5 == 0 or loan.id in reversed_ or loan.restructured
              or loan.status == "written_off" or (loan.status == "closed" and n % 3 == 0)]
    assert len(sample) > 80
    for loan in sample:
        if not loan.restructured:
            lines = schedules.build_schedule(services.terms_of(loan))
            assert [(i.due_on, i.principal, i.interest, i.fee) for i in loan.schedule] == \
                [(line.due_on, line.principal, line.interest, Decimal("0")) for line in lines]
        position = services.position(loan, UNTIL)
        assert position.outstanding_principal == loan.outstanding_principal, loan.id
        if loan.status == "disbursed" and loan.oldest_unpaid_due_on < UNTIL:
            assert position.days_past_due == (UNTIL - loan.oldest_unpaid_due_on).days
        before = _written_by_rewrite(loan)
        services._rewrite(loan)
        db.session.expire_all()
        assert _written_by_rewrite(loan) == before, f"loan {loan.id}"
    db.session.rollback()


def test_demo_loans_keep_the_ledgers_rules_and_show_every_status_bucket_and_grade(lent):
    statuses = Counter(db.session.scalars(select(Loan.status)))
    assert set(statuses) == {"applied", "approved", "disbursed", "closed", "written_off"}
    assert statuses["disbursed"] > statuses["closed"] > (
        statuses["applied"] + statuses["approved"] + statuses["written_off"])
    kinds = Counter(db.session.scalars(select(Lender.kind)))
    assert kinds == {"mfi": 3, "bank": 1, "group_fund": _count(Group)}
    products = db.session.scalars(select(LoanProduct)).all()
    assert len(products) == 4 and {p.frequency for p in products} == {"month", "2weeks"}
    assert 0 < sum(p.penalty_method != "none" for p in products) < 4
    for loan in db.session.scalars(select(Loan).order_by(Loan.id)):
        # made through a group she belonged to on the day she applied
        assert any(m.group_id == loan.group_id and m.active_on(loan.applied_on)
                   for m in loan.member.memberships), loan.id
        assert loan.applied_on <= (loan.approved_on or loan.applied_on) <= \
            (loan.disbursed_on or loan.approved_on or loan.applied_on) < UNTIL
        if loan.disbursed_on is None:
            assert not loan.installments_all and loan.status in ("applied", "approved")
            continue
        assert loan.lender.kind == "group_fund" or loan.frequency == "month"
        if loan.balloon_on is not None:  # a harvest loan: principal in September and October
            assert [i.due_on.month for i in loan.schedule if i.principal] == [9, 10]
            assert all(i.interest > 0 for i in loan.schedule)
        assert all(loan.disbursed_on <= r.paid_on < UNTIL for r in loan.repayments)
        if loan.status == "closed":
            assert loan.closed_on == loan.last_paid_on and loan.outstanding_principal == 0
        if loan.status == "written_off":
            assert loan.write_off_reason and loan.written_off_on >= (loan.last_paid_on
                                                                     or loan.disbursed_on)
    reversed_ = db.session.scalars(select(Repayment).where(Repayment.reversed_at.is_not(None))
                                   ).all()
    assert reversed_ and all(r.reversal_reason and r.reversed_by_id and r.allocations
                             and r.reversed_at > r.recorded_at for r in reversed_)
    rescheduled = db.session.scalars(select(Loan).where(Loan.restructured)).all()
    assert rescheduled
    for loan in rescheduled:
        old = [i for i in loan.installments_all if i.version == 1]
        assert loan.schedule_version == 2 and old[0].superseded_on == loan.schedule[0].in_force_from
    # the morning worklist (today's: it reads the kept oldest unpaid due date), longest
    # late first, and every PAR bucket on the demo's day
    admin = db.session.scalar(select(User).where(User.role == "admin"))
    page = db.session.scalars(portfolio.overdue_query(admin).limit(25)).all()
    late = [row.position.days_past_due for row in portfolio.overdue_rows(page)]
    assert len(late) == 25 and late == sorted(late, reverse=True) and late[-1] > 0
    buckets = Counter()
    for figures in portfolio.portfolio(as_of=UNTIL).values():
        buckets.update({name: loans for name, (loans, _amount) in figures.buckets.items()})
    assert all(buckets[name] > 0 for name in ("current", "1-30", "31-60", "61-90", "90+"))
    assert buckets["current"] > sum(buckets.values()) / 2
    # and every credit grade among the borrowers
    grades = set()
    for member_id in sorted(set(db.session.scalars(select(Loan.member_id)))):
        grades.add(credit.credit_history(member_id, UNTIL).grade)
        if {"A", "B", "C", "D"} <= grades:
            break
    assert {"A", "B", "C", "D"} <= grades


def test_demo_lends_to_a_fifth_of_the_members_in_the_last_year(built):
    loans_of = Counter(db.session.scalars(select(Loan.member_id)))
    assert len(loans_of) / _count(Member) == pytest.approx(0.2, abs=0.03)
    assert 2 in loans_of.values()
    first = db.session.scalar(select(func.min(Loan.disbursed_on)))
    assert UNTIL - timedelta(days=366) <= first


def _dump() -> dict[str, list[tuple]]:
    """The demo's rows, by table, in id order (password hashes are salted: left out)."""
    tables = {}
    for table in demo._tables():
        columns = [c for c in table.c if c.name != "password_hash"]
        tables[table.name] = [tuple(row) for row in db.session.execute(
            select(*columns).order_by(*table.primary_key.columns))]
    return tables


def test_demo_is_the_same_for_the_same_seed_and_day(built, tmp_path):
    first = _dump()
    demo.build_demo(scale=SCALE, seed=SEED, until=UNTIL, reset=True)
    assert _dump() == first
    # and the same again in a fresh SQLite database: dates and money read back alike
    other = make_app("sqlite:///" + str(tmp_path / "other.sqlite"))
    with other.app_context():
        db.create_all()
        demo.build_demo(scale=SCALE, seed=SEED, until=UNTIL)
        assert _dump() == first
        demo.build_demo(scale=SCALE, seed=SEED + 1, until=UNTIL, reset=True)
        assert _dump()["member"] != first["member"]
        db.session.remove()
        db.engine.dispose()


def test_records_can_be_added_after_demo_data(built):
    """Ids came with the rows: PostgreSQL's sequences must have been moved past them."""
    village = db.session.scalar(select(Village).where(Village.is_pilot).order_by(Village.id))
    group = Group(village=village, name="Новая группа", formed_on=date(2025, 1, 10))
    household = Household(village=village, name="Асанов")
    member = Member(household=household, full_name="Айгуль Асанова", gender="female")
    db.session.add_all([group, household, member,
                        Membership(member=member, group=group, joined_on=date(2025, 1, 10))])
    db.session.commit()
    assert group.id == built.counts["shg_group"] + 1
    assert member.id == built.counts["member"] + 1
    # and a repayment posted on a demo loan through the service gets the next ids too
    loan = db.session.scalar(select(Loan).where(Loan.status == "disbursed").order_by(Loan.id))
    admin = db.session.scalar(select(User).where(User.role == "admin"))
    repayment = services.post_repayment(loan, Decimal("10.00"), UNTIL - timedelta(days=1),
                                        by=admin)
    db.session.commit()
    assert repayment.id == built.counts["repayment"] + 1
    assert min(a.id for a in repayment.allocations) > built.counts["allocation"]


def test_demo_data_command_builds_and_refuses_to_overwrite(runner, client):
    args = ["demo-data", "--scale", "0.02", "--seed", "5", "--until", "2025-06-01"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "admin        admin-demo" in result.output and "fac-1 " in result.output
    assert "officer-1 " in result.output and "viewer" in result.output
    response = client.post("/login", data={"username": "fac-1", "password": "demo-pass"})
    assert response.status_code == 302
    group = db.session.scalar(select(Group).order_by(Group.id))
    facilitator = group.facilitator.username
    client.post("/logout")
    client.post("/login", data={"username": facilitator, "password": "demo-pass"})
    page = client.get(f"/groups?district={group.village.district_id}").get_data(as_text=True)
    assert group.name in page and group.village.name in page
    db.session.remove()

    again = runner.invoke(args=args)
    assert again.exit_code != 0 and "--reset" in again.output
    declined = runner.invoke(args=args + ["--reset"], input="n\n")
    assert declined.exit_code != 0
    replaced = runner.invoke(args=args[:-4] + ["--seed", "6", "--until", "2025-06-01",
                                               "--loans", "12", "--reset", "--yes"])
    assert replaced.exit_code == 0, replaced.output
    assert db.session.scalar(select(func.count(Group.id))) == 10
    assert db.session.scalar(select(func.count(Loan.id))) == 12
    assert re.search(r"loan +12\n", replaced.output)
