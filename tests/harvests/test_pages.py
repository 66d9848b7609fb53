"""The seed and harvest pages, as a facilitator, a viewer and the project office use them:
every page renders with Cyrillic names, a group's delivery list is saved whole or not at all,
a harvest typed wrong is refused with a message and nothing written, and each user reaches
only what her role and districts allow."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from harvests import figures, services
from harvests.models import Crop, ExchangeRate, Harvest, SeedDelivery
from shg.extensions import db
from tests.harvests.conftest import records

D = Decimal


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(family, catalogue, spring_round, admin, delivery_data, harvest_data, create_member,
          create_village, create_group, create_user):
    """Айгуль's group with two more members; her seeds and harvest; a KGS rate; a group in
    another district with its own seeds and harvest; a viewer."""
    gulnara = create_member(family.group, full_name="Гүлнара Өмүрбекова",
                            joined_on=date(2010, 6, 1))
    jurayev = create_member(family.group, full_name="Ҷӯраев Ғафур", gender="male",
                            joined_on=date(2010, 6, 1))
    delivery = services.record_delivery(delivery_data(), by=family.facilitator)
    harvest = services.record_harvest(harvest_data(), by=family.facilitator)
    services.save_exchange_rate(None, {"currency": "KGS", "units_per_usd": "46",
                                       "valid_from": date(2011, 1, 1),
                                       "source": "Национальный банк"}, by=admin)
    other_village = create_village(name="Чапаево", country_code="KG")
    other_group = create_group(other_village, name="Береке", formed_on=date(2010, 5, 1))
    stranger = create_member(other_group, full_name="Жаңыл Асанова", joined_on=date(2010, 6, 1))
    other_delivery = services.record_delivery(delivery_data(member_id=stranger.id), by=admin)
    other_harvest = services.record_harvest(harvest_data(member_id=stranger.id), by=admin)
    viewer = create_user("viewer", full_name="Донор Читатель")
    db.session.commit()
    return SimpleNamespace(
        f=family, c=catalogue, round=spring_round, admin=admin, viewer=viewer,
        gulnara=gulnara, jurayev=jurayev, delivery=delivery, harvest=harvest,
        other_group=other_group, stranger=stranger, other_delivery=other_delivery,
        other_harvest=other_harvest)


def _ids(w) -> dict:
    return {"d": w.delivery.id, "h": w.harvest.id, "r": w.round.id, "g": w.f.group.id,
            "v": w.f.village.id, "od": w.other_delivery.id, "oh": w.other_harvest.id,
            "og": w.other_group.id, "crop": w.c.tomato.id, "variety": w.c.pink.id,
            "unit": w.c.units["kg"].id, "rate": db.session.scalar(select(ExchangeRate.id))}


def _assert_page(response, url, text):
    assert response.status_code == 200, (url, response.status_code)
    page = html(response)
    assert text in page, (url, text)
    # the Content-Security-Policy allows no inline styles or scripts; phones get a viewport
    assert 'style="' not in page, url
    assert "<script>" not in page and "onclick=" not in page, url
    assert 'name="viewport"' in page, url
    return page


# ---------------------------------------------------------------- every page renders

FACILITATOR_PAGES = [
    ("/seeds", "Айгуль Токтогулова"),
    ("/seeds?round={r}&group={g}&crop={crop}", "Pink Paradise F1"),
    ("/seeds/{d}", "Айгуль Токтогулова"),
    ("/seeds/new?group={g}", "Ҷӯраев Ғафур"),
    ("/seeds/{d}/edit", "Айгуль Токтогулова"),
    ("/rounds", "Spring 2011, hybrid tomato and cucumber"),
    ("/rounds?group={g}", "Ынтымак"),
    ("/rounds/{r}", "Ынтымак"),
    ("/rounds/{r}/delivery?group={g}&on=2011-04-20", "Гүлнара Өмүрбекова"),
    ("/harvests", "Айгуль Токтогулова"),
    ("/harvests?year=2011&district=&village={v}", "Айгуль Токтогулова"),
    ("/harvests/{h}", "Кара-Жыгач"),
    ("/harvests/new?group={g}", "Ҷӯраев Ғафур"),
    ("/harvests/{h}/edit", "Pink Paradise F1"),
    ("/harvests/figures", "Кара-Жыгач"),
    ("/harvests/figures?by=round&crop={crop}", "Spring 2011, hybrid tomato and cucumber"),
    ("/harvests/figures?by=district&from=2011-01-01&to=2011-12-31", "Families that received"),
    ("/groups/{g}", "Seeds and harvests"),
    ("/villages/{v}", "Seeds and harvests"),
]

ADMIN_PAGES = [
    ("/admin/crops", "Помидор"),
    ("/admin/crops/new", "Usually weighed in"),
    ("/admin/crops/{crop}", "Помидор"),
    ("/admin/varieties/new?crop={crop}", "Tomato"),
    ("/admin/varieties/{variety}", "Pink Paradise F1"),
    ("/admin/units/new", "Kilograms in one unit"),
    ("/admin/units/{unit}", "kilogram"),
    ("/admin/exchange-rates", "Национальный банк"),
    ("/admin/exchange-rates/{rate}", "Национальный банк"),
    ("/admin/rounds/new", "Name of the round"),
    ("/admin/rounds/{r}", "Spring 2011, hybrid tomato and cucumber"),
]


def test_every_page_renders_for_facilitator_of_the_district(world, client, auth):
    auth.login(world.f.facilitator)
    ids = _ids(world)
    for url, text in FACILITATOR_PAGES:
        url = url.format(**ids)
        _assert_page(client.get(url), url, text)
    # her lists hold nothing of the other district
    for url in ("/seeds", "/harvests", f"/rounds/{world.round.id}"):
        assert "Жаңыл Асанова" not in html(client.get(url)), url
    # the figures are hers: 2,400 kg at 13.80 KGS = 33,120 KGS = 720 USD at 46
    page = html(client.get("/harvests/figures"))
    usd_row = re.search(r'<tr data-figure="usd".*?</tr>', page, re.S).group(0)
    assert "Market value, USD" in usd_row and "720.00" in usd_row
    assert re.search(r'data-figure="tonnes".*?>2\.4<', page, re.S)
    assert "33,120.00" in page
    group = html(client.get(f"/groups/{world.f.group.id}"))
    assert "720.00 USD" in group and f"/rounds?group={world.f.group.id}" in group


def test_every_admin_page_renders_for_the_project_office(world, client, auth):
    auth.login(world.admin)
    ids = _ids(world)
    for url, text in ADMIN_PAGES + FACILITATOR_PAGES:
        url = url.format(**ids)
        _assert_page(client.get(url), url, text)
    # the project office sees both districts
    page = html(client.get("/harvests"))
    assert "Жаңыл Асанова" in page and "Айгуль Токтогулова" in page
    # and keeps the catalogue: a crop saved, a unit with no weight refused beside the field
    response = client.post("/admin/crops/new", data={"name": "Pepper", "name_ru": "Перец",
                                                     "default_unit_id": ids["unit"],
                                                     "max_t_per_ha": "80"})
    assert response.status_code == 302
    pepper = db.session.scalar(select(Crop).where(Crop.name == "Pepper"))
    assert (pepper.name_ru, pepper.max_t_per_ha, pepper.default_unit.code) == (
        "Перец", D("80"), "kg")
    refused = client.post("/admin/units/new", data={"code": "bag", "name": "bag",
                                                    "kind": "mass", "kg_per_unit": ""})
    assert "Enter how many kilograms one unit weighs." in html(refused)
    assert services.unit_by_code("bag") is None


# ---------------------------------------------------------------- a group's delivery list


def _fieldset(page: str, member_id: int) -> str:
    found = re.search(rf'<fieldset[^>]*data-member="{member_id}".*?</fieldset>', page, re.S)
    assert found, member_id
    return found.group(0)


def test_group_delivery_list_is_saved_whole_or_not_at_all(world, client, auth):
    w = world
    auth.login(w.f.facilitator)
    url = f"/rounds/{w.round.id}/delivery?group={w.f.group.id}"
    page = html(client.get(url + "&on=2011-04-20"))
    # pre-filled: her group's three members, and the seeds the round has handed out so far
    for member in (w.f.member, w.gulnara, w.jurayev):
        assert f'data-member="{member.id}"' in page
    assert "Already received in this round:" in _fieldset(page, w.f.member.id)
    assert f'<option value="{w.c.tomato.id}" selected>' in page

    sheet = {"delivered_on": "2011-04-20", "currency": "KGS",
             "line-0-crop": w.c.tomato.id, "line-0-variety": w.c.pink.id,
             "line-0-unit": w.c.units["packet-10g"].id,
             "line-1-crop": w.c.cucumber.id, "line-1-variety": w.c.herman.id,
             "line-1-unit": w.c.units["g"].id,
             f"qty-{w.gulnara.id}-0": "2", f"value-{w.gulnara.id}-0": "300",
             f"qty-{w.gulnara.id}-1": "50",
             f"qty-{w.jurayev.id}-1": "два"}
    before = records()
    refused = client.post(url, data=sheet)
    assert refused.status_code == 200
    page = html(refused)
    assert "nothing is saved" in page
    assert "Ҷӯраев Ғафур: Not a valid number." in _fieldset(page, w.jurayev.id)
    assert "Not a valid number" not in _fieldset(page, w.gulnara.id)
    assert 'value="два"' in page and 'value="300"' in page  # what she typed is kept
    assert records() == before  # Гүлнара's good rows were not saved either

    sheet[f"qty-{w.jurayev.id}-1"] = "30"
    saved = client.post(url, data=sheet)
    assert saved.status_code == 302, html(saved)
    assert records() == (before[0] + 3, before[1])
    rows = {(d.member_id, d.crop.name): d for d in db.session.scalars(
        select(SeedDelivery).where(SeedDelivery.delivered_on == date(2011, 4, 20)))}
    assert (rows[(w.gulnara.id, "Tomato")].quantity, rows[(w.gulnara.id, "Tomato")].value,
            rows[(w.gulnara.id, "Tomato")].currency) == (D("2"), D("300.00"), "KGS")
    assert (rows[(w.gulnara.id, "Cucumber")].unit.code,
            rows[(w.gulnara.id, "Cucumber")].currency) == ("g", None)
    assert rows[(w.jurayev.id, "Cucumber")].quantity == D("30")
    # the same list again would give her the same seeds twice: refused, nothing written
    again = client.post(url, data=sheet)
    assert "already recorded" in _fieldset(html(again), w.gulnara.id)
    assert records() == (before[0] + 3, before[1])


# ---------------------------------------------------------------- the harvest form


def _harvest_form(w, **changes):
    data = {"member_id": w.f.member.id, "crop_id": w.c.tomato.id, "variety_id": "",
            "season": "summer", "season_other": "", "year": "", "harvested_on": "2011-08-20",
            "area": "8", "area_unit_id": w.c.units["sotka"].id, "volume": "1 250",
            "unit_id": w.c.units["kg"].id, "quantity_sold": "1000", "price": "13,80",
            "market_value": "", "currency": "KGS", "delivery_id": ""}
    data.update(changes)
    return data


#: what was typed wrong, and words of the message shown beside the field
BAD_HARVESTS = [
    ({"unit_id": "99999"}, "Unknown unit: choose one from the list."),
    ({"unit_id": "bucket"}, "Unknown unit: choose one from the list."),
    ({"volume": "5000", "unit_id": "t", "area": "10", "area_unit_id": "sotka"},
     "probably a unit error"),
    ({"harvested_on": "2011-04-05", "delivery_id": "seeds"}, "before its seeds were delivered"),
    ({"harvested_on": "2011-04-05"}, "before her seeds of this crop were delivered"),
    ({"currency": ""}, "A price needs its currency"),
    ({"price": "", "market_value": "17 250", "currency": ""}, "A market value needs its currency"),
    ({"quantity_sold": "2000"}, "cannot sell more than she harvested"),
    ({"volume": "много"}, "Not a valid number."),
    ({"season": "other", "season_other": ""}, "Choose the season"),
]


def test_harvest_typed_wrong_is_refused_with_a_message_and_nothing_written(world, client,
                                                                           auth):
    w = world
    auth.login(w.f.facilitator)
    before = records()
    units = {code: str(unit.id) for code, unit in w.c.units.items()}
    for changes, words in BAD_HARVESTS:
        changes = {k: units.get(v, v) if k.endswith("unit_id") else v
                   for k, v in changes.items()}
        if changes.get("delivery_id") == "seeds":
            changes["delivery_id"] = w.delivery.id
        response = client.post("/harvests/new", data=_harvest_form(w, **changes))
        assert response.status_code == 200, (changes, response.status_code)
        assert words in html(response), (changes, words)
        assert records() == before, changes
    # and typed right, with a decimal comma and a space in the thousands, it is saved
    response = client.post("/harvests/new", data=_harvest_form(w))
    assert response.status_code == 302, html(response)
    saved = db.session.scalar(select(Harvest).order_by(Harvest.id.desc()).limit(1))
    assert (saved.volume, saved.price, saved.market_value, saved.currency) == (
        D("1250"), D("13.80"), D("17250.00"), "KGS")
    assert saved.delivery_id == w.delivery.id  # linked to her seeds by the ledger
    assert records() == (before[0], before[1] + 1)


def test_harvest_and_delivery_are_corrected_and_removed_through_their_pages(
        world, client, auth):
    w = world
    auth.login(w.f.facilitator)
    # seeds a harvest grew from stay while the harvest is linked to them
    kept = client.post(f"/seeds/{w.delivery.id}/delete")
    assert kept.status_code == 302
    assert kept.headers["Location"].endswith(f"/seeds/{w.delivery.id}")
    assert "Harvests grown from these seeds are recorded" in html(
        client.get(kept.headers["Location"]))
    form = html(client.get(f"/harvests/{w.harvest.id}/edit"))
    assert 'value="2400"' in form and 'value="13.80"' in form
    response = client.post(f"/harvests/{w.harvest.id}/edit", data=_harvest_form(
        w, harvested_on="2011-08-15", volume="24", unit_id=w.c.units["centner"].id,
        quantity_sold="20", price="1380", season="other", season_other="второй урожай",
        delivery_id="own"))
    assert response.status_code == 302, html(response)
    harvest = db.session.get(Harvest, w.harvest.id)
    assert (harvest.volume, harvest.unit.code, harvest.market_value, harvest.season,
            harvest.delivery_id) == (D("24"), "centner", D("33120.00"), "второй урожай", None)
    # seeds with no harvest grown from them may be removed; the harvest too
    delivery_id, harvest_id = w.delivery.id, w.harvest.id
    assert client.post(f"/seeds/{delivery_id}/delete").status_code == 302
    assert client.post(f"/harvests/{harvest_id}/delete").status_code == 302
    assert db.session.get(SeedDelivery, delivery_id) is None
    assert db.session.get(Harvest, harvest_id) is None


# ---------------------------------------------------------------- the USD figure


def test_figures_list_harvests_without_a_rate_until_the_rate_is_recorded(
        world, client, auth, harvest_data):
    w = world
    early = services.record_harvest(harvest_data(member_id=w.gulnara.id,
                                                 harvested_on=date(2010, 12, 20),
                                                 season="winter", year=2010),
                                    by=w.f.facilitator)
    db.session.commit()
    auth.login(w.f.facilitator)
    page = html(client.get("/harvests/figures"))
    usd_row = re.search(r'<tr data-figure="usd".*?</tr>', page, re.S).group(0)
    assert '<td class="shg-money"><span class="text-danger fw-semibold">—</span>' in usd_row
    assert "1 harvest lacks an exchange rate" in usd_row
    assert "720.00 USD without them" in usd_row  # said, not silently added as zero
    lacking = re.search(r'<section class="alert alert-warning" id="lacking-rates">.*?</section>',
                        page, re.S).group(0)
    assert f'data-harvest="{early.id}"' in lacking and "Гүлнара Өмүрбекова" in lacking
    assert "The project office records them." in lacking
    expected = figures.harvest_results(user=w.f.facilitator).total.value_usd
    assert expected.amount is None and [x.harvest_id for x in expected.lacking] == [early.id]

    auth.logout()
    auth.login(w.admin)
    assert early.id in [x.harvest_id for x in figures.lacking_rates()]
    assert f'href="/harvests/{early.id}"' in html(client.get("/admin/exchange-rates"))
    response = client.post("/admin/exchange-rates", data={
        "currency": "KGS", "units_per_usd": "45,5", "valid_from": "2010-12-01",
        "source": "НБКР"})
    assert response.status_code == 302
    page = html(client.get(f"/harvests/figures?village={w.f.village.id}"))
    assert 'id="lacking-rates"' not in page
    total = figures.harvest_results(user=w.admin, village_id=w.f.village.id).total.value_usd
    assert total.amount == D("1447.91")  # 33,120 / 46 + 33,120 / 45.5, rounded once
    usd_row = re.search(r'<tr data-figure="usd".*?</tr>', page, re.S).group(0)
    assert "1,447.91" in usd_row and "lack" not in usd_row


# ---------------------------------------------------------------- who may do what


def test_access_follows_role_and_district(world, client, auth):
    w = world
    ids = _ids(w)
    admin_pages = [url.format(**ids) for url, _text in ADMIN_PAGES]

    auth.login(w.f.facilitator)
    for url in ("/seeds/{od}", "/seeds/{od}/edit", "/harvests/{oh}", "/harvests/{oh}/edit",
                "/rounds/{r}/delivery?group={og}", "/rounds?group={og}"):
        assert client.get(url.format(**ids)).status_code == 403, url
    for url in ("/harvests/{oh}/delete", "/seeds/{od}/delete", "/harvests/{oh}/edit"):
        assert client.post(url.format(**ids), data={}).status_code == 403, url
    for url in admin_pages:
        assert client.get(url).status_code == 403, url
    before = records()
    refused = client.post("/harvests/new", data=_harvest_form(w, member_id=w.stranger.id))
    assert refused.status_code == 200
    assert "This member is in a district you are not assigned to." in html(refused)
    refused = client.post("/seeds/new", data={
        "round_id": w.round.id, "member_id": w.stranger.id, "delivered_on": "2011-04-20",
        "crop_id": w.c.cucumber.id, "quantity": "50", "unit_id": w.c.units["g"].id})
    assert "This member is in a district you are not assigned to." in html(refused)
    assert records() == before
    auth.logout()

    auth.login(w.viewer)  # reads everything, changes nothing
    for url in ("/seeds/{d}", "/seeds/{od}", "/harvests/{h}", "/harvests/{oh}", "/rounds/{r}",
                "/harvests/figures", "/seeds", "/harvests"):
        assert client.get(url.format(**ids)).status_code == 200, url
    for url in ("/seeds/new", "/harvests/new", "/seeds/{d}/edit", "/harvests/{h}/edit",
                "/rounds/{r}/delivery?group={g}"):
        assert client.get(url.format(**ids)).status_code == 403, url
    for url in admin_pages:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/harvests/{w.harvest.id}/delete").status_code == 403
    assert client.post(f"/rounds/{w.round.id}/delivery?group={w.f.group.id}", data={
        "delivered_on": "2011-04-20", "line-0-crop": w.c.cucumber.id,
        "line-0-unit": w.c.units["g"].id, f"qty-{w.gulnara.id}-0": "50"}).status_code == 403
    page = html(client.get("/harvests"))
    assert "Record a harvest" not in page
    assert records() == before
    auth.logout()

    for url in ("/seeds", "/harvests", "/harvests/figures", f"/harvests/{w.harvest.id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
