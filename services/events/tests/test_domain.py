"""Pure rules and schemas for engagement events and registrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError

from events.domain import can_transition, check_times, places_left, registration_refusal
from events.schemas import EngagementEventSchema, RegistrationSchema

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)


def test_status_transitions() -> None:
    assert can_transition("draft", "published")
    assert can_transition("published", "cancelled")
    assert not can_transition("published", "draft")
    assert not can_transition("cancelled", "published")
    assert not can_transition("unknown", "published")


def test_check_times() -> None:
    assert check_times(NOW, LATER) == []
    assert check_times(LATER, NOW) == ["must end after it starts"]
    assert check_times(NOW.replace(tzinfo=None), LATER) == ["times must include a timezone"]


def test_places_left() -> None:
    assert places_left(None, 500) is None
    assert places_left(10, 3) == 7
    assert places_left(10, 12) == 0


@pytest.mark.parametrize(
    ("status", "starts", "capacity", "registered", "reason"),
    [
        ("published", LATER, 10, 9, None),
        ("published", LATER, None, 10_000, None),
        ("draft", LATER, 10, 0, "this event is not open for registration"),
        ("cancelled", LATER, 10, 0, "this event is not open for registration"),
        ("published", NOW, 10, 0, "this event has already started"),
        ("published", LATER, 10, 10, "this event is full"),
    ],
)
def test_registration_refusal(status, starts, capacity, registered, reason) -> None:
    assert registration_refusal(status, starts, capacity, registered, NOW) == reason


EVENT = {
    "title": "Ageing Well drop-in",
    "venue": "Wakefield One",
    "place": "wakefield",
    "starts_at": "2025-06-01T10:00:00+01:00",
    "ends_at": "2025-06-01T12:00:00+01:00",
    "accessibility": {"step_free": True, "hearing_loop": True},
}


def test_event_schema_fills_defaults() -> None:
    event = EngagementEventSchema().load(EVENT)
    assert event["capacity"] is None and event["description"] == ""
    assert event["accessibility"]["step_free"] is True
    assert event["accessibility"]["bsl_interpreter"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": "2025-06-01T09:00:00+01:00"}, "ends_at"),
        ({"capacity": 0}, "capacity"),
        ({"place": "york"}, "place"),
        ({"title": ""}, "title"),
        ({"status": "published"}, "status"),
    ],
)
def test_event_schema_rejects(changes: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EngagementEventSchema().load({**EVENT, **changes})
    assert field in caught.value.messages


def test_registration_schema() -> None:
    data = {
        "engagement_event_id": str(uuid.uuid4()),
        "submission_id": str(uuid.uuid4()),
        "receipt_code": "EV-2M9X",
        "name": "A Resident",
        "contact": "a@example.org",
    }
    assert RegistrationSchema().load(data)["access_needs"] == ""
    with pytest.raises(ValidationError) as caught:
        RegistrationSchema().load({**data, "name": ""})
    assert list(caught.value.messages) == ["name"]
