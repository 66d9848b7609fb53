"""Registry forms. Choices that depend on the user (villages, groups) are set by the view."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, FieldList, FormField, IntegerField, SelectField,
                     StringField, TextAreaField)
from wtforms import Form
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from shg.forms import int_or_none
from shg.labels import WEEKDAYS, choices
from shg.money import CURRENCIES
from shg.registry.models import GENDERS, GROUP_STATUSES, MEETING_FREQUENCIES, MEMBER_LANGUAGES, OFFICES




class CountryForm(FlaskForm):
    code = StringField(_l("Code (ISO, two letters)"), validators=[DataRequired(), Length(min=2, max=2)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    currency = SelectField(_l("Currency"), choices=[(c, c) for c in CURRENCIES])
    timezone = SelectField(_l("Time zone"), choices=[("Asia/Bishkek", "Asia/Bishkek"),
                                                     ("Asia/Dushanbe", "Asia/Dushanbe"),
                                                     ("Asia/Tashkent", "Asia/Tashkent"),
                                                     ("Asia/Almaty", "Asia/Almaty")])


class RegionForm(FlaskForm):
    country_id = SelectField(_l("Country"), coerce=int_or_none)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])


class DistrictForm(FlaskForm):
    region_id = SelectField(_l("Region"), coerce=int_or_none)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])


class VillageForm(FlaskForm):
    district_id = SelectField(_l("District"), coerce=int_or_none)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    is_pilot = BooleanField(_l("Pilot village"))
    pilot_joined_on = DateField(_l("Joined the programme on"), validators=[Optional()])


class GroupForm(FlaskForm):
    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=120)])
    village_id = SelectField(_l("Village"), coerce=int_or_none)
    facilitator_id = SelectField(_l("Facilitator"), coerce=int_or_none)
    formed_on = DateField(_l("Formed on"), validators=[DataRequired()])
    meeting_day = SelectField(_l("Meeting day"), coerce=int,
                              choices=[(i, d) for i, d in enumerate(WEEKDAYS)])
    meeting_frequency = SelectField(_l("Meets"), choices=choices(MEETING_FREQUENCIES))
    status = SelectField(_l("Status"), choices=choices(GROUP_STATUSES))


class MigrantForm(Form):
    destination = SelectField(_l("Works in"), choices=[("", "—")] + choices(
        ("RU", "KZ", "TR", "AE", "KR", "UZ", "DE", "PL", "GB", "US")))
    people = IntegerField(_l("People"), validators=[Optional(), NumberRange(min=1, max=30)])


class HouseholdForm(FlaskForm):
    name = StringField(_l("Family name"), validators=[DataRequired(), Length(max=120)])
    village_id = SelectField(_l("Village"), coerce=int_or_none)
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    migrants = FieldList(FormField(MigrantForm), min_entries=3, max_entries=10)


class MemberForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    gender = SelectField(_l("Gender"), choices=choices(GENDERS))
    birth_year = IntegerField(_l("Year of birth"), validators=[Optional()])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)],
                        render_kw={"inputmode": "tel", "placeholder": "+996 555 123 456"})
    language = SelectField(_l("SMS language"), choices=choices(MEMBER_LANGUAGES))
    sms_consent = BooleanField(_l("Agrees to SMS reminders"))


class NewMemberForm(MemberForm):
    household_id = SelectField(_l("Household"), coerce=int_or_none)
    group_id = SelectField(_l("Group"), coerce=int_or_none)
    joined_on = DateField(_l("Joined on"), validators=[DataRequired()])
    office = SelectField(_l("Office"), choices=[("", "—")] + choices(OFFICES))


class EditMemberForm(MemberForm):
    office = SelectField(_l("Office"), choices=[("", "—")] + choices(OFFICES))


class LeaveForm(FlaskForm):
    left_on = DateField(_l("Left on"), validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class JoinForm(FlaskForm):
    group_id = SelectField(_l("Group"), coerce=int_or_none)
    joined_on = DateField(_l("Joined on"), validators=[DataRequired()])
    office = SelectField(_l("Office"), choices=[("", "—")] + choices(OFFICES))


class MeetingForm(FlaskForm):
    """Date and notes; the attendance rows are read by ``read_attendance`` (one per member)."""

    held_on = DateField(_l("Meeting date"), validators=[DataRequired()])
    topics = TextAreaField(_l("Topics discussed"), validators=[Optional(), Length(max=4000)],
                           render_kw={"rows": 2})
    decisions = TextAreaField(_l("Decisions"), validators=[Optional(), Length(max=4000)],
                              render_kw={"rows": 2})
