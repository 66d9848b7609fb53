"""What can be imported, column by column, and how each row reaches the services.

A kind names its columns (English and Russian headers, how a cell is read), the services'
field names each column answers for (so a refusal lands on the right column), who may
import it, and ``import_row``: find the row's natural key, report "already there" when the
record exists, else call the same service the pages call. No rule about what a record may
hold lives here: names are looked up, cells are read, the services decide.

Natural keys (a second import of the same file finds every row already there):

========== ==================================================================
villages   district + village name
groups     village + group name
members    her phone, else her group + full name (the household: village + family name)
deliveries round + member + crop + variety (the table's own unique key)
harvests   member + crop + harvest day + volume + unit (the service's own duplicate rule)
loans      member + disbursement day (application day if not disbursed) + principal
repayments loan + day + amount + receipt number (repayments not reversed)
========== ==================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Optional

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from harvests import services as harvest_services
from harvests.models import SEASONS, Crop, DistributionRound, Harvest, SeedDelivery, Unit, Variety
from loans import services as loan_services
from loans.models import FREQUENCIES, METHODS, Lender, Loan, LoanProduct, Repayment
from shg.accounts import access
from shg.accounts.models import DISTRICT_ROLES, User
from shg.errors import Invalid
from shg.extensions import db
from shg.imports import values as V
from shg.labels import COUNTRIES, WEEKDAYS
from shg.money import CURRENCIES
from shg.registry import services as registry_services
from shg.registry.models import (GENDERS, GROUP_STATUSES, MEETING_FREQUENCIES, MEMBER_LANGUAGES,
                                 OFFICES, Country, District, Group, Household, Member, Membership,
                                 Migrant, Region, Village)

REGISTRY_ROLES = ("admin", *DISTRICT_ROLES)
#: who sets loans up, as on the loan pages (facilitators only collect repayments)
OFFICER_ROLES = ("admin", "loan_officer")
CREATED, EXISTS = "created", "exists"


class RowError(Exception):
    """A row refused by the import itself (a name not found): ``errors`` maps column -> messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {k: [str(m) for m in v] for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


def refuse(column: str, message: str):
    raise RowError({column: [message]})


# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    ru: str
    read: Callable
    #: the import needs it to find or name the record (the services check the rest)
    required: bool = False
    #: what to write in it: the template's help sheet
    note: object = ""
    #: other headers accepted for it (without case, spaces or dashes)
    aliases: tuple[str, ...] = ()

    def header(self, language: str) -> str:
        return self.ru if language == "ru" else self.en


def _weekday_words() -> dict:
    words = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
             "пн": 0, "вт": 1, "ср": 2, "чт": 3, "пт": 4, "сб": 5, "вс": 6}
    for number in range(1, 8):
        words[str(number)] = number - 1
    from flask_babel import force_locale
    for locale in ("en", "ru"):
        with force_locale(locale):
            for index, name in enumerate(WEEKDAYS):
                words[str(name)] = index
    return words


def _country_words() -> dict:
    from flask_babel import force_locale
    words = {}
    for locale in ("en", "ru"):
        with force_locale(locale):
            for code, name in COUNTRIES.items():
                words[str(name)] = code
    return words


_COUNTRY_TABLE: dict = {}


def read_migrants(value) -> list[dict]:
    """"RU 2; KZ 1" or "Россия 2, Казахстан 1": where the family's migrants work, how many."""
    if "table" not in _COUNTRY_TABLE:
        _COUNTRY_TABLE["table"] = V._choices(tuple(COUNTRIES), _country_words)
    countries = _COUNTRY_TABLE["table"]
    found = []
    for part in str(value).replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        words = part.rsplit(None, 1)
        people = 1
        if len(words) == 2 and words[1].isdigit():
            part, people = words[0], int(words[1])
        key = V.norm(part)
        code = countries.get(key) or (part.strip().upper() if len(key) == 2 and key.isalpha()
                                      else None)
        if code is None:
            raise ValueError(_("Unknown country %(value)s: write e.g. \"RU 2; KZ 1\".",
                               value=part[:40]))
        found.append({"destination": code, "people": people})
    return found


def _hint(*words: str) -> Callable[[], str]:
    return lambda: ", ".join(words)


GENDER = V.choice(GENDERS, lambda: {"f": "female", "m": "male", "ж": "female", "м": "male",
                                    "жен": "female", "муж": "male", "женщина": "female",
                                    "мужчина": "male", "женский": "female", "мужской": "male"},
                  _hint("female", "male", "ж", "м"))
LANGUAGE = V.choice(MEMBER_LANGUAGES, lambda: {"кыргызский": "ky", "киргизский": "ky",
                                               "таджикский": "tg", "русский": "ru",
                                               "узбекский": "uz", "английский": "en"},
                    _hint(*MEMBER_LANGUAGES))
OFFICE = V.choice(OFFICES, lambda: {"председатель": "leader", "руководитель": "leader"},
                  _hint(*OFFICES))
FREQUENCY = V.choice(MEETING_FREQUENCIES, lambda: {"еженедельно": "weekly",
                                                   "ежемесячно": "monthly",
                                                   "раз в неделю": "weekly",
                                                   "раз в месяц": "monthly"},
                     _hint(*MEETING_FREQUENCIES))
STATUS = V.choice(GROUP_STATUSES, lambda: {"активная": "active", "действует": "active",
                                           "распущена": "dissolved"}, _hint(*GROUP_STATUSES))
WEEKDAY = V.choice(range(7), _weekday_words, _hint("Monday … Sunday", "1 … 7"))
METHOD = V.choice(METHODS, lambda: {"flat interest": "flat", "аннуитет": "declining_equal_installments",
                                    "annuity": "declining_equal_installments"}, _hint(*METHODS))
LOAN_FREQUENCY = V.choice(FREQUENCIES, lambda: {"monthly": "month", "weekly": "week",
                                                "ежемесячно": "month", "еженедельно": "week"},
                          _hint(*FREQUENCIES))


def _currency(value) -> str:
    code = V.norm(value).upper()
    if code not in CURRENCIES:
        raise ValueError(_("Unknown currency %(value)s: write %(allowed)s.",
                           value=str(value)[:20], allowed=", ".join(CURRENCIES)))
    return code


def _phone(value) -> str:
    """A phone as text; a number cell (996555123456) was typed without its plus."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        digits = str(int(value))
        return "+" + digits if len(digits) >= 11 else digits
    return V.text(40)(value)


NAME = V.text(200)
TEXT = V.text(200)
DATE_NOTE = _l("a date: DD.MM.YYYY or YYYY-MM-DD")
NUMBER_NOTE = _l("a number; a decimal comma or point")


def col(key, en, ru, read=TEXT, required=False, note="", aliases=()):
    return Column(key, en, ru, read, required, note, aliases)


#: the columns that name a member in the files of seeds, harvests, loans and repayments
MEMBER_COLUMNS = (
    col("district", "District", "Район", note=_l("only needed when two villages share a name")),
    col("village", "Village", "Село", aliases=("айыл", "кишлак", "деревня"),
        note=_l("the member's village (with the group, finds her by name)")),
    col("group", "Group", "Группа", note=_l("the member's group (with the village)")),
    col("member", "Member", "Участница", NAME,
        aliases=("full name", "фио", "имя", "участник", "name"),
        note=_l("the member's full name (or her phone)")),
    col("phone", "Phone", "Телефон", _phone,
        note=_l("the member's phone: finds her without the village and group")),
)


# ---------------------------------------------------------------- looking things up


class Lookups:
    """Every name a file may use, read once per import (a 50,000-row file asks the
    database for a village once, not 50,000 times) and kept up to date as rows add
    records."""

    def __init__(self, by: User):
        self.by = by
        self._loaded: set[str] = set()
        #: while set, records made are not remembered (a row checked, then rolled back)
        self.frozen = False
        #: records kept referenced for the whole import, so the session never reads them twice
        self.kept: dict = {}

    def _once(self, what: str) -> bool:
        if what in self._loaded:
            return False
        self._loaded.add(what)
        return True

    # geography ------------------------------------------------------------
    def _geography(self):
        if not self._once("geography"):
            return
        self.districts: dict[str, list[int]] = {}
        self.district_region: dict[int, str] = {}
        for d_id, d_name, r_name, code in db.session.execute(
                select(District.id, District.name, Region.name, Country.code)
                .join(Region, District.region_id == Region.id)
                .join(Country, Region.country_id == Country.id)):
            self.districts.setdefault(V.norm(d_name), []).append(d_id)
            self.district_region[d_id] = V.norm(r_name)
        self.villages: dict[str, list[int]] = {}
        self.village_key: dict[tuple[int, str], int] = {}
        self.village_district: dict[int, int] = {}
        self.village_country: dict[int, str] = {}
        for v_id, v_name, d_id, code in db.session.execute(
                select(Village.id, Village.name, Village.district_id, Country.code)
                .join(District, Village.district_id == District.id)
                .join(Region, District.region_id == Region.id)
                .join(Country, Region.country_id == Country.id)):
            self.villages.setdefault(V.norm(v_name), []).append(v_id)
            self.village_key[(d_id, V.norm(v_name))] = v_id
            self.village_district[v_id] = d_id
            self.village_country[v_id] = code
        self.countries = list(db.session.scalars(select(Country.code).order_by(Country.code)))

    def district_id(self, row: dict, column: str = "district") -> int:
        self._geography()
        name = row.get(column)
        if not name:
            refuse(column, _("Fill in the district."))
        found = self.districts.get(V.norm(name), [])
        if row.get("region"):
            found = [d for d in found if self.district_region[d] == V.norm(row["region"])]
        if not found:
            refuse(column, _("No district named %(name)s.", name=name))
        if len(found) > 1:
            refuse(column, _("Several districts are named %(name)s: add the region.", name=name))
        return found[0]

    def village_id(self, row: dict) -> int:
        self._geography()
        name = row.get("village")
        if not name:
            refuse("village", _("Fill in the village."))
        found = self.villages.get(V.norm(name), [])
        if row.get("district"):
            wanted = set(self.districts.get(V.norm(row["district"]), []))
            found = [v for v in found if self.village_district[v] in wanted]
            if not found:
                refuse("village", _("No village named %(name)s in the district %(district)s.",
                                    name=name, district=row["district"]))
        if not found:
            refuse("village", _("No village named %(name)s.", name=name))
        if len(found) > 1:
            refuse("village", _("Several villages are named %(name)s: add the district.",
                                name=name))
        return found[0]

    def add_village(self, village: Village) -> None:
        self._geography()
        if self.frozen:
            return
        self.villages.setdefault(V.norm(village.name), []).append(village.id)
        self.village_key[(village.district_id, V.norm(village.name))] = village.id
        self.village_district[village.id] = village.district_id
        self.village_country[village.id] = village.district.region.country.code

    # groups ---------------------------------------------------------------
    def _groups(self):
        if not self._once("groups"):
            return
        self.group_key: dict[tuple[int, str], int] = {}
        for g_id, v_id, name in db.session.execute(select(Group.id, Group.village_id, Group.name)):
            self.group_key[(v_id, V.norm(name))] = g_id

    def group_id(self, row: dict, village_id: Optional[int] = None) -> int:
        self._groups()
        village_id = village_id or self.village_id(row)
        name = row.get("group")
        if not name:
            refuse("group", _("Fill in the group."))
        found = self.group_key.get((village_id, V.norm(name)))
        if found is None:
            refuse("group", _("No group named %(name)s in the village %(village)s.",
                              name=name, village=row.get("village")))
        return found

    def add_group(self, group: Group) -> None:
        self._groups()
        if self.frozen:
            return
        self.group_key[(group.village_id, V.norm(group.name))] = group.id

    # households and members ----------------------------------------------
    def _members(self):
        if not self._once("members"):
            return
        self.household_key: dict[tuple[int, str], int] = {}
        for h_id, v_id, name in db.session.execute(
                select(Household.id, Household.village_id, Household.name)):
            self.household_key.setdefault((v_id, V.norm(name)), h_id)
        self.member_phone: dict[str, int] = {}
        self.member_name: dict[int, str] = {}
        for m_id, name, phone in db.session.execute(
                select(Member.id, Member.full_name, Member.phone)):
            self.member_name[m_id] = name
            if phone:
                self.member_phone.setdefault(phone, m_id)
        self.member_in_group: dict[tuple[int, str], list[int]] = {}
        for g_id, m_id in db.session.execute(
                select(Membership.group_id, Membership.member_id).distinct()):
            ids = self.member_in_group.setdefault((g_id, V.norm(self.member_name[m_id])), [])
            if m_id not in ids:
                ids.append(m_id)

    def normal_phone(self, phone: str, village_id: Optional[int]) -> Optional[str]:
        """The phone in E.164 as the registry stores it, read as her country writes it."""
        self._geography()
        codes = [self.village_country[village_id]] if village_id else self.countries
        for code in codes or ["KG"]:
            try:
                found = registry_services.normalise_phone(phone, code)
            except ValueError:
                continue
            if found:
                return found
        return None

    def member_by_key(self, phone: Optional[str], group_id: Optional[int],
                      name: Optional[str]) -> Optional[int]:
        self._members()
        if phone and phone in self.member_phone:
            return self.member_phone[phone]
        if group_id and name:
            found = self.member_in_group.get((group_id, V.norm(name)), [])
            return found[0] if found else None
        return None

    def add_household(self, key: tuple[int, str], household_id: int) -> None:
        self._members()
        if not self.frozen:
            self.household_key[key] = household_id

    def add_member(self, member_id: int, name: str, phone: Optional[str], group_id: int) -> None:
        self._members()
        if self.frozen:
            return
        self.member_name[member_id] = name
        if phone:
            self.member_phone.setdefault(phone, member_id)
        self.member_in_group.setdefault((group_id, V.norm(name)), []).append(member_id)

    def member_id(self, row: dict) -> int:
        """The member a row of seeds, harvests or loans is about: by her phone, or by her
        name in her group."""
        self._members()
        name, phone = row.get("member"), row.get("phone")
        if phone:
            village_id = self.village_id(row) if row.get("village") else None
            e164 = self.normal_phone(phone, village_id)
            found = self.member_phone.get(e164) if e164 else None
            if found is None and not name:
                refuse("phone", _("No member has the phone %(phone)s.", phone=phone))
            if found is not None:
                if name and V.norm(name) != V.norm(self.member_name[found]):
                    refuse("phone", _("The phone %(phone)s is %(name)s's.", phone=phone,
                                      name=self.member_name[found]))
                return found
        if not name:
            refuse("member", _("Name the member (or give her phone)."))
        group_id = self.group_id(row)
        found = self.member_in_group.get((group_id, V.norm(name)), [])
        if not found:
            refuse("member", _("No member named %(name)s in the group %(group)s.",
                               name=name, group=row.get("group")))
        if len(found) > 1:
            refuse("member", _("Several members of the group are named %(name)s: add her "
                               "phone.", name=name))
        return found[0]

    # the catalogue --------------------------------------------------------
    def _catalogue(self):
        if not self._once("catalogue"):
            return
        self.crops: dict[str, int] = {}
        for c_id, name, name_ru in db.session.execute(select(Crop.id, Crop.name, Crop.name_ru)):
            self.crops.setdefault(V.norm(name), c_id)
            if name_ru:
                self.crops.setdefault(V.norm(name_ru), c_id)
        self.varieties = {(c, V.norm(n)): v for v, c, n in db.session.execute(
            select(Variety.id, Variety.crop_id, Variety.name))}
        self.units: dict[str, int] = {}
        for u_id, code, name, name_ru in db.session.execute(
                select(Unit.id, Unit.code, Unit.name, Unit.name_ru)):
            for word in (code, name, name_ru):
                if word:
                    self.units.setdefault(V.norm(word), u_id)
        self.rounds = {V.norm(n): r for r, n in db.session.execute(
            select(DistributionRound.id, DistributionRound.name))}
        self.products = {V.norm(n): p for p, n in db.session.execute(
            select(LoanProduct.id, LoanProduct.name))}
        self.lenders = {V.norm(n): x for x, n in db.session.execute(select(Lender.id, Lender.name))}

    def named(self, table: str, row: dict, column: str, missing: str, unknown: str) -> int:
        self._catalogue()
        name = row.get(column)
        if not name:
            refuse(column, missing)
        found = getattr(self, table).get(V.norm(name))
        if found is None:
            refuse(column, unknown % {"name": name})
        return found

    def crop_and_variety(self, row: dict) -> tuple[int, Optional[int]]:
        crop_id = self.named("crops", row, "crop", _("Fill in the crop."),
                             _("No crop named %(name)s."))
        variety_id = None
        if row.get("variety"):
            variety_id = self.varieties.get((crop_id, V.norm(row["variety"])))
            if variety_id is None:
                refuse("variety", _("No variety %(name)s of this crop.", name=row["variety"]))
        return crop_id, variety_id

    def unit(self, row: dict, column: str) -> dict:
        """The unit's id when the name is known, else its text for the service to refuse."""
        self._catalogue()
        text = row.get(column)
        if not text:
            return {}
        found = self.units.get(V.norm(text))
        return {f"{column}_id": found} if found else {column: text}


# ---------------------------------------------------------------- the kinds


@dataclass
class Kind:
    name: str
    title: object
    columns: tuple[Column, ...]
    #: a service's field -> the column it is about
    fields: dict[str, str]
    #: roles that may import it (district roles into their own districts only)
    roles: tuple[str, ...]
    import_row: Callable[[dict, Lookups], str]
    #: rows are checked with the services' check functions and written in batches
    import_batch: Optional[Callable] = None
    notes: dict = field(default_factory=dict)

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def _changeable(by: User, district_id: int, column: str) -> None:
    """A record found by its natural key is reported as already there only to a user who
    could have made it; to others it is out of reach."""
    if not (access.can_change_registry(by) and access.can_change(by, district_id)):
        refuse(column, _("This is in a district you are not assigned to."))


# villages -----------------------------------------------------------------


def import_village(row: dict, look: Lookups) -> str:
    district_id = look.district_id(row)
    if (district_id, V.norm(row["village"])) in look.village_key:
        _changeable(look.by, district_id, "village")
        return EXISTS
    village = registry_services.save_village(None, {
        "district_id": district_id, "name": row["village"], "is_pilot": bool(row.get("is_pilot")),
        "pilot_joined_on": row.get("pilot_joined_on")}, by=look.by)
    look.add_village(village)
    return CREATED


VILLAGES = Kind(
    "villages", _l("Villages"),
    (col("region", "Region", "Область", note=_l("only needed when two districts share a name")),
     col("district", "District", "Район", required=True),
     col("village", "Village", "Село", required=True, aliases=("name", "название", "айыл")),
     col("is_pilot", "Pilot village", "Пилотное село", V.yes_no, note=_l("yes or no")),
     col("pilot_joined_on", "Joined the programme", "Дата вступления в программу", V.a_date,
         note=DATE_NOTE)),
    {"district_id": "district", "name": "village", "pilot_joined_on": "pilot_joined_on"},
    ("admin",), import_village)


# groups -------------------------------------------------------------------


def import_group(row: dict, look: Lookups) -> str:
    village_id = look.village_id(row)
    look._groups()
    if (village_id, V.norm(row["group"])) in look.group_key:
        _changeable(look.by, look.village_district[village_id], "group")
        return EXISTS
    facilitator_id = None
    if row.get("facilitator"):
        facilitator_id = db.session.scalar(select(User.id).where(
            User.username == row["facilitator"].strip()))
        if facilitator_id is None:
            refuse("facilitator", _("No user named %(name)s.", name=row["facilitator"]))
    group = registry_services.save_group(None, {
        "name": row["group"], "village_id": village_id, "facilitator_id": facilitator_id,
        "formed_on": row.get("formed_on"), "meeting_day": row.get("meeting_day"),
        "meeting_frequency": row.get("meeting_frequency"),
        "status": row.get("status") or "active"}, by=look.by)
    look.add_group(group)
    return CREATED


GROUPS = Kind(
    "groups", _l("Groups"),
    (col("district", "District", "Район", note=_l("only needed when two villages share a name")),
     col("village", "Village", "Село", required=True, aliases=("айыл",)),
     col("group", "Group", "Группа", required=True, aliases=("name", "название")),
     col("formed_on", "Formed on", "Дата создания", V.a_date, note=DATE_NOTE),
     col("meeting_day", "Meeting day", "День встреч", WEEKDAY,
         note=_l("Monday … Sunday (or 1 … 7)")),
     col("meeting_frequency", "Meets", "Периодичность встреч", FREQUENCY,
         note=_l("weekly, biweekly or monthly")),
     col("status", "Status", "Статус", STATUS, note=_l("active, dormant or dissolved")),
     col("facilitator", "Facilitator", "Фасилитатор", note=_l("the facilitator's user name"))),
    {"name": "group", "village_id": "village", "formed_on": "formed_on",
     "meeting_day": "meeting_day", "meeting_frequency": "meeting_frequency", "status": "status",
     "facilitator_id": "facilitator"},
    REGISTRY_ROLES, import_group)


# households and members -----------------------------------------------------


def _member_data(row: dict, household_id: int, group_id: int) -> dict:
    return {"household_id": household_id, "group_id": group_id, "full_name": row.get("member"),
            "gender": row.get("gender"), "birth_year": row.get("birth_year"),
            "phone": row.get("phone"), "language": row.get("language") or "ru",
            "sms_consent": bool(row.get("sms_consent")), "joined_on": row.get("joined_on"),
            "office": row.get("office")}


def _member_key(row: dict, look: Lookups) -> tuple[int, int, Optional[str]]:
    village_id = look.village_id(row)
    group_id = look.group_id(row, village_id)
    phone = look.normal_phone(row["phone"], village_id) if row.get("phone") else None
    return village_id, group_id, phone


def _household_data(row: dict, village_id: int) -> dict:
    data = {"village_id": village_id, "name": row.get("household"),
            "address": row.get("address")}
    if row.get("migrants") is not None:
        data["migrants"] = row["migrants"]
    return data


def import_member(row: dict, look: Lookups) -> str:
    """One member, row by row through ``save_household`` and ``create_member`` (the batch
    path below does the same in batches)."""
    village_id, group_id, phone = _member_key(row, look)
    existing = look.member_by_key(phone, group_id, row.get("member"))
    if existing is not None:
        _changeable(look.by, look.village_district[village_id], "member")
        return EXISTS
    look._members()
    household_id = look.household_key.get((village_id, V.norm(row.get("household") or "")))
    if household_id is None:
        household = registry_services.save_household(None, _household_data(row, village_id),
                                                     by=look.by)
        household_id = household.id
        look.add_household((village_id, V.norm(household.name)), household_id)
    member = registry_services.create_member(_member_data(row, household_id, group_id), by=look.by)
    look.add_member(member.id, member.full_name, member.phone, group_id)
    return CREATED


def import_members_batch(rows: list[tuple[int, dict]], look: Lookups, outcome: Callable) -> None:
    """Members in batches: every row is checked by ``check_household`` and ``check_member``
    (the rules ``save_household`` and ``create_member`` apply), and the records are written
    with one flush per batch instead of one per row: a flush costs about a millisecond
    whatever it holds, and a 50,000-row file would spend minutes on them.

    ``outcome(line, result_or_errors)`` reports each row: CREATED, EXISTS, or an exception.
    Records are made with ids, not relationships, so no group or household object collects
    every new member in memory.
    """
    keyed = []
    for line, row in rows:
        try:
            village_id, group_id, phone = _member_key(row, look)
            existing = look.member_by_key(phone, group_id, row.get("member"))
            if existing is not None:
                _changeable(look.by, look.village_district[village_id], "member")
                outcome(line, EXISTS)
                continue
            keyed.append((line, row, village_id, group_id, phone))
            # a later row of the batch with the same key is a repeat of this one
            look.add_member(-line, row.get("member") or "", phone, group_id)
        except (Invalid, RowError) as exc:
            outcome(line, exc)
    held = _hold(look, keyed)  # referenced until the batch is written
    pending = []
    new_households: dict[tuple[int, str], Household] = {}
    migrants_of: dict[tuple[int, str], list] = {}
    for line, row, village_id, group_id, phone in keyed:
        key = (village_id, V.norm(row.get("household") or ""))
        try:
            if key not in look.household_key and key not in new_households:
                name, village, migrants = registry_services.check_household(
                    _household_data(row, village_id), by=look.by)
                household = Household(village_id=village.id, name=name,
                                      address=(row.get("address") or "").strip() or None)
                db.session.add(household)
                new_households[key] = household
                migrants_of[key] = migrants or ()
        except Invalid as exc:
            _forget_placeholder(look, -line, row.get("member") or "", phone, group_id)
            outcome(line, exc)
            continue
        pending.append((line, row, key, group_id, phone))
    if new_households:
        db.session.flush()
        for key, household in new_households.items():
            look.household_key[key] = household.id
        db.session.add_all([Migrant(household_id=household.id, destination=destination,
                                    people=people)
                            for key, household in new_households.items()
                            for destination, people in migrants_of[key]])
    made = []
    for line, row, key, group_id, phone in pending:
        try:
            checked = registry_services.check_member(
                _member_data(row, look.household_key[key], group_id), by=look.by)
        except Invalid as exc:
            _forget_placeholder(look, -line, row.get("member") or "", phone, group_id)
            outcome(line, exc)
            continue
        member = Member(household_id=checked["household"].id, **checked["person"])
        db.session.add(member)
        made.append((line, row, member, group_id, phone, checked))
    if made:
        db.session.flush()
        # by id, after the members have theirs: no relationship events, no collections
        db.session.add_all([Membership(member_id=member.id, group_id=group_id,
                                       joined_on=checked["joined_on"], office=checked["office"])
                            for _l, _r, member, group_id, _p, checked in made])
        db.session.flush()
    for line, row, member, group_id, phone, _checked in made:
        _forget_placeholder(look, -line, row.get("member") or "", phone, group_id)
        look.add_member(member.id, member.full_name, member.phone, group_id)
        outcome(line, CREATED)
    del held


def _hold(look: Lookups, keyed: list) -> list:
    """Every record the batch's checks read, loaded in a few queries and kept referenced.

    The session forgets a record nobody refers to; reading it again would be a query, and a
    query first flushes what is pending (autoflush): one flush per row again. Held, the
    groups, villages and households are found in the session without asking the database.
    """
    if not keyed:
        return []
    group_ids = {g for _l, _r, _v, g, _p in keyed}
    village_ids = {v for _l, _r, v, _g, _p in keyed}
    household_ids = {look.household_key[k] for k in (
        (v, V.norm(r.get("household") or "")) for _l, r, v, _g, _p in keyed)
        if k in look.household_key}
    kept = look.kept  # groups and villages: held for the whole import, read once each
    if not kept:
        kept.update({("country", c.id): c for c in db.session.scalars(select(Country))})
        kept.update({("region", r.id): r for r in db.session.scalars(select(Region))})
        kept.update({("district", d.id): d for d in db.session.scalars(select(District))})
    village_ids |= {v for v, in db.session.execute(
        select(Group.village_id).where(Group.id.in_(group_ids - {g for k, g in kept
                                                                 if k == "group"})))}
    for model, kind, ids in ((Village, "village", village_ids), (Group, "group", group_ids)):
        missing = [i for i in ids if (kind, i) not in kept]
        if missing:
            kept.update({(kind, o.id): o for o in db.session.scalars(
                select(model).where(model.id.in_(missing)))})
    held: list = []
    if household_ids:
        held += db.session.scalars(select(Household).where(Household.id.in_(household_ids)))
    held.append(look.by)
    return held


def _forget_placeholder(look: Lookups, placeholder: int, name: str, phone: Optional[str],
                        group_id: int) -> None:
    if phone and look.member_phone.get(phone) == placeholder:
        del look.member_phone[phone]
    ids = look.member_in_group.get((group_id, V.norm(name)), [])
    if placeholder in ids:
        ids.remove(placeholder)
    look.member_name.pop(placeholder, None)


MEMBERS = Kind(
    "members", _l("Households and members"),
    (col("district", "District", "Район", note=_l("only needed when two villages share a name")),
     col("village", "Village", "Село", required=True, aliases=("айыл",)),
     col("household", "Household", "Семья", required=True,
         aliases=("family", "домохозяйство", "хозяйство"),
         note=_l("the family's name; members of one family share it")),
     col("address", "Address", "Адрес"),
     col("migrants", "Migrants", "Мигранты", read_migrants,
         note=_l("where the family's migrants work, how many: RU 2; KZ 1")),
     col("group", "Group", "Группа", required=True),
     col("member", "Full name", "ФИО", NAME, required=True,
         aliases=("member", "участница", "name", "имя")),
     col("gender", "Gender", "Пол", GENDER, note=_l("female or male")),
     col("birth_year", "Year of birth", "Год рождения", V.an_int),
     col("phone", "Phone", "Телефон", _phone, note=_l("+996 555 123 456, or as written locally")),
     col("language", "SMS language", "Язык SMS", LANGUAGE, note=_l("ky, tg, ru, uz or en")),
     col("sms_consent", "Agrees to SMS", "Согласие на SMS", V.yes_no, note=_l("yes or no")),
     col("joined_on", "Joined the group", "Дата вступления", V.a_date, note=DATE_NOTE),
     col("office", "Office", "Должность", OFFICE, note=_l("leader, treasurer or secretary"))),
    {"name": "household", "village_id": "village", "migrants": "migrants",
     "household_id": "household", "group_id": "group", "full_name": "member",
     "gender": "gender", "birth_year": "birth_year", "phone": "phone", "language": "language",
     "sms_consent": "sms_consent", "joined_on": "joined_on", "office": "office"},
    REGISTRY_ROLES, import_member, import_members_batch)


# seed deliveries ---------------------------------------------------------------


def import_delivery(row: dict, look: Lookups) -> str:
    member_id = look.member_id(row)
    round_id = look.named("rounds", row, "round", _("Fill in the distribution round."),
                          _("No distribution round named %(name)s."))
    crop_id, variety_id = look.crop_and_variety(row)
    if db.session.scalar(select(SeedDelivery.id).where(
            SeedDelivery.round_id == round_id, SeedDelivery.member_id == member_id,
            SeedDelivery.crop_id == crop_id,
            SeedDelivery.variety_id == variety_id if variety_id
            else SeedDelivery.variety_id.is_(None))) is not None:
        _changeable(look.by, db.session.get(Member, member_id).district_id, "member")
        return EXISTS
    harvest_services.record_delivery({
        "round_id": round_id, "member_id": member_id, "delivered_on": row.get("delivered_on"),
        "crop_id": crop_id, "variety_id": variety_id, "quantity": row.get("quantity"),
        **look.unit(row, "unit"), "value": row.get("value"), "currency": row.get("currency")},
        by=look.by)
    return CREATED


DELIVERIES = Kind(
    "deliveries", _l("Seed deliveries"),
    (col("round", "Round", "Раунд распределения", required=True,
         note=_l("the distribution round's name, as recorded in the ledger")),
     *MEMBER_COLUMNS,
     col("delivered_on", "Delivered on", "Дата выдачи", V.a_date, note=DATE_NOTE),
     col("crop", "Crop", "Культура", required=True),
     col("variety", "Variety", "Сорт"),
     col("quantity", "Quantity", "Количество", V.a_decimal, note=NUMBER_NOTE),
     col("unit", "Unit", "Единица", note=_l("g, kg, a packet, seedling")),
     col("value", "Value", "Стоимость", V.a_decimal, note=NUMBER_NOTE),
     col("currency", "Currency", "Валюта", _currency, note=", ".join(CURRENCIES))),
    {"round_id": "round", "member_id": "member", "delivered_on": "delivered_on",
     "crop_id": "crop", "variety_id": "variety", "quantity": "quantity", "unit_id": "unit",
     "unit": "unit", "value": "value", "currency": "currency"},
    REGISTRY_ROLES, import_delivery)


# harvests -------------------------------------------------------------------------


def import_harvest(row: dict, look: Lookups) -> str:
    member_id = look.member_id(row)
    crop_id, variety_id = look.crop_and_variety(row)
    unit = look.unit(row, "unit")
    if unit.get("unit_id") and row.get("volume") is not None and row.get("harvested_on"):
        if db.session.scalar(select(Harvest.id).where(
                Harvest.member_id == member_id, Harvest.crop_id == crop_id,
                Harvest.harvested_on == row["harvested_on"], Harvest.volume == row["volume"],
                Harvest.unit_id == unit["unit_id"])) is not None:
            _changeable(look.by, db.session.get(Member, member_id).district_id, "member")
            return EXISTS
    harvest_services.record_harvest({
        "member_id": member_id, "crop_id": crop_id, "variety_id": variety_id,
        "season": row.get("season"), "year": row.get("year"),
        "harvested_on": row.get("harvested_on"), "area": row.get("area"),
        **look.unit(row, "area_unit"), "volume": row.get("volume"), **unit,
        "quantity_sold": row.get("quantity_sold"), "price": row.get("price"),
        "market_value": row.get("market_value"), "currency": row.get("currency"),
        "own_seeds": bool(row.get("own_seeds"))}, by=look.by)
    return CREATED


SEASON = V.choice(SEASONS, lambda: {"весна": "spring", "лето": "summer", "осень": "autumn",
                                    "зима": "winter"}, _hint(*SEASONS))


def read_season(value) -> str:
    """A usual season in English or Russian, or a free label ("second crop")."""
    try:
        return SEASON(value)
    except ValueError:
        return V.text(40)(value)


HARVESTS = Kind(
    "harvests", _l("Harvests"),
    (*MEMBER_COLUMNS,
     col("crop", "Crop", "Культура", required=True),
     col("variety", "Variety", "Сорт"),
     col("season", "Season", "Сезон", read_season,
         note=_l("spring, summer, autumn, winter, or a name")),
     col("year", "Year", "Год", V.an_int, note=_l("the season's year (default: the harvest's)")),
     col("harvested_on", "Harvested on", "Дата сбора", V.a_date, note=DATE_NOTE),
     col("area", "Area", "Площадь", V.a_decimal, note=NUMBER_NOTE),
     col("area_unit", "Area unit", "Единица площади", note=_l("sotka, ha or m2")),
     col("volume", "Volume", "Урожай", V.a_decimal, aliases=("объем", "объём урожая"),
         note=NUMBER_NOTE),
     col("unit", "Unit", "Единица", note=_l("kg, centner or t")),
     col("quantity_sold", "Sold", "Продано", V.a_decimal, note=_l("in the volume's unit")),
     col("price", "Price per unit", "Цена за единицу", V.a_decimal, note=NUMBER_NOTE),
     col("market_value", "Market value", "Рыночная стоимость", V.a_decimal,
         note=_l("only when no price is given")),
     col("currency", "Currency", "Валюта", _currency, note=", ".join(CURRENCIES)),
     col("own_seeds", "Own seeds", "Свои семена", V.yes_no,
         note=_l("yes: not grown from the programme's seeds"))),
    {"member_id": "member", "crop_id": "crop", "variety_id": "variety", "season": "season",
     "year": "year", "harvested_on": "harvested_on", "area": "area",
     "area_unit_id": "area_unit", "area_unit": "area_unit", "volume": "volume",
     "unit_id": "unit", "unit": "unit", "quantity_sold": "quantity_sold", "price": "price",
     "market_value": "market_value", "currency": "currency", "delivery_id": "crop"},
    REGISTRY_ROLES, import_harvest)


# loans ------------------------------------------------------------------------------


LOAN_TERMS = ("method", "rate", "installments", "frequency", "grace_on_principal",
              "grace_on_interest")


def import_loan(row: dict, look: Lookups) -> str:
    """Applied, approved and disbursed through the loan services, as on the loan page, so
    its schedule is the one the engine builds from its terms."""
    if look.by.role not in OFFICER_ROLES:
        refuse("", _("Only a loan officer may do this."))
    member_id = look.member_id(row)
    product_id = look.named("products", row, "product", _("Fill in the loan product."),
                            _("No loan product named %(name)s."))
    lender_id = look.named("lenders", row, "lender", _("Fill in the lender."),
                           _("No lender named %(name)s."))
    disbursed_on, approved_on = row.get("disbursed_on"), row.get("approved_on")
    day = disbursed_on or row.get("applied_on")
    principal = row.get("principal")
    if day is not None and principal is not None:
        for loan in db.session.scalars(select(Loan).where(Loan.member_id == member_id,
                                                          Loan.principal == principal)):
            if (loan.disbursed_on or loan.applied_on) == day:
                _changeable(look.by, loan.district_id, "member")
                return EXISTS
    data = {"member_id": member_id, "product_id": product_id, "lender_id": lender_id,
            "principal": principal, "purpose": row.get("purpose"),
            "applied_on": row.get("applied_on") or approved_on or disbursed_on,
            "currency": row.get("currency"), "first_due_on": row.get("first_due_on"),
            "disbursed_on": disbursed_on}
    data.update({k: row[k] for k in LOAN_TERMS if row.get(k) is not None})
    loan = loan_services.apply_for_loan(data, by=look.by)
    if approved_on or disbursed_on:
        loan_services.approve_loan(loan, approved_on or disbursed_on, by=look.by)
    if disbursed_on:
        loan_services.disburse_loan(loan, disbursed_on, by=look.by,
                                    first_due_on=row.get("first_due_on"))
    return CREATED


LOANS = Kind(
    "loans", _l("Loans"),
    (*MEMBER_COLUMNS,
     col("product", "Product", "Кредитный продукт", required=True),
     col("lender", "Lender", "Кредитор", required=True),
     col("principal", "Principal", "Сумма кредита", V.a_decimal, note=NUMBER_NOTE),
     col("currency", "Currency", "Валюта", _currency,
         note=_l("default: the currency of her country")),
     col("purpose", "Purpose", "Цель"),
     col("applied_on", "Applied on", "Дата заявки", V.a_date,
         note=_l("default: the approval or disbursement date")),
     col("approved_on", "Approved on", "Дата одобрения", V.a_date,
         note=_l("default: the disbursement date")),
     col("disbursed_on", "Disbursed on", "Дата выдачи", V.a_date,
         note=_l("empty: the loan stays applied for (or approved)")),
     col("first_due_on", "First installment due", "Дата первого взноса", V.a_date,
         note=_l("default: one period after disbursement")),
     col("method", "Interest method", "Метод начисления", METHOD,
         note=_l("default: the product's; flat, declining_equal_installments, "
                 "declining_equal_principal")),
     col("rate", "Interest rate", "Ставка", V.a_decimal,
         note=_l("percent, in the product's period (default: the product's)")),
     col("installments", "Installments", "Число взносов", V.an_int,
         note=_l("default: the product's")),
     col("frequency", "Repaid every", "Периодичность взносов", LOAN_FREQUENCY,
         note=_l("default: the product's; week, 2weeks, 4weeks, month")),
     col("grace_on_principal", "Grace on principal", "Льгота по основному долгу", V.an_int,
         note=_l("installments; default: the product's")),
     col("grace_on_interest", "Grace on interest", "Льгота по процентам", V.an_int,
         note=_l("installments; default: the product's"))),
    {"member_id": "member", "product_id": "product", "lender_id": "lender",
     "principal": "principal", "purpose": "purpose", "applied_on": "applied_on",
     "currency": "currency", "approved_on": "approved_on", "disbursed_on": "disbursed_on",
     "first_due_on": "first_due_on", "method": "method", "rate": "rate",
     "installments": "installments", "frequency": "frequency",
     "grace_on_principal": "grace_on_principal", "grace_on_interest": "grace_on_interest"},
    OFFICER_ROLES, import_loan)


# repayments ----------------------------------------------------------------------------


def _loan_for(row: dict, look: Lookups) -> Loan:
    if row.get("loan") is not None:
        loan = db.session.get(Loan, row["loan"])
        if loan is None:
            refuse("loan", _("No loan number %(number)s.", number=row["loan"]))
        return loan
    member_id = look.member_id(row)
    query = select(Loan).where(Loan.member_id == member_id).order_by(Loan.id)
    if row.get("loan_disbursed_on"):
        query = query.where(Loan.disbursed_on == row["loan_disbursed_on"])
    if row.get("loan_principal") is not None:
        query = query.where(Loan.principal == row["loan_principal"])
    found = db.session.scalars(query.where(Loan.disbursed_on.is_not(None))).all()
    if not found:
        refuse("loan_disbursed_on", _("No disbursed loan of this member matches."))
    if len(found) > 1:
        refuse("loan_disbursed_on", _("She has several loans: give the disbursement date "
                                      "and the principal, or the loan number."))
    return found[0]


def import_repayment(row: dict, look: Lookups) -> str:
    loan = _loan_for(row, look)
    if not (access.can_change_registry(look.by) and access.can_change(look.by, loan.district_id)):
        refuse("loan", _("This is in a district you are not assigned to."))
    receipt = (row.get("receipt_no") or "").strip()[:40] or None
    if row.get("paid_on") and row.get("amount") is not None:
        if db.session.scalar(select(Repayment.id).where(
                Repayment.loan_id == loan.id, Repayment.paid_on == row["paid_on"],
                Repayment.amount == row["amount"], Repayment.reversed_at.is_(None),
                Repayment.receipt_no == receipt if receipt
                else Repayment.receipt_no.is_(None))) is not None:
            return EXISTS
    if row.get("amount") is None:
        refuse("amount", _("Fill in the amount."))
    if row.get("paid_on") is None:
        refuse("paid_on", _("Fill in the date of the payment."))
    loan_services.post_repayment(loan, row["amount"], row["paid_on"], by=look.by,
                                 receipt_no=receipt)
    return CREATED


REPAYMENTS = Kind(
    "repayments", _l("Repayments"),
    (col("loan", "Loan number", "Номер кредита", V.an_int,
         note=_l("the loan's number in the ledger; or name the member and the loan")),
     *MEMBER_COLUMNS,
     col("loan_disbursed_on", "Loan disbursed on", "Дата выдачи кредита", V.a_date,
         note=DATE_NOTE),
     col("loan_principal", "Loan principal", "Сумма кредита", V.a_decimal,
         note=_l("only needed when two loans were paid out the same day")),
     col("paid_on", "Paid on", "Дата платежа", V.a_date, note=DATE_NOTE),
     col("amount", "Amount", "Сумма платежа", V.a_decimal, note=NUMBER_NOTE),
     col("receipt_no", "Receipt", "Номер квитанции", V.text(40))),
    {"loan": "loan", "amount": "amount", "paid_on": "paid_on", "member_id": "member"},
    REGISTRY_ROLES, import_repayment)


KINDS: dict[str, Kind] = {k.name: k for k in (VILLAGES, GROUPS, MEMBERS, DELIVERIES, HARVESTS,
                                              LOANS, REPAYMENTS)}


def may_import(user: User, kind: Kind) -> bool:
    return user.role in kind.roles


def kinds_for(user: User) -> list[Kind]:
    return [k for k in KINDS.values() if may_import(user, k)]
