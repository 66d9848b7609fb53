"""Import pages: template download, dry run, the import itself.

The flow: choose the kind and the file (kept on the server, ``store``); *Check* runs the dry
run and shows the report (each bad row with its line, column and reason, downloadable as
CSV); when every row is good, *Import* runs it for real, all or nothing.

Progress for a long file: web workers must not run background jobs, so the check and the
import run inside the request itself, and the request *streams* its progress. The page's own
script (``static/imports.js``, served from the app, no CDN) sends the form with ``fetch`` and
the header ``X-Import-Progress: 1``; the answer is newline-delimited JSON, ``{"done": n,
"total": N}`` as rows are done, then ``{"next": url}``, and the script moves a progress bar
and then opens the report. Without the script the same form posts normally: the request
runs to the end and redirects to the report. A proxy in front must not buffer the answer
(``X-Accel-Buffering: no`` is sent for nginx).
"""
from __future__ import annotations

import json
import logging

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template,
                   request, stream_with_context, url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField

from shg.imports import store
from shg.imports.kinds import KINDS, kinds_for, may_import
from shg.imports.services import ImportRun, Problem, Report, report_csv, template

bp = Blueprint("imports", __name__, url_prefix="/import")
log = logging.getLogger(__name__)
#: the largest file the page accepts (a 50,000-member CSV is about 6 MB)
DEFAULT_MAX_BYTES = 30 * 1024 * 1024
#: refused rows shown on the page; the CSV report has them all
SHOWN = 200
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class UploadForm(FlaskForm):
    kind = SelectField(_l("What the file holds"))
    file = FileField(_l("File (CSV or XLSX)"), validators=[FileRequired(_l("Choose a file."))])


@bp.before_request
@login_required
def _login_first():
    """Every import page needs a logged-in user who may import something."""
    if not kinds_for(current_user):
        abort(403, _("Your role may not import records."))


def _upload_or_404(token: str) -> store.Upload:
    upload = store.load(token, current_user.id)
    if upload is None or upload.meta.get("kind") not in KINDS:
        abort(404)
    if not may_import(current_user, KINDS[upload.meta["kind"]]):
        abort(403, _("Your role may not import this."))
    return upload


@bp.route("/", methods=["GET", "POST"])
def index():
    kinds = kinds_for(current_user)
    form = UploadForm()
    form.kind.choices = [(k.name, str(k.title)) for k in kinds]
    if request.method == "GET" and request.args.get("kind") in {k.name for k in kinds}:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        limit = current_app.config.get("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)
        data = form.file.data.read(limit + 1)
        if len(data) > limit:
            form.file.errors.append(_("The file is larger than %(mb)s MB: split it.",
                                      mb=limit // (1024 * 1024)))
        elif not data.strip():
            form.file.errors.append(_("The file is empty."))
        else:
            upload = store.save_upload(data, form.file.data.filename or "", form.kind.data,
                                       current_user.id)
            return redirect(url_for("imports.show", token=upload.token))
    return render_template("imports/index.html", form=form, kinds=kinds)


@bp.route("/templates/<kind>.<fmt>")
def download_template(kind, fmt):
    if kind not in KINDS or fmt not in MIMETYPES:
        abort(404)
    language = "ru" if request.args.get("lang") == "ru" else "en"
    data = template(kind, language, fmt)
    return Response(data, mimetype=MIMETYPES[fmt], headers={
        "Content-Disposition": f"attachment; filename={kind}-{language}.{fmt}"})


def _report(upload: store.Upload, phase: str):
    found = upload.meta.get(phase)
    return Report.from_dict(found) if found else None


@bp.route("/<token>")
def show(token):
    upload = _upload_or_404(token)
    check, result = _report(upload, "check"), _report(upload, "result")
    shown = result if result is not None and not result.ok else check
    return render_template("imports/upload.html", upload=upload, kind=KINDS[upload.meta["kind"]],
                           check=check, result=result, shown=shown,
                           problems=shown.problems[:SHOWN] if shown else [], limit=SHOWN)


@bp.route("/<token>/check", methods=["POST"])
def check(token):
    return _run(_upload_or_404(token), dry_run=True)


@bp.route("/<token>/run", methods=["POST"])
def run(token):
    upload = _upload_or_404(token)
    check = _report(upload, "check")
    if check is None or not check.ok:
        flash(_("Check the file first: only a file with no bad rows is imported."), "warning")
        return redirect(url_for("imports.show", token=token))
    return _run(upload, dry_run=False)


@bp.route("/<token>/report.csv")
def report(token):
    upload = _upload_or_404(token)
    found = _report(upload, "result") or _report(upload, "check")
    if found is None:
        abort(404)
    name = upload.meta.get("filename") or "import"
    return Response(report_csv(found), mimetype=MIMETYPES["csv"], headers={
        "Content-Disposition": f"attachment; filename=report-{_ascii(name)}.csv"})


def _ascii(name: str) -> str:
    stem = name.rsplit(".", 1)[0]
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in stem)[:60] \
        or "import"


def _run(upload: store.Upload, dry_run: bool):
    """The dry run or the import, in this request; streamed when the page's script asks."""
    kind = KINDS[upload.meta["kind"]]
    job = ImportRun(kind, upload.data, current_user._get_current_object(), dry_run=dry_run,
                    filename=upload.meta.get("filename") or "")
    target = url_for("imports.show", token=upload.token)
    if request.headers.get("X-Import-Progress") != "1":
        for _step in _steps(upload, job, dry_run):
            pass
        return redirect(target)

    def lines():
        for done, total in _steps(upload, job, dry_run):
            yield json.dumps({"done": done, "total": total}) + "\n"
        yield json.dumps({"next": target}) + "\n"

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson",
                    headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})


def _steps(upload: store.Upload, job: ImportRun, dry_run: bool):
    """Run the job, yielding its progress, then keep its report with the upload. A failure
    nobody foresaw becomes a refusal of the whole file, never a server error: the job has
    rolled everything back."""
    try:
        yield from job
    except Exception:  # noqa: BLE001 — reported on the page, logged here
        log.exception("import of %s failed", upload.token)
        job.report.problems.append(Problem(0, "", "", _(
            "Something went wrong on our side. Nothing was imported.")))
        job.report.imported = False
    upload.meta["check" if dry_run else "result"] = job.report.to_dict()
    upload.save()
