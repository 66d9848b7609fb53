"""Geography, groups, households, members and meetings.

A member is the person who represents a family in a group; her time in a group is a
``Membership`` so that leaving one group and joining another keeps one credit history.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shg.extensions import db
from shg.money import Money
from shg.timeutil import utcnow

GENDERS = ("female", "male")
MEMBER_LANGUAGES = ("ky", "tg", "ru", "uz", "en")
GROUP_STATUSES = ("active", "dormant", "dissolved")
MEETING_FREQUENCIES = ("weekly", "biweekly", "monthly")
OFFICES = ("leader", "treasurer", "secretary")
ATTENDANCE = ("present", "absent", "excused", "late")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Country(db.Model):
    __tablename__ = "country"
    __table_args__ = (CheckConstraint("length(currency) = 3", name="ck_country_currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ISO 3166 alpha-2 (KG, TJ): also the region for reading local phone numbers
    code: Mapped[str] = mapped_column(String(2), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: ISO 4217: the currency savings and local figures are kept in
    currency: Mapped[str] = mapped_column(String(3))
    #: reminders and "today" for its villages are local to this zone
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Bishkek")

    regions: Mapped[list["Region"]] = relationship(back_populates="country", order_by="Region.name")


class Region(db.Model):
    """An oblast (KG) or viloyat (TJ)."""

    __tablename__ = "region"
    __table_args__ = (UniqueConstraint("country_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    country_id: Mapped[int] = mapped_column(ForeignKey("country.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))

    country: Mapped[Country] = relationship(back_populates="regions")
    districts: Mapped[list["District"]] = relationship(back_populates="region",
                                                       order_by="District.name")


class District(db.Model):
    """A raion (KG) or nohiya (TJ): the unit of a field worker's reach."""

    __tablename__ = "district"
    __table_args__ = (UniqueConstraint("region_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))

    region: Mapped[Region] = relationship(back_populates="districts")
    villages: Mapped[list["Village"]] = relationship(back_populates="district",
                                                     order_by="Village.name")

    @property
    def country(self) -> Country:
        return self.region.country


class Village(db.Model):
    __tablename__ = "village"
    __table_args__ = (
        UniqueConstraint("district_id", "name"),
        CheckConstraint("is_pilot OR pilot_joined_on IS NULL", name="ck_village_pilot_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    is_pilot: Mapped[bool] = mapped_column(default=False)
    #: the day the village joined the programme as a pilot village
    pilot_joined_on: Mapped[Optional[date]]

    district: Mapped[District] = relationship(back_populates="villages")
    groups: Mapped[list["Group"]] = relationship(back_populates="village")


class Group(db.Model):
    """A self-help group (SHG)."""

    __tablename__ = "shg_group"
    __table_args__ = (
        UniqueConstraint("village_id", "name"),
        CheckConstraint(_in("status", GROUP_STATUSES), name="ck_group_status"),
        CheckConstraint(_in("meeting_frequency", MEETING_FREQUENCIES), name="ck_group_frequency"),
        CheckConstraint("meeting_day BETWEEN 0 AND 6", name="ck_group_meeting_day"),
        Index("ix_shg_group_village_status", "village_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    facilitator_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"), index=True)
    formed_on: Mapped[date]
    #: 0 = Monday … 6 = Sunday
    meeting_day: Mapped[int] = mapped_column(default=0)
    meeting_frequency: Mapped[str] = mapped_column(String(10), default="monthly")
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village] = relationship(back_populates="groups")
    facilitator: Mapped[Optional["User"]] = relationship()  # noqa: F821
    memberships: Mapped[list["Membership"]] = relationship(back_populates="group")
    meetings: Mapped[list["Meeting"]] = relationship(back_populates="group",
                                                     order_by="Meeting.held_on.desc()")

    @property
    def district_id(self) -> int:
        return self.village.district_id


class Household(db.Model):
    """A migrant family. Its migrants are listed by where they work."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    #: how the village knows the family, usually the head's surname
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[Optional[str]] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village] = relationship()
    migrants: Mapped[list["Migrant"]] = relationship(back_populates="household",
                                                     cascade="all, delete-orphan",
                                                     order_by="Migrant.destination")
    members: Mapped[list["Member"]] = relationship(back_populates="household")

    @property
    def district_id(self) -> int:
        return self.village.district_id

    @property
    def migrants_total(self) -> int:
        return sum(m.people for m in self.migrants)


class Migrant(db.Model):
    """How many people of a household work abroad in one destination country."""

    __tablename__ = "migrant"
    __table_args__ = (
        UniqueConstraint("household_id", "destination"),
        CheckConstraint("people > 0", name="ck_migrant_people"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    #: ISO 3166 alpha-2 of the country where they work (RU, KZ, …)
    destination: Mapped[str] = mapped_column(String(2))
    people: Mapped[int]

    household: Mapped[Household] = relationship(back_populates="migrants")


class Member(db.Model):
    """The person who represents a family in a group; kept for ever for credit history."""

    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint(_in("gender", GENDERS), name="ck_member_gender"),
        CheckConstraint(_in("language", MEMBER_LANGUAGES), name="ck_member_language"),
        CheckConstraint("birth_year BETWEEN 1900 AND 2100", name="ck_member_birth_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200), index=True)
    gender: Mapped[str] = mapped_column(String(6))
    birth_year: Mapped[Optional[int]]
    #: E.164 (+996…, +992…), validated with phonenumbers
    phone: Mapped[Optional[str]] = mapped_column(String(20))
    #: the language her SMS are written in
    language: Mapped[str] = mapped_column(String(2), default="ru")
    #: she agreed to receive SMS reminders
    sms_consent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    household: Mapped[Household] = relationship(back_populates="members")
    memberships: Mapped[list["Membership"]] = relationship(back_populates="member",
                                                           order_by="Membership.joined_on")

    @property
    def current_membership(self) -> Optional["Membership"]:
        return next((m for m in self.memberships if m.left_on is None), None)

    @property
    def district_id(self) -> int:
        return self.household.village.district_id


class Membership(db.Model):
    """A member's time in one group. Leaving sets ``left_on``; nothing is deleted."""

    __tablename__ = "membership"
    __table_args__ = (
        CheckConstraint("left_on IS NULL OR left_on >= joined_on", name="ck_membership_dates"),
        CheckConstraint(f"office IS NULL OR {_in('office', OFFICES)}", name="ck_membership_office"),
        #: a member is active in one group at a time
        Index("uq_membership_active_member", "member_id", unique=True,
              sqlite_where=text("left_on IS NULL"), postgresql_where=text("left_on IS NULL")),
        #: one leader, one treasurer, one secretary per group
        Index("uq_membership_active_office", "group_id", "office", unique=True,
              sqlite_where=text("left_on IS NULL AND office IS NOT NULL"),
              postgresql_where=text("left_on IS NULL AND office IS NOT NULL")),
        Index("ix_membership_group", "group_id", "left_on"),
        Index("ix_membership_member", "member_id", "joined_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("shg_group.id"))
    joined_on: Mapped[date]
    #: the first day she is no longer a member (the day she left)
    left_on: Mapped[Optional[date]]
    left_reason: Mapped[Optional[str]] = mapped_column(String(200))
    office: Mapped[Optional[str]] = mapped_column(String(10))

    member: Mapped[Member] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(back_populates="memberships")

    def active_on(self, day: date) -> bool:
        """``left_on`` is the first day she is no longer a member."""
        return self.joined_on <= day and (self.left_on is None or day < self.left_on)


class Meeting(db.Model):
    """A group meeting: who came, what each paid into savings, what was discussed."""

    __tablename__ = "meeting"
    #: one meeting a day per group, so a phone sending the form twice makes one meeting
    __table_args__ = (UniqueConstraint("group_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("shg_group.id"))
    held_on: Mapped[date]
    facilitator_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    topics: Mapped[Optional[str]] = mapped_column(Text)
    decisions: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[Group] = relationship(back_populates="meetings")
    facilitator: Mapped[Optional["User"]] = relationship()  # noqa: F821
    attendance: Mapped[list["Attendance"]] = relationship(back_populates="meeting",
                                                          cascade="all, delete-orphan")


class Attendance(db.Model):
    """One member at one meeting, with the savings she paid in there."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "member_id"),
        CheckConstraint(_in("status", ATTENDANCE), name="ck_attendance_status"),
        CheckConstraint("savings >= 0", name="ck_attendance_savings"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    #: paid in at this meeting, in the group's country currency
    savings: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))

    meeting: Mapped[Meeting] = relationship(back_populates="attendance")
    member: Mapped[Member] = relationship()
