"""Registry endpoints of the JSON API (countries, regions, districts, villages, groups,
households, members, meetings). Thin: load with the schema, call the service, dump with the
schema. The services are the ones the pages call, so a rule holds for both alike.

Lists are paginated by flask-smorest: ``?page=2&page_size=50`` (at most 100), and the
``X-Pagination`` header says ``{"total", "total_pages", "page", …}``. A district-bound user
sees only her districts' records; another district's record answers 403, and naming one in a
write answers 422 with a message beside the field.
"""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from shg.accounts import access
from shg.api import api_blueprint
from shg.errors import Invalid, handle_http
from shg.extensions import db
from shg.registry import services
from shg.registry.models import Country, District, Group, Membership, Region, Village
from shg.registry.schemas import (CountryInSchema, CountryPatchSchema, CountrySchema,
                                  DistrictFilters, DistrictInSchema, DistrictPatchSchema,
                                  DistrictSchema, GroupDetailSchema, GroupFilters, GroupInSchema,
                                  GroupPatchSchema, GroupSchema, HouseholdFilters,
                                  HouseholdInSchema, HouseholdPatchSchema, HouseholdSchema,
                                  JoinSchema, LeaveSchema, MeetingFilters, MeetingInSchema,
                                  MeetingPatchSchema, MeetingSchema, MemberFilters, MemberInSchema,
                                  MemberPatchSchema, MemberSchema, MembershipFilters,
                                  MembershipInSchema, MembershipPatchSchema,
                                  MembershipRecordSchema, RegionFilters, RegionInSchema,
                                  RegionPatchSchema, RegionSchema, VillageFilters, VillageInSchema,
                                  VillagePatchSchema, VillageSchema, page_figures)

#: the largest id a path may carry (PostgreSQL's integer); a bigger one is simply not found
ITEM = "/<int(max=2147483647):{}>"

IDEMPOTENCY_KEY = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "Any unique string (a UUID). Sent again with the same request, the first "
                   "answer is returned with `Idempotent-Replayed: true` and nothing new is "
                   "written; the same key on another path or method answers 422.",
}
PAGINATION_NOTE = ("Lists are paginated: `page` (from 1) and `page_size` (1 to 100, default 10); "
                   "the `X-Pagination` header carries total, total_pages, page, first_page, "
                   "last_page, previous_page and next_page.")


def _blueprint(name: str, url_prefix: str, description: str):
    blp = api_blueprint(name, url_prefix, description=f"{description} {PAGINATION_NOTE}")
    blp.register_error_handler(RecursionError, _too_deep)
    return blp


def _too_deep(exc):
    """A JSON body nested thousands deep stops the parser; answer 400, not 500."""
    db.session.rollback()
    return handle_http(BadRequest(_("The JSON body is nested too deeply.")))


def _me():
    """The user of the token (shg.api sets it for the request)."""
    return g._login_user


def _page(query, pagination_parameters) -> list:
    """One page of a select, its total given to the paginator for the X-Pagination header."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pagination_parameters.item_count = total
    offset = (pagination_parameters.page - 1) * pagination_parameters.page_size
    if offset >= total:  # also keeps an absurd page number away from the database
        return []
    return db.session.scalars(query.limit(pagination_parameters.page_size).offset(offset)).all()


def _reads(blp, item: bool = False):
    def decorate(view):
        view = blp.alt_response(401, response="UNAUTHORIZED")(view)
        if item:
            view = blp.alt_response(403, response="FORBIDDEN")(view)
            view = blp.alt_response(404, response="NOT_FOUND")(view)
        return view
    return decorate


def _writes(blp, item: bool = False):
    def decorate(view):
        view = blp.doc(parameters=[IDEMPOTENCY_KEY])(view)
        view = blp.alt_response(401, response="UNAUTHORIZED")(view)
        view = blp.alt_response(403, response="FORBIDDEN")(view)
        view = blp.alt_response(409, response="CONFLICT")(view)
        if item:
            view = blp.alt_response(404, response="NOT_FOUND")(view)
        return view
    return decorate


def _saved(record):
    db.session.commit()
    return record


# ---------------------------------------------------------------- countries


countries = _blueprint("countries", "/countries",
                       "Countries of the programme. Changes are for the project office.")


@countries.route("")
class Countries(MethodView):
    @_reads(countries)
    @countries.response(200, CountrySchema(many=True))
    @countries.paginate()
    def get(self, pagination_parameters):
        """List countries"""
        return _page(select(Country).order_by(Country.name, Country.id), pagination_parameters)

    @_writes(countries)
    @countries.arguments(CountryInSchema)
    @countries.response(201, CountrySchema)
    def post(self, data):
        """Record a country"""
        return _saved(services.create_country(data, by=_me()))


def _country(country_id: int) -> Country:
    country = db.session.get(Country, country_id)
    if country is None:
        raise NotFound()
    return country


@countries.route(ITEM.format("country_id"))
class CountryItem(MethodView):
    @_reads(countries, item=True)
    @countries.response(200, CountrySchema)
    def get(self, country_id):
        """Read a country"""
        return _country(country_id)

    @_writes(countries, item=True)
    @countries.arguments(CountryPatchSchema)
    @countries.response(200, CountrySchema)
    def patch(self, data, country_id):
        """Change a country"""
        return _saved(services.update_country(_country(country_id), data, by=_me()))


# ---------------------------------------------------------------- regions


regions = _blueprint("regions", "/regions", "Regions (oblasts, viloyats). Changes are for the "
                                            "project office.")


def _region(region_id: int) -> Region:
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound()
    return region


@regions.route("")
class Regions(MethodView):
    @_reads(regions)
    @regions.arguments(RegionFilters, location="query")
    @regions.response(200, RegionSchema(many=True))
    @regions.paginate()
    def get(self, args, pagination_parameters):
        """List regions"""
        query = select(Region).order_by(Region.name, Region.id)
        if args.get("country_id"):
            query = query.where(Region.country_id == args["country_id"])
        return _page(query, pagination_parameters)

    @_writes(regions)
    @regions.arguments(RegionInSchema)
    @regions.response(201, RegionSchema)
    def post(self, data):
        """Record a region"""
        return _saved(services.create_region(data, by=_me()))


@regions.route(ITEM.format("region_id"))
class RegionItem(MethodView):
    @_reads(regions, item=True)
    @regions.response(200, RegionSchema)
    def get(self, region_id):
        """Read a region"""
        return _region(region_id)

    @_writes(regions, item=True)
    @regions.arguments(RegionPatchSchema)
    @regions.response(200, RegionSchema)
    def patch(self, data, region_id):
        """Change a region"""
        return _saved(services.update_region(_region(region_id), data, by=_me()))


# ---------------------------------------------------------------- districts


districts = _blueprint("districts", "/districts",
                       "Districts (raions, nohiyas): the unit of a field worker's reach.")


def _district(district_id: int) -> District:
    district = db.session.get(District, district_id)
    if district is None:
        raise NotFound()
    access.require_read(_me(), district.id)
    return district


@districts.route("")
class Districts(MethodView):
    @_reads(districts)
    @districts.arguments(DistrictFilters, location="query")
    @districts.response(200, DistrictSchema(many=True))
    @districts.paginate()
    def get(self, args, pagination_parameters):
        """List the districts the user reaches"""
        return _page(services.districts_query(_me(), **args), pagination_parameters)

    @_writes(districts)
    @districts.arguments(DistrictInSchema)
    @districts.response(201, DistrictSchema)
    def post(self, data):
        """Record a district"""
        return _saved(services.create_district(data, by=_me()))


@districts.route(ITEM.format("district_id"))
class DistrictItem(MethodView):
    @_reads(districts, item=True)
    @districts.response(200, DistrictSchema)
    def get(self, district_id):
        """Read a district"""
        return _district(district_id)

    @_writes(districts, item=True)
    @districts.arguments(DistrictPatchSchema)
    @districts.response(200, DistrictSchema)
    def patch(self, data, district_id):
        """Change a district"""
        return _saved(services.update_district(_district(district_id), data, by=_me()))


# ---------------------------------------------------------------- villages


villages = _blueprint("villages", "/villages", "Villages; pilot villages carry the day they "
                                               "joined the programme.")


@villages.route("")
class Villages(MethodView):
    @_reads(villages)
    @villages.arguments(VillageFilters, location="query")
    @villages.response(200, VillageSchema(many=True))
    @villages.paginate()
    def get(self, args, pagination_parameters):
        """List the villages the user reaches"""
        return _page(services.villages_query(_me(), **args), pagination_parameters)

    @_writes(villages)
    @villages.arguments(VillageInSchema)
    @villages.response(201, VillageSchema)
    def post(self, data):
        """Record a village"""
        return _saved(services.save_village(None, data, by=_me()))


@villages.route(ITEM.format("village_id"))
class VillageItem(MethodView):
    @_reads(villages, item=True)
    @villages.response(200, VillageSchema)
    def get(self, village_id):
        """Read a village"""
        return services.get_village(village_id, _me())

    @_writes(villages, item=True)
    @villages.arguments(VillagePatchSchema)
    @villages.response(200, VillageSchema)
    def patch(self, data, village_id):
        """Change a village"""
        village = services.get_village(village_id, _me(), change=True)
        return _saved(services.save_village(village, data, by=_me()))


# ---------------------------------------------------------------- groups


groups = _blueprint("groups", "/groups", "Self-help groups.")


@groups.route("")
class Groups(MethodView):
    @_reads(groups)
    @groups.arguments(GroupFilters, location="query")
    @groups.response(200, GroupSchema(many=True))
    @groups.paginate()
    def get(self, args, pagination_parameters):
        """List the groups the user reaches"""
        rows = _page(services.groups_query(_me(), **args), pagination_parameters)
        page_figures()["member_counts"] = services.member_counts([row.id for row in rows])
        return rows

    @_writes(groups)
    @groups.arguments(GroupInSchema)
    @groups.response(201, GroupDetailSchema)
    def post(self, data):
        """Register a group"""
        return _saved(services.save_group(None, data, by=_me()))


@groups.route(ITEM.format("group_id"))
class GroupItem(MethodView):
    @_reads(groups, item=True)
    @groups.response(200, GroupDetailSchema)
    def get(self, group_id):
        """Read a group, with its savings balance and attendance rate"""
        return services.get_group(group_id, _me())

    @_writes(groups, item=True)
    @groups.arguments(GroupPatchSchema)
    @groups.response(200, GroupDetailSchema)
    def patch(self, data, group_id):
        """Change a group"""
        group = services.get_group(group_id, _me(), change=True)
        return _saved(services.save_group(group, data, by=_me()))


# ---------------------------------------------------------------- households


households = _blueprint("households", "/households",
                        "Migrant families, with where their migrants work.")


@households.route("")
class Households(MethodView):
    @_reads(households)
    @households.arguments(HouseholdFilters, location="query")
    @households.response(200, HouseholdSchema(many=True))
    @households.paginate()
    def get(self, args, pagination_parameters):
        """List the households the user reaches"""
        return _page(services.households_query(_me(), **args), pagination_parameters)

    @_writes(households)
    @households.arguments(HouseholdInSchema)
    @households.response(201, HouseholdSchema)
    def post(self, data):
        """Register a household"""
        return _saved(services.save_household(None, data, by=_me()))


@households.route(ITEM.format("household_id"))
class HouseholdItem(MethodView):
    @_reads(households, item=True)
    @households.response(200, HouseholdSchema)
    def get(self, household_id):
        """Read a household"""
        return services.get_household(household_id, _me())

    @_writes(households, item=True)
    @households.arguments(HouseholdPatchSchema)
    @households.response(200, HouseholdSchema)
    def patch(self, data, household_id):
        """Change a household (a migrants list replaces the old one)"""
        household = services.get_household(household_id, _me(), change=True)
        return _saved(services.save_household(household, data, by=_me()))


# ---------------------------------------------------------------- members


members = _blueprint("members", "/members", "Members: the person who represents a family in "
                                            "a group. Nobody is deleted: she leaves, and may "
                                            "join again.")


@members.route("")
class Members(MethodView):
    @_reads(members)
    @members.arguments(MemberFilters, location="query")
    @members.response(200, MemberSchema(many=True))
    @members.paginate()
    def get(self, args, pagination_parameters):
        """List the members the user reaches"""
        return _page(services.members_query(_me(), **args), pagination_parameters)

    @_writes(members)
    @members.arguments(MemberInSchema)
    @members.response(201, MemberSchema)
    def post(self, data):
        """Register a member in her household and group"""
        return _saved(services.create_member(data, by=_me()))


@members.route(ITEM.format("member_id"))
class MemberItem(MethodView):
    @_reads(members, item=True)
    @members.response(200, MemberSchema)
    def get(self, member_id):
        """Read a member, with her memberships"""
        return services.get_member(member_id, _me())

    @_writes(members, item=True)
    @members.arguments(MemberPatchSchema)
    @members.response(200, MemberSchema)
    def patch(self, data, member_id):
        """Change a member (and her office in her group)"""
        member = services.get_member(member_id, _me(), change=True)
        return _saved(services.update_member(member, data, by=_me()))


@members.route(ITEM.format("member_id") + "/leave")
class MemberLeaves(MethodView):
    @_writes(members, item=True)
    @members.arguments(LeaveSchema)
    @members.response(200, MemberSchema)
    def post(self, data, member_id):
        """Record that she left her group (her history is kept)"""
        member = services.get_member(member_id, _me(), change=True)
        services.member_leaves(member, data["left_on"], data.get("reason"), by=_me())
        return _saved(member)


@members.route(ITEM.format("member_id") + "/join")
class MemberJoins(MethodView):
    @_writes(members, item=True)
    @members.arguments(JoinSchema)
    @members.response(200, MemberSchema)
    def post(self, data, member_id):
        """She joins a group (after leaving her last one)"""
        member = services.get_member(member_id, _me(), change=True)
        services.join_group(member, data, by=_me())
        return _saved(member)


# ---------------------------------------------------------------- memberships


memberships = _blueprint("memberships", "/memberships",
                         "A member's time in a group: joined, her office, left. Nothing is "
                         "deleted; she joins again with a new membership. Only the one she "
                         "is in today changes.")


def _memberships_query(user, member_id=None, group_id=None, village_id=None, district_id=None,
                       active=None):
    """Memberships of the groups in the user's districts, the latest joined first."""
    query = (select(Membership).join(Group, Membership.group_id == Group.id)
             .join(Village, Group.village_id == Village.id)
             .order_by(Membership.joined_on.desc(), Membership.id.desc()))
    query = access.scope(query, user, Village.district_id)
    for column, value in ((Membership.member_id, member_id), (Membership.group_id, group_id),
                          (Group.village_id, village_id), (Village.district_id, district_id)):
        if value:
            query = query.where(column == value)
    if active is True:
        query = query.where(Membership.left_on.is_(None))
    elif active is False:
        query = query.where(Membership.left_on.is_not(None))
    return query


def _membership(membership_id: int, change: bool = False) -> Membership:
    """A membership the user reaches (through its group); to change it, its member too."""
    membership = db.session.get(Membership, membership_id)
    if membership is None:
        raise NotFound()
    services.get_group(membership.group_id, _me())
    if change:
        services.get_member(membership.member_id, _me(), change=True)
    return membership


def _member_to_change(member_id: int):
    """The member a new membership is for; out of reach is a refusal beside the field."""
    try:
        return services.get_member(member_id, _me(), change=True)
    except NotFound:
        raise Invalid({"member_id": [_("Choose the member.")]}) from None
    except Forbidden as exc:
        raise Invalid({"member_id": [str(exc.description)]}) from None


@memberships.route("")
class Memberships(MethodView):
    @_reads(memberships)
    @memberships.arguments(MembershipFilters, location="query")
    @memberships.response(200, MembershipRecordSchema(many=True))
    @memberships.paginate()
    def get(self, args, pagination_parameters):
        """List memberships in the groups the user reaches, the latest joined first"""
        return _page(_memberships_query(_me(), **args), pagination_parameters)

    @_writes(memberships)
    @memberships.arguments(MembershipInSchema)
    @memberships.response(201, MembershipRecordSchema)
    def post(self, data):
        """She joins a group (she must have left her last one)"""
        member = _member_to_change(data.pop("member_id"))
        return _saved(services.join_group(member, data, by=_me()))


@memberships.route(ITEM.format("membership_id"))
class MembershipItem(MethodView):
    @_reads(memberships, item=True)
    @memberships.response(200, MembershipRecordSchema)
    def get(self, membership_id):
        """Read a membership"""
        return _membership(membership_id)

    @_writes(memberships, item=True)
    @memberships.arguments(MembershipPatchSchema)
    @memberships.response(200, MembershipRecordSchema)
    def patch(self, data, membership_id):
        """Change her office, or record the day she left (then her office ends)"""
        membership = _membership(membership_id, change=True)
        if data and membership.left_on is not None:
            raise Invalid(_("This membership has ended; it is kept as it was."))
        member = membership.member
        if "left_on" in data:
            services.member_leaves(member, data["left_on"], data.get("left_reason"), by=_me())
        elif "left_reason" in data:
            raise Invalid({"left_on": [_("Enter the date she left.")]})
        elif "office" in data:
            services.update_member(member, {"office": data["office"]}, by=_me())
        return _saved(membership)


# ---------------------------------------------------------------- meetings


meetings = _blueprint("meetings", "/meetings", "Group meetings with attendance and savings "
                                               "per member. Money is a string with at most "
                                               "two decimal places.")


def _group_to_record(group_id: int):
    """The group a new meeting is for; out of reach is a refusal beside the field."""
    try:
        return services.get_group(group_id, _me(), change=True)
    except NotFound:
        raise Invalid({"group_id": [_("Choose a group.")]}) from None
    except Forbidden as exc:
        raise Invalid({"group_id": [str(exc.description)]}) from None


@meetings.route("")
class Meetings(MethodView):
    @_reads(meetings)
    @meetings.arguments(MeetingFilters, location="query")
    @meetings.response(200, MeetingSchema(many=True))
    @meetings.paginate()
    def get(self, args, pagination_parameters):
        """List the meetings the user reaches, newest first"""
        rows = _page(services.meetings_query(_me(), **args), pagination_parameters)
        page_figures()["meeting_totals"] = {r.meeting.id: r for r in services.meeting_register(
            None, limit=len(rows), meeting_ids=[m.id for m in rows])} if rows else {}
        return rows

    @_writes(meetings)
    @meetings.arguments(MeetingInSchema)
    @meetings.response(201, MeetingSchema)
    def post(self, data):
        """Record a meeting with attendance and savings"""
        group = _group_to_record(data.pop("group_id"))
        return _saved(services.save_meeting(None, group, data, by=_me()))


@meetings.route(ITEM.format("meeting_id"))
class MeetingItem(MethodView):
    @_reads(meetings, item=True)
    @meetings.response(200, MeetingSchema)
    def get(self, meeting_id):
        """Read a meeting, with attendance and totals"""
        return services.get_meeting(meeting_id, _me())

    @_writes(meetings, item=True)
    @meetings.arguments(MeetingPatchSchema)
    @meetings.response(200, MeetingSchema)
    def patch(self, data, meeting_id):
        """Correct a meeting (an attendance list replaces the old one)"""
        meeting = services.get_meeting(meeting_id, _me(), change=True)
        return _saved(services.save_meeting(meeting, meeting.group, data, by=_me()))
