"""Engagement events through the gateway: registration is a synchronous RPC (a place is
an immediate answer; while events is down it is a 503, never queued), calendars are
iCalendar files in UK local time, and every staff read of registrants' names, contact
details or access needs is audited here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from icalendar import Calendar, Event, vText

from engage_contracts import events as contract
from engage_contracts.events import LONDON
from engage_contracts.ics import ics
from engage_contracts.shared import localised
from gateway.application import reach
from gateway.application.receipts import new_key, submission_id
from gateway.application.staff import record
from gateway.context import Engage

PRODID = "-//Engage//engagement events//EN"


def register(
    ctx: Engage, event_id: str, registration: dict[str, Any], idempotency_key: str | None
) -> dict[str, Any]:
    """A place or a waiting-list position, at once. The same ``idempotency_key`` again
    returns the same registration (a double click, a retried request)."""
    located = reach.locate_submission(ctx.db, registration)
    sent = contract.RegistrationInputSchema().dump(located)
    # The service derives the private manage code from the key: never a key a client
    # chose (it could be guessed), always the gateway's HMAC of it.
    key = submission_id(ctx.settings.secret_key, f"event:{event_id}", idempotency_key or new_key())
    return ctx.services.events("register", event_id, sent, key)


def attendance(ctx: Engage, staff: Any, event_id: str, attended: dict[str, Any]) -> Any:
    """Record attendance; a walk-in's full postcode becomes its district and decile first."""
    walk_ins = [reach.locate_submission(ctx.db, w) for w in attended.get("walk_ins") or []]
    sent = contract.AttendanceSchema().dump({**attended, "walk_ins": walk_ins})
    return ctx.services.events("record_attendance", event_id, sent, actor(staff))


def actor(staff: Any) -> dict[str, Any]:
    return {"staff_id": staff.id, "name": staff.name, "role": staff.role}


def registrations(ctx: Engage, staff: Any, event_id: str) -> dict[str, Any]:
    found = ctx.services.events("list_registrations", event_id)
    record(ctx.db, staff.id, "event.registrations.read", event_id)
    return found


def adjustments(ctx: Engage, staff: Any, event_id: str) -> dict[str, Any]:
    found = ctx.services.events("adjustments", event_id)
    record(ctx.db, staff.id, "event.adjustments.read", event_id)
    return found


def _where(event: dict[str, Any]) -> str:
    venue = event.get("venue")
    if venue:
        return ", ".join(
            p for p in (venue.get("name"), venue.get("address"), venue.get("postcode")) if p
        )
    return "Online"


def calendar(
    event: dict[str, Any],
    public_url: str,
    registration: dict[str, Any] | None = None,
) -> bytes:
    """An iCalendar file for one event in UK local time (with its VTIMEZONE), so a
    calendar shows it at the right time on either side of a clock change. With a
    registration: the private link to change or cancel it, and the joining link of an
    online session once the place is confirmed."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    item = Event()
    item.add("uid", f"{event['id']}@engage.{ics().code}")
    item.add("dtstamp", datetime.now(LONDON))
    item.add("dtstart", datetime.fromisoformat(event["starts_at"]).astimezone(LONDON))
    item.add("dtend", datetime.fromisoformat(event["ends_at"]).astimezone(LONDON))
    item.add("summary", localised(event["title"]))
    item.add("location", vText(_where(event)))
    base = public_url.rstrip("/")
    item.add("url", f"{base}/events/{event['id']}")
    lines = [localised(event.get("description")) or ""]
    if registration:
        if registration.get("online_link"):
            lines.append(f"Join online: {registration['online_link']}")
        lines.append(
            f"Change your access needs or cancel: {base}/events/registrations/"
            f"{registration['manage_code']}"
        )
    item.add("description", "\n\n".join(line for line in lines if line))
    item.add("status", "CANCELLED" if event.get("status") == "cancelled" else "CONFIRMED")
    cal.add_component(item)
    cal.add_missing_timezones()
    return cal.to_ical()
