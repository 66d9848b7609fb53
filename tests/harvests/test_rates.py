"""US dollars at the rate in force on the day; a missing rate is said, never taken as zero."""
from datetime import date
from decimal import Decimal

import pytest

from harvests import figures, services
from shg.errors import Invalid

D = Decimal


@pytest.fixture
def kgs_rates(admin):
    for valid_from, rate in ((date(2011, 1, 1), "46"), (date(2011, 9, 1), "47"),
                             (date(2012, 1, 1), "48,5")):
        services.save_exchange_rate(None, {"currency": "KGS", "units_per_usd": rate,
                                           "valid_from": valid_from}, by=admin)


def test_the_rate_in_force_is_the_latest_from_on_or_before_the_day(kgs_rates):
    converted = [services.usd_value(D("46000"), "KGS", on) for on in (
        date(2011, 1, 1),    # 46,000 / 46 = 1,000, from the rate's first day
        date(2011, 8, 31),   # still 46
        date(2011, 9, 1),    # 46,000 / 47 = 978.723… -> 978.72
        date(2013, 6, 1))]   # 46,000 / 48.5 = 948.453… -> 948.45, the latest rate
    assert converted == [D("1000.00"), D("1000.00"), D("978.72"), D("948.45")]
    assert services.rate_on("KGS", date(2011, 9, 30)) == D("47")


def test_a_day_before_the_first_rate_has_no_rate(kgs_rates):
    with pytest.raises(services.MissingRate) as missing:
        services.usd_value(D("46000"), "KGS", date(2010, 12, 31))
    assert (missing.value.currency, missing.value.on) == ("KGS", date(2010, 12, 31))
    assert missing.value.errors["currency"] == [
        "No exchange rate for KGS on Dec 31, 2010: the project office records it under "
        "Exchange rates."]
    with pytest.raises(services.MissingRate):
        services.usd_value(D("100"), "TJS", date(2012, 5, 1))  # no TJS rate at all


def test_dollars_need_no_rate(app):
    assert services.usd_value(D("125.5"), "USD", date(2011, 5, 1)) == D("125.50")


BAD_RATES = [
    ({"currency": "USD", "units_per_usd": "1"}, "currency"),
    ({"currency": "EUR", "units_per_usd": "1"}, "currency"),
    ({"currency": "KGS", "units_per_usd": "0"}, "units_per_usd"),
    ({"currency": "KGS", "units_per_usd": "-46"}, "units_per_usd"),
    ({"currency": "KGS", "units_per_usd": "46", "valid_from": date(2011, 9, 1)}, "valid_from"),
    ({"currency": "KGS", "units_per_usd": "46", "valid_from": None}, "valid_from"),
]


def test_a_rate_that_cannot_be_right_is_refused(kgs_rates, admin):
    wrong = []
    for data, field in BAD_RATES:
        try:
            services.save_exchange_rate(None, {"valid_from": date(2014, 1, 1), **data}, by=admin)
        except Invalid as refused:
            if field not in refused.errors:
                wrong.append((data, refused.errors))
        else:
            wrong.append((data, "accepted"))
    assert not wrong


def test_figures_list_the_harvests_without_a_rate_instead_of_counting_them_as_zero(
        family, harvest_data, delivery_data, kgs_rates, admin, create_village, create_group,
        create_member, create_user):
    services.record_delivery(delivery_data(), by=family.facilitator)
    services.record_harvest(harvest_data(), by=family.facilitator)  # 33,120 KGS: 720 USD
    village = create_village(country_code="TJ")
    tajik = create_member(create_group(village, formed_on=date(2010, 1, 1)),
                          joined_on=date(2010, 2, 1))
    facilitator = create_user("facilitator", districts=[village.district])
    unconverted = services.record_harvest(harvest_data(
        member_id=tajik.id, price="2,50", currency="TJS", volume="1900", quantity_sold=None),
        by=facilitator)

    usd = figures.value_usd()
    assert usd.total.converted == D("720.00")
    assert usd.total.amount is None and not usd.total.complete
    assert usd.total.lacking == (figures.LackingRate(unconverted.id, "TJS", date(2011, 8, 15),
                                                     D("4750.00")),)
    assert figures.value_local().total == {"KGS": D("33120.00"), "TJS": D("4750.00")}
    assert figures.lacking_rates() == list(usd.total.lacking)

    services.save_exchange_rate(None, {"currency": "TJS", "units_per_usd": "4,75",
                                       "valid_from": date(2011, 1, 1)}, by=admin)
    whole = figures.value_usd().total
    assert whole.complete and whole.amount == D("1720.00")  # 720 + 4,750 / 4.75
