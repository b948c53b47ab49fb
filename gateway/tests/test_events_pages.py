"""Engagement events through the gateway with the real events service (nameko
``container_factory``) on real RabbitMQ and PostgreSQL: the API and the resident pages,
calendars read back with the ``icalendar`` library in UK local time on both sides of the
clock changes, and staff reads of registrants audited."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask.testing import FlaskClient

from engage_common.db import Pool
from engage_contracts.ics import ics, serving
from engage_contracts.reference import current_consent
from gateway.store import audit as audit_store

LONDON = ZoneInfo("Europe/London")
CONSENT = {"given": True, "version": current_consent("events")["version"]}


@pytest.fixture(scope="module")
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_per_minute": 0, "rate_limit_reads_per_minute": 0}


def published(
    client: FlaskClient, officer: dict[str, str], starts: str, ends: str, **extra: Any
) -> dict[str, Any]:
    made = client.post(
        "/api/v1/staff/events",
        headers=officer,
        json={
            "kind": "drop-in",
            "title": {"en": f"Drop-in {starts}"},
            "starts_local": starts,
            "ends_local": ends,
            "venue": {
                "name": "Hillside Library",
                "address": "1 High Street",
                "features": ["step-free-access", "hearing-loop"],
            },
            "place": "leeds",
            **extra,
        },
    )
    assert made.status_code == 201, made.get_json()
    event = client.post(f"/api/v1/staff/events/{made.get_json()['id']}/publish", headers=officer)
    assert event.status_code == 200, event.get_json()
    return event.get_json()


def local(component: Any, name: str) -> datetime:
    return component.get(name).dt.astimezone(LONDON).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("starts", "ends"),
    [
        ("2027-03-27T10:00", "2027-03-27T12:00"),  # the day before the clocks go forward
        ("2027-03-28T10:00", "2027-03-28T12:00"),  # the day they do (BST from 01:00 UTC)
        ("2027-10-30T10:00", "2027-10-30T12:00"),  # the day before they go back
        ("2027-10-31T10:00", "2027-10-31T12:00"),  # the day they do (GMT again)
    ],
)
def test_a_calendar_file_gives_back_the_uk_local_times(
    events_service: Any,
    client: FlaskClient,
    as_role: dict[str, dict[str, str]],
    starts: str,
    ends: str,
) -> None:
    event = published(client, as_role["engagement-officer"], starts, ends)
    assert event["starts_local"] == starts and event["ends_local"] == ends
    got = client.get(f"/api/v1/events/{event['id']}/calendar.ics")
    assert got.status_code == 200 and got.mimetype == "text/calendar"
    (vevent,) = icalendar.Calendar.from_ical(got.data).walk("VEVENT")
    assert local(vevent, "dtstart") == datetime.fromisoformat(starts)
    assert local(vevent, "dtend") == datetime.fromisoformat(ends)
    assert vevent.get("location").startswith("Hillside Library")


def test_a_time_the_clocks_skip_is_refused_naming_the_field(
    events_service: Any, client: FlaskClient, as_role: dict[str, dict[str, str]]
) -> None:
    bad = client.post(
        "/api/v1/staff/events",
        headers=as_role["engagement-officer"],
        json={
            "kind": "drop-in",
            "title": {"en": "Too early"},
            "starts_local": "2027-03-28T01:30",
            "ends_local": "2027-03-28T03:00",
            "venue": {"name": "Hall"},
        },
    )
    assert bad.status_code == 422
    assert "clocks go forward" in bad.get_json()["error"]["fields"]["starts_local"][0]


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_resident_registers_on_the_page_changes_what_they_need_and_cancels(
    events_service: Any, client: FlaskClient, as_role: dict[str, dict[str, str]], db: Pool
) -> None:
    officer = as_role["engagement-officer"]
    event = published(client, officer, "2027-06-10T18:00", "2027-06-10T20:00", capacity=2)
    page = client.get(f"/events/{event['id']}").get_data(as_text=True)
    assert "Step-free access" in page and "Hearing loop" in page
    listed = client.get("/events?place=leeds").get_data(as_text=True)
    assert event["title"]["en"] in listed

    token = csrf(client, f"/events/{event['id']}")
    wrong = client.post(
        f"/events/{event['id']}",
        data={"csrf_token": token, "email": "not-an-email", "access_needs": "spoken-language"},
    )
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="error-summary"' in html
    for message in (
        "Enter an email address in the correct format",
        "Say which language you need an interpreter for",
        "Tick the box to agree to how we use your details",
    ):
        assert message in html, message

    sent = client.post(
        f"/events/{event['id']}",
        data={
            "csrf_token": token,
            "idempotency_key": "8c9f7a52-5c0f-4a1e-9d59-2f0f2b3f6a11",
            "name": "Sam Carer",
            "email": "sam@example.org",
            "places": "2",
            "access_needs": ["bsl-interpreter", "spoken-language"],
            "detail-spoken-language": "Polish",
            "consent": "yes",
            "consent_version": CONSENT["version"],
        },
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
    mine = client.get(sent.headers["Location"])
    html = mine.get_data(as_text=True)
    assert mine.status_code == 200 and "You have a place" in html
    assert mine.headers["Cache-Control"] == "no-store"
    code = sent.headers["Location"].rsplit("/", 1)[1]
    calendar = client.get(f"/events/registrations/{code}/calendar.ics")
    (vevent,) = icalendar.Calendar.from_ical(calendar.data).walk("VEVENT")
    assert code in str(vevent.get("description"))  # the private link, for the resident

    # Staff see what to arrange; the read is audited.
    needs = client.get(f"/api/v1/staff/events/{event['id']}/adjustments", headers=officer)
    assert {a["need"] for a in needs.get_json()["adjustments"]} == {
        "bsl-interpreter",
        "spoken-language",
    }
    with db.connection() as conn:
        actions = {e["action"] for e in audit_store.audit_entries(conn)}
    assert "event.adjustments.read" in actions
    refused = client.get(
        f"/api/v1/staff/events/{event['id']}/registrations", headers=as_role["analyst"]
    )
    assert refused.status_code == 403

    changed = client.post(
        f"/events/registrations/{code}",
        data={
            "csrf_token": csrf(client, f"/events/registrations/{code}"),
            "access_needs": "quiet-space",
        },
    )
    assert changed.status_code == 303
    assert [
        n["need"]
        for n in client.get(f"/api/v1/events/registrations/{code}").get_json()["access_needs"]
    ] == ["quiet-space"]

    token = csrf(client, f"/events/registrations/{code}")
    asked = client.post(f"/events/registrations/{code}/cancel", data={"csrf_token": token})
    assert "Are you sure" in asked.get_data(as_text=True)
    done = client.post(
        f"/events/registrations/{code}/cancel", data={"csrf_token": token, "confirm": "yes"}
    )
    assert done.status_code == 200 and "cancelled" in done.get_data(as_text=True)
    assert client.get(f"/api/v1/events/registrations/{code}").get_json()["status"] == "cancelled"


def test_the_registration_form_asks_consent_in_the_readers_language(
    events_service: Any, client: FlaskClient, as_role: dict[str, dict[str, str]]
) -> None:
    """Urdu readers (where the ICS gives an Urdu wording) agree to the Urdu consent, of
    the same version as the English."""
    event = published(client, as_role["engagement-officer"], "2027-07-01T18:00", "2027-07-01T20:00")
    reviewed = tuple(dataclasses.replace(lang, reviewed=True) for lang in ics().languages)
    with serving(dataclasses.replace(ics(), languages=reviewed)):
        client.set_cookie("lang", "ur")
        page = client.get(f"/events/{event['id']}").get_data(as_text=True)
        client.delete_cookie("lang")
    wording, language = ics().consent_wording(CONSENT["version"], "ur")
    assert language == "ur"
    assert f'<label class="choice__label" for="consent">{wording}' in page
    assert f'value="{CONSENT["version"]}"' in page


def test_the_api_registers_once_per_key_and_says_when_registration_is_closed(
    events_service: Any, client: FlaskClient, as_role: dict[str, dict[str, str]]
) -> None:
    officer = as_role["engagement-officer"]
    event = published(
        client,
        officer,
        "2027-07-01T10:00",
        "2027-07-01T11:00",
        capacity=1,
        registration_closes_local="2027-06-30T17:00",
    )
    body = {"name": "A", "contact": {"email": "a@example.org"}, "consent": CONSENT}
    first = client.post(
        f"/api/v1/events/{event['id']}/registrations", json=body, headers={"Idempotency-Key": "k-1"}
    )
    again = client.post(
        f"/api/v1/events/{event['id']}/registrations", json=body, headers={"Idempotency-Key": "k-1"}
    )
    other = client.post(
        f"/api/v1/events/{event['id']}/registrations", json=body, headers={"Idempotency-Key": "k-2"}
    )
    assert first.status_code == again.status_code == other.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert first.get_json()["status"] == "confirmed"
    assert other.get_json()["status"] == "waiting" and other.get_json()["position"] == 1
    bad = client.post(
        f"/api/v1/events/{event['id']}/registrations",
        json={"places": 9, "consent": {"given": False, "version": "nope"}},
    )
    assert bad.status_code == 422 and "places" in bad.get_json()["error"]["fields"]
    cancelled = client.post(
        f"/api/v1/staff/events/{event['id']}/cancel", headers=officer, json={"reason": "Flooded"}
    )
    assert cancelled.status_code == 200
    late = client.post(
        f"/api/v1/events/{event['id']}/registrations", json=body, headers={"Idempotency-Key": "k-3"}
    )
    assert late.status_code == 409
