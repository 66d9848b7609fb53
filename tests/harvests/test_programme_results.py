"""The headline: a programme built from raw records, typed the way field staff type them
(kilograms, centners and tonnes; som and somoni; decimal commas), adds up to a table worked
by hand, like the published Kyrgyzstan results:

    "330 SHG members from 11 villages received seeds, and every one of those families
    harvested a crop. Together they harvested more than 940 tons, with an estimated market
    value of USD 286,384."

Here the Kyrgyz programme is a tenth of that: 33 members from 11 villages, every one of them
harvested, more than 94 tonnes, USD 28,638.40. A small Tajik round beside it brings somoni
into the roll-up.

What each Kyrgyz village records (3 families; the second family is a man in villages 1, 5, 9):

  family  seeds (12 Apr 2011)       harvest as typed                         value as typed
  A       2 packets of 10 g tomato  15 Aug: 2400 kg from 8 sotka, sold 2000     13,80 KGS/kg
  B       50 g cucumber             20 Aug: 30 centner from 15 sotka, sold 20   1380 KGS/centner
  C       300 tomato seedlings      10 Sep: 3,2 t from 0,2 ha, sold 2,5        value 45 120 KGS
                                            (village 11: value 57 264,80 KGS)
KGS rates: 46 per USD from 1 Jan 2011, 47 from 1 Sep 2011, 48,5 from 1 Jan 2012.
"""
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from harvests import figures, services
from harvests.figures import ByGender
from shg.extensions import db

D = Decimal
MEN_IN = (1, 5, 9)


@pytest.fixture
def programme(admin, catalogue, create_village, create_group, create_member, create_user):
    for currency, valid_from, rate in (("KGS", date(2011, 1, 1), "46"),
                                       ("KGS", date(2011, 9, 1), "47"),
                                       ("KGS", date(2012, 1, 1), "48,5"),
                                       ("TJS", date(2012, 1, 1), "4,75")):
        services.save_exchange_rate(None, {"currency": currency, "units_per_usd": rate,
                                           "valid_from": valid_from}, by=admin)
    kg_round = services.save_round(None, {
        "name": "Spring 2011, hybrid tomato and cucumber", "source": "Regional migration programme",
        "started_on": date(2011, 4, 1)}, by=admin)

    villages = {}
    for i in range(1, 12):  # villages 1-6 in one district, 7-11 in another
        district = None if i in (1, 7) else villages[1 if i <= 6 else 7].district
        villages[i] = create_village(name=f"Айыл {i}", district=district, country_code="KG")
    facilitators = {villages[i].district_id: create_user("facilitator",
                                                         districts=[villages[i].district])
                    for i in (1, 7)}
    kyrgyzstan = villages[1].district.region.country
    t = catalogue
    for i, village in villages.items():
        by = facilitators[village.district_id]
        group = create_group(village, name=f"Ынтымак {i}", formed_on=date(2010, 3, 1))
        a = create_member(group, full_name=f"Айгуль Токтогулова {i}", joined_on=date(2010, 4, 1))
        b = create_member(group, full_name=f"Бакыт Асанов {i}" if i in MEN_IN else f"Бермет {i}",
                          gender="male" if i in MEN_IN else "female", joined_on=date(2010, 4, 1))
        c = create_member(group, full_name=f"Гүлнара Өмүрбекова {i}", joined_on=date(2010, 4, 1))
        services.record_group_delivery(kg_round, group, date(2011, 4, 12), [
            {"member_id": a.id, "crop_id": t.tomato.id, "variety_id": t.pink.id, "quantity": "2",
             "unit": "packet-10g", "value": "300", "currency": "KGS"},
            {"member_id": b.id, "crop_id": t.cucumber.id, "variety_id": t.herman.id,
             "quantity": "50", "unit": "g", "value": "250", "currency": "KGS"},
            {"member_id": c.id, "crop_id": t.tomato.id, "quantity": "300", "unit": "seedling"},
        ], by=by)
        services.record_harvest({
            "member_id": a.id, "crop_id": t.tomato.id, "season": "summer",
            "harvested_on": date(2011, 8, 15), "area": "8", "area_unit": "sotka",
            "volume": "2400", "unit": "kg", "quantity_sold": "2000", "price": "13,80",
            "currency": "KGS"}, by=by)
        services.record_harvest({
            "member_id": b.id, "crop_id": t.cucumber.id, "season": "summer",
            "harvested_on": date(2011, 8, 20), "area": "15", "area_unit": "sotka",
            "volume": "30", "unit": "centner", "quantity_sold": "20", "price": "1380",
            "currency": "KGS"}, by=by)
        services.record_harvest({
            "member_id": c.id, "crop_id": t.tomato.id, "season": "Autumn",
            "harvested_on": date(2011, 9, 10), "area": "0,2", "area_unit": "ha",
            "volume": "3,2", "unit": "t", "quantity_sold": "2,5",
            "market_value": "57 264,80" if i == 11 else "45 120", "currency": "KGS"}, by=by)

    # Tajikistan: one village, three women; the third lost her crop to hail
    tj_village = create_village(name="Ҷӯйбор", country_code="TJ")
    tajikistan = tj_village.district.region.country
    tj_by = create_user("facilitator", districts=[tj_village.district])
    tj_round = services.save_round(None, {"name": "Spring 2012, hybrid tomato", "country_id":
                                          tajikistan.id, "started_on": date(2012, 4, 1)}, by=admin)
    tj_group = create_group(tj_village, name="Меҳр", formed_on=date(2011, 10, 1))
    tj = [create_member(tj_group, full_name=name, joined_on=date(2011, 11, 1))
          for name in ("Ҷӯраева Ғафура", "Қодирова Зуҳра", "Ҳакимова Мавҷуда")]
    services.record_group_delivery(tj_round, tj_group, date(2012, 4, 5), [
        {"member_id": m.id, "crop_id": t.tomato.id, "quantity": "2", "unit": "packet-10g",
         "value": "60", "currency": "TJS"} for m in tj], by=tj_by)
    services.record_harvest({
        "member_id": tj[0].id, "crop_id": t.tomato.id, "season": "summer",
        "harvested_on": date(2012, 8, 10), "area": "9,5", "area_unit": "sotka",
        "volume": "1900", "unit": "kg", "quantity_sold": "1500", "price": "2,50",
        "currency": "TJS"}, by=tj_by)
    services.record_harvest({
        "member_id": tj[1].id, "crop_id": t.tomato.id, "season": "summer",
        "harvested_on": date(2012, 8, 12), "volume": "9,5", "unit": "centner",
        "quantity_sold": "9,5", "price": "250", "currency": "TJS"}, by=tj_by)
    return SimpleNamespace(kg_round=kg_round, tj_round=tj_round, villages=villages,
                           kyrgyzstan=kyrgyzstan, tajikistan=tajikistan,
                           facilitators=list(facilitators.values()), catalogue=catalogue)


def test_a_tenth_of_the_published_kyrgyz_programme_adds_up_to_the_hand_worked_table(programme):
    results = figures.harvest_results(round_id=programme.kg_round.id)
    everyone, women, men = results.total, results.female, results.male

    # 11 villages x 3 families = 33 recipients; 3 of them men (villages 1, 5, 9)
    assert (everyone.villages, everyone.recipients) == (11, 33)
    assert (women.recipients, men.recipients, men.villages) == (30, 3, 3)
    # every one of those families harvested a crop
    assert (everyone.harvested, everyone.share_harvested) == (33, D(1))
    # A 2,400 kg + B 30 centner (3,000 kg) + C 3.2 t (3,200 kg) = 8,600 kg a village;
    # x 11 = 94,600 kg = 94.6 t: "more than 94 tonnes"
    assert everyone.volume_t == D("94.6") and everyone.volume_t > 94
    # the men are three B families: 3 x 3.0 t = 9.0 t; the women 94.6 - 9.0 = 85.6 t
    assert (women.volume_t, men.volume_t) == (D("85.6"), D("9.0"))
    # sold: 2,000 kg + 20 centner + 2.5 t = 6.5 t a village; x 11 = 71.5 t
    assert everyone.sold_t == D("71.5")
    # area: 8 sotka + 15 sotka + 0.2 ha = 0.08 + 0.15 + 0.20 = 0.43 ha; x 11 = 4.73 ha;
    # 94.6 t / 4.73 ha = 20 t/ha (men: 9.0 / 0.45 = 20, women: 85.6 / 4.28 = 20)
    assert (everyone.area_ha, everyone.yield_t_per_ha) == (D("4.73"), D("20"))
    assert (women.yield_t_per_ha, men.yield_t_per_ha) == (D("20"), D("20"))
    # KGS: A 2,400 x 13.80 = 33,120; B 30 x 1,380 = 41,400; C 45,120 as entered;
    # 119,640 a village x 11 = 1,316,040; village 11's C was 57,264.80 (+12,144.80)
    assert everyone.value_local == {"KGS": D("1328184.80")}
    # USD: A 33,120 / 46 = 720 and B 41,400 / 46 = 900 (August: 46 per USD);
    # C 45,120 / 47 = 960 (10 September: 47 per USD); 2,580 a village x 11 = 28,380;
    # village 11's C 57,264.80 / 47 = 1,218.40, not 960: + 258.40 = 28,638.40,
    # a tenth of the published USD 286,384
    assert everyone.value_usd.amount == D("28638.40")
    # men: 3 x 900 = 2,700; women: 28,638.40 - 2,700 = 25,938.40
    assert (women.value_usd.amount, men.value_usd.amount) == (D("25938.40"), D("2700.00"))
    assert everyone.harvests == 33 and everyone.harvests_without_value == 0

    # each figure on its own gives the same as the table
    scope = {"round_id": programme.kg_round.id}
    assert figures.seed_recipients(**scope) == ByGender(33, 30, 3)
    assert figures.villages_reached(**scope) == ByGender(11, 11, 3)
    assert figures.recipients_harvested(**scope) == ByGender(33, 30, 3)
    assert figures.share_harvested(**scope) == ByGender(D(1), D(1), D(1))
    assert figures.harvest_tonnes(**scope) == ByGender(D("94.6"), D("85.6"), D("9.0"))
    assert figures.sold_tonnes(**scope).total == D("71.5")
    assert figures.yield_t_per_ha(**scope).total == D("20")
    assert figures.value_local(**scope).male == {"KGS": D("124200.00")}  # 3 x 41,400
    assert figures.value_usd(**scope).total.amount == D("28638.40")
    # the country gives the same: the Kyrgyz round is all of Kyrgyzstan's
    assert figures.harvest_results(country_id=programme.kyrgyzstan.id) == results


def test_the_table_splits_by_district_village_crop_country_and_round(programme):
    kg = {"round_id": programme.kg_round.id}
    by_district = figures.results_by("district", **kg)
    first, second = (by_district[programme.villages[i].district_id].total for i in (1, 7))
    # villages 1-6: 6 x 3 = 18 recipients, 6 x 8.6 = 51.6 t, 6 x 2,580 = 15,480 USD
    assert (first.recipients, first.volume_t, first.value_usd.amount) == (
        18, D("51.6"), D("15480.00"))
    # villages 7-11: 15 recipients, 43.0 t, 4 x 2,580 + (720 + 900 + 1,218.40) = 13,158.40 USD
    assert (second.recipients, second.volume_t, second.value_usd.amount) == (
        15, D("43.0"), D("13158.40"))

    village_1 = figures.results_by("village", **kg)[programme.villages[1].id]
    assert (village_1.total.recipients, village_1.total.volume_t,
            village_1.total.value_usd.amount) == (3, D("8.6"), D("2580.00"))
    assert (village_1.male.recipients, village_1.male.volume_t) == (1, D("3.0"))

    by_crop = figures.results_by("crop", **kg)
    crops = (programme.catalogue.tomato, programme.catalogue.cucumber)
    tomato, cucumber = (by_crop[c.id].total for c in crops)
    # tomato: families A and C, 22; (2.4 + 3.2) x 11 = 61.6 t. cucumber: B, 11; 3.0 x 11 = 33 t
    assert (tomato.recipients, tomato.volume_t) == (22, D("61.6"))
    assert (cucumber.recipients, cucumber.volume_t) == (11, D("33.0"))

    # Tajikistan: 3 recipients, 2 harvested (2/3); 1,900 kg + 9.5 centner = 2.85 t;
    # 1,900 x 2.50 = 4,750 TJS and 9.5 x 250 = 2,375 TJS: 7,125 TJS / 4.75 = 1,500 USD;
    # the yield is of the one harvest with an area: 1.9 t / 0.095 ha = 20 t/ha
    tj = figures.results_by("country")[programme.tajikistan.id].total
    assert (tj.recipients, tj.harvested, tj.share_harvested) == (3, 2, D(2) / D(3))
    assert (tj.volume_t, tj.sold_t, tj.yield_t_per_ha) == (D("2.85"), D("2.45"), D("20"))
    assert tj.value_local == {"TJS": D("7125.00")}
    assert tj.value_usd.amount == D("1500.00")
    assert figures.results_by("round")[programme.tj_round.id].total == tj

    # the whole programme: 36 recipients, 35 harvested, 94.6 + 2.85 = 97.45 t,
    # 28,638.40 + 1,500 = 30,138.40 USD, and each currency kept apart
    whole = figures.harvest_results().total
    assert (whole.villages, whole.recipients, whole.harvested) == (12, 36, 35)
    assert whole.volume_t == D("97.45")
    assert whole.value_local == {"KGS": D("1328184.80"), "TJS": D("7125.00")}
    assert whole.value_usd.amount == D("30138.40")

    # up to 31 August 2011 only the A and B harvests are in: 5.4 t x 11 = 59.4 t,
    # and 22 of the 33 recipients had harvested by then
    august = figures.harvest_results(date_to=date(2011, 8, 31)).total
    assert (august.volume_t, august.recipients, august.harvested) == (D("59.4"), 33, 22)

    # a facilitator's figures and lists are her district's: villages 1-6
    first_district = programme.facilitators[0]
    assert figures.harvest_results(user=first_district).total.recipients == 18
    assert len(db.session.scalars(services.harvests_query(first_district)).all()) == 18
    assert len(db.session.scalars(services.deliveries_query(
        first_district, round_id=programme.kg_round.id)).all()) == 18
