"""SMS reminders to borrowers: an outbox, what goes in it, and how it is sent.

``decide(as_of)`` writes one ``Reminder`` row per message the day calls for; ``send_due(now)``
sends the rows that are due through the gateway. The row's unique key (kind, channel,
recipient, installment, day) is written *before* anything is sent, so a second run, a second
process or a restart after a crash finds the row already there and never sends twice.

Messages are in the member's own language (ky, tg, ru, uz, en), not the officer's interface
language, so the texts are a dict here rather than gettext entries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Optional
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import (CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func,
                        select, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loans import services
from loans.models import Installment, Loan, LoanProduct
from shg.extensions import db
from shg.timeutil import utcnow

KINDS = ("installment_due", "installment_overdue")
CHANNELS = ("sms", "email")
#: ``sending``: claimed by one process, between its claim and the gateway's answer
STATES = ("queued", "sending", "sent", "failed", "given_up", "skipped")
DEFAULT_DAYS_BEFORE = 3
MAX_ATTEMPTS = 5
#: back-off after the n-th failure: 1, 5, 25, 125 minutes
BACKOFF_BASE_MINUTES = 1
BACKOFF_FACTOR = 5
#: no SMS in the member's night, local time of her country
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)

SKIP_NO_PHONE = "no_phone"
SKIP_NO_CONSENT = "no_sms_consent"

TEMPLATES = {
    "installment_due": {
        "ky": "Эскертүү: насыя боюнча {amount} {currency} төлөө мөөнөтү — {date}. «{group}» тобу.",
        "tg": "Ёдрасонӣ: мӯҳлати пардохти {amount} {currency} барои қарз — {date}. "
              "Гурӯҳи «{group}».",
        "ru": "Напоминание: {date} нужно внести {amount} {currency} по кредиту. ГСП «{group}».",
        "uz": "Eslatma: kredit bo‘yicha {amount} {currency} to‘lov muddati — {date}. "
              "«{group}» guruhi.",
        "en": "Reminder: {amount} {currency} is due on your loan on {date}. SHG “{group}”.",
    },
    "installment_overdue": {
        "ky": "Насыя төлөмү ({date}) төлөнө элек. Карыз: {amount} {currency}. "
              "Сураныч, тезирээк төлөңүз. «{group}» тобу.",
        "tg": "Пардохти қарз ({date}) супорида нашудааст. Қарз: {amount} {currency}. "
              "Лутфан, зудтар пардохт кунед. Гурӯҳи «{group}».",
        "ru": "Платёж по кредиту ({date}) не внесён. Долг: {amount} {currency}. "
              "Пожалуйста, внесите его как можно скорее. ГСП «{group}».",
        "uz": "Kredit to‘lovi ({date}) to‘lanmagan. Qarz: {amount} {currency}. "
              "Iltimos, tezroq to‘lang. «{group}» guruhi.",
        "en": "Your loan payment due {date} has not been paid. Owed: {amount} {currency}. "
              "Please pay as soon as possible. SHG “{group}”.",
    },
}
LANGUAGES = tuple(TEMPLATES["installment_due"])
FALLBACK_LANGUAGE = "ru"


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Reminder(db.Model):
    """One message to one member about one installment on one day: the outbox row."""

    __tablename__ = "reminder"
    __table_args__ = (
        #: written before sending: the same reminder is never queued (or sent) twice
        UniqueConstraint("kind", "channel", "recipient", "installment_id", "for_date",
                         name="uq_reminder_once"),
        CheckConstraint(_in("kind", KINDS), name="ck_reminder_kind"),
        CheckConstraint(_in("channel", CHANNELS), name="ck_reminder_channel"),
        CheckConstraint(_in("state", STATES), name="ck_reminder_state"),
        CheckConstraint("attempts >= 0", name="ck_reminder_attempts"),
        #: the sender's query: what is waiting and due
        Index("ix_reminder_outbox", "state", "next_attempt_at"),
        Index("ix_reminder_loan", "loan_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    #: E.164 phone or e-mail address; empty when the member has none (then ``skipped``),
    #: never NULL, so the unique key holds for skipped rows too
    recipient: Mapped[str] = mapped_column(String(120), default="")
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    installment_id: Mapped[int] = mapped_column(ForeignKey("installment.id"))
    #: the day the reminder was decided for (the run's ``as_of``), not the due date
    for_date: Mapped[date]
    language: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    #: the gateway's id for the message, kept to answer "did she get it?"
    provider_id: Mapped[Optional[str]] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[Optional[str]] = mapped_column(String(500))
    #: naive UTC; not before this (back-off after a failure, or the end of the night)
    next_attempt_at: Mapped[Optional[datetime]]
    #: why nothing is sent (``no_phone``, ``no_sms_consent``)
    skip_reason: Mapped[Optional[str]] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]

    member: Mapped["Member"] = relationship()  # noqa: F821
    loan: Mapped[Loan] = relationship()
    installment: Mapped[Installment] = relationship()


# ---------------------------------------------------------------- what the day calls for


@dataclass(frozen=True)
class Planned:
    """A reminder decided on but not yet written (what a dry run prints)."""

    kind: str
    channel: str
    recipient: str
    member_id: int
    member_name: str
    loan_id: int
    installment_id: int
    for_date: date
    language: str
    body: str
    state: str
    skip_reason: Optional[str]

    @property
    def key(self) -> tuple:
        return (self.kind, self.channel, self.recipient, self.installment_id, self.for_date)


def format_amount(amount: Decimal, language: str) -> str:
    """The exact amount, with the language's separators: "1 234,50" in ru/ky, "1,234.50" in en."""
    return format_decimal(Decimal(amount), format="#,##0.00", locale=language)


def render(kind: str, language: str, *, amount: Decimal, currency: str, on: date,
           group: str) -> str:
    """The message in the member's language. Babel's no-break spaces ("1 240,50",
    "2024 г.") become plain ones: some handsets and gateways show them as "?"."""
    language = language if language in LANGUAGES else FALLBACK_LANGUAGE
    text = TEMPLATES[kind][language].format(
        amount=format_amount(amount, language), currency=currency,
        date=format_date(on, format="long", locale=language), group=group)
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _days_before(loan: Loan) -> int:
    product = loan.product
    if product is None or product.reminder_days_before is None:
        return DEFAULT_DAYS_BEFORE
    return product.reminder_days_before


def _installments_due_on(days: list[date]):
    """Installments of the schedule in force of disbursed loans, due on one of these days."""
    return db.session.scalars(
        select(Installment).join(Loan, Installment.loan_id == Loan.id)
        .where(Loan.status == "disbursed", Installment.version == Loan.schedule_version,
               Installment.due_on.in_(days))
        .order_by(Installment.due_on, Installment.loan_id, Installment.number)).all()


def _plan_one(kind: str, installment: Installment, amount: Decimal, as_of: date) -> Planned:
    loan = installment.loan
    member = loan.member
    language = member.language if member.language in LANGUAGES else FALLBACK_LANGUAGE
    body = render(kind, language, amount=amount, currency=loan.currency,
                  on=installment.due_on, group=loan.group.name)
    recipient = (member.phone or "").strip()
    state, reason = "queued", None
    if not recipient:
        state, reason = "skipped", SKIP_NO_PHONE
    elif not member.sms_consent:
        state, reason = "skipped", SKIP_NO_CONSENT
    return Planned(kind, "sms", recipient, member.id, member.full_name, loan.id, installment.id,
                   as_of, language, body, state, reason)


def plan(as_of: date) -> list[Planned]:
    """The SMS reminders ``as_of`` calls for; reads only, writes nothing.

    * ``installment_due``: an installment not yet fully paid falls due in exactly the
      product's ``reminder_days_before`` days (3 when the loan has no product);
    * ``installment_overdue``: the day after an installment fell due, it is still unpaid
      and the loan is in arrears on ``as_of`` (``services.position``, the one source of a
      loan's standing); the amount is the loan's whole arrears, what she must bring.

    A member without a phone or without SMS consent gets a ``skipped`` row with the
    reason, so the officer can see who was not reminded and why.
    """
    planned: list[Planned] = []
    offsets = set(db.session.scalars(select(LoanProduct.reminder_days_before).distinct()))
    offsets.add(DEFAULT_DAYS_BEFORE)
    candidates = _installments_due_on(
        sorted(as_of + timedelta(days=d) for d in offsets if d is not None))
    for installment in candidates:
        if (installment.due_on - as_of).days != _days_before(installment.loan):
            continue
        if installment.owed <= 0:
            continue  # paid in advance: nothing to remind
        planned.append(_plan_one("installment_due", installment, installment.owed, as_of))

    for installment in _installments_due_on([as_of - timedelta(days=1)]):
        if installment.owed <= 0:
            continue
        standing = services.position(installment.loan, as_of)
        if standing.arrears <= 0:
            continue
        planned.append(_plan_one("installment_overdue", installment, standing.arrears, as_of))
    return planned


def _exists(p: Planned) -> bool:
    return db.session.scalar(
        select(func.count(Reminder.id)).where(
            Reminder.kind == p.kind, Reminder.channel == p.channel,
            Reminder.recipient == p.recipient, Reminder.installment_id == p.installment_id,
            Reminder.for_date == p.for_date)) > 0


def decide(as_of: date, now: Optional[datetime] = None) -> list[Reminder]:
    """Write the day's reminders into the outbox; return the rows this call wrote.

    A reminder already there (an earlier run, or another process at the same moment) is
    left alone: the insert runs in a savepoint and an IntegrityError on the unique key
    means someone else queued it first. The caller commits.
    """
    now = now or utcnow()
    written = []
    for p in plan(as_of):
        if _exists(p):
            continue
        row = Reminder(kind=p.kind, channel=p.channel, recipient=p.recipient,
                       member_id=p.member_id, loan_id=p.loan_id, installment_id=p.installment_id,
                       for_date=p.for_date, language=p.language, body=p.body, state=p.state,
                       skip_reason=p.skip_reason, attempts=0,
                       next_attempt_at=now if p.state == "queued" else None)
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            continue  # queued by another process between our look and our insert
        written.append(row)
    return written


def pending(as_of: date) -> list[Planned]:
    """What ``decide`` would write today (a dry run): planned and not in the outbox yet."""
    return [p for p in plan(as_of) if not _exists(p)]


# ---------------------------------------------------------------- sending


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 5, 25, 125 minutes."""
    return timedelta(minutes=BACKOFF_BASE_MINUTES * BACKOFF_FACTOR ** max(attempts - 1, 0))


def _timezone_of(reminder: Reminder) -> str:
    try:
        return reminder.member.household.village.district.region.country.timezone or "Asia/Bishkek"
    except AttributeError:
        return "Asia/Bishkek"


def quiet_until(now: datetime, timezone: str) -> Optional[datetime]:
    """During the member's night (21:00-08:00 local), the next 08:00 local as naive UTC."""
    zone = ZoneInfo(timezone)
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    morning = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    wake = datetime.combine(morning, QUIET_UNTIL, tzinfo=zone)
    return wake.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    given_up: int = 0
    deferred: int = 0


def send_due(gateway, now: Optional[datetime] = None, limit: int = 500) -> SendResult:
    """Send the queued (and failed, back-off over) rows whose time has come.

    Each row is claimed with ``UPDATE ... SET state='sending' WHERE state IN ('queued',
    'failed')``: only the process whose update changed the row sends it. The claim is
    committed before the gateway is called, so this function commits (unlike other
    services): a crash after the claim leaves the row in ``sending`` rather than sending
    it a second time; such rows are for an officer to look at, never resent blindly.
    A failure waits 1, 5, 25, ... minutes; after ``MAX_ATTEMPTS`` the row is ``given_up``.
    During the member's night (21:00-08:00 in her country) a row waits until 08:00 local.
    """
    now = now or utcnow()
    result = SendResult()
    ids = db.session.scalars(
        select(Reminder.id).where(Reminder.channel == "sms",
                                  Reminder.state.in_(("queued", "failed")),
                                  Reminder.next_attempt_at <= now)
        .order_by(Reminder.next_attempt_at, Reminder.id).limit(limit)).all()
    db.session.commit()
    for reminder_id in ids:
        reminder = db.session.get(Reminder, reminder_id)
        wake = quiet_until(now, _timezone_of(reminder))
        if wake is not None:
            db.session.execute(update(Reminder).where(Reminder.id == reminder_id,
                                                      Reminder.state.in_(("queued", "failed")))
                               .values(next_attempt_at=wake))
            db.session.commit()
            result.deferred += 1
            continue
        claimed = db.session.execute(
            update(Reminder).where(Reminder.id == reminder_id,
                                   Reminder.state.in_(("queued", "failed")),
                                   Reminder.next_attempt_at <= now)
            .values(state="sending", attempts=Reminder.attempts + 1)
            .execution_options(synchronize_session=False))
        db.session.commit()
        if claimed.rowcount != 1:
            continue  # another process took it
        reminder = db.session.get(Reminder, reminder_id)
        db.session.refresh(reminder)
        try:
            provider_id = gateway.send(reminder.recipient, reminder.body)
        except Exception as exc:  # noqa: BLE001  (any failure: keep the row, try later)
            reminder.last_error = str(exc)[:500] or exc.__class__.__name__
            if reminder.attempts >= MAX_ATTEMPTS:
                reminder.state, reminder.next_attempt_at = "given_up", None
                result.given_up += 1
            else:
                reminder.state = "failed"
                reminder.next_attempt_at = now + backoff(reminder.attempts)
                result.failed += 1
        else:
            reminder.state, reminder.provider_id, reminder.sent_at = "sent", provider_id, now
            reminder.last_error = None
            result.sent += 1
        db.session.commit()
    return result


def run(as_of: date, gateway, now: Optional[datetime] = None) -> tuple[list[Reminder], SendResult]:
    """The daily job: decide, commit (the keys are written before anything is sent), send."""
    written = decide(as_of, now=now)
    db.session.commit()
    return written, send_due(gateway, now=now)
