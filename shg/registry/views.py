"""Registry pages: thin. Parse the form, call a service, flash, redirect or render."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from shg.accounts import access
from shg.accounts.models import User
from shg.errors import Invalid
from shg.extensions import db
from shg.urls import bounded_int, date_arg
from shg.money import parse_decimal
from shg.pagination import paginate
from shg.registry import services
from shg.registry.forms import (CountryForm, DistrictForm, EditMemberForm, GroupForm, HouseholdForm,
                                JoinForm, LeaveForm, MeetingForm, NewMemberForm, RegionForm,
                                VillageForm)
from shg.registry.models import (ATTENDANCE, GROUP_STATUSES, Country, District, Group, Household,
                                 Meeting, Member, Membership, Region, Village)
from shg.timeutil import today
from shg.transactions import commit_with_retry
from loans import services as loans_services
from loans.models import Loan, Repayment

bp = Blueprint("registry", __name__)


@bp.before_request
@login_required
def _login_first():
    """Every registry page needs a logged-in user."""


def _show_errors(form, exc: Invalid) -> None:
    """Put a service's refusals beside the form's fields (or above the form)."""
    db.session.rollback()
    for field, messages in exc.errors.items():
        if field in form:
            form[field].errors = list(form[field].errors) + messages
        else:
            for message in messages:
                flash(message, "danger")


def _filters():
    """The list filters every list understands, as plain values."""
    args = request.args
    return {"q": args.get("q", "").strip(), "district_id": args.get("district", type=bounded_int),
            "village_id": args.get("village", type=bounded_int), "status": args.get("status") or None}


def _district_options():
    rows = db.session.scalars(services.districts_query(current_user)).all()
    return [(d.id, d.name) for d in rows]


def _village_options(district_id=None, change=False):
    query = services.villages_query(current_user, district_id=district_id)
    rows = db.session.scalars(query).all()
    if change:
        rows = [v for v in rows if access.can_change(current_user, v.district_id)]
    return [(v.id, f"{v.name} ({v.district.name})") for v in rows]


def _group_options(change=True):
    rows = db.session.scalars(services.groups_query(current_user).where(Group.status != "dissolved")).all()
    if change:
        rows = [g for g in rows if access.can_change(current_user, g.district_id)]
    return [(g.id, f"{g.name} — {g.village.name}") for g in rows]


@bp.route("/")
def index():
    return redirect(url_for("registry.groups"))


# ---------------------------------------------------------------- groups


@bp.route("/groups")
def groups():
    f = _filters()
    page = paginate(services.groups_query(current_user, **f), request.args.get("page", 1, type=bounded_int))
    counts = services.member_counts([g.id for g in page.items])
    return render_template("registry/groups.html", page=page, counts=counts, f=f,
                           districts=_district_options(),
                           villages=_village_options(f["district_id"]),
                           statuses=[(s, s) for s in GROUP_STATUSES])


def _group_form(group=None):
    form = GroupForm(obj=group)
    form.village_id.choices = _village_options(change=True)
    facilitators = db.session.scalars(select(User).where(User.role == "facilitator",
                                                         User.is_active_user)
                                      .order_by(User.full_name)).all()
    form.facilitator_id.choices = [(None, "—")] + [(u.id, u.full_name) for u in facilitators]
    return form


@bp.route("/groups/new", methods=["GET", "POST"])
@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
def edit_group(group_id=None):
    group = services.get_group(group_id, current_user, change=True) if group_id else None
    if group is None and not access.can_change_registry(current_user):
        access.require_change(current_user, -1)
    form = _group_form(group)
    if request.method == "GET" and group is None:
        form.village_id.data = request.args.get("village", type=bounded_int)
        if current_user.role == "facilitator":
            form.facilitator_id.data = current_user.id
    if form.validate_on_submit():
        data = {k: form[k].data for k in ("name", "village_id", "facilitator_id", "formed_on",
                                           "meeting_day", "meeting_frequency", "status")}
        try:
            group = services.save_group(group, data, by=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The group is saved."), "success")
            return redirect(url_for("registry.group", group_id=group.id))
    return render_template("registry/group_form.html", form=form, group=group)


@bp.route("/groups/<int:group_id>")
def group(group_id):
    group = services.get_group(group_id, current_user)
    memberships = services.active_memberships(group.id)
    past = [m for m in group.memberships if m.left_on is not None]
    savings = services.savings_by_member(group.id)
    return render_template(
        "registry/group.html", group=group, memberships=memberships, past=past, savings=savings,
        total_savings=services.group_savings(group.id),
        attendance_rate=services.attendance_rate(group.id),
        register=services.meeting_register(group.id, limit=10),
        currency=group.village.district.region.country.currency,
        can_change=access.may_record(current_user, group.district_id))


@bp.route("/groups/<int:group_id>/meetings")
def register(group_id):
    group = services.get_group(group_id, current_user)
    page_no = request.args.get("page", 1, type=bounded_int)
    rows = services.meeting_register(group.id, limit=50, offset=(page_no - 1) * 50)
    return render_template("registry/register.html", group=group, rows=rows, page_no=page_no,
                           attendance_rate=services.attendance_rate(group.id),
                           total_savings=services.group_savings(group.id),
                           currency=group.village.district.region.country.currency)


# ---------------------------------------------------------------- meetings


def read_attendance(form_data, memberships) -> tuple[list[dict], dict[int, str]]:
    """The attendance rows of the meeting page: one status and one savings box per member.

    Returns the rows and the members whose savings box could not be read, so the page can
    say which box is wrong instead of refusing the whole meeting with one vague message.
    """
    rows, bad = [], {}
    for membership in memberships:
        mid = membership.member_id
        raw = (form_data.get(f"savings-{mid}") or "").strip()
        try:
            savings = parse_decimal(raw) if raw else Decimal("0")
        except ValueError:
            bad[mid] = _("Not a valid number.")
            continue
        rows.append({"member_id": mid, "status": form_data.get(f"status-{mid}"), "savings": savings})
    return rows, bad


def read_repayments(form_data) -> tuple[dict[int, Decimal], dict[int, str]]:
    """The collection sheet's boxes (``repay-<loan id>``): the amounts collected per loan,
    and the boxes that could not be read. An empty box collects nothing."""
    amounts, bad = {}, {}
    for key, raw in form_data.items():
        prefix, _sep, loan_id = key.partition("-")
        if prefix != "repay" or not loan_id.isascii() or not loan_id.isdigit() or len(loan_id) > 9:
            continue
        raw = (raw or "").strip()
        if not raw:
            continue
        try:
            amounts[int(loan_id)] = parse_decimal(raw)
        except ValueError:
            bad[int(loan_id)] = _("Not a valid number.")
    return amounts, bad


def _plain(amount: Decimal) -> str:
    """An amount for an input box: the reader's decimal sign, no thousands separator, so
    that the box reads back as typed ("1240,00", not "1 240,00" or "1,240.00")."""
    return format_decimal(amount, format="0.00")


@bp.route("/groups/<int:group_id>/meetings/new", methods=["GET", "POST"])
@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
def record_meeting(group_id=None, meeting_id=None):
    """Attendance and savings; for a new meeting also the repayments collected, posted with
    the meeting in one transaction: a refused repayment saves nothing at all."""
    meeting = services.get_meeting(meeting_id, current_user, change=True) if meeting_id else None
    group = meeting.group if meeting else services.get_group(group_id, current_user, change=True)
    form = MeetingForm(obj=meeting)
    if request.method == "GET" and meeting is None:
        form.held_on.data = today()
    day = form.held_on.data or today()
    if meeting is not None:
        day = meeting.held_on if request.method == "GET" else day
    memberships = services.active_memberships(group.id, day)
    values = {a.member_id: a for a in meeting.attendance} if meeting else {}
    sheet = loans_services.collection_sheet(group.id, day) if meeting is None else []
    bad: dict[int, str] = {}
    repay_bad: dict[int, list[str]] = {}
    if form.validate_on_submit():
        rows, bad = read_attendance(request.form, memberships)
        amounts, unread = read_repayments(request.form) if meeting is None else ({}, {})
        repay_bad = {loan_id: [message] for loan_id, message in unread.items()}
        if not bad and not repay_bad:
            data = {"held_on": form.held_on.data, "topics": form.topics.data,
                    "decisions": form.decisions.data, "attendance": rows}

            def work():
                saved = services.save_meeting(
                    db.session.get(Meeting, meeting_id) if meeting_id else None,
                    db.session.get(Group, group.id), data, by=current_user)
                if meeting_id is None and amounts:
                    loans_services.post_collection(saved, amounts, by=current_user)
                return saved
            try:
                commit_with_retry(work)
            except Invalid as exc:
                for key in [k for k in exc.errors if k.startswith("loan-")]:
                    repay_bad[int(key.partition("-")[2])] = exc.errors.pop(key)
                _show_errors(form, exc)
                if repay_bad:
                    flash(_("A repayment was refused: nothing is saved. "
                            "Correct it and save again."), "danger")
            else:
                flash(_("The meeting is saved."), "success")
                return redirect(url_for("registry.register", group_id=group.id))
    prefill = {loan.id: _plain(due_now) for loan, due_now, _owed in sheet if due_now > 0}
    return render_template("registry/meeting_form.html", form=form, group=group, meeting=meeting,
                           memberships=memberships, values=values, bad=bad,
                           statuses=ATTENDANCE, posted=request.form if request.method == "POST" else None,
                           currency=group.village.district.region.country.currency,
                           savings_text={mid: _plain(a.savings) for mid, a in values.items()},
                           sheet=sheet, prefill=prefill, repay_bad=repay_bad)


@bp.route("/meetings/<int:meeting_id>")
def meeting(meeting_id):
    meeting = services.get_meeting(meeting_id, current_user)
    rows = sorted(meeting.attendance, key=lambda a: a.member.full_name)
    repayments = db.session.scalars(select(Repayment).where(Repayment.meeting_id == meeting.id)
                                    .order_by(Repayment.id)).all()
    return render_template("registry/meeting.html", meeting=meeting, rows=rows,
                           repayments=repayments,
                           currency=meeting.group.village.district.region.country.currency,
                           can_change=access.may_record(current_user, meeting.group.district_id))


@bp.route("/meetings")
def meetings():
    f = _filters()
    query = services.meetings_query(current_user, district_id=f["district_id"],
                                    village_id=f["village_id"],
                                    group_id=request.args.get("group", type=bounded_int),
                                    date_from=date_arg("from"), date_to=date_arg("to"))
    page = paginate(query, request.args.get("page", 1, type=bounded_int))
    return render_template("registry/meetings.html", page=page, f=f,
                           districts=_district_options(), villages=_village_options(f["district_id"]))




# ---------------------------------------------------------------- households


@bp.route("/households")
def households():
    f = _filters()
    query = services.households_query(current_user, q=f["q"], district_id=f["district_id"],
                                      village_id=f["village_id"])
    page = paginate(query, request.args.get("page", 1, type=bounded_int))
    return render_template("registry/households.html", page=page, f=f,
                           districts=_district_options(), villages=_village_options(f["district_id"]))


@bp.route("/households/new", methods=["GET", "POST"])
@bp.route("/households/<int:household_id>/edit", methods=["GET", "POST"])
def edit_household(household_id=None):
    household = services.get_household(household_id, current_user, change=True) if household_id else None
    if household is None and not access.can_change_registry(current_user):
        access.require_change(current_user, -1)
    form = HouseholdForm(obj=household)
    form.village_id.choices = _village_options(change=True)
    if request.method == "GET":
        if household is None:
            form.village_id.data = request.args.get("village", type=bounded_int)
        else:
            for entry, migrant in zip(form.migrants.entries, household.migrants):
                entry.form.destination.data, entry.form.people.data = migrant.destination, migrant.people
            rows = len(form.migrants.entries)
            if len(household.migrants) >= rows and rows < form.migrants.max_entries:
                form.migrants.append_entry()  # an empty row for one more country
    if form.validate_on_submit():
        data = {"name": form.name.data, "village_id": form.village_id.data,
                "address": form.address.data,
                "migrants": [{"destination": e.form.destination.data, "people": e.form.people.data}
                             for e in form.migrants.entries]}
        try:
            household = services.save_household(household, data, by=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The household is saved."), "success")
            return redirect(url_for("registry.household", household_id=household.id))
    return render_template("registry/household_form.html", form=form, household=household)


@bp.route("/households/<int:household_id>")
def household(household_id):
    household = services.get_household(household_id, current_user)
    return render_template("registry/household.html", household=household,
                           can_change=access.may_record(current_user, household.district_id))


# ---------------------------------------------------------------- members


@bp.route("/members")
def members():
    f = _filters()
    query = services.members_query(current_user, q=f["q"], district_id=f["district_id"],
                                   village_id=f["village_id"], status=f["status"],
                                   group_id=request.args.get("group", type=bounded_int))
    page = paginate(query, request.args.get("page", 1, type=bounded_int))
    return render_template("registry/members.html", page=page, f=f,
                           districts=_district_options(), villages=_village_options(f["district_id"]))


@bp.route("/members/new", methods=["GET", "POST"])
def new_member():
    if not access.can_change_registry(current_user):
        access.require_change(current_user, -1)
    form = NewMemberForm()
    households = db.session.scalars(services.households_query(current_user)).all()
    # a "—" first, so that a household or group nobody chose is not silently the first one
    form.household_id.choices = [(None, "—")] + [
        (h.id, f"{h.name} — {h.village.name}") for h in households
        if access.can_change(current_user, h.district_id)]
    form.group_id.choices = [(None, "—")] + _group_options()
    if request.method == "GET":
        form.household_id.data = request.args.get("household", type=bounded_int)
        form.group_id.data = request.args.get("group", type=bounded_int)
        form.joined_on.data = today()
    if form.validate_on_submit():
        data = {k: form[k].data for k in ("full_name", "gender", "birth_year", "phone", "language",
                                           "sms_consent", "household_id", "group_id", "joined_on",
                                           "office")}
        try:
            member = services.create_member(data, by=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The member is registered."), "success")
            return redirect(url_for("registry.member", member_id=member.id))
    return render_template("registry/member_form.html", form=form, member=None)


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
def edit_member(member_id):
    member = services.get_member(member_id, current_user, change=True)
    form = EditMemberForm(obj=member)
    if request.method == "GET" and member.current_membership:
        form.office.data = member.current_membership.office or ""
    if form.validate_on_submit():
        data = {k: form[k].data for k in ("full_name", "gender", "birth_year", "phone", "language",
                                           "sms_consent", "office")}
        try:
            services.update_member(member, data, by=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The member is saved."), "success")
            return redirect(url_for("registry.member", member_id=member.id))
    return render_template("registry/member_form.html", form=form, member=member)


@bp.route("/members/<int:member_id>")
def member(member_id):
    member = services.get_member(member_id, current_user)
    loans = db.session.scalars(select(Loan).where(Loan.member_id == member.id)
                               .order_by(Loan.applied_on.desc(), Loan.id.desc())).all()
    can_change = access.may_record(current_user, member.district_id)
    return render_template("registry/member.html", member=member, loans=loans,
                           can_change=can_change,
                           may_apply=can_change and current_user.role in ("admin", "loan_officer")
                           and member.current_membership is not None)


@bp.route("/members/<int:member_id>/leave", methods=["GET", "POST"])
def member_leaves(member_id):
    member = services.get_member(member_id, current_user, change=True)
    form = LeaveForm()
    if request.method == "GET":
        form.left_on.data = today()
    if form.validate_on_submit():
        try:
            services.member_leaves(member, form.left_on.data, form.reason.data, by=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Her leaving is recorded; her history is kept."), "success")
            return redirect(url_for("registry.member", member_id=member.id))
    return render_template("registry/member_leave.html", form=form, member=member)


@bp.route("/members/<int:member_id>/join", methods=["GET", "POST"])
def member_joins(member_id):
    member = services.get_member(member_id, current_user, change=True)
    form = JoinForm()
    form.group_id.choices = _group_options()
    if request.method == "GET":
        form.joined_on.data = today()
    if form.validate_on_submit():
        try:
            services.join_group(member, {"group_id": form.group_id.data,
                                         "joined_on": form.joined_on.data,
                                         "office": form.office.data}, by=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("She is now a member of the group."), "success")
            return redirect(url_for("registry.member", member_id=member.id))
    return render_template("registry/member_join.html", form=form, member=member)


# ---------------------------------------------------------------- villages and geography


@bp.route("/villages")
def villages():
    f = _filters()
    pilot = {"yes": True, "no": False}.get(request.args.get("pilot", ""))
    query = services.villages_query(current_user, q=f["q"], district_id=f["district_id"], pilot=pilot)
    page = paginate(query, request.args.get("page", 1, type=bounded_int))
    return render_template("registry/villages.html", page=page, f=f, pilot=request.args.get("pilot", ""),
                           districts=_district_options())


@bp.route("/villages/<int:village_id>")
def village(village_id):
    village = services.get_village(village_id, current_user)
    groups = db.session.scalars(select(Group).where(Group.village_id == village.id)
                                .order_by(Group.name)).all()
    return render_template("registry/village.html", village=village, groups=groups,
                           counts=services.member_counts([g.id for g in groups]),
                           can_change=access.may_record(current_user, village.district_id))


@bp.route("/admin/villages/new", methods=["GET", "POST"])
@bp.route("/admin/villages/<int:village_id>", methods=["GET", "POST"])
def edit_village(village_id=None):
    access.require_admin(current_user)
    village = db.get_or_404(Village, village_id) if village_id else None
    form = VillageForm(obj=village)
    form.district_id.choices = [(d.id, f"{d.name} ({d.region.name})") for d in
                                db.session.scalars(select(District).order_by(District.name))]
    if form.validate_on_submit():
        data = {k: form[k].data for k in ("district_id", "name", "is_pilot", "pilot_joined_on")}
        try:
            village = services.save_village(village, data, by=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The village is saved."), "success")
            return redirect(url_for("registry.village", village_id=village.id))
    return render_template("registry/village_form.html", form=form, village=village)


@bp.route("/admin/geography", methods=["GET", "POST"])
def geography():
    """Countries, regions and districts on one page: the project office sets them up once."""
    access.require_admin(current_user)
    country_form = CountryForm(prefix="country")
    region_form = RegionForm(prefix="region")
    district_form = DistrictForm(prefix="district")
    countries = db.session.scalars(select(Country).order_by(Country.name)).all()
    region_form.country_id.choices = [(c.id, c.name) for c in countries]
    district_form.region_id.choices = [(r.id, f"{r.name} ({r.country.code})") for r in
                                       db.session.scalars(select(Region).order_by(Region.name))]
    which = request.form.get("which")
    forms = {"country": (country_form, services.create_country),
             "region": (region_form, services.create_region),
             "district": (district_form, services.create_district)}
    if request.method == "POST" and which in forms:
        form, create = forms[which]
        if form.validate_on_submit():
            data = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
            try:
                create(data, by=current_user)
            except Invalid as exc:
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash(_("Saved."), "success")
                return redirect(url_for("registry.geography"))
    return render_template("registry/geography.html", countries=countries,
                           country_form=country_form, region_form=region_form,
                           district_form=district_form)
