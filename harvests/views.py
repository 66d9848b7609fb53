"""Seed and harvest pages: thin. Parse the form, call ``harvests.services``, flash, redirect
or render; the figures come from ``harvests.figures`` only.

Who may do what: everyone who logs in reads the rounds, and the deliveries, harvests and
figures of the districts they reach; facilitators and loan officers record seeds and
harvests in their own districts; the project office (admin) keeps the catalogue (crops,
varieties, units), the distribution rounds and the exchange rates; viewers only read.

Every write goes through ``commit_with_retry`` with a work function that loads what it
changes itself (a retry on a busy SQLite starts from what is in the database); a refusal
rolls everything back, so a group's delivery is saved whole or not at all.

Other domains' pages show a scope's figures through ``harvest_figures(**scope)``, which this
blueprint puts in every template's context (``templates/harvests/_figures.html``).
"""
from __future__ import annotations

from datetime import date
from typing import Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from harvests import figures, services
from harvests.forms import (OTHER_SEASON, OWN_SEEDS, CropForm, DeliveryForm, HarvestForm,
                            RateForm, RoundForm, SheetForm, UnitForm, VarietyForm,
                            currency_choices)
from harvests.models import (SEASONS, Crop, DistributionRound, ExchangeRate, Harvest,
                             SeedDelivery, Unit, Variety)
from shg.accounts import access
from shg.errors import Invalid
from shg.extensions import db
from shg.urls import bounded_int, date_arg
from shg.formatting import day as format_day
from shg.pagination import paginate
from shg.registry import services as registry_services
from shg.registry.models import Country, District, Group, Household, Member, Village
from shg.timeutil import today
from shg.transactions import commit_with_retry

bp = Blueprint("harvests", __name__)

#: what the figures page can split its table by
BY_LEVELS = ("village", "district", "country", "round", "crop")
#: seed lines on a group's delivery page: the kinds of seed handed out that day
SEED_LINES = 3
#: the service's names for what the forms call otherwise (units named by code)
FIELD_ALIASES = {"unit": "unit_id", "area_unit": "area_unit_id",
                 "default_unit": "default_unit_id"}
#: at most this many harvests lacking a rate are listed on a page (the count is always given)
LACKING_SHOWN = 50


@bp.before_request
@login_required
def _login_first():
    """Every seed and harvest page needs a logged-in user."""


# ---------------------------------------------------------------- figures for other pages


def harvest_figures(**scope) -> Optional[figures.ByGender]:
    """The seed and harvest figures of a scope (``group_id=…``, ``village_id=…``), as the
    logged-in user may read them: ``figures.harvest_results``, for any page's template."""
    if not current_user or not current_user.is_authenticated:
        return None
    return figures.harvest_results(user=current_user, **scope)


@bp.app_context_processor
def _figures_in_templates():
    return {"harvest_figures": harvest_figures}


# ---------------------------------------------------------------- helpers


def _show_errors(form, exc: Invalid) -> None:
    """Put a service's refusals beside the form's fields (or above the form)."""
    db.session.rollback()
    for field, messages in exc.errors.items():
        field = FIELD_ALIASES.get(field, field)
        if form is not None and field in form and field != "csrf_token":
            form[field].errors = list(form[field].errors) + messages
        else:
            for message in messages:
                flash(message, "danger")




def _require_recorder() -> None:
    """Seeds and harvests are recorded by facilitators, loan officers and the project office."""
    if not access.can_change_registry(current_user):
        abort(403, _("Your role may not change this record."))


def can_change(district_id: int) -> bool:
    return access.may_record(current_user, district_id)


def crop_label(crop: Crop) -> str:
    return crop.name if not crop.name_ru or crop.name_ru == crop.name else \
        f"{crop.name} ({crop.name_ru})"


def unit_label(unit: Unit) -> str:
    return f"{unit.name_ru or unit.name} ({unit.code})" if _russian() else \
        f"{unit.name} ({unit.code})"


def _russian() -> bool:
    from flask_babel import get_locale
    return str(get_locale() or "en") == "ru"


def _district_options():
    rows = db.session.scalars(registry_services.districts_query(current_user)).all()
    return [(d.id, d.name) for d in rows]


def _village_options(district_id=None):
    rows = db.session.scalars(registry_services.villages_query(
        current_user, district_id=district_id)).all()
    return [(v.id, v.name) for v in rows]


def _group_options(district_id=None, village_id=None, change=False, country_id=None):
    query = registry_services.groups_query(current_user, district_id=district_id,
                                           village_id=village_id, country_id=country_id)
    rows = db.session.scalars(query).all()
    if change:
        rows = [g for g in rows if g.status != "dissolved" and can_change(g.district_id)]
    return [(g.id, f"{g.name} — {g.village.name}") for g in rows]


def _round_options():
    return [(r.id, r.name) for r in services.rounds()]


def _crop_options():
    return [(c.id, crop_label(c)) for c in services.crops()]


def _variety_options():
    rows = db.session.scalars(select(Variety).join(Crop).options(contains_eager(Variety.crop))
                              .order_by(Crop.name, Variety.name)).all()
    return [("", _("— (not known)"))] + [(v.id, f"{v.crop.name} — {v.name}") for v in rows]


def _unit_options(*kinds, blank=False):
    rows = [u for u in services.units() if u.kind in kinds]
    return ([("", "—")] if blank else []) + [(u.id, unit_label(u)) for u in rows]


def _member_options(group_id=None, keep: Optional[Member] = None):
    """Active members the user may record for (of one group when ``group_id``)."""
    query = registry_services.members_query(current_user, status="active",
                                            group_id=group_id).options(
        contains_eager(Member.household).contains_eager(Household.village))
    rows = [(m.id, f"{m.full_name} — {m.household.village.name}")
            for m in db.session.scalars(query) if can_change(m.household.village.district_id)]
    if keep is not None and keep.id not in {r[0] for r in rows}:
        rows.insert(0, (keep.id, keep.full_name))  # she has left: the service says so
    return [("", "—")] + rows


def _local_currency(group_id=None) -> Optional[str]:
    """The currency of a group's country: offered first on a form opened from the group."""
    group = db.session.get(Group, group_id) if group_id else None
    if group is None or not access.can_read(current_user, group.district_id):
        return None
    return group.village.district.region.country.currency


def _scope_args() -> dict:
    """The scope of a list or of the figures, from the query string."""
    args = request.args
    return {"country_id": args.get("country", type=bounded_int),
            "district_id": args.get("district", type=bounded_int),
            "village_id": args.get("village", type=bounded_int),
            "group_id": args.get("group", type=bounded_int),
            "round_id": args.get("round", type=bounded_int),
            "crop_id": args.get("crop", type=bounded_int)}


def names_of(level: str, ids) -> dict:
    """The name of each village, district, country, round, crop or group of a split table;
    ``None`` (a harvest from her own seeds, split by round) has a name too."""
    model = {"village": Village, "district": District, "country": Country,
             "round": DistributionRound, "crop": Crop, "group": Group}[level]
    wanted = [i for i in ids if i is not None]
    names = {row.id: row.name for row in db.session.scalars(
        select(model).where(model.id.in_(wanted or [-1])))}
    if None in ids:
        names[None] = _("Not from programme seeds") if level == "round" else "—"
    return names


# ---------------------------------------------------------------- seed deliveries


def _deliveries_page(query):
    query = query.options(selectinload(SeedDelivery.member), selectinload(SeedDelivery.crop),
                          selectinload(SeedDelivery.variety), selectinload(SeedDelivery.unit),
                          selectinload(SeedDelivery.round),
                          selectinload(SeedDelivery.group).selectinload(Group.village))
    return paginate(query, request.args.get("page", 1, type=bounded_int))


@bp.route("/seeds")
def deliveries():
    f = _scope_args()
    query = services.deliveries_query(current_user, round_id=f["round_id"],
                                      group_id=f["group_id"], village_id=f["village_id"],
                                      district_id=f["district_id"], crop_id=f["crop_id"],
                                      member_id=request.args.get("member", type=bounded_int))
    return render_template("harvests/deliveries.html", page=_deliveries_page(query), f=f,
                           districts=_district_options(),
                           villages=_village_options(f["district_id"]),
                           groups=_group_options(f["district_id"], f["village_id"]),
                           rounds=_round_options(), crops=_crop_options(),
                           may_record=access.can_change_registry(current_user))


@bp.route("/seeds/<int:delivery_id>")
def delivery(delivery_id):
    found = services.get_delivery(delivery_id, current_user)
    return render_template("harvests/delivery.html", delivery=found,
                           kg=services.to_kg(found.quantity, found.unit)
                           if found.unit.kind == "mass" else None,
                           can_change=can_change(found.district_id))


def _delivery_form(found: Optional[SeedDelivery]):
    form = DeliveryForm(obj=found)
    group_id = request.args.get("group", type=bounded_int)
    form.round_id.choices = [("", "—")] + _round_options()
    form.member_id.choices = _member_options(group_id, keep=found.member if found else None)
    form.crop_id.choices = [("", "—")] + _crop_options()
    form.variety_id.choices = _variety_options()
    form.unit_id.choices = [("", "—")] + _unit_options("mass", "count")
    if request.method == "GET" and found is None:
        form.round_id.data = request.args.get("round", type=bounded_int)
        form.member_id.data = request.args.get("member", type=bounded_int)
        form.delivered_on.data = today()
        form.currency.data = _local_currency(group_id) or ""
    return form


@bp.route("/seeds/new", methods=["GET", "POST"])
@bp.route("/seeds/<int:delivery_id>/edit", methods=["GET", "POST"])
def edit_delivery(delivery_id=None):
    found = services.get_delivery(delivery_id, current_user, change=True) if delivery_id else None
    _require_recorder()
    form = _delivery_form(found)
    if form.validate_on_submit():
        data = {k: form[k].data for k in DeliveryForm.FIELDS}
        if not data["value"]:
            data["currency"] = None  # a currency with no value to qualify is not kept

        def work():
            if delivery_id is None:
                return services.record_delivery(data, by=current_user)
            current = services.get_delivery(delivery_id, current_user, change=True)
            return services.update_delivery(current, data, by=current_user)
        try:
            saved = commit_with_retry(work)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("The seed delivery is saved."), "success")
            return redirect(url_for("harvests.delivery", delivery_id=saved.id))
    return render_template("harvests/delivery_form.html", form=form, delivery=found)


@bp.route("/seeds/<int:delivery_id>/delete", methods=["POST"])
def delete_delivery(delivery_id):
    services.get_delivery(delivery_id, current_user, change=True)
    try:
        commit_with_retry(lambda: services.delete_delivery(
            services.get_delivery(delivery_id, current_user, change=True), by=current_user))
    except Invalid as exc:
        _show_errors(None, exc)
        return redirect(url_for("harvests.delivery", delivery_id=delivery_id))
    flash(_("The seed delivery is removed."), "success")
    return redirect(url_for("harvests.deliveries"))


# ---------------------------------------------------------------- distribution rounds


@bp.route("/rounds")
def rounds():
    group_id = request.args.get("group", type=bounded_int)
    group = registry_services.get_group(group_id, current_user, change=True) if group_id else None
    return render_template("harvests/rounds.html", rounds=services.rounds(
        group.village.district.region.country_id if group else None), group=group,
        is_admin=current_user.role == "admin")


@bp.route("/rounds/<int:round_id>")
def round_(round_id):
    found = services.get_round(round_id)
    f = _scope_args()
    query = services.deliveries_query(current_user, round_id=found.id, group_id=f["group_id"],
                                      village_id=f["village_id"], district_id=f["district_id"],
                                      crop_id=f["crop_id"])
    groups = (_group_options(change=True, country_id=found.country_id)
              if access.can_change_registry(current_user) else [])
    return render_template("harvests/round.html", round=found, page=_deliveries_page(query), f=f,
                           groups=groups, today=today(),
                           districts=_district_options(),
                           villages=_village_options(f["district_id"]), crops=_crop_options(),
                           results=figures.harvest_results(user=current_user, round_id=found.id))


@bp.route("/admin/rounds/new", methods=["GET", "POST"])
@bp.route("/admin/rounds/<int:round_id>", methods=["GET", "POST"])
def edit_round(round_id=None):
    access.require_admin(current_user)
    found = services.get_round(round_id) if round_id else None
    form = RoundForm(obj=found)
    form.country_id.choices = [("", "—")] + [(c.id, c.name) for c in db.session.scalars(
        select(Country).order_by(Country.name))]
    if form.validate_on_submit():
        data = {k: form[k].data for k in RoundForm.FIELDS}

        def work():
            current = services.get_round(round_id) if round_id else None
            return services.save_round(current, data, by=current_user)
        try:
            saved = commit_with_retry(work)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("The distribution round is saved."), "success")
            return redirect(url_for("harvests.round_", round_id=saved.id))
    return render_template("harvests/simple_form.html", form=form, record=found,
                           title=_("Edit distribution round") if found
                           else _("New distribution round"),
                           back=(url_for("harvests.rounds"), _("Distribution rounds")),
                           fields=RoundForm.FIELDS)


def _seed_lines(round_: DistributionRound, posted) -> list[dict]:
    """The kinds of seed on a group's delivery page: as sent back, or, on a fresh page,
    those the round has handed out so far (the page comes pre-filled)."""
    if posted is not None:
        return [{"crop_id": posted.get(f"line-{i}-crop", ""),
                 "variety_id": posted.get(f"line-{i}-variety", ""),
                 "unit_id": posted.get(f"line-{i}-unit", "")} for i in range(SEED_LINES)]
    seen = []
    for crop_id, variety_id, unit_id in db.session.execute(
            select(SeedDelivery.crop_id, SeedDelivery.variety_id, SeedDelivery.unit_id)
            .where(SeedDelivery.round_id == round_.id)
            .group_by(SeedDelivery.crop_id, SeedDelivery.variety_id, SeedDelivery.unit_id)
            .order_by(SeedDelivery.crop_id, SeedDelivery.variety_id, SeedDelivery.unit_id)):
        seen.append({"crop_id": str(crop_id), "variety_id": str(variety_id or ""),
                     "unit_id": str(unit_id)})
    lines = seen[:SEED_LINES]
    return lines + [{"crop_id": "", "variety_id": "", "unit_id": ""}] * (SEED_LINES - len(lines))


def read_sheet(form_data, sheet, lines, currency) -> list[dict]:
    """The rows of a group's delivery page: one per member and kind of seed she received
    (a quantity typed). Numbers go to the service as typed; it judges them."""
    rows = []
    for membership, _received in sheet:
        mid = membership.member_id
        for i, line in enumerate(lines):
            quantity = (form_data.get(f"qty-{mid}-{i}") or "").strip()
            if not quantity:
                continue
            value = (form_data.get(f"value-{mid}-{i}") or "").strip()
            rows.append({"member_id": mid, "crop_id": line["crop_id"],
                         "variety_id": line["variety_id"], "unit_id": line["unit_id"],
                         "quantity": quantity, "value": value or None,
                         "currency": currency if value else None})
    return rows


@bp.route("/rounds/<int:round_id>/delivery", methods=["GET", "POST"])
def group_delivery(round_id):
    """The delivery list of one group on one day, pre-filled with the members of the group
    on that day: a quantity per member and kind of seed, saved all together or not at all,
    a refusal shown on the member's row."""
    found = services.get_round(round_id)
    group_id = request.args.get("group", type=bounded_int)
    if not group_id:
        flash(_("Choose the group that received the seeds."), "warning")
        return redirect(url_for("harvests.round_", round_id=found.id))
    group = registry_services.get_group(group_id, current_user, change=True)
    posted = request.form if request.method == "POST" else None
    day_text = (posted.get("delivered_on") if posted is not None
                else request.args.get("on")) or today().isoformat()
    try:
        on = date.fromisoformat(day_text)
    except ValueError:
        on = None
    sheet = services.delivery_sheet(found, group, on or today())
    lines = _seed_lines(found, posted)
    currency = (posted.get("currency") if posted is not None else None) or \
        group.village.district.region.country.currency
    row_errors: dict[int, list[str]] = {}
    date_errors: list[str] = []
    form = SheetForm()
    if form.validate_on_submit():
        rows = read_sheet(posted, sheet, lines, currency)

        def work():
            return services.record_group_delivery(
                services.get_round(round_id),
                registry_services.get_group(group_id, current_user, change=True),
                on if on is not None else day_text, rows, by=current_user)
        try:
            saved = commit_with_retry(work)
        except Invalid as exc:
            db.session.rollback()
            for key, messages in exc.errors.items():
                prefix, _sep, member_id = key.partition("-")
                if prefix == "member" and member_id.isdigit():
                    row_errors.setdefault(int(member_id), []).extend(messages)
                elif key == "delivered_on":
                    date_errors.extend(messages)
                else:
                    for message in messages:
                        flash(message, "danger")
            if row_errors:
                flash(_("A row was refused: nothing is saved. Correct it and save again."),
                      "danger")
        else:
            flash(_("Seeds recorded for %(n)s members.", n=len({d.member_id for d in saved})),
                  "success")
            return redirect(url_for("harvests.round_", round_id=found.id, group=group.id))
    return render_template(
        "harvests/group_delivery.html", form=form, round=found, group=group, day_text=day_text,
        sheet=sheet, lines=lines, posted=posted, row_errors=row_errors, date_errors=date_errors,
        currency=currency, currencies=currency_choices(blank=False),
        crops=[("", "—")] + _crop_options(), varieties=_variety_options(),
        units=[("", "—")] + _unit_options("mass", "count"))


# ---------------------------------------------------------------- harvests


@bp.route("/harvests")
def harvests():
    f = _scope_args()
    f["year"] = request.args.get("year", type=bounded_int)
    query = services.harvests_query(current_user, round_id=f["round_id"], group_id=f["group_id"],
                                    village_id=f["village_id"], district_id=f["district_id"],
                                    crop_id=f["crop_id"], year=f["year"],
                                    member_id=request.args.get("member", type=bounded_int))
    query = query.options(selectinload(Harvest.member), selectinload(Harvest.crop),
                          selectinload(Harvest.variety), selectinload(Harvest.unit),
                          selectinload(Harvest.group).selectinload(Group.village))
    page = paginate(query, request.args.get("page", 1, type=bounded_int))
    this_year = today().year
    return render_template("harvests/harvests.html", page=page, f=f,
                           districts=_district_options(),
                           villages=_village_options(f["district_id"]),
                           groups=_group_options(f["district_id"], f["village_id"]),
                           rounds=_round_options(), crops=_crop_options(),
                           years=[(y, y) for y in range(this_year, this_year - 16, -1)],
                           may_record=access.can_change_registry(current_user))


@bp.route("/harvests/<int:harvest_id>")
def harvest(harvest_id):
    found = services.get_harvest(harvest_id, current_user)
    usd, lacking = None, None
    if found.market_value is not None:
        try:
            usd = services.usd_value(found.market_value, found.currency, found.harvested_on)
        except services.MissingRate as missing:
            lacking = missing.errors["currency"][0]
    return render_template("harvests/harvest.html", harvest=found,
                           tonnes=services.to_tonnes(found.volume, found.unit),
                           hectares=services.to_hectares(found.area, found.area_unit)
                           if found.area is not None else None,
                           usd=usd, lacking=lacking, can_change=can_change(found.district_id))


def _harvest_form(found: Optional[Harvest]):
    form = HarvestForm(obj=found)
    group_id = request.args.get("group", type=bounded_int)
    form.member_id.choices = _member_options(group_id, keep=found.member if found else None)
    form.crop_id.choices = [("", "—")] + _crop_options()
    form.variety_id.choices = _variety_options()
    form.unit_id.choices = _unit_options("mass")
    form.area_unit_id.choices = _unit_options("area", blank=True)
    if request.method == "GET":
        if found is None:
            form.member_id.data = request.args.get("member", type=bounded_int)
            form.harvested_on.data = today()
            form.currency.data = _local_currency(group_id) or ""
            kg = services.unit_by_code("kg")
            form.unit_id.data = kg.id if kg else None
            sotka = services.unit_by_code("sotka")
            form.area_unit_id.data = sotka.id if sotka else None
        else:
            if found.season not in SEASONS:
                form.season.data, form.season_other.data = OTHER_SEASON, found.season
            form.market_value.data = found.market_value if found.value_entered else None
            form.delivery_id.data = found.delivery_id or OWN_SEEDS
    member = db.session.get(Member, form.member_id.data) \
        if isinstance(form.member_id.data, int) else None
    choices = [] if found else [("", _("Her seeds of this crop from the programme (found by "
                                       "the ledger)"))]
    choices.append((OWN_SEEDS, _("Her own seeds")))
    if member is not None and access.can_read(current_user, member.district_id):
        for seeds in db.session.scalars(select(SeedDelivery).where(
                SeedDelivery.member_id == member.id).order_by(SeedDelivery.delivered_on.desc())):
            choices.append((seeds.id, _("%(round)s: %(crop)s, %(day)s", round=seeds.round.name,
                                        crop=" ".join(filter(None, (
                                            seeds.crop.name,
                                            seeds.variety.name if seeds.variety else None))),
                                        day=format_day(seeds.delivered_on))))
    form.delivery_id.choices = choices
    return form


def _harvest_data(form: HarvestForm, new: bool) -> dict:
    data = {k: form[k].data for k in HarvestForm.FIELDS}
    data["season"] = form.season_other.data if form.season.data == OTHER_SEASON \
        else form.season.data
    choice = form.delivery_id.data
    if choice == OWN_SEEDS:
        data.update(delivery_id=None, own_seeds=True)
    elif choice not in (None, ""):
        data["delivery_id"] = choice
    elif not new:
        data.pop("delivery_id", None)
    if not data["price"] and not data["market_value"]:
        data["currency"] = None  # a currency with nothing to qualify is not kept
    return data


@bp.route("/harvests/new", methods=["GET", "POST"])
@bp.route("/harvests/<int:harvest_id>/edit", methods=["GET", "POST"])
def edit_harvest(harvest_id=None):
    found = services.get_harvest(harvest_id, current_user, change=True) if harvest_id else None
    _require_recorder()
    form = _harvest_form(found)
    if form.validate_on_submit():
        data = _harvest_data(form, new=found is None)

        def work():
            if harvest_id is None:
                return services.record_harvest(data, by=current_user)
            current = services.get_harvest(harvest_id, current_user, change=True)
            return services.update_harvest(current, data, by=current_user)
        try:
            saved = commit_with_retry(work)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("The harvest is saved."), "success")
            return redirect(url_for("harvests.harvest", harvest_id=saved.id))
    return render_template("harvests/harvest_form.html", form=form, harvest=found)


@bp.route("/harvests/<int:harvest_id>/delete", methods=["POST"])
def delete_harvest(harvest_id):
    services.get_harvest(harvest_id, current_user, change=True)
    commit_with_retry(lambda: services.delete_harvest(
        services.get_harvest(harvest_id, current_user, change=True), by=current_user))
    flash(_("The harvest is removed."), "success")
    return redirect(url_for("harvests.harvests"))


# ---------------------------------------------------------------- figures


@bp.route("/harvests/figures")
def figures_page():
    """The programme's seed and harvest figures for a scope, by gender, and the same
    figures split by village, district, country, round or crop."""
    scope = _scope_args()
    scope["date_from"], scope["date_to"] = date_arg("from"), date_arg("to")
    by = request.args.get("by") if request.args.get("by") in BY_LEVELS else "village"
    results = figures.harvest_results(user=current_user, **scope)
    table = figures.results_by(by, user=current_user, **scope)
    lacking = list(results.total.value_usd.lacking)
    lacking_harvests = {h.id: h for h in db.session.scalars(
        select(Harvest).where(Harvest.id.in_([x.harvest_id for x in lacking[:LACKING_SHOWN]]
                                             or [-1]))
        .options(selectinload(Harvest.member)))}
    return render_template(
        "harvests/figures.html", results=results, table=table, names=names_of(by, table.keys()),
        by=by, levels=[(level, _level_name(level)) for level in BY_LEVELS], f=scope,
        split_title=_split_title(by),
        lacking=lacking, lacking_shown=lacking[:LACKING_SHOWN], lacking_harvests=lacking_harvests,
        countries=[(c.id, c.name) for c in db.session.scalars(select(Country)
                                                              .order_by(Country.name))],
        districts=_district_options(), villages=_village_options(scope["district_id"]),
        rounds=_round_options(), crops=_crop_options())


def _level_name(level: str) -> str:
    return {"village": _("Village"), "district": _("District"), "country": _("Country"),
            "round": _("Distribution round"), "crop": _("Crop"), "group": _("Group")}[level]


def _split_title(level: str) -> str:
    return {"village": _("By village"), "district": _("By district"),
            "country": _("By country"), "round": _("By distribution round"),
            "crop": _("By crop")}[level]


# ---------------------------------------------------------------- the catalogue (admin)


@bp.route("/admin/crops")
def catalogue():
    access.require_admin(current_user)
    crops = db.session.scalars(select(Crop).options(selectinload(Crop.varieties),
                                                    selectinload(Crop.default_unit))
                               .order_by(Crop.name)).all()
    return render_template("harvests/catalogue.html", crops=crops, units=services.units(),
                           default_max=services.DEFAULT_MAX_T_PER_HA)


def _catalogue_form(model, form_class, saver, record_id, title_new, title_edit, fields,
                    setup=None):
    """One admin form of the catalogue (crop, variety, unit), saved by its service."""
    access.require_admin(current_user)
    found = db.get_or_404(model, record_id) if record_id else None
    form = form_class(obj=found)
    if setup:
        setup(form, found)
    if form.validate_on_submit():
        data = {k: form[k].data for k in fields}

        def work():
            current = db.session.get(model, record_id) if record_id else None
            return saver(current, data, by=current_user)
        try:
            commit_with_retry(work)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("harvests.catalogue"))
    return render_template("harvests/simple_form.html", form=form, record=found,
                           title=title_edit if found else title_new,
                           back=(url_for("harvests.catalogue"), _("Crops and units")),
                           fields=fields)


@bp.route("/admin/crops/new", methods=["GET", "POST"])
@bp.route("/admin/crops/<int:crop_id>", methods=["GET", "POST"])
def edit_crop(crop_id=None):
    def setup(form, found):
        form.default_unit_id.choices = _unit_options("mass", blank=True)
    return _catalogue_form(Crop, CropForm, services.save_crop, crop_id, _("New crop"),
                           _("Edit crop"), CropForm.FIELDS, setup)


@bp.route("/admin/varieties/new", methods=["GET", "POST"])
@bp.route("/admin/varieties/<int:variety_id>", methods=["GET", "POST"])
def edit_variety(variety_id=None):
    def setup(form, found):
        form.crop_id.choices = [("", "—")] + _crop_options()
        if request.method == "GET" and found is None:
            form.crop_id.data = request.args.get("crop", type=bounded_int)
    return _catalogue_form(Variety, VarietyForm, services.save_variety, variety_id,
                           _("New variety"), _("Edit variety"), VarietyForm.FIELDS, setup)


@bp.route("/admin/units/new", methods=["GET", "POST"])
@bp.route("/admin/units/<int:unit_id>", methods=["GET", "POST"])
def edit_unit(unit_id=None):
    return _catalogue_form(Unit, UnitForm, services.save_unit, unit_id, _("New unit"),
                           _("Edit unit"), UnitForm.FIELDS)


# ---------------------------------------------------------------- exchange rates (admin)


@bp.route("/admin/exchange-rates", methods=["GET", "POST"])
@bp.route("/admin/exchange-rates/<int:rate_id>", methods=["GET", "POST"])
def exchange_rates(rate_id=None):
    """The rates on record, a form to add one (or correct one), and the harvests whose value
    cannot yet be put in US dollars: the rates still to record."""
    access.require_admin(current_user)
    found = db.get_or_404(ExchangeRate, rate_id) if rate_id else None
    form = RateForm(obj=found)
    if form.validate_on_submit():
        data = {k: form[k].data for k in RateForm.FIELDS}

        def work():
            current = db.session.get(ExchangeRate, rate_id) if rate_id else None
            return services.save_exchange_rate(current, data, by=current_user)
        try:
            commit_with_retry(work)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("The exchange rate is saved."), "success")
            return redirect(url_for("harvests.exchange_rates"))
    query = select(ExchangeRate).order_by(ExchangeRate.currency, ExchangeRate.valid_from.desc())
    currency = request.args.get("currency") or None
    if currency:
        query = query.where(ExchangeRate.currency == currency)
    lacking = figures.lacking_rates()
    return render_template("harvests/rates.html", form=form, rate=found,
                           page=paginate(query, request.args.get("page", 1, type=bounded_int)),
                           currency=currency, lacking=lacking,
                           lacking_shown=lacking[:LACKING_SHOWN],
                           currencies=[(c, c) for c, _label in currency_choices(
                               blank=False, usd=False)])
