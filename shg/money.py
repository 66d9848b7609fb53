"""Exact amounts on SQLite and PostgreSQL alike.

SQLite stores ``Numeric`` as REAL (1234567890123456.78 comes back as ...456.75), so every
exact quantity is stored as a whole number of its smallest unit (tiyin, diram, gram/1000)
and handed out as a ``Decimal``. Sums in SQL stay exact because they add integers.
"""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

#: The one rounding mode for money the ledger shows or stores: half away from zero,
#: as a member counting coins would round.
MONEY_ROUNDING = ROUND_HALF_UP
CURRENCIES = ("KGS", "TJS", "RUB", "KZT", "USD")
#: no amount or quantity typed in the field reaches a trillion; beyond it is a typing slip
#: (and Decimal rounding or the BIGINT column would overflow)
MAX_AMOUNT = Decimal("1000000000000")
#: Minor-unit digits per currency (ISO 4217).
CURRENCY_DECIMALS = {code: 2 for code in CURRENCIES}


class ExactDecimal(TypeDecorator):
    """A Decimal with a fixed number of places, stored as an integer of its smallest unit.

    A value with more places than the column holds is refused rather than rounded: the
    caller decides how to round (``round_money``), the database never does it silently.
    """

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = scale

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        try:
            units = Decimal(value).scaleb(self.scale)
        except (InvalidOperation, TypeError) as exc:
            raise ValueError(f"not an exact amount: {value!r}") from exc
        if units != units.to_integral_value():
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        return int(units)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale)

    def process_literal_param(self, value, dialect):
        return str(self.process_bind_param(value, dialect))

    @property
    def python_type(self):
        return Decimal


def Money():
    """A money column: two decimal places, the minor unit of every currency we hold."""
    return ExactDecimal(2)


def round_money(value: Decimal, places: int = 2) -> Decimal:
    """Round an amount the one way the ledger rounds money (half up)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=MONEY_ROUNDING)


def parse_decimal(text) -> Decimal:
    """Read an amount typed in the field: '1 250,50', '1250.50', '1\u00a0250,5', '1,250.50'.

    A decimal comma is how Russian and Kyrgyz keyboards write it; spaces (also the
    non-breaking ones Babel prints) are thousands separators.
    """
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        raise TypeError("money is never float")
    cleaned = str(text).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if "," in cleaned and "." in cleaned:
        # both: the last one is the decimal mark ("1,240.00" English, "1.240,00" German)
        if cleaned.rfind(",") < cleaned.rfind("."):
            cleaned = cleaned.replace(",", "")
        else:
            cleaned = cleaned.replace(".", "").replace(",", ".")
    elif cleaned.count(",") == 1:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError("Not a valid number.") from exc
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise ValueError("Not a valid number.")
    return value


def alembic_render_item(type_, obj, autogen_context):
    """Migrations write exact columns as what the database holds: a BIGINT of minor units."""
    if type_ == "type" and isinstance(obj, ExactDecimal):
        return "sa.BigInteger()"
    return False
