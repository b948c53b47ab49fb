"""Engagement events over HTTP. Residents (``/api/v1/events``) find events and register
with no account, then change or cancel with the private code they are given; staff
(``/api/v1/staff/events``) plan events, see who is coming and what they need, record
attendance and "what we heard", and see the reach."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response, url_for

from engage_contracts import events as contract
from gateway.api.schemas import (
    AdjustmentListSchema,
    CancelEventSchema,
    EventListSchema,
    IdempotencyHeaderSchema,
    PointListSchema,
    PublicEventFiltersSchema,
    ReachQuerySchema,
    StaffRegistrationListSchema,
    StopEmailsSchema,
)
from gateway.application import events
from gateway.application.receipts import normalise_receipt
from gateway.application.staff import EDIT, READ, RESULTS
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import Blueprint, errors
from gateway.security import READ as READ_RATE
from gateway.security import WRITE, rate_limited

public = Blueprint("events", __name__, url_prefix="/api/v1/events", description="Engagement events")
staff = Blueprint(
    "staff_events",
    __name__,
    url_prefix="/api/v1/staff",
    description="Engagement events for staff: planning, registrations, access needs, reach",
)
EVENT = "/events/<uuid:event_id>"  # staff
ONE = "/<uuid:event_id>"  # residents
MANAGE = "/registrations/<code>"
ICS = {"text/calendar": {"schema": {"type": "string"}}}


def manage_code(code: str) -> str:
    if not contract.MANAGE_CODE.match(code):
        raise ApiError("There is no registration with that code.", status=404)
    return code


def _calendar(body: bytes, name: str) -> Response:
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{name}.ics"'},
    )


# -- residents --------------------------------------------------------------------------------


@public.route("", methods=["GET"])
@rate_limited(READ_RATE)
@public.arguments(PublicEventFiltersSchema, location="query")
@public.response(200, EventListSchema)
@errors(503)
def list_events(filters: dict[str, Any]) -> Any:
    """Events coming up (published), soonest first; filter by place, kind, dates and the
    consultation they are about"""
    query = contract.EventFiltersSchema().dump({**filters, "include_drafts": False})
    return engage().services.events("list_events", query)


@public.route(ONE, methods=["GET"])
@rate_limited(READ_RATE)
@public.response(200, contract.EventSchema)
@errors(404, 503)
def get_event(event_id: UUID) -> Any:
    """One event: when (UK time), where and its access, places left, how to register"""
    return engage().services.events("get_event", str(event_id))


@public.route(f"{ONE}/calendar.ics", methods=["GET"])
@rate_limited(READ_RATE)
@public.doc(responses={"200": {"description": "an iCalendar file", "content": ICS}})
@errors(404, 503)
def event_calendar(event_id: UUID) -> Any:
    """The event as an iCalendar (.ics) file, in UK local time"""
    event = engage().services.events("get_event", str(event_id))
    return _calendar(events.calendar(event, engage().settings.public_url), "event")


@public.route(f"{ONE}/registrations", methods=["POST"])
@rate_limited(WRITE)
@public.arguments(contract.RegistrationInputSchema)
@public.arguments(IdempotencyHeaderSchema, location="headers")
@public.response(
    201,
    contract.RegistrationSchema,
    headers={"Location": {"description": "the registration", "schema": {"type": "string"}}},
)
@errors(400, 404, 409, 413, 415, 503)
def register(registration: dict[str, Any], headers: dict[str, Any], event_id: UUID) -> Any:
    """Register for an event

    An immediate answer: a place (`confirmed`) or a place on the waiting list (`waiting`,
    with its `position`). The same `Idempotency-Key` again returns the same registration.
    Keep `manage_code`: it is the only way to change or cancel. 409 when registration is
    closed; 503 (with Retry-After) while the events service is down: nothing is queued."""
    made = events.register(engage(), str(event_id), registration, headers.get("idempotency_key"))
    location = url_for("events.get_registration", code=made["manage_code"])
    return made, 201, {"Location": location, "Cache-Control": "no-store"}


@public.route(MANAGE, methods=["GET"])
@rate_limited(WRITE)
@public.response(200, contract.RegistrationSchema)
@errors(404, 503)
def get_registration(code: str) -> Any:
    """A registration, by its private code"""
    found = engage().services.events("get_registration", manage_code(code))
    return found, 200, {"Cache-Control": "no-store"}


@public.route(MANAGE, methods=["PATCH"])
@rate_limited(WRITE)
@public.arguments(contract.RegistrationChangeSchema)
@public.response(200, contract.RegistrationSchema)
@errors(400, 404, 409, 413, 415, 503)
def update_registration(changes: dict[str, Any], code: str) -> Any:
    """Change your access needs or the number of places"""
    sent = contract.RegistrationChangeSchema().dump(changes)
    return engage().services.events("update_registration", manage_code(code), sent)


@public.route(MANAGE, methods=["DELETE"])
@rate_limited(WRITE)
@public.response(200, contract.RegistrationSchema)
@errors(404, 503)
def cancel_registration(code: str) -> Any:
    """Cancel: your place goes to the first person on the waiting list"""
    return engage().services.events("cancel_registration", manage_code(code))


@public.route(f"{MANAGE}/calendar.ics", methods=["GET"])
@rate_limited(WRITE)
@public.doc(responses={"200": {"description": "an iCalendar file", "content": ICS}})
@errors(404, 503)
def registration_calendar(code: str) -> Any:
    """The event as an iCalendar file with your private links (and the joining link of an
    online session once your place is confirmed)"""
    ctx = engage()
    found = ctx.services.events("get_registration", manage_code(code))
    event = ctx.services.events("get_event", found["event_id"])
    body = events.calendar(event, ctx.settings.public_url, {**found, "manage_code": code})
    return _calendar(body, "registration")


@public.route("/registrations/stop-emails/<code>", methods=["POST"])
@rate_limited(WRITE)
@public.response(200, StopEmailsSchema)
@errors(404, 503)
def stop_emails(code: str) -> Any:
    """Stop emails about a registration (the link in every email leads here)"""
    normal = normalise_receipt(code)
    if normal is None:
        raise ApiError("There is no registration with that code.", status=404)
    return engage().services.events("stop_emails", normal)


# -- staff ------------------------------------------------------------------------------------


def _as_json(schema: Any, data: dict[str, Any]) -> dict[str, Any]:
    return schema().dump(data)


@staff.route("/events", methods=["GET"])
@require_role(*READ)
@staff.arguments(contract.EventFiltersSchema, location="query")
@staff.response(200, EventListSchema)
@errors(503)
def staff_list_events(filters: dict[str, Any]) -> Any:
    """Events, drafts and past ones included when asked, with counts"""
    return engage().services.events(
        "staff_list_events", _as_json(contract.EventFiltersSchema, filters)
    )


@staff.route("/events", methods=["POST"])
@require_role(*EDIT)
@staff.arguments(contract.EventInputSchema)
@staff.response(201, contract.EventSchema)
@errors(400, 413, 415, 503)
def create_event(event: dict[str, Any]) -> Any:
    """Plan an event (a draft until published); times in UK local time"""
    return engage().services.events(
        "create_event",
        contract.EventInputSchema().dump(event),
        events.actor(current_staff()),
    )


@staff.route(EVENT, methods=["PATCH"])
@require_role(*EDIT)
@staff.arguments(contract.EventChangeSchema)
@staff.response(200, contract.EventSchema)
@errors(400, 404, 409, 413, 415, 503)
def update_event(changes: dict[str, Any], event_id: UUID) -> Any:
    """Change an event; registrants are told of a new time, venue or link. Cutting capacity
    below the places taken needs `to_waiting_list` (who moves)"""
    return engage().services.events(
        "update_event",
        str(event_id),
        contract.EventChangeSchema().dump(changes),
        events.actor(current_staff()),
    )


@staff.route(f"{EVENT}/publish", methods=["POST"])
@require_role(*EDIT)
@staff.response(200, contract.EventSchema)
@errors(404, 409, 503)
def publish_event(event_id: UUID) -> Any:
    """Publish: residents can see it and register"""
    return engage().services.events("publish_event", str(event_id), events.actor(current_staff()))


@staff.route(f"{EVENT}/cancel", methods=["POST"])
@require_role(*EDIT)
@staff.arguments(CancelEventSchema)
@staff.response(200, contract.EventSchema)
@errors(400, 404, 409, 413, 415, 503)
def cancel_event(body: dict[str, Any], event_id: UUID) -> Any:
    """Cancel an event; everyone registered is told"""
    return engage().services.events(
        "cancel_event", str(event_id), body["reason"], events.actor(current_staff())
    )


@staff.route(f"{EVENT}/registrations", methods=["GET"])
@require_role(*EDIT)
@staff.response(200, StaffRegistrationListSchema)
@errors(404, 503)
def list_registrations(event_id: UUID) -> Any:
    """Who is registered or waiting, with contact details and access needs (audited)"""
    found = events.registrations(engage(), current_staff(), str(event_id))
    return found, 200, {"Cache-Control": "no-store"}


@staff.route(f"{EVENT}/adjustments", methods=["GET"])
@require_role(*EDIT)
@staff.response(200, AdjustmentListSchema)
@errors(404, 503)
def list_adjustments(event_id: UUID) -> Any:
    """The access needs to arrange for an event, and where each stands (audited)"""
    return events.adjustments(engage(), current_staff(), str(event_id))


@staff.route("/adjustments/<uuid:adjustment_id>", methods=["PATCH"])
@require_role(*EDIT)
@staff.arguments(contract.AdjustmentChangeSchema)
@staff.response(200, contract.AdjustmentSchema)
@errors(400, 404, 413, 415, 503)
def set_adjustment(change: dict[str, Any], adjustment_id: UUID) -> Any:
    """Mark an access need arranged or not possible (with why), and after the event
    whether it was met"""
    return engage().services.events(
        "set_adjustment",
        str(adjustment_id),
        contract.AdjustmentChangeSchema().dump(change),
        events.actor(current_staff()),
    )


@staff.route(f"{EVENT}/attendance", methods=["POST"])
@require_role(*EDIT)
@staff.arguments(contract.AttendanceSchema)
@staff.response(200, contract.ReachSchema)
@errors(400, 404, 409, 413, 415, 503)
def record_attendance(attendance: dict[str, Any], event_id: UUID) -> Any:
    """Record who came, who did not, and walk-ins (with optional equality monitoring)"""
    return events.attendance(engage(), current_staff(), str(event_id), attendance)


@staff.route(f"{EVENT}/points", methods=["GET"])
@require_role(*READ)
@staff.response(200, PointListSchema)
@errors(404, 503)
def list_points(event_id: UUID) -> Any:
    """What we heard at an event (redacted)"""
    return engage().services.events("list_points", str(event_id))


@staff.route(f"{EVENT}/points", methods=["POST"])
@require_role(*EDIT)
@staff.arguments(contract.PointInputSchema)
@staff.response(201, contract.PointSchema)
@errors(400, 404, 413, 415, 503)
def add_point(point: dict[str, Any], event_id: UUID) -> Any:
    """Record a point raised ("you said"), with its themes: it counts beside survey
    answers and feedback"""
    return engage().services.events(
        "add_point",
        str(event_id),
        contract.PointInputSchema().dump(point),
        events.actor(current_staff()),
    )


@staff.route("/points/<uuid:point_id>/approve-quote", methods=["POST"])
@require_role(*EDIT)
@staff.response(200, contract.PointSchema)
@errors(404, 409, 503)
def approve_point_quote(point_id: UUID) -> Any:
    """Approve a point's redacted quote for publication (only if the person allowed it)"""
    return engage().services.events(
        "approve_point_quote", str(point_id), events.actor(current_staff())
    )


@staff.route(f"{EVENT}/reach", methods=["GET"])
@require_role(*RESULTS)
@staff.response(200, contract.ReachSchema)
@errors(404, 503)
def event_reach(event_id: UUID) -> Any:
    """One event's reach: registrations, attendance, no-shows, waiting list, access needs
    requested and met, who came (small-number rule applied)"""
    return engage().services.events("reach", str(event_id), None)


@staff.route("/reports/events-reach", methods=["GET"])
@require_role(*RESULTS)
@staff.arguments(ReachQuerySchema, location="query")
@staff.response(200, contract.ReachSchema)
@errors(503)
def reach(query: dict[str, Any]) -> Any:
    """Reach across events, or one place's (small-number rule applied)"""
    return engage().services.events("reach", None, query.get("place"))
