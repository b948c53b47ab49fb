"""Marshmallow schemas for the events service's records (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engage_contracts.shared import place_field
from events.domain import STATUSES, check_times


class AccessibilitySchema(Schema):
    """What the venue offers, so residents can judge before they register."""

    step_free = fields.Boolean(load_default=False)
    hearing_loop = fields.Boolean(load_default=False)
    bsl_interpreter = fields.Boolean(load_default=False)
    quiet_room = fields.Boolean(load_default=False)
    accessible_toilet = fields.Boolean(load_default=False)
    notes = fields.String(load_default="", validate=validate.Length(max=1000))


class EngagementEventSchema(Schema):
    id = fields.UUID(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=10000))
    place = place_field(outside_area=True, load_default=None, allow_none=True)
    venue = fields.String(required=True, validate=validate.Length(min=1, max=300))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    capacity = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=100000)
    )
    accessibility = fields.Nested(AccessibilitySchema, load_default=dict)
    status = fields.String(dump_only=True, validate=validate.OneOf(STATUSES))

    @validates_schema
    def _times(self, data: dict[str, Any], **_: Any) -> None:
        if "starts_at" in data and "ends_at" in data:
            errors = check_times(data["starts_at"], data["ends_at"])
            if errors:
                raise ValidationError(errors, field_name="ends_at")


class RegistrationSchema(Schema):
    id = fields.UUID(dump_only=True)
    engagement_event_id = fields.UUID(required=True)
    submission_id = fields.UUID(required=True)
    receipt_code = fields.String(required=True, validate=validate.Length(min=4, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact = fields.String(required=True, validate=validate.Length(min=3, max=320))
    access_needs = fields.String(load_default="", validate=validate.Length(max=2000))
    created_at = fields.AwareDateTime(dump_only=True)
