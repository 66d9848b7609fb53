"""Report pages: print (PDF) and export (CSV/XLSX) buttons lead here."""
import io
from datetime import date

from flask import Blueprint, Response, abort, request, send_file, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound

from reports import documents, exports
from shg.errors import Invalid
from shg.urls import bounded_int

bp = Blueprint("reports", __name__, url_prefix="/reports")


# ---------------------------------------------------------------- exports (CSV, XLSX)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_response(kind: str, fmt: str, args, user):
    """The download of a list, for the page's button and the API alike: the list's filters
    come from ``args`` (the page's query string). CSV streams; XLSX is built, then sent."""
    if kind not in exports.KINDS:
        abort(404)
    sep = args.get("sep") or None
    if sep not in (None, "comma", "semicolon"):
        raise Invalid({"sep": [_("Choose comma or semicolon.")]})
    prepared = exports.prepare(kind, args, user)
    if fmt == "csv":
        pieces = exports.write_csv(prepared, sep)
        response = Response(stream_with_context(pieces), mimetype="text/csv")
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{exports.filename(prepared, "csv")}"')
        return response
    return send_file(exports.xlsx_file(prepared), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=exports.filename(prepared, "xlsx"))


@bp.route("/export/<kind>.<any(csv, xlsx):fmt>")
@login_required
def export(kind, fmt):
    """/reports/export/members.xlsx?district=3&status=active: the list page's rows, all
    of them, with the page's filters (its Export buttons carry them)."""
    return export_response(kind, fmt, request.args, current_user)


# ---------------------------------------------------------------- summaries (PDF)


def _period_args(args) -> tuple:
    """(start, as_of) from ``from`` and ``to`` (or ``as_of``), YYYY-MM-DD; a malformed
    date or a period that ends before it starts is a 400 that says so."""
    from datetime import date

    from shg.timeutil import today
    days = {}
    for name in ("from", "to", "as_of"):
        text = (args.get(name) or "").strip()
        if not text:
            days[name] = None
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is None or not 1900 <= day.year <= 2200:
            abort(400, _("%(name)s must be a date written YYYY-MM-DD.", name=name))
        days[name] = day
    as_of = days["to"] or days["as_of"] or today()
    if days["to"] and days["as_of"] and days["to"] != days["as_of"]:
        abort(400, _("Give either to or as_of, not two different days."))
    start = days["from"]
    if start and start > as_of:
        abort(400, _("The period ends before it starts."))
    return start, as_of


def summary_response(level: str, place_id: int, args, user):
    """The PDF summary of a village, district or country, for the page's print button and
    the API alike: 404 for no such place, 403 for a place out of the user's reach."""
    from flask import make_response

    from reports import summaries, summary_pdf
    start, as_of = _period_args(args)
    try:
        record = summaries.place(level, place_id)
    except summaries.NotFound:
        abort(404)
    if not summaries.may_read(user, level, record):
        abort(403, _("This record belongs to a district you are not assigned to."))
    data = summary_pdf.summary_pdf(level, place_id, as_of=as_of, start=start,
                                   printed_by=user.full_name or user.username,
                                   language=getattr(user, "locale", None))
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{level}-{place_id}-{as_of.isoformat()}.pdf"')
    return response


@bp.route("/<any(villages, districts, countries):kind>/<int:place_id>.pdf")
@login_required
def summary(kind, place_id):
    """/reports/villages/7.pdf?from=2025-01-01&to=2025-06-30: the printed summary."""
    level = {"villages": "village", "districts": "district", "countries": "country"}[kind]
    return summary_response(level, place_id, request.args, current_user)


# ---------------------------------------------------------------- documents (PDF)

DOCUMENTS = ("register", "passbook", "credit-history", "schedule")


def _day(args, name: str):
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2200:
        raise Invalid({name: [_("Enter a date as YYYY-MM-DD.")]})
    return day


def _id(args, name: str):
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return bounded_int(raw)
    except ValueError:
        raise Invalid({name: [_("This filter value is not valid: %(value)s",
                                value=raw[:40])]}) from None


def _pdf(data: bytes, name: str):
    """Shown in the browser (its print button prints it), saved under a readable name."""
    return send_file(io.BytesIO(data), mimetype="application/pdf", download_name=name)


def document_response(kind: str, record_id: int, args, user):
    """One record's document, for the page's Print button and the API alike; the record's
    loader answers 404 or 403 (another district) before anything is drawn."""
    from loans import services as loan_services
    from shg.registry import services as registry
    if kind == "register":
        group = registry.get_group(record_id, user)
        return _pdf(documents.meeting_register_pdf(group, user, _day(args, "from"),
                                                   _day(args, "to")),
                    f"register-{group.id}.pdf")
    if kind == "passbook":
        group = registry.get_group(record_id, user)
        member_id = _id(args, "member")
        member = None
        if member_id is not None:
            member = next((m.member for m in group.memberships if m.member_id == member_id),
                          None)
            if member is None:
                raise NotFound(_("She is not a member of this group."))
        return _pdf(documents.passbook_pdf(group, user, member),
                    f"passbook-{group.id}{f'-{member.id}' if member else ''}.pdf")
    if kind == "credit-history":
        member = registry.get_member(record_id, user)
        return _pdf(documents.credit_history_pdf(member, user, _day(args, "as_of")),
                    f"credit-history-{member.id}.pdf")
    if kind == "schedule":
        loan = loan_services.get_loan(record_id, user)
        return _pdf(documents.repayment_schedule_pdf(loan, user, _day(args, "as_of")),
                    f"schedule-{loan.id}.pdf")
    abort(404)


def overdue_response(args, user):
    """The overdue list with the page's filters (district, village, group, bucket)."""
    from loans.portfolio import BUCKET_DAYS
    found = {name: _id(args, name) for name in ("district", "village", "group")}
    bucket = args.get("bucket") or None
    if bucket is not None and bucket not in BUCKET_DAYS:
        raise Invalid({"bucket": [_("This filter value is not valid: %(value)s",
                                    value=bucket[:40])]})
    exports.check_reach(found, user)
    return _pdf(documents.overdue_pdf(user, district_id=found["district"],
                                      village_id=found["village"], group_id=found["group"],
                                      bucket=bucket), "overdue.pdf")


@bp.route("/groups/<int:record_id>/register.pdf", defaults={"kind": "register"})
@bp.route("/groups/<int:record_id>/passbook.pdf", defaults={"kind": "passbook"})
@bp.route("/members/<int:record_id>/credit-history.pdf", defaults={"kind": "credit-history"})
@bp.route("/loans/<int:record_id>/schedule.pdf", defaults={"kind": "schedule"})
@login_required
def document(kind, record_id):
    """A group's register (?from=&to=) or passbooks (?member=), a member's credit history
    statement (?as_of=), a loan's repayment schedule (?as_of=)."""
    return document_response(kind, record_id, request.args, current_user)


@bp.route("/overdue.pdf")
@login_required
def overdue():
    """The loan officer's overdue list, every page of it, with the page's filters."""
    return overdue_response(request.args, current_user)


@bp.route("/districts/<int:district_id>/villages.pdf")
@login_required
def district_village_summaries(district_id):
    """Every village summary of a district in one PDF (what ``flask reports
    village-summaries`` prints), for the button on the district's village list."""
    from flask import make_response

    from reports import summaries, summary_pdf
    start, as_of = _period_args(request.args)
    try:
        district = summaries.place("district", district_id)
    except summaries.NotFound:
        abort(404)
    if not summaries.may_read(current_user, "district", district):
        abort(403, _("This record belongs to a district you are not assigned to."))
    data = summary_pdf.village_summaries_pdf(
        summaries.village_ids_of_district(district_id), as_of=as_of, start=start,
        printed_by=current_user.full_name or current_user.username, language=current_user.locale)
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="district-{district_id}-villages-{as_of.isoformat()}.pdf"')
    return response
