"""A facilitator records a meeting on her phone, in a real browser, as she would in the field:
log in, find her group, tap attendance, type savings with a decimal comma, save, and read the
register and the group page back. Runs on SQLite and on PostgreSQL (the ``database_url``
fixture), with real CSRF tokens.
"""
from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the same rule as a missing Chromium: skipped here, fatal under CI
    if os.environ.get("CI"):
        raise
    pytest.skip("the playwright package is not installed (pip install -e '.[test]')",
                allow_module_level=True)

from shg.extensions import db  # noqa: E402
from shg.registry import services  # noqa: E402
from shg.registry.models import Attendance, Meeting  # noqa: E402

# Own server port, own tmp_path and own PostgreSQL database per xdist worker: safe under
# ``-n``; with ``--dist loadgroup`` the browser tests share one worker and one Chromium.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PASSWORD = "Bishkek-2024"
GROUP_NAME = "Ынтымак"
MEETING_DAY = date(2024, 3, 6)
#: name -> (status tapped, savings typed): one each of late, absent and excused.
ATTENDANCE = {
    "Айгуль Токтогулова": ("present", "150,50"),
    "Гүлнара Өмүрбекова": ("late", "75"),
    "Ҷӯраева Мавҷуда": ("absent", ""),
    "Нургүл Асанова": ("excused", "1 000,25"),
}
LABELS = {"present": "Present", "absent": "Absent", "excused": "Excused", "late": "Late"}
#: 150.50 + 75 + 0 + 1000.25, as an English-speaking page writes it.
TOTAL = Decimal("1225.75")
TOTAL_TEXT = "1,225.75"


@pytest.fixture
def facilitators_group(create_village, create_user, create_group, create_member):
    """A village with a group of four, its facilitator assigned to the district."""
    village = create_village(name="Кара-Суу")
    facilitator = create_user("facilitator", districts=[village.district], username="aigerim",
                              password=PASSWORD, full_name="Айгерим Садыкова")
    group = create_group(village=village, name=GROUP_NAME, facilitator=facilitator)
    members = {name: create_member(group, full_name=name) for name in ATTENDANCE}
    db.session.commit()
    return group.id, {name: m.id for name, m in members.items()}


def assert_fits_phone_width(page):
    """The phone's layout viewport is 360 px (the page has its viewport meta) and nothing
    makes the page wider: no sideways scrolling while recording a meeting."""
    width, scroll_width = page.evaluate(
        "[window.innerWidth, document.documentElement.scrollWidth]")
    assert width == 360
    assert scroll_width <= 360, f"{page.url} is {scroll_width} px wide on a 360 px phone"


def test_facilitator_records_meeting_on_phone(phone, script_errors, facilitators_group, tmp_path):
    group_id, member_ids = facilitators_group
    page = phone

    # Log in, typing on the phone's keyboard; the form carries a real CSRF token.
    page.goto("/login")
    expect(page.locator("input[name=csrf_token]")).not_to_have_value("")
    page.get_by_label("User name").fill("aigerim")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").tap()

    # Her groups list; she opens her group by its name.
    expect(page.get_by_role("heading", name="Groups")).to_be_visible()
    page.get_by_role("link", name=GROUP_NAME, exact=True).tap()
    expect(page).to_have_url(re.compile(rf"/groups/{group_id}$"))
    page.get_by_role("link", name="Record a meeting").tap()

    expect(page.get_by_role("heading", name="Record a meeting")).to_be_visible()
    page.get_by_label("Meeting date").fill(MEETING_DAY.isoformat())
    for name, (status, savings) in ATTENDANCE.items():
        row = page.get_by_role("group", name=name, exact=True)
        # The radio buttons are drawn as buttons (Bootstrap's btn-check): she taps the label.
        row.locator("label", has_text=LABELS[status]).tap()
        expect(row.get_by_label(LABELS[status], exact=True)).to_be_checked()
        page.get_by_label(f"Savings of {name}", exact=True).fill(savings)
    page.get_by_label("Topics discussed").fill("Сбережения и семена на весну")

    assert_fits_phone_width(page)
    shot = tmp_path / "meeting_form.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

    page.get_by_role("button", name="Save meeting").tap()

    # The register: the meeting, 2 of 4 attended (late counts), the savings paid in.
    expect(page).to_have_url(re.compile(rf"/groups/{group_id}/meetings$"))
    expect(page.get_by_role("alert")).to_have_text("The meeting is saved.")
    rows = page.locator("#register tbody tr")
    expect(rows).to_have_count(1)
    cells = rows.first.get_by_role("cell")
    expect(cells.nth(0)).to_have_text("Mar 6, 2024")
    expect(cells.nth(1)).to_have_text("2 / 4")
    expect(cells.nth(2)).to_have_text(TOTAL_TEXT)
    expect(page.locator("#group-savings")).to_have_text(f"{TOTAL_TEXT} KGS")
    expect(page.locator("#attendance-rate")).to_have_text("50.0%")

    # The group page: the members by their Cyrillic names, what each saved, the balance.
    page.get_by_role("link", name=GROUP_NAME, exact=True).tap()
    expect(page).to_have_url(re.compile(rf"/groups/{group_id}$"))
    expect(page.locator("#group-savings")).to_have_text(TOTAL_TEXT)
    for name, saved in [("Айгуль Токтогулова", "150.50"), ("Гүлнара Өмүрбекова", "75.00"),
                        ("Ҷӯраева Мавҷуда", "0.00"), ("Нургүл Асанова", "1,000.25")]:
        member_row = page.get_by_role("row").filter(
            has=page.get_by_role("link", name=name, exact=True))
        expect(member_row).to_be_visible()
        expect(member_row.get_by_role("cell").last).to_have_text(saved)
    assert_fits_phone_width(page)
    assert script_errors == []

    # What the browser saved is exact in the database, member by member.
    db.session.rollback()
    meeting = db.session.scalars(db.select(Meeting).where(Meeting.group_id == group_id)).one()
    assert meeting.held_on == MEETING_DAY
    assert meeting.topics == "Сбережения и семена на весну"
    saved = {a.member_id: (a.status, a.savings) for a in
             db.session.scalars(db.select(Attendance).where(Attendance.meeting_id == meeting.id))}
    assert saved == {
        member_ids["Айгуль Токтогулова"]: ("present", Decimal("150.50")),
        member_ids["Гүлнара Өмүрбекова"]: ("late", Decimal("75.00")),
        member_ids["Ҷӯраева Мавҷуда"]: ("absent", Decimal("0.00")),
        member_ids["Нургүл Асанова"]: ("excused", Decimal("1000.25")),
    }
    assert services.group_savings(group_id) == TOTAL
