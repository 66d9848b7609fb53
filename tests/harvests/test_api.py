"""The seeds and harvests JSON API: the catalogue, rounds and rates (read by all, changed by
the project office), deliveries and harvests by district, refusals that change nothing, and
figures that are the figures of ``harvests.figures``, naming the harvests that lack a rate."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from harvests import figures, services
from harvests.models import Crop, DistributionRound, ExchangeRate, Unit, Variety
from shg.extensions import db
from tests.harvests.conftest import records

API = "/api/v1"
D = Decimal


@pytest.fixture
def world(family, catalogue, spring_round, admin, delivery_data, harvest_data, create_member,
          create_village, create_group, create_user, api_token):
    gulnara = create_member(family.group, full_name="Гүлнара Өмүрбекова",
                            joined_on=date(2010, 6, 1))
    jurayev = create_member(family.group, full_name="Ҷӯраев Ғафур", gender="male",
                            joined_on=date(2010, 6, 1))
    delivery = services.record_delivery(delivery_data(), by=family.facilitator)
    harvest = services.record_harvest(harvest_data(), by=family.facilitator)
    services.save_exchange_rate(None, {"currency": "KGS", "units_per_usd": "46",
                                       "valid_from": date(2011, 1, 1)}, by=admin)
    other_group = create_group(create_village(name="Чапаево", country_code="KG"),
                               name="Береке", formed_on=date(2010, 5, 1))
    stranger = create_member(other_group, full_name="Жаңыл Асанова", joined_on=date(2010, 6, 1))
    other_delivery = services.record_delivery(delivery_data(member_id=stranger.id), by=admin)
    other_harvest = services.record_harvest(harvest_data(member_id=stranger.id), by=admin)
    viewer = create_user("viewer")
    db.session.commit()
    return SimpleNamespace(
        f=family, c=catalogue, round=spring_round, gulnara=gulnara, jurayev=jurayev,
        delivery=delivery, harvest=harvest, stranger=stranger, other_delivery=other_delivery,
        other_harvest=other_harvest, headers=api_token(family.facilitator),
        admin_headers=api_token(admin), viewer_headers=api_token(viewer))


def catalogue_counts() -> tuple:
    db.session.rollback()
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (Unit, Crop, Variety, DistributionRound, ExchangeRate))


def assert_refused(response, field, *words, status=422, where="json"):
    """A refusal in the one shape: {code, status, message, errors: {json: {field: [...]}}}."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    messages = body["errors"][where][field]
    assert messages and all(isinstance(m, str) and m for m in messages)
    for word in words:
        assert any(word in m for m in messages), messages
    return messages


# ---------------------------------------------------------------- the catalogue


def test_catalogue_is_read_by_everyone_and_changed_by_the_project_office(client, world):
    w = world
    units = client.get(API + "/units?page_size=100", headers=w.headers)
    assert units.status_code == 200 and "X-Pagination" in units.headers
    by_code = {u["code"]: u for u in units.get_json()}
    packet = by_code["packet-10g"]
    assert (packet["kg_per_unit"], packet["kind"]) == ("0.01", "mass")
    assert by_code["sotka"]["m2_per_unit"] == "100" and by_code["seedling"]["kg_per_unit"] is None
    crops = {c["name"]: c for c in client.get(API + "/crops", headers=w.headers).get_json()}
    assert crops["Tomato"]["name_ru"] == "Помидор" and crops["Tomato"]["default_unit"] == "kg"
    assert [v["name"] for v in crops["Tomato"]["varieties"]] == ["Pink Paradise F1"]
    listed = client.get(API + f"/varieties?crop_id={w.c.cucumber.id}", headers=w.headers)
    assert [v["name"] for v in listed.get_json()] == ["Herman F1"]
    for path in (f"/units/{w.c.units['kg'].id}", f"/crops/{w.c.tomato.id}",
                 f"/varieties/{w.c.pink.id}"):
        assert client.get(API + path, headers=w.headers).status_code == 200, path
    assert client.get(API + "/crops/999999", headers=w.headers).status_code == 404

    before = catalogue_counts()
    assert client.post(API + "/crops", json={"name": "Pepper"},
                       headers=w.headers).status_code == 403
    assert client.patch(API + f"/units/{w.c.units['kg'].id}", json={"name": "кило"},
                        headers=w.headers).status_code == 403
    # refusals beside the fields, nothing written
    assert_refused(client.post(API + "/units", json={"code": "Bag!", "name": "bag",
                                                     "kind": "mass"}, headers=w.admin_headers),
                   "code", "short code")
    assert_refused(client.post(API + "/units", json={"code": "bag", "name": "bag",
                                                     "kind": "mass"}, headers=w.admin_headers),
                   "kg_per_unit", "how many kilograms")
    assert_refused(client.post(API + "/crops", json={"name": "Onion", "default_unit": "sotka"},
                               headers=w.admin_headers), "default_unit", "unit of weight")
    assert_refused(client.post(API + "/crops", json={"name": "Onion", "colour": "red"},
                               headers=w.admin_headers), "colour", "not part of the record")
    assert_refused(client.patch(API + f"/units/{w.c.units['kg'].id}", json={"kg_per_unit": "2"},
                                headers=w.admin_headers), "kind", "Records use this unit")
    assert_refused(client.post(API + "/varieties", json={"crop_id": w.c.tomato.id,
                                                         "name": "Pink Paradise F1"},
                               headers=w.admin_headers), "name", "already recorded")
    assert catalogue_counts() == before

    unit = client.post(API + "/units", json={"code": "bag25", "name": "bag of 25 kg",
                                             "name_ru": "мешок 25 кг", "kind": "mass",
                                             "kg_per_unit": "25"}, headers=w.admin_headers)
    assert unit.status_code == 201 and unit.get_json()["kg_per_unit"] == "25"
    pepper = client.post(API + "/crops", json={"name": "Pepper", "name_ru": "Перец",
                                               "default_unit": "centner", "max_t_per_ha": "60"},
                         headers=w.admin_headers)
    assert pepper.status_code == 201, pepper.get_json()
    assert (pepper.get_json()["default_unit"], pepper.get_json()["max_t_per_ha"]) == (
        "centner", "60")
    variety = client.post(API + "/varieties", json={"crop_id": pepper.get_json()["id"],
                                                    "name": "Калифорнийское чудо"},
                          headers=w.admin_headers)
    assert variety.status_code == 201 and variety.get_json()["is_hybrid"] is False
    changed = client.patch(API + f"/varieties/{variety.get_json()['id']}",
                           json={"is_hybrid": True}, headers=w.admin_headers)
    assert changed.status_code == 200 and changed.get_json()["is_hybrid"] is True
    tomato = client.patch(API + f"/crops/{w.c.tomato.id}", json={"max_t_per_ha": "150.5"},
                          headers=w.admin_headers)
    assert tomato.status_code == 200 and tomato.get_json()["max_t_per_ha"] == "150.5"
    tomato = client.patch(API + f"/crops/{w.c.tomato.id}", json={"default_unit": "centner"},
                          headers=w.admin_headers)
    assert tomato.get_json()["default_unit"] == "centner"
    assert_refused(client.patch(API + f"/crops/{w.c.tomato.id}", json={"default_unit": "ha"},
                                headers=w.admin_headers), "default_unit", "unit of weight")


def test_a_crops_default_unit_changes_when_named_by_code(catalogue, admin):
    crop = services.save_crop(catalogue.tomato, {"default_unit": "centner"}, by=admin)
    assert crop.default_unit.code == "centner"


def test_rounds_and_exchange_rates_are_kept_by_the_project_office(client, world, create_country):
    w = world
    listed = client.get(API + "/rounds", headers=w.headers)
    assert [r["name"] for r in listed.get_json()] == ["Spring 2011, hybrid tomato and cucumber"]
    assert client.get(API + f"/rounds/{w.round.id}", headers=w.headers).get_json()[
        "started_on"] == "2011-04-01"
    before = catalogue_counts()
    assert client.post(API + "/rounds", json={"name": "Autumn", "started_on": "2011-09-01"},
                       headers=w.headers).status_code == 403
    assert client.post(API + "/exchange-rates", json={
        "currency": "TJS", "units_per_usd": "4.75", "valid_from": "2012-01-01"},
        headers=w.headers).status_code == 403
    assert_refused(client.post(API + "/rounds", json={"name": w.round.name,
                                                      "started_on": "2011-09-01"},
                               headers=w.admin_headers), "name", "exists")
    assert_refused(client.post(API + "/rounds", json={"name": "Осень 2011"},
                               headers=w.admin_headers), "started_on")
    assert_refused(client.patch(API + f"/rounds/{w.round.id}", json={"started_on": "2011-05-01"},
                                headers=w.admin_headers), "started_on", "delivered before")
    for body, field, words in (
            ({"currency": "USD", "units_per_usd": "1", "valid_from": "2012-01-01"}, "currency",
             "not USD"),
            ({"currency": "KGS", "units_per_usd": "0", "valid_from": "2012-01-01"},
             "units_per_usd", "more than zero"),
            ({"currency": "KGS", "units_per_usd": "47", "valid_from": "2011-01-01"},
             "valid_from", "already recorded"),
            ({"currency": "KGS", "units_per_usd": "47"}, "valid_from", "Enter the day"),
            ({"currency": "KGS", "units_per_usd": True, "valid_from": "2012-01-01"},
             "units_per_usd", "Enter a number")):
        assert_refused(client.post(API + "/exchange-rates", json=body, headers=w.admin_headers),
                       field, words)
    assert catalogue_counts() == before

    autumn = client.post(API + "/rounds", json={
        "name": "Осень 2011, огурцы", "source": "Программа", "started_on": "2011-09-01",
        "country_id": w.f.village.district.region.country_id}, headers=w.admin_headers)
    assert autumn.status_code == 201, autumn.get_json()
    renamed = client.patch(API + f"/rounds/{autumn.get_json()['id']}",
                           json={"notes": "Теплицы"}, headers=w.admin_headers)
    assert renamed.status_code == 200 and renamed.get_json()["notes"] == "Теплицы"
    rate = client.post(API + "/exchange-rates", json={
        "currency": "TJS", "units_per_usd": "4.75", "valid_from": "2012-01-01",
        "source": "Национальный банк Таджикистана"}, headers=w.admin_headers)
    assert rate.status_code == 201 and rate.get_json()["units_per_usd"] == "4.75"
    fixed = client.patch(API + f"/exchange-rates/{rate.get_json()['id']}",
                         json={"units_per_usd": "4.7512"}, headers=w.admin_headers)
    assert fixed.status_code == 200 and fixed.get_json()["units_per_usd"] == "4.7512"
    assert services.rate_on("TJS", date(2012, 3, 1)) == D("4.7512")
    tjs = client.get(API + "/exchange-rates?currency=TJS", headers=w.headers).get_json()
    assert [r["valid_from"] for r in tjs] == ["2012-01-01"]


# ---------------------------------------------------------------- deliveries and harvests


def test_seed_deliveries_by_district_with_refusals_that_change_nothing(client, world):
    w = world
    body = {"round_id": w.round.id, "member_id": w.gulnara.id, "delivered_on": "2011-04-20",
            "crop_id": w.c.cucumber.id, "variety_id": w.c.herman.id, "quantity": "50",
            "unit": "g", "value": "120.50", "currency": "KGS"}
    before = records()
    for changes, field, words in (
            ({"unit": "bucket"}, "unit", "Unknown unit"),
            ({"unit": "sotka"}, "unit", "by weight"),
            ({"quantity": "2000", "unit": "kg"}, "quantity", "probably a unit error"),
            ({"quantity": "-1"}, "quantity", "cannot be negative"),
            ({"value": "120.505"}, "value", "two decimal places"),
            ({"currency": None}, "currency", "which currency"),
            ({"member_id": w.stranger.id}, "member_id", "not assigned"),
            ({"delivered_on": "2011-03-20"}, "delivered_on", "round started"),
            ({"planted": True}, "planted", "not part of the record")):
        assert_refused(client.post(API + "/seed-deliveries", json={**body, **changes},
                                   headers=w.headers), field, words)
    assert client.post(API + "/seed-deliveries", json=body,
                       headers=w.viewer_headers).status_code == 403
    assert records() == before

    created = client.post(API + "/seed-deliveries", json=body, headers=w.headers)
    assert created.status_code == 201, created.get_json()
    got = created.get_json()
    assert (got["member_name"], got["quantity"], got["unit"], got["kilograms"], got["value"],
            got["currency"], got["group_id"]) == (
        "Гүлнара Өмүрбекова", "50", "g", "0.05", "120.50", "KGS", w.f.group.id)
    listed = client.get(API + "/seed-deliveries?page_size=100", headers=w.headers).get_json()
    assert {d["id"] for d in listed} == {w.delivery.id, got["id"]}  # not the other district's
    assert [d["crop_name"] for d in client.get(
        API + f"/seed-deliveries?crop_id={w.c.cucumber.id}", headers=w.headers).get_json()] == [
        "Cucumber"]
    mine = client.get(API + f"/seed-deliveries/{w.delivery.id}", headers=w.headers).get_json()
    assert mine["harvest_ids"] == [w.harvest.id] and mine["unit"] == "packet-10g"
    changed = client.patch(API + f"/seed-deliveries/{got['id']}", json={"quantity": "60.5"},
                           headers=w.headers)
    assert changed.status_code == 200 and changed.get_json()["quantity"] == "60.5"

    other = f"{API}/seed-deliveries/{w.other_delivery.id}"
    assert client.get(other, headers=w.headers).status_code == 403
    assert client.patch(other, json={"quantity": "3"}, headers=w.headers).status_code == 403
    assert client.get(other, headers=w.viewer_headers).status_code == 200
    assert client.patch(other, json={"quantity": "3"}, headers=w.viewer_headers).status_code == 403
    assert client.get(f"{API}/seed-deliveries/999999", headers=w.headers).status_code == 404


def test_harvests_by_district_with_refusals_that_change_nothing(client, world):
    w = world
    body = {"member_id": w.gulnara.id, "crop_id": w.c.tomato.id, "season": "summer",
            "harvested_on": "2011-08-20", "area": "0.1", "area_unit": "ha", "volume": "30",
            "unit": "centner", "quantity_sold": "20", "price": "1380", "currency": "KGS",
            "own_seeds": True}
    before = records()
    for changes, field, words in (
            ({"unit": "bucket"}, "unit", "Unknown unit"),
            ({"unit": "seedling"}, "unit", "Weigh the harvest"),
            ({"volume": "5000", "unit": "t", "area": "10", "area_unit": "sotka"}, "volume",
             "probably a unit error"),
            ({"member_id": w.f.member.id, "harvested_on": "2011-04-05",
              "delivery_id": w.delivery.id, "own_seeds": False}, "harvested_on",
             "before its seeds were delivered"),
            ({"currency": None}, "currency", "A price needs its currency"),
            ({"quantity_sold": "31"}, "quantity_sold", "cannot sell more"),
            ({"volume": "много"}, "volume", "Not a valid number"),
            ({"volume": True}, "volume", "Enter a number"),
            ({"harvested_on": "2099-08-20"}, "harvested_on", "future"),
            ({"member_id": w.stranger.id}, "member_id", "not assigned"),
            ({"weather": "sunny"}, "weather", "not part of the record")):
        assert_refused(client.post(API + "/harvests", json={**body, **changes},
                                   headers=w.headers), field, words)
    assert client.post(API + "/harvests", json=body, headers=w.viewer_headers).status_code == 403
    assert records() == before

    created = client.post(API + "/harvests", json=body, headers=w.headers)
    assert created.status_code == 201, created.get_json()
    got = created.get_json()
    assert (got["tonnes"], got["hectares"], got["market_value"], got["value_entered"],
            got["delivery_id"], got["year"], got["member_name"]) == (
        "3", "0.1", "41400.00", False, None, 2011, "Гүлнара Өмүрбекова")
    valued = client.post(API + "/harvests", json={
        **body, "member_id": w.jurayev.id, "price": None, "market_value": "25000.00",
        "quantity_sold": None}, headers=w.headers)
    assert valued.status_code == 201 and valued.get_json()["value_entered"] is True
    mine = client.get(API + f"/harvests/{w.harvest.id}", headers=w.headers).get_json()
    assert (mine["delivery_id"], mine["round_id"], mine["volume"], mine["unit"]) == (
        w.delivery.id, w.round.id, "2400", "kg")
    changed = client.patch(API + f"/harvests/{w.harvest.id}", json={"price": "14.00"},
                           headers=w.headers)
    assert changed.status_code == 200 and changed.get_json()["market_value"] == "33600.00"
    assert_refused(client.patch(API + f"/harvests/{w.harvest.id}", json={"volume": "0"},
                                headers=w.headers), "volume", "more than zero")
    listed = client.get(API + "/harvests?year=2011&page_size=100", headers=w.headers).get_json()
    assert w.other_harvest.id not in {h["id"] for h in listed} and len(listed) == 3
    assert [h["id"] for h in client.get(API + f"/harvests?round_id={w.round.id}",
                                        headers=w.headers).get_json()] == [w.harvest.id]

    other = f"{API}/harvests/{w.other_harvest.id}"
    assert client.get(other, headers=w.headers).status_code == 403
    assert client.patch(other, json={"price": "1"}, headers=w.headers).status_code == 403
    assert client.patch(f"{API}/harvests/{w.harvest.id}", json={"price": "1"},
                        headers=w.viewer_headers).status_code == 403


# ---------------------------------------------------------------- figures


def _expected(results) -> dict:
    """What the endpoint must say for a ``figures.Results``."""
    usd = results.value_usd
    return {"recipients": results.recipients, "harvested": results.harvested,
            "harvests": results.harvests, "villages": results.villages,
            "share_harvested": None if results.share_harvested is None
            else f"{results.share_harvested:.4f}",
            "volume_t": D(results.volume_t), "sold_t": D(results.sold_t),
            "value_local": {c: f"{v:.2f}" for c, v in results.value_local.items()},
            "usd_amount": None if usd.amount is None else f"{usd.amount:.2f}",
            "usd_converted": f"{usd.converted:.2f}",
            "lacking": [x.harvest_id for x in usd.lacking]}


def _said(body) -> dict:
    usd = body["value_usd"]
    return {"recipients": body["recipients"], "harvested": body["harvested"],
            "harvests": body["harvests"], "villages": body["villages"],
            "share_harvested": body["share_harvested"], "volume_t": D(body["volume_t"]),
            "sold_t": D(body["sold_t"]), "value_local": body["value_local"],
            "usd_amount": usd["amount"], "usd_converted": usd["converted"],
            "lacking": [x["harvest_id"] for x in usd["lacking"]]}


def test_figures_endpoint_agrees_with_the_figures_and_names_harvests_without_a_rate(
        client, world, harvest_data):
    w = world
    early = services.record_harvest(harvest_data(member_id=w.gulnara.id,
                                                 harvested_on=date(2010, 12, 20),
                                                 season="winter", year=2010),
                                    by=w.f.facilitator)
    db.session.commit()
    response = client.get(API + "/harvest-figures?by=village", headers=w.headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    expected = figures.harvest_results(user=w.f.facilitator)
    for gender in ("total", "female", "male"):
        assert _said(body["results"][gender]) == _expected(getattr(expected, gender)), gender
    usd = body["results"]["total"]["value_usd"]
    assert usd["amount"] is None and usd["complete"] is False  # never a silent zero
    assert usd["lacking"] == [{"harvest_id": early.id, "currency": "KGS",
                               "harvested_on": "2010-12-20", "value": "33120.00"}]
    assert usd["converted"] == "720.00"
    split = figures.results_by("village", user=w.f.facilitator)
    assert [(p["id"], p["name"]) for p in body["parts"]] == [(w.f.village.id, "Кара-Жыгач")]
    assert _said(body["parts"][0]["results"]["total"]) == _expected(split[w.f.village.id].total)

    # the project office sees both districts; by round, her own seeds have a name too
    by_round = client.get(API + f"/harvest-figures?by=round&crop_id={w.c.tomato.id}",
                          headers=w.admin_headers).get_json()
    assert {p["id"]: p["name"] for p in by_round["parts"]} == {
        w.round.id: w.round.name, None: "Not from programme seeds"}
    assert by_round["results"]["total"]["recipients"] == 2
    assert by_round["scope"] == {"crop_id": w.c.tomato.id}

    assert_refused(client.get(API + "/harvest-figures?by=planet", headers=w.headers), "by",
                   where="query")
    assert_refused(client.get(API + "/harvest-figures?distrct_id=1", headers=w.headers),
                   "distrct_id", where="query")

    rate = client.post(API + "/exchange-rates", json={
        "currency": "KGS", "units_per_usd": "45.5", "valid_from": "2010-12-01"},
        headers=w.admin_headers)
    assert rate.status_code == 201
    usd = client.get(API + f"/harvest-figures?village_id={w.f.village.id}",
                     headers=w.headers).get_json()["results"]["total"]["value_usd"]
    assert (usd["amount"], usd["lacking"], usd["complete"]) == ("1447.91", [], True)


def test_openapi_document_lists_the_seed_and_harvest_endpoints(client, app):
    spec = client.get(API + "/openapi.json").get_json()
    for path, methods in (("/units", {"get", "post"}), ("/units/{unit_id}", {"get", "patch"}),
                          ("/crops", {"get", "post"}), ("/varieties", {"get", "post"}),
                          ("/rounds", {"get", "post"}), ("/rounds/{round_id}", {"get", "patch"}),
                          ("/seed-deliveries", {"get", "post"}),
                          ("/seed-deliveries/{delivery_id}", {"get", "patch"}),
                          ("/harvests", {"get", "post"}),
                          ("/harvests/{harvest_id}", {"get", "patch"}),
                          ("/exchange-rates", {"get", "post"}),
                          ("/exchange-rates/{rate_id}", {"get", "patch"}),
                          ("/harvest-figures", {"get"})):
        assert methods <= set(spec["paths"][API + path]), path
    figures_get = spec["paths"][API + "/harvest-figures"]["get"]
    assert {"country_id", "district_id", "village_id", "round_id", "crop_id", "by"} <= {
        p["name"] for p in figures_get["parameters"]}
    harvest_in = spec["components"]["schemas"]["HarvestIn"]
    assert harvest_in["additionalProperties"] is False
    assert {"member_id", "crop_id", "season", "harvested_on", "volume"} <= set(
        harvest_in["required"])
