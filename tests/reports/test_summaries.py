"""Village, district and programme summaries: the PDF says what the figures' own functions say,
in Russian and English, with Cyrillic names; access and bad input are refused cleanly."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pdfplumber
import pytest
from flask_babel import force_locale

from harvests import services as harvest_services
from loans import services as loan_services
from reports import summaries, summary_pdf
from reports.pdf import money, number, percent
from shg.extensions import db
from shg.registry.models import Attendance, Meeting, Migrant
from shg.timeutil import today

D = Decimal


@pytest.fixture
def programme(create_village, create_group, create_member, create_user, create_loan):
    """Two villages of one district (two groups in the first) and a village of another
    district; meetings, migrants, seeds, harvests and loans in the first village."""
    admin = create_user("admin", full_name="Администратор Офиса")
    harvest_services.ensure_standard_units()
    tomato = harvest_services.save_crop(None, {"name": "Tomato", "name_ru": "Помидор",
                                               "default_unit": "kg"}, by=admin)
    harvest_services.save_exchange_rate(None, {"currency": "KGS", "units_per_usd": "87,5",
                                               "valid_from": date(2024, 1, 1)}, by=admin)
    round_ = harvest_services.save_round(None, {"name": "Весна 2024",
                                                "started_on": date(2024, 4, 1)}, by=admin)
    village = create_village(name="Ала-Бука")
    other = create_village(name="Кара-Суу", district=village.district)
    far = create_village(name="Ҷиликӯл")
    g1 = create_group(village, name="Ынтымак")
    g2 = create_group(village, name="Бирдик", status="dormant")
    create_group(other, name="Мээрим")
    names = ["Айгуль Токтогулова", "Гүлнара Өмүрбекова", "Бурул Асанова"]
    women = [create_member(g1, full_name=n, joined_on=date(2023, 1, 1)) for n in names]
    man = create_member(g2, full_name="Азамат Жумабеков", gender="male",
                        joined_on=date(2023, 1, 1))
    db.session.add_all([Migrant(household=women[0].household, destination="RU", people=2),
                        Migrant(household=women[1].household, destination="KZ", people=1),
                        Migrant(household=man.household, destination="RU", people=1)])
    for month, statuses in ((3, ("present", "late", "absent")), (4, ("present",) * 3)):
        meeting = Meeting(group=g1, held_on=date(2024, month, 5))
        db.session.add(meeting)
        db.session.add_all(Attendance(meeting=meeting, member=m, status=s, savings=D("150.50"))
                           for m, s in zip(women, statuses))
    facilitator = create_user("facilitator", districts=[village.district], locale="ru",
                              full_name="Чолпон Фасилитатор")
    harvest_services.record_group_delivery(round_, g1, date(2024, 4, 12), [
        {"member_id": m.id, "crop_id": tomato.id, "quantity": "300", "unit": "seedling"}
        for m in women[:2]], by=facilitator)
    harvest_services.record_harvest({
        "member_id": women[0].id, "crop_id": tomato.id, "season": "summer",
        "harvested_on": date(2024, 8, 15), "volume": "2400", "unit": "kg",
        "quantity_sold": "2000", "price": "35", "currency": "KGS"}, by=facilitator)
    loan = create_loan(member=women[0], principal=D("12000.00"), disbursed_on=date(2024, 1, 10),
                       installments=6)
    loan_services.post_repayment(loan, D("2000.00"), date(2024, 2, 10), by=admin)
    create_loan(member=women[1], principal=D("6000.00"), disbursed_on=today() - timedelta(days=20),
                installments=6)
    db.session.commit()
    return SimpleNamespace(village=village, other=other, far=far, district=village.district,
                           country=village.district.region.country, facilitator=facilitator,
                           admin=admin, names=names, groups=(g1, g2))


def _text(data: bytes) -> str:
    assert data[:5] == b"%PDF-"
    with pdfplumber.open(io.BytesIO(data)) as document:
        return "\n".join(page.extract_text() or "" for page in document.pages)


def _flat(text: str) -> str:
    """Text with line breaks and the thin spaces of Russian numbers as plain spaces."""
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


@pytest.mark.parametrize("language", ["ru", "en"])
def test_village_summary_pdf_shows_the_figures_of_the_database(programme, client, auth,
                                                              language):
    user = programme.facilitator
    user.locale = language
    db.session.commit()
    auth.login(user)
    response = client.get(f"/reports/villages/{programme.village.id}.pdf?from=2024-01-01")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _flat(_text(response.data))
    s = summaries.summary("village", programme.village.id, start=date(2024, 1, 1))
    with force_locale(language):
        expected = [
            summary_pdf.title_of(s), "Ала-Бука", s.parents[0][1],
            "Бирдик", "Ынтымак",
            number(s.members), percent(s.share_women), percent(s.attendance_rate),
            money(s.savings_balance, "KGS"), number(s.migration.with_migrants),
            number(s.harvest.total.recipients),
            money(s.harvest.total.value_usd.amount, "USD"),
            money(s.loans["KGS"].gross_outstanding), percent(s.loans["KGS"].par30),
            percent(s.loans["KGS"].on_time_rate),
            "Чолпон Фасилитатор", "Помидор" if language == "ru" else "Tomato",
        ]
    for value in expected:
        assert _flat(str(value)) in text, value
    assert ("Страница 1 из" if language == "ru" else "Page 1 of") in text
    assert s.members == 4 and s.women == 3 and s.meetings == 2
    assert s.attendance_rate == D(5) / D(6)
    assert s.savings_balance == D("150.50") * 6


def test_group_rows_add_up_to_the_village(programme):
    s = summaries.summary("village", programme.village.id)
    assert [row.name for row in s.rows] == ["Бирдик", "Ынтымак"]
    assert sum(r.members for r in s.rows) == s.members
    assert sum(r.activity.meetings for r in s.rows) == s.meetings
    assert s.migration.households_by_destination == {"RU": 2, "KZ": 1}
    assert s.migration.people_by_destination == {"RU": 3, "KZ": 1}


@pytest.mark.parametrize("language", ["ru", "en"])
def test_district_and_country_summaries_carry_the_headline(programme, client, auth, language):
    admin = programme.admin
    admin.locale = language
    db.session.commit()
    auth.login(admin)
    for kind, level, place in (("districts", "district", programme.district),
                               ("countries", "country", programme.country)):
        response = client.get(f"/reports/{kind}/{place.id}.pdf")
        assert response.status_code == 200
        text = _flat(_text(response.data))
        s = summaries.summary(level, place.id)
        with force_locale(language):
            headline = _flat(summary_pdf.headline(s))
        assert headline[:60] in text
        assert headline.split(". ")[0] in text
        for row in s.rows:
            assert row.name in text
    district = summaries.summary("district", programme.district.id)
    assert district.groups == 3 and district.villages == 2
    assert [r.name for r in district.rows] == ["Ала-Бука", "Кара-Суу"]
    country = summaries.summary("country", programme.country.id)
    assert country.groups == 3 and len(country.rows) == 2 and country.members == district.members


def test_summary_figures_are_those_of_the_owning_functions(programme):
    from harvests import figures
    from loans import portfolio
    from shg.registry import services as registry
    s = summaries.summary("district", programme.district.id)
    assert s.loans == portfolio.portfolio(district_id=programme.district.id)
    assert s.harvest == figures.harvest_results(district_id=programme.district.id,
                                                date_to=s.as_of)
    ids = [g.id for g in programme.groups]
    assert s.attendance_rate == registry.attendance_rate(ids, None, s.as_of)


def test_first_page_of_a_summary_renders_to_png(programme, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils not installed")
    path = tmp_path / "village.pdf"
    path.write_bytes(summary_pdf.summary_pdf("village", programme.village.id, language="ru",
                                             printed_by="Айгуль"))
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True, timeout=60)
    png = next(tmp_path.glob("page*.png"))
    from PIL import Image
    with Image.open(png) as image:
        histogram = image.convert("L").histogram()
    assert sum(histogram[:200]) / sum(histogram) > 0.005


def test_other_districts_summaries_are_refused(programme, client, auth):
    auth.login(programme.facilitator)
    assert client.get(f"/reports/villages/{programme.far.id}.pdf").status_code == 403
    assert client.get(f"/reports/districts/{programme.far.district_id}.pdf").status_code == 403
    assert client.get(f"/reports/countries/{programme.country.id}.pdf").status_code == 403
    assert client.get(f"/reports/districts/{programme.district.id}.pdf").status_code == 200


@pytest.mark.parametrize("query", ["from=2024-13-01", "to=yesterday", "from=2025-01-01&to=2024-01-01",
                                   "as_of=99999-01-01", "from=%00"])
def test_bad_dates_answer_400(programme, client, auth, query):
    auth.login(programme.admin)
    response = client.get(f"/reports/villages/{programme.village.id}.pdf?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/reports/villages/999999.pdf", "/reports/districts/0.pdf",
                                  "/reports/countries/99999999999999.pdf",
                                  "/reports/regions/1.pdf"])
def test_missing_places_answer_404(programme, client, auth, path):
    auth.login(programme.admin)
    assert client.get(path).status_code == 404


def test_summaries_need_login(programme, client):
    response = client.get(f"/reports/villages/{programme.village.id}.pdf")
    assert response.status_code in (302, 401)


def test_api_gives_the_summary_pdf_to_a_token(programme, client, api_token):
    headers = api_token(programme.facilitator)
    response = client.get(f"/api/v1/reports/villages/{programme.village.id}.pdf", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "Ала-Бука" in _text(response.data)
    assert client.get(f"/api/v1/reports/villages/{programme.far.id}.pdf",
                      headers=headers).status_code == 403
    assert client.get("/api/v1/reports/districts/424242.pdf", headers=headers).status_code == 404
    assert client.get(f"/api/v1/reports/villages/{programme.village.id}.pdf?from=x",
                      headers=headers).status_code == 400
    assert client.get(f"/api/v1/reports/villages/{programme.village.id}.pdf").status_code == 401


def test_cli_prints_every_village_of_a_district_in_one_pdf(programme, runner, tmp_path):
    out = tmp_path / "district.pdf"
    result = runner.invoke(args=["reports", "village-summaries", "--district",
                                 str(programme.district.id), "--out", str(out),
                                 "--language", "ru", "--as-of", today().isoformat()])
    assert result.exit_code == 0, result.output
    with pdfplumber.open(out) as document:
        pages = [page.extract_text() or "" for page in document.pages]
    firsts = [p for p in pages if "Страница 1 из" in p]
    assert len(firsts) == 2  # one summary per village, each counted from page 1
    assert "Ала-Бука" in firsts[0] and "Кара-Суу" in firsts[1]
    bad = runner.invoke(args=["reports", "village-summaries", "--district", "999999",
                              "--out", str(out)])
    assert bad.exit_code != 0 and "999999" in bad.output
