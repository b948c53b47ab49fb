"""Shapes every service shares for what residents give (defined once, here):

- ``channel``: how it reached us, and ``entered_by``: the staff member who entered it on
  the resident's behalf (every channel but the two a resident uses themselves);
- consent to a versioned privacy wording (``ConsentSchema``, ``check_consent``).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engage_contracts.base import BaseSchema, messages
from engage_contracts.reference import CONSENT_WORDINGS


class ConsentSchema(BaseSchema):
    """A resident's agreement to the privacy wording of ``version`` (the consultation's
    ``consent``). The wording itself is the server's: it is stored from ``version``."""

    given = fields.Boolean(
        required=True,
        error_messages=messages(invalid="must be true or false"),
        metadata={"description": "must be true (``domain.check_consent``)"},
    )
    version = fields.String(
        required=True,
        error_messages=messages(invalid="must be text"),
        metadata={"enum": list(CONSENT_WORDINGS)},
    )


class ConsentWordingSchema(Schema):
    """The privacy wording a consultation asks residents to agree to."""

    version = fields.String()
    wording = fields.String()


class StoredConsentSchema(Schema):
    """Consent as stored with a response (``version`` is absent on the oldest ones)."""

    given = fields.Boolean()
    version = fields.String(allow_none=True)
    wording = fields.String()


def check_consent(consent: Any) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """``({given: True, version}, {})`` when the resident agreed to a wording we use,
    else ``(None, errors)``: nothing is stored without consent."""
    if not isinstance(consent, dict):
        return None, {"consent": ["is required: agree to how we use your answers"]}
    errors = {}
    if consent.get("given") is not True:
        errors["consent.given"] = [
            "must be true: we can only store a response you agree we may use"
        ]
    if consent.get("version") not in CONSENT_WORDINGS:
        errors["consent.version"] = [
            "is not a privacy wording we use: reload the consultation to see the current one"
        ]
    if errors:
        return None, errors
    return {"given": True, "version": consent["version"]}, {}


# How something a resident gave reached us. "online" is the JSON API (an app, a partner's
# site); "web-form" is Engage's own pages; the rest are entered by staff for the resident.
CHANNELS = ("online", "web-form", "phone", "paper", "email", "letter", "event", "partner")
SELF_SERVICE_CHANNELS = ("online", "web-form")


class EnteredBySchema(BaseSchema):
    """The staff member who entered something on a resident's behalf."""

    staff_id = fields.Integer(required=True, strict=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


def channel_field(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.OneOf(CHANNELS, error="must be one of " + ", ".join(CHANNELS)),
        error_messages=messages(invalid="must be text"),
        metadata={"description": "how it reached us"},
        **kwargs,
    )


def check_channel(channel: str, entered_by: dict[str, Any] | None) -> dict[str, list[str]]:
    """Staff-entered channels name who entered them; a resident's own never do."""
    if channel in SELF_SERVICE_CHANNELS and entered_by is not None:
        return {"entered_by": [f"must be empty for the {channel} channel"]}
    if channel not in SELF_SERVICE_CHANNELS and entered_by is None:
        return {"entered_by": [f"name the staff member who entered this ({channel})"]}
    return {}
