"""Every record kind of the ledger can be listed, created, read and changed through the API,
and the OpenAPI document says how: request and response schemas and the refusals."""
from __future__ import annotations

import pytest

from tests.test_openapi import SPEC

#: record kind -> (collection, item); a change that is an action is named with its path
KINDS = {
    "country": ("/countries", "/countries/{country_id}"),
    "region": ("/regions", "/regions/{region_id}"),
    "district": ("/districts", "/districts/{district_id}"),
    "village": ("/villages", "/villages/{village_id}"),
    "group": ("/groups", "/groups/{group_id}"),
    "household (with migrants)": ("/households", "/households/{household_id}"),
    "member": ("/members", "/members/{member_id}"),
    "membership": ("/memberships", "/memberships/{membership_id}"),
    "meeting (with attendance)": ("/meetings", "/meetings/{meeting_id}"),
    "loan product": ("/loan-products", "/loan-products/{product_id}"),
    "lender": ("/lenders", "/lenders/{lender_id}"),
    "unit": ("/units", "/units/{unit_id}"),
    "crop": ("/crops", "/crops/{crop_id}"),
    "variety": ("/varieties", "/varieties/{variety_id}"),
    "distribution round": ("/rounds", "/rounds/{round_id}"),
    "seed delivery": ("/seed-deliveries", "/seed-deliveries/{delivery_id}"),
    "harvest": ("/harvests", "/harvests/{harvest_id}"),
    "exchange rate": ("/exchange-rates", "/exchange-rates/{rate_id}"),
    "user": ("/users", "/users/{user_id}"),
}
#: kinds changed by actions rather than PATCH: their collection, item, and the actions
ACTIONS = {
    "loan": ("/loans", "/loans/{loan_id}",
             ["/loans/{loan_id}/approve", "/loans/{loan_id}/disburse",
              "/loans/{loan_id}/write-off", "/loans/{loan_id}/reschedule"]),
    "repayment": ("/repayments", "/repayments/{repayment_id}",
                  ["/loans/{loan_id}/repayments", "/repayments/{repayment_id}/reverse"]),
}


@pytest.fixture
def app(tmp_path):
    from tests.conftest import make_app
    return make_app("sqlite:///" + str(tmp_path / "spec.sqlite"))


@pytest.fixture
def paths(client):
    return client.get(SPEC).get_json()["paths"]


def _documented(operation: dict, *codes: str) -> None:
    for code in codes:
        assert code in operation["responses"], code
    success = next(c for c in operation["responses"] if c.startswith("2"))
    assert operation["responses"][success].get("content") or success == "204"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_record_kind_is_listed_created_read_and_changed(paths, kind):
    collection, item = KINDS[kind]
    listing, create = paths["/api/v1" + collection]["get"], paths["/api/v1" + collection]["post"]
    read, change = paths["/api/v1" + item]["get"], paths["/api/v1" + item]["patch"]
    assert {"page", "page_size"} <= {p["name"] for p in listing["parameters"]}
    _documented(listing, "200", "401")
    for write in (create, change):
        assert write["requestBody"]["content"]["application/json"]["schema"]
        assert any(p["name"] == "Idempotency-Key" for p in write["parameters"])
        _documented(write, "401", "403", "409", "422")
    _documented(read, "200", "401", "403", "404")
    _documented(change, "404")


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_record_kind_changed_by_actions_is_listed_created_read_and_acted_on(paths, kind):
    collection, item, actions = ACTIONS[kind]
    _documented(paths["/api/v1" + collection]["get"], "200", "401")
    _documented(paths["/api/v1" + item]["get"], "200", "401", "403", "404")
    for action in actions:
        operation = paths["/api/v1" + action]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"]
        _documented(operation, "401", "403", "404", "422")
    if kind == "loan":
        _documented(paths["/api/v1/loans"]["post"], "401", "403", "422")
