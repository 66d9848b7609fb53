"""Reading a spreadsheet as it comes from the field: CSV or XLSX, rows of cells.

CSV arrives from Excel in Russian locales (Windows-1251, ``;`` between cells), from
LibreOffice or Google Sheets (UTF-8, with or without a BOM, ``,``): the encoding is tried as
UTF-8 and falls back to Windows-1251; the separator is guessed by ``csv.Sniffer`` among
``;``, ``,`` and the tab. XLSX is read with openpyxl in read-only mode (rows are streamed,
a 50,000-row sheet is never held whole), first sheet only.

openpyxl hands numbers out as int or float and dates as datetime: a float becomes a Decimal
through its shortest repr (``Decimal(repr(0.1)) == Decimal("0.1")``), never through float
arithmetic; a datetime at midnight becomes a date.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Callable, Iterator

from flask_babel import gettext as _

#: the most rows one file may hold: a programme's whole registry is far below it
MAX_ROWS = 200_000
#: the most columns one row may hold
MAX_COLUMNS = 100
#: a cell longer than this is not a name, a date or a number
MAX_CELL = 2000


class FileProblem(Exception):
    """The file cannot be read at all (not a spreadsheet, empty, too large): one message
    for the whole file, in the user's language."""


@dataclass
class Table:
    """A file's header row, how many data rows follow, and the rows themselves.

    ``rows()`` yields ``(line, cells)`` where ``line`` is the line (CSV) or row (XLSX)
    number a person sees in the file, header included, and may be called again.
    """

    headers: list[str]
    total: int
    _rows: Callable[[], Iterator[tuple[int, list]]]

    def rows(self) -> Iterator[tuple[int, list]]:
        return self._rows()


def read_table(data: bytes, filename: str = "") -> Table:
    """The table in a CSV or XLSX file, told apart by content (a ZIP is an XLSX), not by
    the name someone gave it."""
    if not data or not data.strip():
        raise FileProblem(_("The file is empty."))
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if b"\x00" in data[:4096]:
        raise FileProblem(_("This is not a CSV or XLSX file."))
    return _read_csv(data)


# ---------------------------------------------------------------- CSV


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1251, the encoding of Excel in Russian."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError as exc:  # cp1251 leaves only 0x98 undefined
        raise FileProblem(_("The file's text encoding is not UTF-8 or Windows-1251.")) from exc


def _dialect(text: str):
    sample = text[:20000]
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,\t")
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        delimiter = max(";,\t", key=first.count)

        class Guessed(csv.excel):
            pass
        Guessed.delimiter = delimiter
        return Guessed


def _read_csv(data: bytes) -> Table:
    text = decode(data)
    dialect = _dialect(text)

    def records():
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        start = 1
        try:
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1
        except csv.Error as exc:
            raise FileProblem(_("Line %(line)s cannot be read as CSV: %(error)s",
                                line=start, error=str(exc))) from exc

    found = records()
    header = next(found, None)
    if header is None or not any(c.strip() for c in header[1]):
        raise FileProblem(_("The file has no header row."))
    total = 0
    for _line, cells in found:
        if any(c.strip() for c in cells):
            total += 1
            if total > MAX_ROWS:
                raise FileProblem(_("The file has more than %(max)s rows: split it.",
                                    max=MAX_ROWS))
    headers = _headers(header[1])

    def rows():
        it = records()
        next(it)
        for line, cells in it:
            if any(c.strip() for c in cells):
                yield line, [_cell_text(c) for c in cells[:MAX_COLUMNS]]
    return Table(headers, total, rows)


def _cell_text(value: str) -> str:
    return value[:MAX_CELL + 1]


def _headers(cells) -> list[str]:
    if len(cells) > MAX_COLUMNS:
        raise FileProblem(_("The file has more than %(max)s columns.", max=MAX_COLUMNS))
    return [("" if c is None else str(c)).replace("\ufeff", "").strip()[:200] for c in cells]


# ---------------------------------------------------------------- XLSX


def _read_xlsx(data: bytes) -> Table:
    import openpyxl
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, IndexError,
            AttributeError, EOFError) as exc:
        raise FileProblem(_("This is not a CSV or XLSX file.")) from exc
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise FileProblem(_("This is not a CSV or XLSX file.")) from exc
    if not workbook.worksheets:
        raise FileProblem(_("The file is empty."))
    sheet = workbook.worksheets[0]

    def records():
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(values[:MAX_COLUMNS])
        except FileProblem:
            raise
        except Exception as exc:
            raise FileProblem(_("The spreadsheet cannot be read: %(error)s",
                                error=str(exc)[:200])) from exc

    found = records()
    header = next(found, None)
    if header is None or not any(_filled(c) for c in header[1]):
        raise FileProblem(_("The file has no header row."))
    headers = _headers(header[1])
    total = 0
    for _line, cells in found:
        if any(_filled(c) for c in cells):
            total += 1
            if total > MAX_ROWS:
                raise FileProblem(_("The file has more than %(max)s rows: split it.",
                                    max=MAX_ROWS))

    def rows():
        it = records()
        next(it)
        for line, cells in it:
            if any(_filled(c) for c in cells):
                yield line, [cell_value(c) for c in cells]
    return Table(headers, total, rows)


def _filled(value) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def cell_value(value):
    """A spreadsheet cell as the import reads it: text, int, Decimal, date, bool or None.

    Floats go through their repr (the shortest text that reads back as the same float),
    so 1250.5 is Decimal("1250.5") and 0.1 is Decimal("0.1"), never 0.1000000000000000055….
    """
    if value is None or isinstance(value, (bool, int, Decimal)):
        return value
    if isinstance(value, float):
        try:
            result = Decimal(repr(value))
        except InvalidOperation:
            return str(value)
        return result if result.is_finite() else str(value)
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0) else value
    if isinstance(value, (date, time)):
        return value
    return str(value)[:MAX_CELL + 1]

