"""The document framework: page frame, page numbers, repeated headers, Cyrillic, a real render."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date

import pdfplumber
import pytest

from reports import pdf
from shg import create_app

NAMES = ["Айгуль Токтогулова", "Ҷӯраев Ғафур", "Гүлнара Өмүрбекова", "Ёқубова Ҳабиба"]


@pytest.fixture(scope="module")
def bare_app():
    """No database is needed to lay out a document: one app for the module."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "SECRET_KEY": "x", "PROGRAMME_NAME": "Программа «Мигрант»"})
    with app.app_context():
        yield app


def _long_table_story(rows=110):
    return [pdf.heading("Список членов — Ала-Бука", level=0),
            pdf.para("Члены групп и их сбережения."),
            pdf.table(["№", "Имя", "Сбережения"],
                      [[str(i + 1), NAMES[i % len(NAMES)], "1 250,50"] for i in range(rows)],
                      col_widths=(0.1, 0.6, 0.3), numeric_cols=(0, 2))]


def _pages(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as document:
        return [page.extract_text() or "" for page in document.pages]


def test_every_page_has_frame_with_page_x_of_y_and_repeated_header(bare_app):
    data = pdf.build_pdf(_long_table_story, title="Отчёт по селу", as_of=date(2025, 3, 31),
                         printed_by="Айгуль Токтогулова", language="ru")
    pages = _pages(data)
    assert len(pages) == 3
    for number, page_text in enumerate(pages, start=1):
        assert f"Страница {number} из 3" in page_text
        assert "Программа «Мигрант»" in page_text
        assert "Отчёт по селу" in page_text
        assert "31 мар. 2025" in page_text or "31.03.2025" in page_text
        assert "Айгуль Токтогулова" in page_text
        assert "Сбережения" in page_text  # the table's header, repeated on every page
    everything = "\n".join(pages)
    for name in NAMES:
        assert name in everything
    assert "110" in pages[-1]


def test_frame_speaks_english_to_english_reader(bare_app):
    data = pdf.build_pdf(_long_table_story, title="Village", as_of=date(2025, 3, 31),
                         printed_by="admin", language="en")
    pages = _pages(data)
    assert "Page 1 of 3" in pages[0] and "Page 3 of 3" in pages[2]
    assert "As of Mar 31, 2025" in pages[0]


def test_sections_restart_page_numbers_and_change_running_title(bare_app):
    def story():
        flowables = []
        for index, village in enumerate(["Ала-Бука", "Ҷиликӯл"]):
            flowables += pdf.section(village, first=index == 0)
            flowables += _long_table_story(rows=50)
        return flowables
    pages = _pages(pdf.build_pdf(story, title="Район", language="en"))
    assert len(pages) == 4
    assert ["Page 1 of 2" in pages[0], "Page 2 of 2" in pages[1],
            "Page 1 of 2" in pages[2], "Page 2 of 2" in pages[3]] == [True] * 4
    assert "Ала-Бука" in pages[1].splitlines()[0] + pages[1]
    assert "Ҷиликӯл" in pages[2]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_first_page_renders_to_a_non_blank_png(bare_app, tmp_path):
    from reports import charts
    story = _long_table_story(rows=10) + [charts.bar_chart(["Помидор", "Огурец"], [3, 5],
                                                           title="Урожай")]
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf.build_pdf(story, title="Отчёт", language="ru"))
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(source),
                    str(tmp_path / "page")], check=True, timeout=60)
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 1000
    assert _dark_pixel_share(png) > 0.005


def _dark_pixel_share(png) -> float:
    """The share of pixels that are not white: ink on the page (decoded with pypdf's PIL
    when available, else read from the PNG itself)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        return 1.0 if png.stat().st_size > 3000 else 0.0
    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    return sum(histogram[:200]) / sum(histogram)


def test_missing_font_is_named(monkeypatch):
    monkeypatch.setattr(pdf, "FONT_DIRS", ("/nowhere",))
    monkeypatch.setattr(pdf, "_font_path", lambda name: None)
    monkeypatch.setattr(pdf.pdfmetrics, "getRegisteredFontNames", lambda: [])
    with pytest.raises(pdf.FontMissing, match="fonts-dejavu-core"):
        pdf.register_fonts()
