"""The document framework every printed report uses: fonts, the page frame, styles, tables.

A report is a list of ReportLab flowables (``heading``, ``para``, ``table``, ``facts``,
charts from ``reports.charts``) handed to ``build_pdf``, which returns the PDF's bytes::

    from reports import pdf

    def story():
        return [pdf.heading(_("Village summary")),
                pdf.para(_("Groups: %(n)s", n=pdf.number(12))),
                pdf.table([_("Group"), _("Members")], rows, numeric_cols=(1,))]

    data = pdf.build_pdf(story, title=_("Village summary"), as_of=day,
                         printed_by=user.display_name, language=user.locale)

What ``build_pdf`` guarantees, so no report has to think about it:

- **Cyrillic everywhere.** DejaVu Sans (regular and bold) from Debian's fonts-dejavu-core is
  registered once and is the only font used; the built-in Helvetica would draw Cyrillic as
  black boxes, silently. A missing font is a ``FontMissing`` error that says what to install.
- **Every page** shows the programme name (config ``PROGRAMME_NAME``) and the title at the
  top, and at the bottom the as-of date, who printed it and when, and "Page X of Y".
  Pages are counted after the whole document is laid out (``_NumberedCanvas``), so Y is right.
- **The reader's language.** ``story`` may be a callable: it is called, and the page frame
  drawn, inside ``flask_babel.force_locale(language)``, so ``_()`` and the formatting helpers
  (``money``, ``number``, ``percent``, ``day``: the very filters the pages use,
  ``shg.formatting``) speak the reader's language, in a request or in a ``flask`` command.
  Outside a request, ``language`` defaults to English. It needs an app context.
- **Long tables** split across pages with their header row repeated (``table``).
- **Several documents in one file** (a district's village summaries): start each with
  ``section(title)``. It breaks the page, puts ``title`` in the running header from there
  on, and restarts "Page X of Y" for that section.

Figures are never computed here: callers pass values from the functions that own them.
"""
from __future__ import annotations

import io
import os
from datetime import date, datetime
from typing import Callable, Iterable, Optional, Sequence, Union
from xml.sax.saxutils import escape

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape as _landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (CondPageBreak, Flowable, KeepTogether, PageBreak, Paragraph,
                                SimpleDocTemplate, Spacer, Table, TableStyle)

from shg import formatting
from shg.timeutil import utcnow

__all__ = ["FONT", "FONT_BOLD", "FontMissing", "build_pdf", "section", "heading", "para",
           "small", "facts", "table", "spacer", "keep_together", "page_break", "styles",
           "money", "number", "percent", "day", "text"]

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)
MARGIN = 15 * mm
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#999999")
HEAD_BG = colors.HexColor("#e8e8e8")
ZEBRA = colors.HexColor("#f6f6f6")

# The formatting the pages use, re-exported so a report needs one import.
money = formatting.money
number = formatting.number
percent = formatting.percent
day = formatting.day


class FontMissing(RuntimeError):
    """The TrueType font with Cyrillic is not installed."""


def _font_path(filename: str) -> Optional[str]:
    folders = list(FONT_DIRS)
    try:  # pip-only installs: rinoh-typeface-dejavusans (located, never imported; STACK.md)
        import importlib.util
        spec = importlib.util.find_spec("rinoh_typeface_dejavusans")
        if spec and spec.submodule_search_locations:
            folders.extend(spec.submodule_search_locations)
    except (ImportError, ValueError):
        pass
    for folder in folders:
        path = os.path.join(folder, filename)
        if os.path.exists(path):
            return path
    return None


def register_fonts() -> None:
    """Register DejaVu Sans and its bold once per process; say what to install if missing."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    paths = {name: _font_path(name + ".ttf") for name in (FONT, FONT_BOLD)}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        raise FontMissing(
            f"The fonts {', '.join(missing)} are not installed (looked in {', '.join(FONT_DIRS)}). "
            "Install Debian's fonts-dejavu-core: the built-in PDF fonts have no Cyrillic.")
    pdfmetrics.registerFont(TTFont(FONT, paths[FONT]))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, paths[FONT_BOLD]))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT,
                                  boldItalic=FONT_BOLD)


# ---------------------------------------------------------------- styles


_STYLES: dict[str, ParagraphStyle] = {}


def styles() -> dict[str, ParagraphStyle]:
    """title, h1, h2, body, small, cell, cell_right, head, head_right: all in DejaVu Sans."""
    if not _STYLES:
        register_fonts()
        body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5, spaceAfter=4)
        _STYLES.update(
            title=ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=16,
                                 leading=20, spaceAfter=6),
            h1=ParagraphStyle("h1", parent=body, fontName=FONT_BOLD, fontSize=13, leading=16,
                              spaceBefore=8, spaceAfter=5),
            h2=ParagraphStyle("h2", parent=body, fontName=FONT_BOLD, fontSize=11, leading=14,
                              spaceBefore=6, spaceAfter=3),
            body=body,
            small=ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=GREY),
            cell=ParagraphStyle("cell", parent=body, fontSize=8, leading=10, spaceAfter=0),
            cell_right=ParagraphStyle("cell_right", parent=body, fontSize=8, leading=10,
                                      spaceAfter=0, alignment=TA_RIGHT),
            head=ParagraphStyle("head", parent=body, fontName=FONT_BOLD, fontSize=8,
                                leading=10, spaceAfter=0),
            head_right=ParagraphStyle("head_right", parent=body, fontName=FONT_BOLD,
                                      fontSize=8, leading=10, spaceAfter=0, alignment=TA_RIGHT),
        )
    return _STYLES


def text(value) -> str:
    """Plain text made safe for a Paragraph (which reads a little XML markup)."""
    return escape("" if value is None else str(value))


def heading(value: str, level: int = 1) -> Paragraph:
    return Paragraph(text(value), styles()["title" if level == 0 else f"h{min(level, 2)}"])


def para(value: str, style: str = "body", markup: bool = False) -> Paragraph:
    """A paragraph of plain text (``markup=True``: the caller has escaped it, e.g. <b>)."""
    return Paragraph(value if markup else text(value), styles()[style])


def small(value: str) -> Paragraph:
    return para(value, "small")


def spacer(height_mm: float = 4) -> Spacer:
    return Spacer(1, height_mm * mm)


def page_break() -> PageBreak:
    return PageBreak()


def keep_together(flowables: list) -> KeepTogether:
    return KeepTogether(flowables)


# ---------------------------------------------------------------- tables

Cell = Union[str, int, float, None, Flowable]


def _cell(value: Cell, style: ParagraphStyle):
    if isinstance(value, Flowable):
        return value
    return Paragraph(text(value), style)


def table(header: Sequence[str], rows: Iterable[Sequence[Cell]],
          col_widths: Optional[Sequence[float]] = None, numeric_cols: Iterable[int] = (),
          total: Optional[Sequence[Cell]] = None, zebra: bool = True,
          font_size: float = 8) -> Table:
    """A table that splits across pages with its header repeated on each.

    Cells are text (already formatted: ``money(...)``, ``number(...)``) and wrap in their
    column; ``numeric_cols`` are right-aligned. ``col_widths`` are fractions of the frame
    width (summing to 1) or points; None shares the width equally. ``total`` is a bold last
    row. ``font_size`` below 8 fits a wide table.
    """
    st = styles()
    if font_size != 8:
        st = {name: ParagraphStyle(f"{name}_{font_size}", parent=style, fontSize=font_size,
                                   leading=font_size * 1.25) for name, style in st.items()}
    numeric = set(numeric_cols)
    head = [_cell(h, st["head_right" if i in numeric else "head"]) for i, h in enumerate(header)]
    body = [[_cell(v, st["cell_right" if i in numeric else "cell"]) for i, v in enumerate(row)]
            for row in rows]
    data = [head] + body
    if total is not None:
        bold = ParagraphStyle("total", parent=st["cell"], fontName=FONT_BOLD)
        bold_right = ParagraphStyle("total_right", parent=st["cell_right"], fontName=FONT_BOLD)
        data.append([_cell(v, bold_right if i in numeric else bold) for i, v in enumerate(total)])
    widths = None
    if col_widths is not None:  # fractions become percentages of the frame, any page size
        widths = [f"{w * 100:.3f}%" if w <= 1 else w for w in col_widths]
    result = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if zebra and len(body) > 2:
        commands.append(("ROWBACKGROUNDS", (0, 1), (-1, len(body)), [colors.white, ZEBRA]))
    if total is not None:
        commands.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, RULE))
    result.setStyle(TableStyle(commands))
    return result


def facts(pairs: Sequence[tuple[str, Cell]], columns: int = 1) -> Table:
    """Label / value pairs, e.g. the figures of a section, in one or two column pairs."""
    st = styles()
    pairs = list(pairs)
    rows = []
    per_row = max(1, columns)
    for start in range(0, len(pairs), per_row):
        row = []
        for label, value in pairs[start:start + per_row]:
            row += [_cell(label, st["cell"]), _cell(value, st["cell_right"])]
        row += ["", ""] * (per_row - len(pairs[start:start + per_row]))
        rows.append(row)
    label_w, value_w = f"{62 / per_row:.3f}%", f"{38 / per_row:.3f}%"
    result = Table(rows or [["", ""]], colWidths=[label_w, value_w] * per_row, hAlign="LEFT")
    result.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dddddd")),
    ]))
    return result


# ---------------------------------------------------------------- sections and page frame


class _Section(Flowable):
    """Marks the start of a document within the file: new running title, pages from 1."""

    def __init__(self, title: str):
        super().__init__()
        self.title = title

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv._shg_section_title = self.title
        self.canv._shg_section += 1


def section(title: str, first: bool = False) -> list:
    """Start a document in a file of several: a page break (unless ``first``), the running
    title, and page numbers counted from 1 again."""
    return ([] if first else [PageBreak()]) + [_Section(title)]


class _NumberedCanvas(rl_canvas.Canvas):
    """Keeps every page until the end so the frame can say "Page X of Y" (two passes in one)."""

    def __init__(self, *args, frame=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._shg_frame = frame
        self._shg_pages: list[dict] = []
        self._shg_section = 0
        self._shg_section_title = frame["title"] if frame else ""

    def showPage(self):
        self._shg_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        counts: dict[int, int] = {}
        for state in self._shg_pages:
            counts[state["_shg_section"]] = counts.get(state["_shg_section"], 0) + 1
        seen: dict[int, int] = {}
        for state in self._shg_pages:
            self.__dict__.update(state)
            number_in_section = seen[state["_shg_section"]] = seen.get(state["_shg_section"], 0) + 1
            self._draw_frame(number_in_section, counts[state["_shg_section"]])
            super().showPage()
        super().save()

    def _draw_frame(self, page: int, pages: int) -> None:
        frame = self._shg_frame
        width, height = self._pagesize
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.setFillColor(GREY)
        self.setFont(FONT, 8)
        self.drawString(MARGIN, height - MARGIN + 6 * mm, frame["programme"])
        self.setFont(FONT_BOLD, 8)
        self.drawRightString(width - MARGIN, height - MARGIN + 6 * mm,
                             self._shg_section_title or frame["title"])
        self.line(MARGIN, height - MARGIN + 4.5 * mm, width - MARGIN, height - MARGIN + 4.5 * mm)
        self.line(MARGIN, MARGIN - 4 * mm, width - MARGIN, MARGIN - 4 * mm)
        self.setFont(FONT, 7.5)
        self.drawString(MARGIN, MARGIN - 8 * mm, frame["left_footer"])
        self.drawRightString(width - MARGIN, MARGIN - 8 * mm,
                             _("Page %(page)s of %(pages)s", page=page, pages=pages))
        self.restoreState()


def _reader_language(language: Optional[str]) -> str:
    if language:
        return language
    if has_request_context():
        return str(get_locale() or "en")
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def build_pdf(story: Union[Sequence[Flowable], Callable[[], Sequence[Flowable]]], *,
              title: str, as_of: Optional[date] = None, printed_by: Optional[str] = None,
              language: Optional[str] = None, landscape: bool = False,
              printed_at: Optional[datetime] = None) -> bytes:
    """Lay ``story`` out on A4 pages with the frame described above; return the PDF bytes.

    ``title`` may be a callable too (so it is translated in the reader's language).
    ``as_of``: the day the figures are taken on; ``printed_by``: the user's name.
    """
    register_fonts()
    language = _reader_language(language)
    with force_locale(language):
        flowables = list(story() if callable(story) else story)
        title_text = title() if callable(title) else str(title)  # after: it may name the story
        printed_at = printed_at or utcnow()
        left = []
        if as_of is not None:
            left.append(_("As of %(date)s", date=formatting.day(as_of)))
        left.append(_("Printed %(date)s by %(name)s", date=formatting.day(printed_at.date()),
                      name=printed_by or "—"))
        frame = {"programme": current_app.config.get("PROGRAMME_NAME") or "SHG Ledger",
                 "title": title_text, "left_footer": " · ".join(left)}
        buffer = io.BytesIO()
        pagesize = _landscape(A4) if landscape else A4
        doc = SimpleDocTemplate(buffer, pagesize=pagesize, leftMargin=MARGIN,
                                rightMargin=MARGIN, topMargin=MARGIN + 4 * mm,
                                bottomMargin=MARGIN, title=title_text,
                                author=printed_by or "", creator=frame["programme"],
                                lang=language)

        def make_canvas(*args, **kwargs):
            return _NumberedCanvas(*args, frame=frame, **kwargs)

        doc.build(flowables or [Spacer(1, 1)], canvasmaker=make_canvas)
        return buffer.getvalue()


def cond_page_break(height_mm: float) -> CondPageBreak:
    """Start a new page unless ``height_mm`` is left: keeps a heading with what follows."""
    return CondPageBreak(height_mm * mm)
