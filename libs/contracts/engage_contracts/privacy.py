"""What every service that holds residents' data answers the same way: looking a
submission up by its receipt code, an erasure request's search (UK GDPR), the retention
purge. Surveys and feedback both load their arguments with these schemas; the gateway
reads their answers with ``PersonalDataMatchSchema``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validates_schema

from engage_contracts.base import BaseSchema, messages, string

SEARCH_TEXT_MIN = 3
SEARCH_TEXT_MAX = 200


def receipt_code_key(value: Any) -> str:
    """A receipt code as it is stored: residents type it in any case, with spaces around it.

    Any value is taken as text: whatever is not a code is simply not found.
    """
    return str(value).strip().upper()


class ReceiptCodeSchema(BaseSchema):
    """The argument of every lookup by receipt code (surveys' ``get_submission``,
    ``get_my_response``, ``delete_my_response``; feedback's ``get_receipt``,
    ``get_my_feedback``, ``delete_my_feedback``, ``stop_emails``), keyed as stored
    (``receipt_code_key``); a code the service does not hold is ``NotFound``."""

    receipt_code = fields.String(required=True, error_messages=messages(invalid="must be text"))

    @pre_load
    def _as_stored(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping) and "receipt_code" in data:
            return {**data, "receipt_code": receipt_code_key(data["receipt_code"])}
        return data


class PersonalDataSearchSchema(BaseSchema):
    """The arguments of ``find_personal_data``: a receipt code (keyed as stored) and/or a
    text a person may have typed (a name, an email), trimmed; at least one of them."""

    receipt_code = fields.String(allow_none=True, load_default=None)
    text = string(
        min_length=SEARCH_TEXT_MIN, max_length=SEARCH_TEXT_MAX, allow_none=True, load_default=None
    )

    @pre_load
    def _trim(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        code, text = data.get("receipt_code"), data.get("text")
        return {
            **data,
            "receipt_code": (receipt_code_key(code) or None) if code else None,
            "text": text.strip() if isinstance(text, str) else text,
        }

    @validates_schema
    def _something_to_find(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("receipt_code") and not data.get("text"):
            raise ValidationError("give a receipt code, a text to search for, or both")


class PurgeExpiredSchema(BaseSchema):
    """The argument of ``purge_expired``: the moment to purge as of, with a time zone
    (tests pass one); empty means now."""

    now = fields.AwareDateTime(
        format="iso",
        allow_none=True,
        load_default=None,
        error_messages=messages(
            invalid="must be a date and time", invalid_awareness="must include a time zone"
        ),
    )

    @pre_load
    def _empty_is_now(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("now"):
            return {**data, "now": None}
        return data


class PersonalDataMatchSchema(Schema):
    """Where an erasure search matched one thing a resident gave: the field and its text."""

    field = fields.String(
        metadata={
            "description": "surveys: receipt_code, answers.<question id> or "
            "equality.postcode_district; feedback: receipt_code, text, about, email or "
            "postcode_district"
        }
    )
    text = fields.String()
