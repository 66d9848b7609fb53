"""Reports through the API (PDF and CSV/XLSX downloads)."""
from flask import g, request
from flask.views import MethodView

from reports.views import document_response, export_response, overdue_response
from shg.api import api_blueprint


# ---------------------------------------------------------------- exports (CSV, XLSX)

exports_api = api_blueprint(
    "report_exports", "/reports/exports",
    description="Every list as CSV (UTF-8 with a byte-order mark; `sep=comma|semicolon`, "
                "default by the token user's language) or XLSX, with the filters of its list "
                "page in the query string, and the token user's district scope.")

EXPORT_FILTERS = {
    "q": "name or phone contains", "district": "district id", "village": "village id",
    "group": "group id", "member": "member id", "round": "distribution round id",
    "crop": "crop id", "status": "status (as the list page)", "year": "harvest year",
    "from": "first day (YYYY-MM-DD)", "to": "last day (YYYY-MM-DD)",
    "sep": "CSV separator: comma or semicolon"}


@exports_api.route("/<kind>.<any(csv, xlsx):fmt>")
class Export(MethodView):
    @exports_api.doc(
        summary="Export a list",
        description="`kind`: groups, members, meetings, attendance, loans, installments, "
                    "repayments, deliveries, harvests. A filter the list does not know is "
                    "ignored; a bad value answers 422; a district out of reach 403.",
        parameters=[{"in": "query", "name": name, "required": False,
                     "schema": {"type": "string"}, "description": text}
                    for name, text in EXPORT_FILTERS.items()],
        responses={"200": {"description": "The file",
                           "content": {"text/csv": {"schema": {"type": "string"}},
                                       "application/vnd.openxmlformats-officedocument."
                                       "spreadsheetml.sheet":
                                           {"schema": {"type": "string", "format": "binary"}}}},
                   "401": {"description": "No valid token"},
                   "403": {"description": "A district out of reach"},
                   "404": {"description": "No such list"},
                   "422": {"description": "A filter value is not valid"}})
    def get(self, kind, fmt):
        return export_response(kind, fmt, request.args, g._login_user)


# ---------------------------------------------------------------- documents (PDF)

documents_api = api_blueprint(
    "report_documents", "/reports",
    description="Documents for one record, as PDF in the token user's language: a group's "
                "meeting register and passbooks, a member's credit history statement, a "
                "loan's repayment schedule, and the overdue list. Another district's record "
                "answers 403.")

PDF_RESPONSES = {"200": {"description": "The PDF",
                         "content": {"application/pdf": {"schema": {"type": "string",
                                                                    "format": "binary"}}}},
                 "401": {"description": "No valid token"},
                 "403": {"description": "A district out of reach"},
                 "404": {"description": "No such record"},
                 "422": {"description": "A query value is not valid"}}


def _query(*names: str) -> list[dict]:
    texts = {"from": "first day (YYYY-MM-DD)", "to": "last day (YYYY-MM-DD)",
             "as_of": "the day (YYYY-MM-DD), today if not given", "member": "member id",
             "district": "district id", "village": "village id", "group": "group id",
             "bucket": "1-30, 31-60, 61-90 or 90+"}
    return [{"in": "query", "name": n, "required": False, "schema": {"type": "string"},
             "description": texts[n]} for n in names]


def _document_view(kind: str, summary: str, *args: str):
    class Document(MethodView):
        @documents_api.doc(summary=summary, parameters=_query(*args), responses=PDF_RESPONSES)
        def get(self, record_id):
            return document_response(kind, record_id, request.args, g._login_user)
    Document.__name__ = "Document" + kind.title().replace("-", "")
    return Document


ITEM = "<int(max=2147483647):record_id>"
documents_api.route(f"/groups/{ITEM}/register.pdf")(
    _document_view("register", "A group's meeting register", "from", "to"))
documents_api.route(f"/groups/{ITEM}/passbook.pdf")(
    _document_view("passbook", "A group's passbooks (or one member's)", "member"))
documents_api.route(f"/members/{ITEM}/credit-history.pdf")(
    _document_view("credit-history", "A member's credit history statement", "as_of"))
documents_api.route(f"/loans/{ITEM}/schedule.pdf")(
    _document_view("schedule", "A loan's repayment schedule", "as_of"))


@documents_api.route("/overdue.pdf")
class OverduePdf(MethodView):
    @documents_api.doc(summary="The overdue list, every page of it",
                       parameters=_query("district", "village", "group", "bucket"),
                       responses=PDF_RESPONSES)
    def get(self):
        return overdue_response(request.args, g._login_user)


# ---------------------------------------------------------------- summaries (PDF)

summaries_api = api_blueprint(
    "report_summaries", "/reports",
    description="Printed summaries of a village, district or country (the programme) as PDF, "
                "in the token user's language: groups and families, migrants, meetings and "
                "savings, seeds and harvests, loans, and a table of the place's parts.")

SUMMARY_PERIOD = {"from": "first day of the period (YYYY-MM-DD); default: from the start",
                  "to": "last day of the period and the day the figures are taken on "
                        "(YYYY-MM-DD); default: today",
                  "as_of": "the same as to"}


@summaries_api.route("/<any(villages, districts, countries):kind>/<int:place_id>.pdf")
class Summary(MethodView):
    @summaries_api.doc(
        summary="A village, district or programme summary",
        description="`kind`: villages, districts or countries. A district role reads the "
                    "summaries of its districts and their villages only.",
        parameters=[{"in": "query", "name": name, "required": False,
                     "schema": {"type": "string", "format": "date"}, "description": text}
                    for name, text in SUMMARY_PERIOD.items()],
        responses={"200": {"description": "The PDF",
                           "content": {"application/pdf":
                                       {"schema": {"type": "string", "format": "binary"}}}},
                   "400": {"description": "A date is not valid"},
                   "401": {"description": "No valid token"},
                   "403": {"description": "A district out of reach"},
                   "404": {"description": "No such place"}})
    def get(self, kind, place_id):
        from reports.views import summary_response
        level = {"villages": "village", "districts": "district", "countries": "country"}[kind]
        return summary_response(level, place_id, request.args, g._login_user)
