from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional

from shg.accounts.models import ROLES
from shg.labels import choices


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=choices(ROLES))
    locale = SelectField(_l("Interface language"), choices=[("en", "English"), ("ru", "Русский")])
    districts = SelectMultipleField(_l("Districts"), coerce=int, validate_choice=True)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=8)])
    is_active_user = BooleanField(_l("Can log in"), default=True)


class ProfileForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    locale = SelectField(_l("Interface language"), choices=[("en", "English"), ("ru", "Русский")])
    password = PasswordField(_l("New password"), validators=[Optional(), Length(min=8)])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])
