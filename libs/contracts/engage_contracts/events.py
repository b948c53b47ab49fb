"""The events service's contract: engagement events staff run, residents' registrations
(with waiting list and access needs), attendance, and "what we heard". Pure: no I/O.

Times: residents and staff think in UK local time. Staff send ``starts_local``/
``ends_local`` (and the registration window) as ``YYYY-MM-DDTHH:MM`` in Europe/London,
loaded as aware UTC datetimes ``starts_at``/``ends_at`` (``london_moment`` refuses a time
the clocks skip in March and takes the first of a time they repeat in October); events
are stored and travel in UTC (ISO 8601 with offset), and are shown with their local time.

RPC (service ``events``), raising ``NotFound``/``Conflict``/``ValidationFailed``:

Residents (through the gateway, no account):
- ``list_events(filters)``: ``EventFiltersSchema`` in; ``{"events": [EventSchema]}``
  (published, not yet ended, soonest first; no joining link)
- ``get_event(event_id)``: ``EventSchema`` (published or cancelled; drafts NotFound)
- ``register(event_id, registration, idempotency_key)``: ``RegistrationInputSchema`` in;
  ``RegistrationSchema`` out (``confirmed`` or ``waiting`` with its ``position``; the same
  idempotency key again returns the same registration, with the same ``manage_code``).
  Synchronous: capacity is checked and taken in one transaction (row lock on the event),
  never exceeded. ``idempotency_key``: 1 to 200 printable characters; events keeps only
  its hash and derives the manage code from it, so pass a key the caller keeps secret
  (the gateway: an HMAC of the client's ``Idempotency-Key`` with its secret).
- ``get_registration(manage_code)``: ``RegistrationSchema`` (with the joining link when
  confirmed for an online session)
- ``update_registration(manage_code, changes)``: ``RegistrationChangeSchema``
- ``cancel_registration(manage_code)``: ``RegistrationSchema`` (``cancelled``); the first on
  the waiting list is promoted and told
- ``stop_emails(receipt_code)``: ``{receipt_code, stopped}``: the address is opted out of
  mail and deleted from the registration (the link in every email events sends:
  ``/events/registrations/stop-emails/<receipt_code>``)

Staff (``actor`` is ``engage_contracts.feedback.ActorSchema``'s shape):
- ``create_event(event, actor)``: ``EventInputSchema``; ``EventSchema`` (draft)
- ``update_event(event_id, changes, actor)``: ``EventChangeSchema``; registrants of a
  published event are told of changes to time, venue or link. Capacity below the places
  confirmed is a ``Conflict`` unless ``to_waiting_list`` names registrations to move.
- ``publish_event(event_id, actor)``, ``cancel_event(event_id, reason, actor)`` (everyone
  registered is told)
- ``staff_list_events(filters)``: ``{"events": [EventSchema]}`` with drafts and counts
- ``list_registrations(event_id)``: ``{"registrations": [StaffRegistrationSchema]}``
  (names and contact: the gateway audits each read)
- ``adjustments(event_id)``: ``{"adjustments": [AdjustmentSchema]}``
- ``set_adjustment(adjustment_id, change, actor)``: ``AdjustmentChangeSchema``
- ``record_attendance(event_id, attendance, actor)``: ``AttendanceSchema``; returns ``reach``
- ``add_point(event_id, point, actor)``: ``PointInputSchema``; ``PointSchema`` (redacted)
- ``approve_point_quote(point_id, actor)``: ``PointSchema`` (records ``quote_published``)
- ``list_points(event_id, public=False)``: ``{"points": [PointSchema]}``; ``public``: the
  quote only when the person allowed it and staff approved it, no ``recorded_by``
- ``withdraw_point(point_id, actor)``: ``{point_id, withdrawn}`` (records ``point_withdrawn``)
- ``reach(event_id=None, place=None)``: ``ReachSchema`` (small-number rule applied)
- ``find_personal_data(receipt_code, text)``: ``{"registrations":
  [PersonalDataRegistrationSchema], "truncated"}`` (receipt code; name, email, phone or an
  access need's detail containing the text); ``erase_registrations(registration_ids)``
  (``EraseRegistrationsSchema``): ``{erased, registration_ids}`` (name, contact, equality,
  manage code and access needs' details go; a place not yet used is cancelled);
  ``purge_expired(now=None)``: ``{purged}``, the same for registrations of events that
  ended more than ``retention_days.event_registrations`` ago (also hourly); arguments as
  surveys' and feedback's (``engage_contracts.privacy``)
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from engage_contracts.base import BaseSchema, Moment, messages, string
from engage_contracts.feedback import MAX_THEMES, THEME_SLUG, TONES
from engage_contracts.ics import ics
from engage_contracts.privacy import PersonalDataMatchSchema
from engage_contracts.reference import EQUALITY_FIELDS
from engage_contracts.shared import (
    ConsentSchema,
    LocalisedText,
    StoredConsentSchema,
    place_field,
    priority_field,
)
from engage_contracts.wording import N_

LONDON = ZoneInfo("Europe/London")
KINDS = (
    "community-meeting", "focus-group", "drop-in", "online-session",
    "co-production-workshop", "community-stall", "resident-panel",
)  # fmt: skip
KIND_WORDS = {
    "community-meeting": N_("Community meeting"),
    "focus-group": N_("Focus group"),
    "drop-in": N_("Drop-in"),
    "online-session": N_("Online session"),
    "co-production-workshop": N_("Co-production workshop"),
    "community-stall": N_("Stall at a community venue"),
    "resident-panel": N_("Resident panel"),
}
VENUE_FEATURES = (
    "step-free-access", "hearing-loop", "accessible-toilet", "parking", "public-transport",
    "quiet-room",
)  # fmt: skip
VENUE_FEATURE_WORDS = {
    "step-free-access": N_("Step-free access"),
    "hearing-loop": N_("Hearing loop"),
    "accessible-toilet": N_("Accessible toilet"),
    "parking": N_("Parking"),
    "public-transport": N_("Near public transport"),
    "quiet-room": N_("Quiet room"),
}
ACCESS_NEEDS = (
    "bsl-interpreter", "hearing-loop", "step-free-access", "large-print", "easy-read",
    "spoken-language", "childcare-or-caring", "quiet-space", "other",
)  # fmt: skip
ACCESS_NEED_WORDS = {
    "bsl-interpreter": N_("A British Sign Language (BSL) interpreter"),
    "hearing-loop": N_("A hearing loop"),
    "step-free-access": N_("Step-free access"),
    "large-print": N_("Large print"),
    "easy-read": N_("Easy read"),
    "spoken-language": N_("An interpreter for another spoken language"),
    "childcare-or-caring": N_("Help with childcare or caring"),
    "quiet-space": N_("A quiet space"),
    "other": N_("Something else"),
}
NEEDS_DETAIL = ("spoken-language", "other")  # which language; what else
STATUSES = ("draft", "published", "cancelled")
REGISTRATION_STATUSES = ("confirmed", "waiting", "cancelled")
ADJUSTMENT_STATES = ("requested", "arranged", "not-possible")
MAX_PLACES = 4  # the resident and up to three carers or companions
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
DAY_RANGE = validate.Range(
    min=date(2000, 1, 1), max=date(2100, 12, 31), error="must be between 2000 and 2100"
)
MANAGE_CODE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


# -- UK local time ----------------------------------------------------------------------------


def london_moment(local: str) -> datetime:
    """``YYYY-MM-DDTHH:MM`` in UK local time as an aware UTC datetime. ``ValueError`` for a
    time that does not exist (the hour the clocks skip in March); a time that happens twice
    (the hour repeated in October) is the first, in British Summer Time."""
    naive = datetime.strptime(local, LOCAL_FORMAT)
    first = naive.replace(tzinfo=LONDON, fold=0)
    round_trip = first.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None)
    if round_trip != naive:
        raise ValueError("does not exist in UK time: the clocks go forward then")
    return first.astimezone(UTC)


def local_text(moment_: datetime) -> str:
    """An aware datetime as UK local ``YYYY-MM-DDTHH:MM``."""
    return moment_.astimezone(LONDON).strftime(LOCAL_FORMAT)


class LocalTime(fields.Field):
    """``YYYY-MM-DDTHH:MM`` UK local time in, an aware UTC datetime out."""

    default_error_messages = {
        "invalid": "must be a UK local date and time like 2026-03-29T10:30",
        "range": "must be between 2000 and 2100",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            moment_ = london_moment(value.strip())
        except ValueError as exc:
            if "does not exist" in str(exc):
                raise ValidationError(str(exc)) from None
            raise self.make_error("invalid") from None
        if not 2000 <= moment_.year <= 2100:
            raise self.make_error("range")
        return moment_

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else local_text(value)


def book_ahead_days(need: str) -> int:
    """How many days before an event a request for ``need`` closes (ICS configuration,
    ``events.book_ahead_days``; 0: until registration closes)."""
    return int(ics().event_book_ahead_days.get(need, 0))


def closes_for(need: str, starts_at: datetime) -> datetime:
    """When requests for ``need`` close for an event starting at ``starts_at``: the start
    of the UK day ``book_ahead_days`` before."""
    days = book_ahead_days(need)
    if not days:
        return starts_at
    day = starts_at.astimezone(LONDON).date() - timedelta(days=days)
    return datetime.combine(day, time(0, 0), tzinfo=LONDON).astimezone(UTC)


def late_needs(needs: list[dict[str, Any]], starts_at: datetime, now: datetime) -> list[int]:
    """Indexes of access needs asked for after their booking-ahead deadline."""
    return [i for i, n in enumerate(needs) if now >= closes_for(n["need"], starts_at)]


def registration_open(event: dict[str, Any], now: datetime) -> bool:
    opens, closes = event.get("registration_opens_at"), event.get("registration_closes_at")
    return (
        event.get("status") == "published"
        and (opens is None or now >= opens)
        and now < (closes or event["starts_at"])
    )


def places_left(capacity: int | None, confirmed_places: int) -> int | None:
    return None if capacity is None else max(capacity - confirmed_places, 0)


# -- what staff send ----------------------------------------------------------------------------


def _choice(values: tuple[str, ...], **kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.OneOf(values, error="must be one of " + ", ".join(values)),
        error_messages=messages(invalid="must be text"),
        **kwargs,
    )


def _themes(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Regexp(THEME_SLUG, error="is not a theme's slug")),
        validate=validate.Length(max=MAX_THEMES, error=f"at most {MAX_THEMES} themes"),
        **kwargs,
    )


class VenueSchema(BaseSchema):
    name = string(required=True, min_length=1, max_length=200)
    address = string(load_default="", max_length=500)
    postcode = string(load_default="", max_length=10)
    features = fields.List(_choice(VENUE_FEATURES), load_default=list)
    directions = string(load_default="", max_length=1000)


def _is_partner(code: str) -> None:
    if code not in {p.code for p in ics().partners}:
        raise ValidationError("is not one of the ICS's partners")


class _EventFields(BaseSchema):
    kind = _choice(KINDS)
    title = LocalisedText(min_length=1, max_length=200)
    description = LocalisedText(max_length=5000)
    place = place_field(allow_none=True, metadata={"description": "null: the whole ICS"})
    venue = fields.Nested(VenueSchema, allow_none=True)
    online_link = fields.Url(
        allow_none=True,
        schemes={"https"},
        error_messages=messages(invalid="must be an https:// link"),
        metadata={"description": "shown only to people with a confirmed place"},
    )
    starts_at = LocalTime(
        data_key="starts_local", metadata={"description": "UK local time, YYYY-MM-DDTHH:MM"}
    )
    ends_at = LocalTime(data_key="ends_local")
    capacity = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=10000),
        metadata={"description": "places; null: no limit"},
    )
    registration_opens_at = LocalTime(allow_none=True, data_key="registration_opens_local")
    registration_closes_at = LocalTime(
        allow_none=True,
        data_key="registration_closes_local",
        metadata={"description": "null: when the event starts"},
    )
    consultation_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))
    priorities = fields.List(priority_field(), validate=validate.Length(max=20))
    themes = _themes()
    partners = fields.List(
        fields.String(validate=_is_partner),
        validate=validate.Length(max=20),
    )


def check_event(event: dict[str, Any]) -> dict[str, list[str]]:
    """An event's fields together (as created, or as changed): ends after it starts,
    registration closes no later than the start, a venue unless it is online, a link if it
    is."""
    errors: dict[str, list[str]] = {}
    starts, ends = event.get("starts_at"), event.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_local"] = ["must be after the start"]
    closes = event.get("registration_closes_at")
    if closes and starts and closes > starts:
        errors["registration_closes_local"] = ["must be no later than the start"]
    opens = event.get("registration_opens_at")
    if opens and closes and opens >= closes:
        errors["registration_opens_local"] = ["must be before registration closes"]
    if event.get("kind") == "online-session":
        if not event.get("online_link"):
            errors["online_link"] = ["is required for an online session"]
    elif not event.get("venue"):
        errors["venue"] = ["is required, unless the event is an online session"]
    return errors


class EventInputSchema(_EventFields):
    """A new event (a draft until published): what it must have, and what it starts with
    when not given (the same fields as ``EventChangeSchema``, where everything is optional)."""

    REQUIRED = ("kind", "title", "starts_at", "ends_at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.REQUIRED:
            self.fields[name].required = True
            self.fields[name].error_messages["required"] = "is required"
        defaults = {
            "description": {"en": ""},
            "place": None,
            "venue": None,
            "online_link": None,
            "capacity": None,
            "registration_opens_at": None,
            "registration_closes_at": None,
            "consultation_ids": [],
            "priorities": [],
            "themes": [],
            "partners": [],
        }
        for name, value in defaults.items():
            self.fields[name].load_default = value


class EventChangeSchema(_EventFields):
    """Changes to an event; ``to_waiting_list`` names confirmed registrations to move when
    capacity is cut below the places confirmed."""

    to_waiting_list = fields.List(fields.UUID(), load_default=list)


class EventFiltersSchema(BaseSchema):
    place = place_field(load_default=None, allow_none=True)
    kind = _choice(KINDS, load_default=None, allow_none=True)
    from_date = fields.Date(load_default=None, allow_none=True, validate=DAY_RANGE)
    to_date = fields.Date(load_default=None, allow_none=True, validate=DAY_RANGE)
    consultation_id = fields.UUID(load_default=None, allow_none=True)
    include_past = fields.Boolean(load_default=False)
    include_drafts = fields.Boolean(load_default=False, metadata={"description": "staff only"})


# -- what residents send ------------------------------------------------------------------------


class AccessNeedSchema(BaseSchema):
    need = _choice(ACCESS_NEEDS, required=True)
    detail = string(
        load_default="",
        max_length=200,
        metadata={"description": "which language (spoken-language); what (other)"},
    )

    @validates_schema
    def _detail_when_needed(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("need") in NEEDS_DETAIL and not (data.get("detail") or "").strip():
            what = "which language" if data["need"] == "spoken-language" else "what you need"
            raise ValidationError({"detail": [f"say {what}"]})


class ContactSchema(BaseSchema):
    email = fields.Email(
        load_default=None, allow_none=True, error_messages=messages(invalid="is not an email")
    )
    phone = string(load_default=None, allow_none=True, max_length=30)

    @validates_schema
    def _phone_digits(self, data: dict[str, Any], **kwargs: Any) -> None:
        phone = data.get("phone")
        if phone and not re.fullmatch(r"\+?[0-9 ()-]{7,30}", phone):
            raise ValidationError({"phone": ["must be a phone number"]})


class RegistrationInputSchema(BaseSchema):
    """A resident's registration. No name and no contact is an anonymous place (a drop-in);
    without contact details we cannot send a reminder or tell them of changes."""

    name = string(load_default=None, allow_none=True, max_length=200)
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)
    places = fields.Integer(
        strict=True,
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PLACES, error=f"must be 1 to {MAX_PLACES}"),
        metadata={"description": "you and any carer or companion (an interpreter is extra)"},
    )
    access_needs = fields.List(
        fields.Nested(AccessNeedSchema), load_default=list, validate=validate.Length(max=9)
    )
    equality = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        load_default=None,
        allow_none=True,
        metadata={"description": "optional: " + ", ".join(EQUALITY_FIELDS)},
    )
    consent = fields.Nested(ConsentSchema, required=True)

    @validates_schema(skip_on_field_errors=False)
    def _reminders_need_contact(self, data: dict[str, Any], **kwargs: Any) -> None:
        contact = data.get("contact") or {}
        if data.get("name") is None and (contact.get("email") or contact.get("phone")):
            raise ValidationError({"name": ["give a name with your contact details"]})


class RegistrationChangeSchema(BaseSchema):
    places = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_PLACES))
    access_needs = fields.List(fields.Nested(AccessNeedSchema), validate=validate.Length(max=9))


# -- on the day and after -----------------------------------------------------------------------


class AdjustmentChangeSchema(BaseSchema):
    state = _choice(ADJUSTMENT_STATES)
    reason = string(load_default=None, allow_none=True, max_length=500)
    met = fields.Boolean(allow_none=True, metadata={"description": "after the event"})

    @validates_schema
    def _why_not(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("state") == "not-possible" and not (data.get("reason") or "").strip():
            raise ValidationError({"reason": ["say why it is not possible"]})


class WalkInSchema(BaseSchema):
    places = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=20))
    equality = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), load_default=None, allow_none=True
    )


class AttendanceSchema(BaseSchema):
    attended = fields.List(fields.UUID(), load_default=list, metadata={"description": "came"})
    absent = fields.List(fields.UUID(), load_default=list, metadata={"description": "no-show"})
    walk_ins = fields.List(fields.Nested(WalkInSchema), load_default=list)


class PointInputSchema(BaseSchema):
    """One point raised at the event ("you said"), as the facilitator recorded it."""

    text = string(required=True, min_length=1, max_length=2000)
    themes = _themes(load_default=list)
    tone = _choice(TONES, load_default=None, allow_none=True)
    place = place_field(outside_area=True, load_default=None, allow_none=True)
    quote = string(load_default=None, allow_none=True, max_length=1000)
    may_quote = fields.Boolean(
        load_default=False, metadata={"description": "the person allowed their words to be quoted"}
    )


# -- what events answers ------------------------------------------------------------------------


class EventSchema(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.Dict()
    description = fields.Dict()
    place = fields.String(allow_none=True)
    venue = fields.Nested(VenueSchema, allow_none=True)
    online = fields.Boolean(metadata={"description": "the link goes to registered people only"})
    starts_at = Moment()
    ends_at = Moment()
    starts_local = fields.String()
    ends_local = fields.String()
    capacity = fields.Integer(allow_none=True)
    places_left = fields.Integer(allow_none=True)
    waiting = fields.Integer(metadata={"description": "people on the waiting list"})
    registration_opens_at = Moment(allow_none=True)
    registration_closes_at = Moment(allow_none=True)
    registration_open = fields.Boolean()
    book_ahead = fields.Dict(
        keys=fields.String(), values=Moment(), metadata={"description": "need -> closes at"}
    )
    consultation_ids = fields.List(fields.String())
    priorities = fields.List(fields.String())
    themes = fields.List(fields.String())
    partners = fields.List(fields.String())
    status = fields.String()
    cancelled_reason = fields.String(allow_none=True)


class RegistrationSchema(Schema):
    id = fields.String()
    event_id = fields.String()
    status = fields.String(validate=validate.OneOf(REGISTRATION_STATUSES))
    position = fields.Integer(allow_none=True, metadata={"description": "on the waiting list"})
    places = fields.Integer()
    name = fields.String(allow_none=True)
    contact = fields.Nested(ContactSchema, allow_none=True)
    access_needs = fields.List(fields.Dict())
    late_needs = fields.List(
        fields.String(), metadata={"description": "asked for after their booking-ahead date"}
    )
    manage_code = fields.String(metadata={"description": "the private link's key"})
    receipt_code = fields.String()
    online_link = fields.String(allow_none=True)
    consent = fields.Nested(StoredConsentSchema, allow_none=True)
    registered_at = Moment()


class StaffRegistrationSchema(RegistrationSchema):
    attended = fields.Boolean(allow_none=True)
    walk_in = fields.Boolean()

    class Meta:
        exclude = ("manage_code", "online_link")


class AdjustmentSchema(Schema):
    id = fields.String()
    registration_id = fields.String()
    need = fields.String()
    detail = fields.String()
    state = fields.String()
    reason = fields.String(allow_none=True)
    met = fields.Boolean(allow_none=True)
    late = fields.Boolean()


class PointSchema(Schema):
    id = fields.String()
    event_id = fields.String()
    text = fields.String(metadata={"description": "redacted"})
    themes = fields.List(fields.String())
    tone = fields.String(allow_none=True)
    place = fields.String(allow_none=True)
    quote = fields.String(allow_none=True, metadata={"description": "redacted"})
    may_quote = fields.Boolean()
    quote_approved = fields.Boolean()
    recorded_by = fields.String()
    recorded_at = Moment()


class CountSchema(Schema):
    value = fields.String(allow_none=True)
    count = fields.Integer(allow_none=True, metadata={"description": "null: too few to show"})


class ReachSchema(Schema):
    events = fields.Integer()
    registrations = fields.Integer(allow_none=True)
    places_registered = fields.Integer(allow_none=True)
    attended = fields.Integer(allow_none=True)
    walk_ins = fields.Integer(allow_none=True)
    no_shows = fields.Integer(allow_none=True)
    no_show_rate = fields.Float(allow_none=True)
    waiting = fields.Integer(allow_none=True)
    access_needs = fields.List(
        fields.Dict(), metadata={"description": "[{need, requested, arranged, met}]"}
    )
    attendees_by = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Nested(CountSchema)),
        metadata={"description": "equality field -> counts of attendees who answered"},
    )
    by_place = fields.List(fields.Nested(CountSchema))
    threshold = fields.Integer()


ERASE_MAX = 1000
REGISTRATION_IDS_MESSAGE = f"must be a list of up to {ERASE_MAX} registration ids"


class EraseRegistrationsSchema(BaseSchema):
    """The argument of ``erase_registrations``: registration ids (from
    ``find_personal_data``), loaded as each id once, sorted."""

    registration_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(max=ERASE_MAX, error=REGISTRATION_IDS_MESSAGE),
        error_messages=messages(
            required=REGISTRATION_IDS_MESSAGE,
            null=REGISTRATION_IDS_MESSAGE,
            invalid=REGISTRATION_IDS_MESSAGE,
        ),
    )

    @post_load
    def _each_once(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"registration_ids": sorted({str(i) for i in data["registration_ids"]})}


class PersonalDataRegistrationSchema(Schema):
    registration_id = fields.String()
    event_id = fields.String()
    receipt_code = fields.String()
    registered_at = fields.String()
    matches = fields.List(fields.Nested(PersonalDataMatchSchema))


# -- events (source "events") -------------------------------------------------------------------
# Each carries event_id, event_type and occurred_at. None carries a name or contact, and
# only quote_published carries words: a quote, redacted, its speaker allowed and staff
# approved for publication.

EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "engagement_event_published": (
        "engagement_event_id", "kind", "title", "place", "starts_at", "ends_at",
        "consultation_ids", "priorities", "themes",
    ),
    "engagement_event_changed": (
        "engagement_event_id", "kind", "title", "place", "starts_at", "ends_at",
        "consultation_ids", "priorities", "themes", "status",
    ),
    "engagement_event_cancelled": ("engagement_event_id",),
    "registration_made": ("registration_id", "engagement_event_id", "status", "places", "place"),
    # a registration's status or places changed (promoted from the waiting list, moved to it)
    "registration_changed": (
        "registration_id", "engagement_event_id", "status", "places", "place",
    ),
    "registration_cancelled": ("registration_id", "engagement_event_id"),
    "attendance_recorded": (
        "engagement_event_id", "place", "registered", "attended", "walk_ins", "no_shows",
    ),
    "point_heard": (
        "point_id", "engagement_event_id", "themes", "tone", "place", "consultation_ids",
        "heard_at",
    ),
    "point_withdrawn": ("point_id", "engagement_event_id"),
    # one person came (or was marked absent after all); equality: Census groups only
    "attendee_recorded": (
        "registration_id", "engagement_event_id", "place", "consultation_ids", "attended",
        "heard_at", "equality",
    ),
    "registration_erased": ("registration_id", "engagement_event_id"),
    "quote_published": (
        "point_id", "engagement_event_id", "quote", "place", "themes", "consultation_ids",
    ),
}  # fmt: skip


def local_date(moment_: datetime) -> date:
    return moment_.astimezone(LONDON).date()
