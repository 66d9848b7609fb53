"""Form pieces every domain uses."""
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField
from wtforms.widgets import TextInput

from shg.money import parse_decimal


class LocalDecimalField(DecimalField):
    """A DecimalField that takes '10,5' and '1 250,50' as Russian keyboards type them.

    WTForms' own field refuses the decimal comma with a misleading message (STACK.md), and
    a browser's number box refuses "1 240,00" before it is sent: a text box with the
    decimal keyboard instead.
    """

    widget = TextInput()

    def __init__(self, *args, **kwargs):
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **(kwargs.pop("render_kw", None) or {})}
        super().__init__(*args, render_kw=render_kw, **kwargs)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist):
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        try:
            self.data = parse_decimal(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError(_l("Not a valid number."))
        if self.places is not None and self.data != self.data.quantize(Decimal(1).scaleb(-self.places)):
            self.data = None
            raise ValueError(_l("Too many decimal places (at most %(places)s).", places=self.places))


def int_or_none(value):
    """``coerce=`` for a select of records: an id the database can hold, or None for "—"."""
    from shg.urls import bounded_int
    return bounded_int(value) if value not in (None, "", "None") else None
