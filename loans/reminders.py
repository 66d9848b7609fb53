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
from flask_babel import gettext as _
from babel.numbers import format_decimal
from sqlalchemy import (CheckConstraint, Column, Float, ForeignKey, Index, LargeBinary, String,
                        Table, Text, Unicode, UniqueConstraint, func, or_, select, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from loans import services
from loans.models import Installment, Loan, LoanProduct
from shg.accounts import access
from shg.errors import Invalid
from shg.extensions import db
from shg.registry.models import District, Group, Member, Region, Village
from shg.timeutil import utcnow
from shg.transactions import commit_with_retry

#: SMS to members: ``installment_due``, ``installment_overdue``; e-mail to staff:
#: ``overdue_digest`` (officers and facilitators, working mornings), ``meetings_tomorrow``
#: (facilitators, the day before), ``portfolio_weekly`` (the project office, Mondays)
SMS_KINDS = ("installment_due", "installment_overdue")
EMAIL_KINDS = ("overdue_digest", "meetings_tomorrow", "portfolio_weekly")
KINDS = SMS_KINDS + EMAIL_KINDS
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
SKIP_NO_EMAIL = "no_email"
SKIP_REASONS = (SKIP_NO_PHONE, SKIP_NO_CONSENT, SKIP_NO_EMAIL)

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
    """One message to one person about one thing on one day: the outbox row.

    ``about`` names the thing (``installment:17``, ``meetings:2024-02-08``, ``country:1``)
    so SMS about installments and e-mail digests share one unique key.
    """

    __tablename__ = "reminder"
    __table_args__ = (
        #: written before sending: the same reminder is never queued (or sent) twice
        UniqueConstraint("kind", "channel", "recipient", "about", "for_date",
                         name="uq_reminder_once"),
        CheckConstraint(_in("kind", KINDS), name="ck_reminder_kind"),
        CheckConstraint(_in("channel", CHANNELS), name="ck_reminder_channel"),
        CheckConstraint(_in("state", STATES), name="ck_reminder_state"),
        CheckConstraint("attempts >= 0", name="ck_reminder_attempts"),
        #: the sender's query: what is waiting and due
        Index("ix_reminder_outbox", "state", "next_attempt_at"),
        Index("ix_reminder_loan", "loan_id"),
        #: the outbox page, newest day first
        Index("ix_reminder_for_date", "for_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    #: E.164 phone or e-mail address; empty when the person has none (then ``skipped``),
    #: never NULL, so the unique key holds for skipped rows too
    recipient: Mapped[str] = mapped_column(String(200), default="")
    #: what the message is about, part of the unique key (see the class docstring)
    about: Mapped[str] = mapped_column(String(40))
    #: the member (SMS) or the staff member (e-mail) it is for
    member_id: Mapped[Optional[int]] = mapped_column(ForeignKey("member.id"), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"), index=True)
    loan_id: Mapped[Optional[int]] = mapped_column(ForeignKey("loan.id"))
    installment_id: Mapped[Optional[int]] = mapped_column(ForeignKey("installment.id"))
    #: the district the message concerns (the member's, or the digest's), for the page's scope
    district_id: Mapped[Optional[int]] = mapped_column(ForeignKey("district.id"), index=True)
    #: the day the reminder was decided for (the run's ``as_of``), not the due date
    for_date: Mapped[date]
    language: Mapped[str] = mapped_column(String(2))
    #: the e-mail's subject line (none for an SMS)
    subject: Mapped[Optional[str]] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    #: the gateway's id for the message (the SMTP Message-ID for e-mail), kept to answer
    #: "did she get it?"
    provider_id: Mapped[Optional[str]] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[Optional[str]] = mapped_column(String(500))
    #: naive UTC; not before this (back-off after a failure, or the end of the night)
    next_attempt_at: Mapped[Optional[datetime]]
    #: why nothing is sent (``no_phone``, ``no_sms_consent``, ``no_email``)
    skip_reason: Mapped[Optional[str]] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]

    member: Mapped[Optional["Member"]] = relationship()  # noqa: F821
    user: Mapped[Optional["User"]] = relationship()  # noqa: F821
    loan: Mapped[Optional[Loan]] = relationship()
    installment: Mapped[Optional[Installment]] = relationship()


#: APScheduler's job store (``loans.scheduler``), made by the migrations like every other
#: table; the columns are those SQLAlchemyJobStore declares, so it finds the table ready
scheduler_jobs = Table(
    "apscheduler_jobs", db.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


# ---------------------------------------------------------------- what the day calls for


@dataclass(frozen=True)
class Planned:
    """A reminder decided on but not yet written (what a dry run prints)."""

    kind: str
    channel: str
    recipient: str
    about: str
    for_date: date
    language: str
    body: str
    state: str
    skip_reason: Optional[str]
    #: whom it is for, in words (the dry run's and the outbox page's "to")
    name: str = ""
    subject: Optional[str] = None
    member_id: Optional[int] = None
    user_id: Optional[int] = None
    loan_id: Optional[int] = None
    installment_id: Optional[int] = None
    district_id: Optional[int] = None

    @property
    def key(self) -> tuple:
        return (self.kind, self.channel, self.recipient, self.about, self.for_date)


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


def _installments_due_on(days: list[date], country_id: Optional[int] = None):
    """Installments of the schedule in force of disbursed loans, due on one of these days,
    with the loan, member, group and product read in a few queries, not per row."""
    query = (select(Installment).join(Loan, Installment.loan_id == Loan.id)
             .where(Loan.status == "disbursed", Installment.version == Loan.schedule_version,
                    Installment.due_on.in_(days))
             .options(selectinload(Installment.loan).selectinload(Loan.member),
                      selectinload(Installment.loan).selectinload(Loan.product),
                      selectinload(Installment.loan).selectinload(Loan.group)
                      .selectinload(Group.village))
             .order_by(Installment.due_on, Installment.loan_id, Installment.number))
    if country_id is not None:
        query = (query.join(Group, Loan.group_id == Group.id).join(Village).join(District)
                 .join(Region).where(Region.country_id == country_id))
    return db.session.scalars(query).all()


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
    return Planned(kind, "sms", recipient, f"installment:{installment.id}", as_of, language,
                   body, state, reason, name=member.full_name, member_id=member.id,
                   loan_id=loan.id, installment_id=installment.id,
                   district_id=loan.group.village.district_id)


def plan_sms(as_of: date, country_id: Optional[int] = None) -> list[Planned]:
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
        sorted(as_of + timedelta(days=d) for d in offsets if d is not None), country_id)
    for installment in candidates:
        if (installment.due_on - as_of).days != _days_before(installment.loan):
            continue
        if installment.owed <= 0:
            continue  # paid in advance: nothing to remind
        planned.append(_plan_one("installment_due", installment, installment.owed, as_of))

    late = [i for i in _installments_due_on([as_of - timedelta(days=1)], country_id)
            if i.owed > 0]
    if late:  # their schedules and payments in two queries, for the positions
        db.session.scalars(
            select(Loan).where(Loan.id.in_({i.loan_id for i in late}))
            .options(selectinload(Loan.installments_all), selectinload(Loan.repayments))).all()
    for installment in late:
        standing = services.position(installment.loan, as_of)
        if standing.arrears <= 0:
            continue
        planned.append(_plan_one("installment_overdue", installment, standing.arrears, as_of))
    return planned


def plan(as_of: date, country_id: Optional[int] = None) -> list[Planned]:
    """Everything ``as_of`` calls for: the members' SMS and the staff's e-mail digests."""
    from loans import digests
    return plan_sms(as_of, country_id) + digests.plan(as_of, country_id)


def _existing_keys(as_of: date) -> set[tuple]:
    rows = db.session.execute(
        select(Reminder.kind, Reminder.channel, Reminder.recipient, Reminder.about,
               Reminder.for_date).where(Reminder.for_date == as_of))
    return {tuple(row) for row in rows}


def decide(as_of: date, now: Optional[datetime] = None,
           country_id: Optional[int] = None) -> list[Reminder]:
    """Write the day's reminders into the outbox; return the rows this call wrote.

    A reminder already there (an earlier run, or another process at the same moment) is
    left alone: the rows go in together in a savepoint, and if the unique key refuses one
    (another process queued it between our look and our insert) each row is tried in a
    savepoint of its own, and those the key refuses are skipped. The caller commits.
    """
    now = now or utcnow()
    existing = _existing_keys(as_of)
    rows, keys = [], set()
    for p in plan(as_of, country_id):
        if p.key in existing or p.key in keys:
            continue
        keys.add(p.key)
        rows.append(Reminder(kind=p.kind, channel=p.channel, recipient=p.recipient,
                             about=p.about, member_id=p.member_id, user_id=p.user_id,
                             loan_id=p.loan_id, installment_id=p.installment_id,
                             district_id=p.district_id, for_date=p.for_date,
                             language=p.language, subject=p.subject, body=p.body,
                             state=p.state, skip_reason=p.skip_reason, attempts=0,
                             next_attempt_at=now if p.state == "queued" else None))
    try:  # all at once: the usual case, nobody else deciding the same day
        with db.session.begin_nested():
            db.session.add_all(rows)
        return rows
    except IntegrityError:
        pass
    written = []
    for row in rows:  # another process is at it too: each row on its own
        row = _copy(row)
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            continue  # queued by another process between our look and our insert
        written.append(row)
    return written


def _copy(row: Reminder) -> Reminder:
    """A fresh, unsaved copy of a row whose first insert was rolled back."""
    return Reminder(**{c.key: getattr(row, c.key) for c in Reminder.__table__.columns
                       if c.key != "id"})


def pending(as_of: date, country_id: Optional[int] = None) -> list[Planned]:
    """What ``decide`` would write today (a dry run): planned and not in the outbox yet."""
    existing = _existing_keys(as_of)
    return [p for p in plan(as_of, country_id) if p.key not in existing]


# ---------------------------------------------------------------- the outbox page


def outbox_query(user, kind: Optional[str] = None, state: Optional[str] = None,
                 channel: Optional[str] = None, on: Optional[date] = None,
                 recipient: str = ""):
    """The outbox as the user may see it, newest day first: a district officer sees the
    messages about her districts and the e-mail sent to herself."""
    query = select(Reminder).order_by(Reminder.for_date.desc(), Reminder.id.desc())
    ids = access.district_ids(user)
    if ids is not None:
        query = query.where(or_(Reminder.district_id.in_(ids or [-1]),
                                Reminder.user_id == user.id))
    if kind in KINDS:
        query = query.where(Reminder.kind == kind)
    if state in STATES:
        query = query.where(Reminder.state == state)
    if channel in CHANNELS:
        query = query.where(Reminder.channel == channel)
    if on is not None:
        query = query.where(Reminder.for_date == on)
    recipient = (recipient or "").strip()
    if recipient:
        like = f"%{recipient.lower()}%"
        names = select(Member.id).where(func.lower(Member.full_name).like(like))
        query = query.where(or_(func.lower(Reminder.recipient).like(like),
                                Reminder.member_id.in_(names)))
    return query


def may_see(user, reminder: Reminder) -> bool:
    ids = access.district_ids(user)
    return ids is None or reminder.district_id in ids or reminder.user_id == user.id


def may_act(user, reminder: Reminder) -> bool:
    """Retrying a message, or switching off a member's SMS, is for the project office and
    the district's staff (not viewers)."""
    if user.role == "admin":
        return True
    return reminder.district_id is not None and access.can_change(user, reminder.district_id)


def switch_off_sms(member) -> int:
    """She no longer wants SMS: her consent is withdrawn and what is still waiting for her is
    not sent (``skipped``, reason ``no_sms_consent``). Returns how many were held back."""
    member.sms_consent = False
    held = db.session.execute(
        update(Reminder).where(Reminder.member_id == member.id, Reminder.channel == "sms",
                               Reminder.state.in_(("queued", "failed")))
        .values(state="skipped", skip_reason=SKIP_NO_CONSENT, next_attempt_at=None)
        .execution_options(synchronize_session=False))
    return held.rowcount


# ---------------------------------------------------------------- sending


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 5, 25, 125 minutes."""
    return timedelta(minutes=BACKOFF_BASE_MINUTES * BACKOFF_FACTOR ** max(attempts - 1, 0))


def _timezone_of(district_id: Optional[int], known: dict) -> str:
    """The timezone of the country the message concerns (Asia/Bishkek, Asia/Dushanbe),
    looked up once per district in a sending run."""
    if district_id not in known:
        district = db.session.get(District, district_id) if district_id else None
        try:
            known[district_id] = district.region.country.timezone or "Asia/Bishkek"
        except AttributeError:
            known[district_id] = "Asia/Bishkek"
    return known[district_id]


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


def send_due(gateway=None, now: Optional[datetime] = None, limit: int = 500,
             mailer=None) -> SendResult:
    """Send the queued (and failed, back-off over) rows whose time has come: SMS through
    ``gateway``, e-mail through ``mailer`` (a channel without one waits).

    Each row is claimed with ``UPDATE ... SET state='sending' WHERE state IN ('queued',
    'failed')``: only the process whose update changed the row sends it. The claim is
    committed before the gateway is called, so this function commits (unlike other
    services): a crash after the claim leaves the row in ``sending`` rather than sending
    it a second time; such rows are for an officer to look at, never resent blindly.
    A failure waits 1, 5, 25, ... minutes; after ``MAX_ATTEMPTS`` the row is ``given_up``.
    During the member's night (21:00-08:00 in her country) an SMS waits until 08:00 local.
    """
    now = now or utcnow()
    result = SendResult()
    zones: dict = {}
    senders = {channel: sender for channel, sender in (("sms", gateway), ("email", mailer))
               if sender is not None}
    if not senders:
        return result
    ids = db.session.scalars(
        select(Reminder.id).where(Reminder.channel.in_(senders),
                                  Reminder.state.in_(("queued", "failed")),
                                  Reminder.next_attempt_at <= now)
        .order_by(Reminder.next_attempt_at, Reminder.id).limit(limit)).all()
    db.session.commit()
    for reminder_id in ids:
        reminder = db.session.get(Reminder, reminder_id)
        wake = (quiet_until(now, _timezone_of(reminder.district_id, zones))
                if reminder.channel == "sms" else None)
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
            if reminder.channel == "sms":
                provider_id = senders["sms"].send(reminder.recipient, reminder.body)
            else:
                provider_id = senders["email"].send(reminder.recipient, reminder.subject or "",
                                                    reminder.body)
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
            reminder.state, reminder.sent_at = "sent", now
            reminder.provider_id = provider_id[:200] if provider_id else None
            reminder.last_error = None
            result.sent += 1
        db.session.commit()
    return result


def retry(reminder: Reminder, now: Optional[datetime] = None) -> None:
    """An officer's "try again" on a failed or given-up row: queued now, with a fresh count
    of attempts. A sent, skipped or in-flight row is never resent from here."""
    if reminder.state not in ("failed", "given_up"):
        raise Invalid({"state": [_("Only a failed reminder can be sent again.")]})
    reminder.state, reminder.attempts = "queued", 0
    reminder.next_attempt_at = now or utcnow()


def run(as_of: date, gateway=None, now: Optional[datetime] = None, mailer=None,
        country_id: Optional[int] = None) -> tuple[list[Reminder], SendResult]:
    """The daily job: decide, commit (the keys are written before anything is sent; again
    from the start if SQLite finds another writer there), send."""
    written = commit_with_retry(lambda: decide(as_of, now=now, country_id=country_id))
    return written, send_due(gateway, now=now, mailer=mailer)
