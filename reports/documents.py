"""Documents printed for one record: a group's meeting register and passbooks, a member's
credit history statement, a borrower's repayment schedule, and the loan officer's overdue list.

Each is laid out with ``reports.pdf`` (DejaVu Sans for Cyrillic, the page frame with the
programme, as-of date, who printed it and "Page X of Y", tables whose header repeats) in the
reader's language. Every figure is read from the function the page reads it from:
``shg.registry.services`` (meeting_register, savings_by_member, group_savings,
attendance_rate), ``loans.credit.credit_history``, ``loans.services.position``,
``loans.views.installment_state`` / ``planned_schedule`` and ``loans.portfolio.overdue_*``.
The callers (views, API) load the record through its loader, which checks the district.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

from flask_babel import gettext as _
from flask_babel import ngettext
from reportlab.platypus import Paragraph
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from reports import pdf
from shg.extensions import db
from shg.labels import label
from shg.registry import services as registry
from shg.registry.models import Attendance, Group, Meeting, Member
from shg.timeutil import today

#: meetings side by side in one block of the register grid (landscape A4)
REGISTER_COLUMNS = 7
#: loans read and positioned at a time for the overdue list
OVERDUE_CHUNK = 500


def _lines(*parts) -> Paragraph:
    """A table cell of several short lines (status over amount)."""
    return Paragraph("<br/>".join(pdf.text(p) for p in parts if p not in (None, "")),
                     pdf.styles()["cell"])


def _printed_by(user) -> str:
    return user.full_name or user.username


def _currency(group: Group) -> str:
    return group.village.district.region.country.currency


def _place(group: Group) -> str:
    village = group.village
    return f"{village.name}, {village.district.name}"


# ---------------------------------------------------------------- the meeting register


def meeting_register_pdf(group: Group, user, date_from: Optional[date] = None,
                         date_to: Optional[date] = None) -> bytes:
    """Every meeting of the group (in the period) with each member's attendance and savings:
    the register the treasurer keeps on paper, as the ledger holds it."""

    def in_period(day: date) -> bool:
        return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)

    def story():
        currency = _currency(group)
        register = [line for line in registry.meeting_register(group.id, limit=None)
                    if in_period(line.meeting.held_on)]
        register.reverse()  # oldest first, as the paper register runs
        cells: dict[tuple[int, int], Attendance] = {}
        ids = [line.meeting.id for line in register]
        for start in range(0, len(ids), 900):
            for row in db.session.scalars(select(Attendance).where(
                    Attendance.meeting_id.in_(ids[start:start + 900]))):
                cells[(row.meeting_id, row.member_id)] = row
        member_ids = {m for _meeting, m in cells} | {
            m.member_id for m in registry.active_memberships(group.id)}
        members = db.session.scalars(select(Member).where(Member.id.in_(member_ids or [-1]))
                                     .order_by(Member.full_name, Member.id)).all()
        savings = registry.savings_by_member(group.id)
        balance = registry.group_savings(group.id)
        period = ""
        if date_from or date_to:
            period = _("Period: %(start)s to %(end)s",
                       start=pdf.day(date_from) if date_from else "…",
                       end=pdf.day(date_to) if date_to else "…")
        story = [pdf.heading(_("Meeting register: %(group)s", group=group.name), level=0),
                 pdf.facts([
                     (_("Village"), _place(group)),
                     (_("Facilitator"), group.facilitator.full_name if group.facilitator else "—"),
                     (_("Formed on"), pdf.day(group.formed_on)),
                     (_("Meetings"), pdf.number(len(register))),
                     (_("Attendance rate"), pdf.percent(registry.attendance_rate(
                         group.id, date_from, date_to))),
                     (_("Savings balance"), pdf.money(balance, currency)),
                 ], columns=2)]
        if period:
            story.append(pdf.para(period))
        if not register:
            story.append(pdf.para(_("No meeting is recorded.")))
            return story
        story += [pdf.heading(_("Meetings"), level=2), pdf.table(
            [_("Date"), _("Present"), _("Listed"), _("Savings paid in"), _("Topics")],
            [[pdf.day(line.meeting.held_on), pdf.number(line.present), pdf.number(line.listed),
              pdf.money(line.savings), line.meeting.topics or ""] for line in register],
            col_widths=(0.13, 0.09, 0.09, 0.14, 0.55), numeric_cols=(1, 2, 3))]
        story.append(pdf.heading(_("Attendance and savings by member (%(currency)s)",
                                   currency=currency), level=2))
        for start in range(0, len(register), REGISTER_COLUMNS):
            block = register[start:start + REGISTER_COLUMNS]
            header = [_("Member")] + [pdf.day(line.meeting.held_on) for line in block] + \
                [_("Savings balance")]
            rows = []
            for member in members:
                row = [member.full_name]
                for line in block:
                    cell = cells.get((line.meeting.id, member.id))
                    row.append(_lines(label(cell.status), pdf.money(cell.savings)
                                      if cell.savings else "") if cell else "")
                row.append(pdf.money(savings.get(member.id)))
                rows.append(row)
            total = [_("Meeting")] + [_lines(f"{line.present}/{line.listed}",
                                             pdf.money(line.savings)) for line in block] + \
                [pdf.money(balance)]
            width = 0.62 / REGISTER_COLUMNS
            story += [pdf.table(header, rows, total=total,
                                col_widths=[0.24] + [width] * len(block) + [0.14],
                                numeric_cols=(len(block) + 1,)), pdf.spacer(3)]
        story.append(pdf.small(_("Present/listed: members who came (late counts as present) "
                                 "out of those listed at the meeting.")))
        return story

    return pdf.build_pdf(story, title=lambda: _("Meeting register"), as_of=today(),
                         printed_by=_printed_by(user), language=user.locale, landscape=True)


# ---------------------------------------------------------------- passbooks


def passbook_pdf(group: Group, user, member: Optional[Member] = None) -> bytes:
    """Each member's passbook in the group (or one member's): her savings paid in at its
    meetings with the running balance, and the loans she took through it with every
    repayment, how it was allocated, and the principal left after it. One section per member,
    its pages counted on their own, so the passbooks can be handed out one by one."""
    from loans import services as loan_services
    from loans.models import Loan

    def story():
        currency = _currency(group)
        memberships = sorted(group.memberships, key=lambda m: (m.member.full_name, m.joined_on))
        people: dict[int, list] = {}
        for membership in memberships:
            people.setdefault(membership.member_id, []).append(membership)
        if member is not None:
            people = {member.id: people.get(member.id, [])}
        balances = registry.savings_by_member(group.id)
        story = []
        for index, (member_id, times) in enumerate(people.items()):
            person = db.session.get(Member, member_id)
            story += pdf.section(_("Passbook: %(name)s", name=person.full_name), first=index == 0)
            story += [pdf.heading(_("Passbook: %(name)s", name=person.full_name), level=0),
                      pdf.facts([
                          (_("Group"), group.name), (_("Village"), _place(group)),
                          (_("Phone"), person.phone or "—"),
                          (_("In the group"), "; ".join(
                              f"{pdf.day(m.joined_on)} – {pdf.day(m.left_on) if m.left_on else '…'}"
                              for m in times) or "—"),
                          (_("Savings balance"),
                           pdf.money(balances.get(person.id, Decimal("0.00")), currency)),
                      ], columns=2),
                      pdf.heading(_("Savings"), level=2)]
            rows, running = [], Decimal("0.00")
            for attendance, held_on in db.session.execute(
                    select(Attendance, Meeting.held_on).join(Meeting)
                    .where(Meeting.group_id == group.id, Attendance.member_id == person.id)
                    .order_by(Meeting.held_on)):
                running += attendance.savings
                rows.append([pdf.day(held_on), label(attendance.status),
                             pdf.money(attendance.savings), pdf.money(running)])
            if rows:
                story.append(pdf.table([_("Meeting"), _("Attendance"), _("Paid in"),
                                        _("Balance")], rows,
                                       col_widths=(0.25, 0.25, 0.25, 0.25), numeric_cols=(2, 3)))
            else:
                story.append(pdf.para(_("No savings recorded.")))
            loans = db.session.scalars(
                select(Loan).where(Loan.member_id == person.id, Loan.group_id == group.id,
                                   Loan.disbursed_on.is_not(None))
                .options(selectinload(Loan.repayments), selectinload(Loan.installments_all))
                .order_by(Loan.disbursed_on, Loan.id)).all()
            for loan in loans:
                story += _loan_transactions(loan, loan_services)
        return story

    title = (lambda: _("Passbook: %(name)s", name=member.full_name)) if member is not None \
        else (lambda: _("Passbooks: %(group)s", group=group.name))
    return pdf.build_pdf(story, title=title, as_of=today(), printed_by=_printed_by(user),
                         language=user.locale)


def _loan_transactions(loan, loan_services) -> list:
    """A loan in a passbook: paid out, each repayment split by component, principal left."""
    components = ("penalty", "fee", "interest", "principal")
    rows = [[pdf.day(loan.disbursed_on), _("Loan paid out"), pdf.money(loan.principal), "", "",
             "", "", pdf.money(loan_services.position(loan, loan.disbursed_on)
                               .outstanding_principal)]]
    for repayment in loan.repayments:
        split = {c: Decimal("0.00") for c in components}
        for allocation in repayment.allocations:
            split[allocation.component] += allocation.amount
        what = _("Repayment")
        if repayment.receipt_no:
            what = f"{what} ({_('receipt %(no)s', no=repayment.receipt_no)})"
        if repayment.is_reversed:
            rows.append([pdf.day(repayment.paid_on), f"{what}: {_('Reversed')}",
                         pdf.money(repayment.amount), "", "", "", "", ""])
            continue
        rows.append([pdf.day(repayment.paid_on), what, pdf.money(repayment.amount),
                     *(pdf.money(split[c]) for c in components),
                     pdf.money(loan_services.position(loan, repayment.paid_on)
                               .outstanding_principal)])
    position = loan_services.position(loan)
    return [pdf.heading(_("Loan %(amount)s, paid out %(day)s", amount=pdf.money(
                loan.principal, loan.currency), day=pdf.day(loan.disbursed_on)), level=2),
            pdf.table([_("Date"), _("Transaction"), _("Amount"), label("penalty"), label("fee"),
                       label("interest"), label("principal"), _("Principal left")], rows,
                      col_widths=(0.16, 0.2, 0.11, 0.08, 0.08, 0.09, 0.12, 0.16),
                      numeric_cols=(2, 3, 4, 5, 6, 7)),
            pdf.small(_("Status: %(status)s. Days late: %(days)s. Arrears: %(arrears)s. "
                        "Penalty due: %(penalty)s.", status=label(loan.status),
                        days=position.days_past_due, arrears=pdf.money(position.arrears),
                        penalty=pdf.money(position.penalty_due)))]


# ---------------------------------------------------------------- credit history statement


def credit_history_pdf(member: Member, user, as_of: Optional[date] = None) -> bytes:
    """The statement of ``loans.credit.credit_history``: the grade with its rule, the
    figures, and every installment of every loan with its due date, payment and days late."""
    from loans import credit

    def story():
        history = credit.credit_history(member.id, as_of)
        currencies = {record.loan.currency for record in history.loans}
        currency = currencies.pop() if len(currencies) == 1 else None
        membership = member.current_membership
        story = [pdf.heading(_("Credit history: %(name)s", name=member.full_name), level=0),
                 pdf.facts([
                     (_("Group"), membership.group.name if membership else "—"),
                     (_("Phone"), member.phone or "—"),
                     (_("Grade"), history.grade or "—"),
                     (_("Paid on time"), pdf.percent(history.on_time_rate)),
                     (_("Worst days late"), pdf.number(history.worst_days_past_due)),
                     (_("Days late now"), pdf.number(history.current_days_past_due)),
                     (_("Arrears now"), pdf.money(history.current_arrears, currency)),
                     (_("Loans written off"), pdf.number(history.written_off_count)),
                 ], columns=2),
                 pdf.para(f"{_('Grade')} {history.grade or '—'}: {history.grade_reason}"),
                 pdf.small(_("The rules are read from the top; the first that holds gives "
                             "the grade.")),
                 pdf.small("; ".join(f"{letter}: {rule}" for letter, rule in credit.GRADE_RULES))]
        if not history.loans:
            story.append(pdf.para(_("No loan has been paid out to her yet.")))
        for record in history.loans:
            loan = record.loan
            story += [pdf.heading(_("Loan %(amount)s, paid out %(day)s", amount=pdf.money(
                          loan.principal, loan.currency), day=pdf.day(loan.disbursed_on)),
                          level=2),
                      pdf.small(f"{loan.purpose} · {label(loan.status)} · "
                                f"{_('Days late: %(n)s', n=record.position.days_past_due)}"),
                      pdf.table([_("No."), _("Due on"), _("Amount due"), _("Paid"),
                                 _("Paid on"), _("Days late")],
                                [[f"{i.number}" + (f" (v{i.version})" if i.version > 1 else ""),
                                  pdf.day(i.due_on), pdf.money(i.amount_due), pdf.money(i.paid),
                                  pdf.day(i.paid_on) if i.paid_on else "—",
                                  pdf.number(i.days_late)] for i in record.installments],
                                col_widths=(0.1, 0.18, 0.18, 0.18, 0.18, 0.18),
                                numeric_cols=(2, 3, 5))]
        return story

    return pdf.build_pdf(story, title=lambda: _("Credit history"), as_of=as_of or today(),
                         printed_by=_printed_by(user), language=user.locale)


# ---------------------------------------------------------------- repayment schedule


def repayment_schedule_pdf(loan, user, as_of: Optional[date] = None) -> bytes:
    """The borrower's schedule in force with what is paid and what is not, her position on
    the day, and her repayments; before the loan is paid out, the schedule it would have."""
    from loans import services as loan_services
    from loans.views import installment_state, planned_schedule

    as_of = as_of or today()

    def story():
        member = loan.member
        facts = [(_("Borrower"), member.full_name), (_("Phone"), member.phone or "—"),
                 (_("Group"), f"{loan.group.name}, {loan.group.village.name}"),
                 (_("Lender"), loan.lender.name), (_("Purpose"), loan.purpose),
                 (_("Amount"), pdf.money(loan.principal, loan.currency)),
                 (_("Terms"), f"{label(loan.method)}, {pdf.number(loan.rate)}"
                              f"{label(loan.rate_period, 'rate_period')}; "
                              + ngettext("%(num)d installment", "%(num)d installments",
                                         loan.installments)
                              + f", {label(loan.frequency).lower()}"),
                 (_("Status"), label(loan.status))]
        if loan.disbursed_on:
            facts.append((_("Paid out"), pdf.day(loan.disbursed_on)))
        story = [pdf.heading(_("Repayment schedule: %(name)s", name=member.full_name), level=0),
                 pdf.facts(facts)]
        if loan.disbursed_on is None:
            story.append(pdf.heading(_("Schedule if paid out today"), level=2))
            lines = planned_schedule(loan)
            story.append(pdf.table(
                [_("No."), _("Due on"), _("Principal"), _("Interest"), _("Total"),
                 _("Balance after")],
                [[str(line.number), pdf.day(line.due_on), pdf.money(line.principal),
                  pdf.money(line.interest), pdf.money(line.total),
                  pdf.money(line.balance_after)] for line in lines],
                numeric_cols=(2, 3, 4, 5)))
            return story
        position = loan_services.position(loan, as_of)
        story += [pdf.heading(_("Position as of %(day)s", day=pdf.day(as_of)), level=2),
                  pdf.facts([(_("Days late"), pdf.number(position.days_past_due)),
                             (_("Arrears"), pdf.money(position.arrears, loan.currency)),
                             (_("Penalty due"), pdf.money(position.penalty_due, loan.currency)),
                             (_("Outstanding principal"), pdf.money(
                                 position.outstanding_principal, loan.currency))], columns=2)]
        heading = _("Schedule")
        if loan.schedule_version > 1:
            heading += f" ({_('version %(n)s', n=loan.schedule_version)})"
        story += [pdf.heading(heading, level=2), pdf.table(
            [_("No."), _("Due on"), _("Principal"), _("Interest"), _("Fee"), _("Total"),
             _("Paid"), _("Paid on"), _("Status")],
            [[str(i.number), pdf.day(i.due_on), pdf.money(i.principal), pdf.money(i.interest),
              pdf.money(i.fee), pdf.money(i.total), pdf.money(i.paid),
              pdf.day(i.paid_on) if i.paid_on else "—", label(installment_state(i, today()))]
             for i in loan.schedule],
            col_widths=(0.05, 0.15, 0.11, 0.1, 0.08, 0.11, 0.11, 0.15, 0.14),
            numeric_cols=(2, 3, 4, 5, 6))]
        repayments = [[pdf.day(r.paid_on), pdf.money(r.amount), r.receipt_no or "",
                       _("Reversed") if r.is_reversed else ""] for r in loan.repayments]
        story.append(pdf.heading(_("Repayments"), level=2))
        if repayments:
            story.append(pdf.table([_("Paid on"), _("Amount"), _("Receipt"), ""], repayments,
                                   numeric_cols=(1,)))
        else:
            story.append(pdf.para(_("No repayments yet.")))
        story.append(pdf.small(_("Amounts in %(currency)s.", currency=loan.currency)))
        return story

    return pdf.build_pdf(story, title=lambda: _("Repayment schedule"), as_of=as_of,
                         printed_by=_printed_by(user), language=user.locale)


# ---------------------------------------------------------------- the overdue list


def overdue_pdf(user, district_id=None, village_id=None, group_id=None,
                bucket=None) -> bytes:
    """The morning worklist on paper: every row of the page (all its pages), in its order,
    with the same positions (``loans.portfolio.overdue_rows``)."""
    from loans import portfolio
    from loans.models import Loan

    def story():
        query = portfolio.overdue_query(user, village_id=village_id, group_id=group_id,
                                        district_id=district_id, bucket=bucket)
        ids = db.session.scalars(query.with_only_columns(Loan.id)).all()
        rows = []
        for start in range(0, len(ids), OVERDUE_CHUNK):
            chunk = ids[start:start + OVERDUE_CHUNK]
            loans = {loan.id: loan for loan in db.session.scalars(
                select(Loan).where(Loan.id.in_(chunk))
                .options(selectinload(Loan.member)))}
            for row in portfolio.overdue_rows([loans[i] for i in chunk]):
                loan = row.loan
                rows.append([loan.member.full_name, loan.member.phone or "—", loan.group.name,
                             loan.group.village.name, pdf.number(row.position.days_past_due),
                             pdf.money(row.position.arrears, loan.currency),
                             pdf.money(row.position.penalty_due),
                             pdf.day(loan.last_paid_on) if loan.last_paid_on else _("never")])
        story = [pdf.heading(_("Overdue loans"), level=0)]
        if bucket:
            story.append(pdf.para(_("Days late: %(n)s", n=label(bucket))))
        story.append(pdf.para(_("%(count)s loans in arrears", count=pdf.number(len(rows)))))
        if rows:
            story.append(pdf.table(
                [_("Member"), _("Phone"), _("Group"), _("Village"), _("Days late"),
                 _("Arrears"), _("Penalty due"), _("Last payment")], rows,
                col_widths=(0.2, 0.13, 0.14, 0.12, 0.08, 0.13, 0.1, 0.1),
                numeric_cols=(4, 5, 6)))
        else:
            story.append(pdf.para(_("No loan is late. Well done.")))
        return story

    return pdf.build_pdf(story, title=lambda: _("Overdue loans"), as_of=today(),
                         printed_by=_printed_by(user), language=user.locale, landscape=True)
