"""Importing a spreadsheet: the dry run, the import itself, the report and the templates.

One function runs both: ``ImportRun`` reads every row, finds each record's natural key
(already there: nothing changes) or hands the row to the services the pages call, and
collects every refusal with its line, column and reason. A dry run then rolls everything
back, so what it checks is exactly what the import would do (a member whose household is
three rows up is found). The import itself is one transaction: any refused row, or any
failure part-way, rolls it all back, and the database is as it was; only a clean run
commits. That transaction boundary is the point of the function, so it commits itself
rather than leaving it to the caller, and the page, the command and any later API call
behave alike.

On SQLite the transaction is opened with ``BEGIN IMMEDIATE`` before anything else: Python's
sqlite3 opens none before a SELECT, and a SAVEPOINT opened outside a transaction would
commit on release, breaking all-or-nothing; taking the write lock first also means the
import cannot be refused part-way because another writer came in between.
"""
from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator, Optional

from flask_babel import force_locale, gettext as _
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from shg.accounts.models import User
from shg.errors import Invalid
from shg.extensions import db
from shg.imports import values as V
from shg.imports.kinds import CREATED, EXISTS, KINDS, Kind, Lookups, RowError, may_import
from shg.imports.reading import FileProblem, read_table

log = logging.getLogger(__name__)
#: rows checked and written together on the batch path (members)
BATCH = 500


@dataclass
class Problem:
    """One refusal: the line as the file numbers it (0: the file as a whole), the column
    header as the file writes it ("" for the whole row), the cell, and the reason."""

    line: int
    column: str
    value: str
    reason: str


@dataclass
class Report:
    kind: str
    filename: str
    dry_run: bool
    total: int = 0
    created: int = 0
    existing: int = 0
    problems: list[Problem] = field(default_factory=list)
    #: lines whose record is already in the ledger (nothing changed for them)
    existing_lines: list[int] = field(default_factory=list)
    #: columns of the file the import does not read
    ignored: list[str] = field(default_factory=list)
    #: the import committed (never on a dry run, never with a problem)
    imported: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_rows(self) -> int:
        return len({p.line for p in self.problems if p.line})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        data = dict(data)
        data["problems"] = [Problem(**p) for p in data.get("problems", [])]
        return cls(**data)


# ---------------------------------------------------------------- columns


def _names(column) -> set[str]:
    return {V.norm(n) for n in (column.key, column.en, column.ru, *column.aliases)}


def match_columns(kind: Kind, headers: list[str], language: str = "en"):
    """Which cell of a row holds which column: {key: index}, the header each key was
    written as, the headers not read, and the problems (a column missing or twice)."""
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for index, header in enumerate(headers):
        if not header:
            continue
        name = V.norm(header)
        column = next((c for c in kind.columns if name in _names(c)), None)
        if column is None:
            ignored.append(header)
        elif column.key in positions:
            problems.append(Problem(1, header, "", _("This column appears twice.")))
        else:
            positions[column.key] = index
            written[column.key] = header
    if not positions:
        problems.append(Problem(1, "", "", _(
            "None of the columns is one this import reads: download the template for "
            "%(kind)s and copy the data under its headers.", kind=kind.title)))
        return positions, written, ignored, problems
    for column in kind.columns:
        if column.required and column.key not in positions:
            problems.append(Problem(1, column.header(language), "", _(
                "The file has no column %(en)s (in Russian: %(ru)s).",
                en=column.en, ru=column.ru)))
    return positions, written, ignored, problems


def read_row(kind: Kind, positions: dict[str, int], cells: list) -> tuple[dict, dict, dict]:
    """The row's values by column key, its raw cells, and the cells that cannot be read."""
    row, raw, errors = {}, {}, {}
    for column in kind.columns:
        index = positions.get(column.key)
        cell = cells[index] if index is not None and index < len(cells) else None
        if V.blank(cell):
            row[column.key] = None
            continue
        raw[column.key] = cell
        try:
            row[column.key] = column.read(cell)
        except ValueError as exc:
            errors[column.key] = [str(exc)]
            row[column.key] = None
    for column in kind.columns:
        if column.required and row.get(column.key) is None and column.key not in errors \
                and column.key in positions:
            errors[column.key] = [_("Fill in this cell.")]
    return row, raw, errors


# ---------------------------------------------------------------- the run


def _begin_write() -> None:
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class ImportRun:
    """A dry run or an import of one file; iterate it for progress ``(done, total)``, then
    read ``report``. ``run_import`` does both at once."""

    def __init__(self, kind: Kind, data: bytes, by: User, dry_run: bool = True,
                 filename: str = ""):
        self.kind, self.data, self.by, self.dry_run = kind, data, by, dry_run
        self.report = Report(kind=kind.name, filename=filename, dry_run=dry_run)
        self._written: dict[str, str] = {}
        self._raw: dict[int, dict] = {}

    # reporting -------------------------------------------------------------
    def _header(self, key: str) -> str:
        if not key:
            return ""
        if key in self._written:
            return self._written[key]
        try:
            return self.kind.column(key).header(self.by.locale)
        except StopIteration:
            return ""

    def _refused(self, line: int, errors: dict, raw: dict, by_field: bool) -> None:
        for key, messages in errors.items():
            column = self.kind.fields.get(key, "") if by_field else key
            if by_field and key not in self.kind.fields and key in raw:
                column = key
            value = raw.get(column)
            for message in messages:
                self.report.problems.append(Problem(
                    line, self._header(column), "" if value is None else str(value)[:80],
                    str(message)))

    def outcome(self, line: int, result) -> None:
        """What became of one row: CREATED, EXISTS, or the exception that refused it."""
        raw = self._raw.pop(line, {})
        if result == CREATED:
            self.report.created += 1
        elif result == EXISTS:
            self.report.existing += 1
            self.report.existing_lines.append(line)
        elif isinstance(result, RowError):
            self._refused(line, result.errors, raw, by_field=False)
        elif isinstance(result, Invalid):
            self._refused(line, result.errors, raw, by_field=True)
        elif isinstance(result, HTTPException):
            self._refused(line, {"": [result.description or _("You are not allowed to do this.")]},
                          raw, by_field=False)
        else:
            log.exception("import row %s failed", line, exc_info=result)
            self._refused(line, {"": [_("This row could not be stored (%(error)s). Nothing "
                                        "was imported.", error=type(result).__name__)]},
                          raw, by_field=False)

    def _file_problem(self, message: str, line: int = 0) -> None:
        self.report.problems.append(Problem(line, "", "", message))

    # running ----------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[int, int]]:
        started = time.perf_counter()
        try:
            with force_locale(self.by.locale or "en"):  # the reasons in the user's language
                yield from self._run()
        finally:
            self.report.seconds = round(time.perf_counter() - started, 2)
            if not self.report.imported:
                db.session.rollback()

    def _run(self) -> Iterator[tuple[int, int]]:
        report = self.report
        if not may_import(self.by, self.kind):
            self._file_problem(_("Your role may not import %(kind)s.", kind=self.kind.title))
            return
        try:
            table = read_table(self.data, report.filename)
        except FileProblem as exc:
            self._file_problem(str(exc))
            return
        report.total = table.total
        positions, self._written, report.ignored, problems = match_columns(
            self.kind, table.headers, self.by.locale)
        if problems:
            report.problems.extend(problems)
            return
        if table.total == 0:
            self._file_problem(_("The file has a header row but no data."))
            return
        try:
            _begin_write()
        except OperationalError:
            db.session.rollback()
            self._file_problem(_("The ledger is busy with another change: try again in a "
                                 "minute."))
            return
        yield 0, table.total
        look = Lookups(self.by)
        done = 0
        step = max(1, min(BATCH, table.total // 100))
        batch: list[tuple[int, dict]] = []
        try:
            for line, cells in table.rows():
                row, raw, errors = read_row(self.kind, positions, cells)
                self._raw[line] = raw
                if errors:
                    self._checked_anyway(line, row, errors, look)
                elif self.kind.import_batch is not None:
                    batch.append((line, row))
                    if len(batch) >= BATCH:
                        self.kind.import_batch(batch, look, self.outcome)
                        batch = []
                else:
                    self._one(line, row, look)
                done += 1
                if done % step == 0:
                    yield done, table.total
            if batch:
                self.kind.import_batch(batch, look, self.outcome)
        except FileProblem as exc:
            self._file_problem(str(exc))
            return
        except Exception as exc:  # never a server error: the whole file is refused instead
            db.session.rollback()
            log.exception("import stopped")
            self._file_problem(_("The import stopped near line %(line)s and nothing was "
                                 "imported (%(error)s).", line=done + 1,
                                 error=type(exc).__name__))
            return
        yield table.total, table.total
        if report.ok and not self.dry_run:
            db.session.commit()
            report.imported = True

    def _checked_anyway(self, line: int, row: dict, errors: dict, look: Lookups) -> None:
        """A row with cells that cannot be read is still shown to the services (the bad
        cells left empty, everything rolled back), so the report names all its problems
        at once, not one per attempt."""
        found = dict(errors)
        look.frozen = True
        try:
            savepoint = db.session.begin_nested()
            try:
                self.kind.import_row(row, look)
            finally:
                savepoint.rollback()
        except RowError as exc:
            for key, messages in exc.errors.items():
                found.setdefault(key, messages)
        except Invalid as exc:
            for key, messages in exc.errors.items():
                column = self.kind.fields.get(key, "")
                if column not in errors:
                    found.setdefault(column, []).extend(messages)
        except Exception:  # the cells already refused are reason enough
            pass
        finally:
            look.frozen = False
        self.outcome(line, RowError(found))

    def _one(self, line: int, row: dict, look: Lookups) -> None:
        """One row in its own savepoint: a loan refused at disbursement leaves no applied
        loan behind for the rows after it to find."""
        try:
            with db.session.begin_nested():
                result = self.kind.import_row(row, look)
        except (Invalid, RowError, HTTPException) as exc:
            self.outcome(line, exc)
        except SQLAlchemyError as exc:
            self.outcome(line, exc)
        except (ArithmeticError, ValueError, TypeError, OverflowError) as exc:
            self.outcome(line, exc)
        else:
            self.outcome(line, result)


def run_import(kind: str | Kind, data: bytes, by: User, dry_run: bool = True,
               filename: str = "") -> Report:
    """Check (``dry_run``) or import a whole file; nothing changes unless every row is good."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    run = ImportRun(kind, data, by, dry_run, filename)
    for _progress in run:
        pass
    return run.report


# ---------------------------------------------------------------- the report as a file


def report_csv(report: Report) -> bytes:
    """Every refused row (line, column, value, reason) and every row already there, as a
    CSV Excel opens with its Cyrillic intact (UTF-8 with BOM, ``;`` between cells)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([_("Line"), _("Column"), _("Cell"), _("Reason")])
    for problem in sorted(report.problems, key=lambda p: p.line):
        writer.writerow([problem.line or "", problem.column, problem.value, problem.reason])
    for line in report.existing_lines:
        writer.writerow([line, "", "", _("Already there: nothing changed.")])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# ---------------------------------------------------------------- templates


def template(kind: str | Kind, language: str = "en", fmt: str = "csv") -> bytes:
    """An empty file with the kind's headers in English or Russian; the XLSX has a second
    sheet saying what each column takes."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    language = "ru" if language == "ru" else "en"
    headers = [c.header(language) for c in kind.columns]
    if fmt == "xlsx":
        return _template_xlsx(kind, language, headers)
    out = io.StringIO()
    csv.writer(out, delimiter=";" if language == "ru" else ",").writerow(headers)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _template_xlsx(kind: Kind, language: str, headers: list[str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    with force_locale(language):
        sheet.title = str(kind.title)[:31]
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, header in enumerate(headers, start=1):
            sheet.column_dimensions[sheet.cell(1, index).column_letter].width = max(
                12, len(header) + 2)
        notes = book.create_sheet(_("Columns")[:31])
        notes.append([_("Column"), _("Required"), _("What to write")])
        for cell in notes[1]:
            cell.font = Font(bold=True)
        for column in kind.columns:
            notes.append([column.header(language), _("yes") if column.required else "",
                          str(column.note) if column.note else ""])
        notes.column_dimensions["A"].width = 30
        notes.column_dimensions["C"].width = 70
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def kind_or_none(name: Optional[str]) -> Optional[Kind]:
    return KINDS.get(name or "")
