"""The Russian interface: the catalogue is complete and sound, and a Russian-speaking user reads
pages, numbers, dates and API refusals in Russian."""
from __future__ import annotations

import os
import re
import shutil
from datetime import date
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.messages.catalog import PYTHON_FORMAT
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from shg.extensions import db
from shg.i18n import TRANSLATIONS, extract
from shg.registry.models import Attendance, Meeting

RU_PO = os.path.join(TRANSLATIONS, "ru", "LC_MESSAGES", "messages.po")
RU_PLURAL_FORMS = ("nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
                   "(n%100<10 || n%100>=20) ? 1 : 2);")
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[sdifeEgGxXor%]")


def _read(path, locale=None):
    with open(path, "rb") as fh:
        return read_po(fh, locale=locale)


@pytest.fixture(scope="module")
def extracted():
    """Every message in the sources, extracted exactly as `flask translate update` does."""
    pot = extract()
    try:
        yield _read(pot)
    finally:
        shutil.rmtree(os.path.dirname(pot), ignore_errors=True)


@pytest.fixture(scope="module")
def ru_catalog():
    return _read(RU_PO, locale="ru")


def _strings(message) -> tuple:
    return message.string if isinstance(message.string, (tuple, list)) else (message.string,)


def _ids(message) -> tuple:
    return message.id if isinstance(message.id, (tuple, list)) else (message.id,)


# ---------------------------------------------------------------- the catalogue


def test_every_message_in_the_sources_has_a_russian_translation(extracted, ru_catalog):
    missing = []
    for message in extracted:
        if not message.id:
            continue
        found = ru_catalog.get(message.id, message.context)
        if found is None or found.fuzzy or not all(_strings(found)):
            missing.append(_ids(message)[0])
    assert not missing, (
        f"{len(missing)} message(s) have no Russian translation in {RU_PO}: {missing!r}. "
        "Run `flask --app shg translate update` and translate them.")


def test_plural_messages_have_the_three_russian_forms(ru_catalog):
    assert ru_catalog.plural_forms == RU_PLURAL_FORMS
    assert ru_catalog.num_plurals == 3
    for message in ru_catalog:
        if message.id and message.pluralizable:
            assert len(_strings(message)) == 3 and all(_strings(message)), message.id


def _directives(text: str) -> list[str]:
    """The %-directives Babel sees in a text, less a percent sign in prose: Babel reads the
    "% o" of "80% of what fell due" or "(% of the overdue amount)" as a placeholder."""
    return [m.group(0) for m in PYTHON_FORMAT.finditer(text)
            if m.group(1) is not None
            or (m.group(3) != "%" and not text[m.start() - 1:m.start()].isdigit()
                and not text[m.end():m.end() + 1].isalpha())]


def test_babel_checkers_find_no_problem(ru_catalog):
    """Babel's checks pass; a message whose only "placeholders" are prose percentages (Babel's
    false positive, which no natural Russian can satisfy) must have none in Russian either."""
    problems = []
    for message, errors in ru_catalog.check():
        if not any(_directives(text) for text in _ids(message)):
            errors = [e for e in errors if "placeholder" not in str(e)
                      and "format strings" not in str(e)]
            problems += [(message.id, text) for text in _strings(message) if _directives(text)]
        problems += [(message.id, str(e)) for e in errors]
    assert not problems, problems


def test_every_translation_keeps_the_placeholders_of_its_message(ru_catalog):
    """Stricter than Babel: a translation may neither add nor drop a named placeholder."""
    wrong = []
    for message in ru_catalog:
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(_ids(message))))
        for text in _strings(message):
            if text and set(PLACEHOLDER.findall(text)) != wanted:
                wrong.append((_ids(message)[0], text))
        if wanted:
            assert message.python_format, f"{message.id!r} lacks the python-format flag"
    assert not wrong, wrong


def test_the_catalogue_header_is_russian_utf8_and_nothing_is_fuzzy(ru_catalog):
    assert str(ru_catalog.locale) == "ru"
    assert ru_catalog.charset.lower() == "utf-8"
    with open(RU_PO, encoding="utf-8") as fh:
        text = fh.read()
    assert '"Language: ru\\n"' in text
    assert "#, fuzzy" not in text and not ru_catalog.fuzzy


# ---------------------------------------------------------------- a Russian-speaking user


@pytest.fixture
def ru_world(create_user, create_village, create_group, create_member):
    village = create_village(name="Кара-Жыгач")
    group = create_group(village, name="Ынтымак", formed_on=date(2020, 1, 15))
    member = create_member(group, full_name="Айгуль Токтогулова", office="leader")
    db.session.add(Meeting(group=group, held_on=date(2024, 3, 6), topics="Сбережения",
                           attendance=[Attendance(member=member, status="present",
                                                  savings=Decimal("1234.50"))]))
    user = create_user("facilitator", districts=[village.district], locale="ru",
                       full_name="Гүлнара Өмүрбекова")
    db.session.commit()
    return village, group, member, user


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_a_russian_user_reads_the_groups_page_in_russian(client, auth, ru_world):
    _village, _group, _member, user = ru_world
    auth.login(user)
    page = _html(client.get("/groups"))
    assert 'lang="ru"' in page
    for words in ("Группы", "Новая группа", "Участники", "Собрания", "Поиск по названию",
                  "Ынтымак", "Кара-Жыгач", "женщин: 1"):
        assert words in page, words
    for english in (">Groups<", "New group", "Members", "Search by name"):
        assert english not in page, english


def test_a_russian_user_reads_a_group_page_with_russian_numbers_and_dates(client, auth,
                                                                          ru_world):
    _village, group, _member, user = ru_world
    auth.login(user)
    page = _html(client.get(f"/groups/{group.id}"))
    assert 'lang="ru"' in page
    for words in ("Записать собрание", "Добавить участника", "Изменить группу", "Сбережения",
                  "Посещаемость", "Лидер", "Раз в месяц", "журнал собраний",
                  "Айгуль Токтогулова"):
        assert words in page, words
    assert "Record a meeting" not in page

    balance = format_decimal(Decimal("1234.50"), format="#,##0.00", locale="ru")
    assert balance in ("1\u00a0234,50", "1\u202f234,50")  # a no-break space groups thousands
    assert balance in page and "1,234.50" not in page and "1234.50" not in page
    formed = format_date(date(2020, 1, 15), format="medium", locale="ru")
    assert "янв" in formed and f"создана {formed}" in page
    held = format_date(date(2024, 3, 6), format="medium", locale="ru")
    assert held in page and "Mar 6, 2024" not in page
    assert format_percent(Decimal(1), format="#,##0.0%", locale="ru") in page  # 100,0 %


def test_a_russian_user_records_a_meeting_on_a_russian_form(client, auth, ru_world):
    _village, group, _member, user = ru_world
    auth.login(user)
    page = _html(client.get(f"/groups/{group.id}/meetings/new"))
    assert 'lang="ru"' in page
    for words in ("Записать собрание", "Дата собрания", "Посещаемость и сбережения",
                  "Присутствует", "Отсутствует", "Уважительная причина", "Опоздание",
                  "Обсуждённые темы", "Решения", "Сохранить собрание",
                  "Сбережения: Айгуль Токтогулова"):
        assert words in page, words
    for english in ("Save meeting", "Attendance and savings", "Present"):
        assert english not in page, english


def test_an_english_user_still_reads_english(client, auth, ru_world, create_user):
    _village, group, _member, ru_user = ru_world
    english = create_user("facilitator", districts=ru_user.districts, locale="en")
    db.session.commit()
    auth.login(english)
    page = _html(client.get(f"/groups/{group.id}"))
    assert 'lang="en"' in page and "Record a meeting" in page and "1,234.50" in page
    assert "Записать собрание" not in page


def test_an_api_refusal_speaks_russian_to_a_russian_user(client, ru_world, api_token):
    village, _group, _member, user = ru_world
    response = client.post("/api/v1/groups", headers=api_token(user),
                           json={"village_id": village.id, "formed_on": "2021-05-01",
                                 "meeting_day": 3, "meeting_frequency": "weekly"})
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["errors"]["json"]["name"] == ["Укажите название группы."]
    assert body["message"] == "Некоторые поля заполнены неверно."
