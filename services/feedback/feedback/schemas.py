"""Marshmallow schemas for the feedback service's records (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from engage_contracts.shared import place_field, priority_field
from feedback.domain import CHANNELS, MAX_TEXT_LENGTH, THEME_SLUG, normalise_themes


class ThemeSchema(Schema):
    slug = fields.String(required=True, validate=validate.Regexp(THEME_SLUG))
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    created_at = fields.AwareDateTime(dump_only=True)


class FeedbackItemSchema(Schema):
    """A piece of feedback as stored; ``themes`` are slugs (see ``domain.theme_slug``)."""

    id = fields.UUID(dump_only=True)
    submission_id = fields.UUID(required=True)
    receipt_code = fields.String(required=True, validate=validate.Length(min=4, max=32))
    place = place_field(outside_area=True, load_default=None, allow_none=True)
    priority = priority_field(load_default=None, allow_none=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT_LENGTH))
    themes = fields.List(fields.String(), load_default=list)
    submitted_at = fields.AwareDateTime(required=True)

    @validates("text")
    def _not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")

    @validates("themes")
    def _usable_themes(self, value: list[str], **_: Any) -> None:
        _, errors = normalise_themes(value)
        if errors:
            raise ValidationError(errors)

    @post_load
    def _slug_themes(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["themes"], _errors = normalise_themes(data["themes"])
        return data
