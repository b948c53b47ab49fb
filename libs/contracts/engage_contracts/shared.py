"""Shapes every service shares for what residents give (defined once, here)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

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
