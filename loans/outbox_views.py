"""The reminder outbox page: what was sent to whom, what failed and why, what was skipped.

Thin views over loans/reminders.py: the query, retrying a failed message and switching off
a member's SMS all live there.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from loans import reminders
from loans.reminders import Reminder
from loans.views import _show_errors
from shg.errors import Invalid
from shg.extensions import db
from shg.labels import choices
from shg.pagination import paginate
from shg.registry.models import Member
from shg.transactions import commit_with_retry
from shg.urls import bounded_int, date_arg, is_safe_next

bp = Blueprint("outbox", __name__)


@bp.before_request
@login_required
def _login_first():
    """Every outbox page needs a logged-in user."""


@bp.route("/reminders")
def index():
    args = request.args
    f = {"kind": args.get("kind") or None, "state": args.get("state") or None,
         "channel": args.get("channel") or None, "on": date_arg("on"),
         "recipient": args.get("recipient", "").strip()[:100]}
    page = paginate(reminders.outbox_query(current_user, **f),
                    args.get("page", 1, type=bounded_int))
    return render_template("loans/outbox.html", page=page, f=f,
                           kinds=choices(reminders.KINDS), states=choices(reminders.STATES),
                           channels=choices(reminders.CHANNELS),
                           may_act={r.id: reminders.may_act(current_user, r)
                                    for r in page.items})


def _back():
    target = request.form.get("next")
    return redirect(target if target and is_safe_next(target) else url_for("outbox.index"))


def _reminder(reminder_id: int) -> Reminder:
    reminder = db.get_or_404(Reminder, reminder_id)
    if not reminders.may_see(current_user, reminder):
        abort(404)
    if not reminders.may_act(current_user, reminder):
        abort(403, _("Your role may not change this record."))
    return reminder


@bp.route("/reminders/<int:reminder_id>/retry", methods=["POST"])
def retry(reminder_id):
    def work():
        reminders.retry(_reminder(reminder_id))
    try:
        commit_with_retry(work)
    except Invalid as exc:
        _show_errors(None, exc)
    else:
        flash(_("The reminder will be sent again in a minute."), "success")
    return _back()


@bp.route("/reminders/<int:reminder_id>/sms-off", methods=["POST"])
def sms_off(reminder_id):
    """Switch off the SMS of the member this reminder was for."""
    def work():
        reminder = _reminder(reminder_id)
        if reminder.member_id is None:
            abort(404)
        member = db.session.get(Member, reminder.member_id)
        return member.full_name, reminders.switch_off_sms(member)
    name, held = commit_with_retry(work)
    flash(_("SMS switched off for %(name)s; %(count)d waiting message(s) will not be sent.",
            name=name, count=held), "success")
    return _back()
