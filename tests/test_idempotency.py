"""Idempotency-Key: a phone on a slow connection may send the same write twice; the ledger
records it once and answers the retry with the first answer."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shg.api import IdempotentRequest
from shg.extensions import db
from shg.registry.models import Attendance, Household, Meeting
from shg.timeutil import utcnow

API = "/api/v1"




@pytest.fixture
def field(create_group, create_member, create_user, api_token):
    """A group of two and the facilitator of its district, with her token."""
    group = create_group(name="Ынтымак")
    members = [create_member(group, full_name=n) for n in ("Айгуль Токтогулова",
                                                           "Гүлнара Өмүрбекова")]
    facilitator = create_user("facilitator", districts=[group.village.district])
    db.session.commit()
    return group, members, facilitator, api_token(facilitator)


def meeting_body(group, members, held_on="2024-03-06"):
    return {"group_id": group.id, "held_on": held_on,
            "attendance": [{"member_id": m.id, "status": "present", "savings": "25.00"}
                           for m in members]}


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def test_same_key_twice_records_the_meeting_once_and_replays_the_first_answer(client, field):
    group, members, _facilitator, headers = field
    headers = {**headers, "Idempotency-Key": "3f0c9a4e-phone-1"}
    first = client.post(API + "/meetings", json=meeting_body(group, members), headers=headers)
    again = client.post(API + "/meetings", json=meeting_body(group, members), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(Meeting) == 1 and count(Attendance) == 2


def test_replay_returns_the_first_answer_even_after_the_record_changed(client, field):
    group, _members, _facilitator, headers = field
    keyed = {**headers, "Idempotency-Key": "household-1"}
    body = {"village_id": group.village_id, "name": "Асановы"}
    first = client.post(API + "/households", json=body, headers=keyed)
    household_id = first.get_json()["id"]
    renamed = client.patch(API + f"/households/{household_id}", json={"name": "Асановы-2"},
                           headers=headers)
    assert renamed.status_code == 200
    again = client.post(API + "/households", json=body, headers=keyed)
    assert again.get_json() == first.get_json()
    assert again.get_json()["name"] == "Асановы"
    assert count(Household) == 3  # two from the fixture, one new


def test_refusal_is_replayed_too_and_nothing_is_created(client, field):
    group, members, _facilitator, headers = field
    headers = {**headers, "Idempotency-Key": "bad-meeting"}
    body = meeting_body(group, members, held_on="2999-01-01")
    first = client.post(API + "/meetings", json=body, headers=headers)
    assert first.status_code == 422
    again = client.post(API + "/meetings", json=body, headers=headers)
    assert again.status_code == 422 and again.get_data() == first.get_data()
    assert count(Meeting) == 0


def test_same_key_on_a_different_path_is_refused_with_422(client, field):
    group, members, _facilitator, headers = field
    headers = {**headers, "Idempotency-Key": "reused-key"}
    assert client.post(API + "/meetings", json=meeting_body(group, members),
                       headers=headers).status_code == 201
    other = client.post(API + "/households", json={"village_id": group.village_id,
                                                   "name": "Асановы"}, headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["message"]
    assert count(Household) == 2


def test_different_users_may_use_the_same_key_independently(client, field, create_user,
                                                            api_token):
    group, _members, _facilitator, headers = field
    colleague = create_user("facilitator", districts=[group.village.district])
    db.session.commit()
    body = {"village_id": group.village_id, "name": "Асановы"}
    mine = client.post(API + "/households", json=body,
                       headers={**headers, "Idempotency-Key": "k-1"})
    theirs = client.post(API + "/households", json=body,
                         headers={**api_token(colleague), "Idempotency-Key": "k-1"})
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    assert count(Household) == 4


def test_writes_without_a_key_are_not_deduplicated(client, field):
    group, _members, _facilitator, headers = field
    body = {"village_id": group.village_id, "name": "Асановы"}
    assert client.post(API + "/households", json=body, headers=headers).status_code == 201
    assert client.post(API + "/households", json=body, headers=headers).status_code == 201
    assert count(Household) == 4
    assert count(IdempotentRequest) == 0


def test_key_on_a_read_is_ignored(client, field):
    _group, _members, _facilitator, headers = field
    headers = {**headers, "Idempotency-Key": "read-1"}
    assert client.get(API + "/groups", headers=headers).status_code == 200
    assert "Idempotent-Replayed" not in client.get(API + "/groups", headers=headers).headers
    assert count(IdempotentRequest) == 0


def test_too_long_key_is_refused_with_400_and_creates_nothing(client, field):
    group, _members, _facilitator, headers = field
    response = client.post(API + "/households", json={"village_id": group.village_id, "name": "Х"},
                           headers={**headers, "Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["message"]
    assert count(Household) == 2


def test_retry_while_the_first_is_being_answered_gets_409_then_a_stale_one_runs(client, field):
    group, members, facilitator, headers = field
    headers = {**headers, "Idempotency-Key": "in-flight"}
    pending = IdempotentRequest(user_id=facilitator.id, key="in-flight", method="POST",
                                path="/api/v1/meetings")
    db.session.add(pending)
    db.session.commit()
    busy = client.post(API + "/meetings", json=meeting_body(group, members), headers=headers)
    assert busy.status_code == 409
    assert count(Meeting) == 0
    pending = db.session.scalar(select(IdempotentRequest)
                                .where(IdempotentRequest.key == "in-flight"))
    pending.created_at = utcnow() - timedelta(minutes=10)  # its request died long ago
    db.session.commit()
    retried = client.post(API + "/meetings", json=meeting_body(group, members), headers=headers)
    assert retried.status_code == 201
    assert count(Meeting) == 1
