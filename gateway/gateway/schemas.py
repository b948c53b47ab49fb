"""The gateway's own marshmallow schemas (errors, receipts, tokens, reference data,
query filters) and ``load``, which turns marshmallow errors into a 422 naming each field.

Consultation, question, outcome, response and results schemas are the surveys
service's contract (``engage_contracts.surveys``), imported, not copied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from engage_contracts import base
from engage_contracts import surveys as contract
from engage_contracts.reference import PLACES, PRIORITIES
from gateway.errors import ApiError


def flatten_errors(messages: Any) -> dict[str, list[str]]:
    """The contract's flattening (``{"answers": {"q1": ["x"]}}`` -> ``{"answers.q1": ["x"]}``),
    with errors about the whole request body under ``body``."""
    return {
        ("body" if path == "_schema" else path): reasons
        for path, reasons in base.flatten_errors(messages).items()
    }


def load(schema: Schema, data: Any, what: str = "body") -> Any:
    """Validate ``data``; a 422 ApiError listing every bad field otherwise."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        message = (
            "Some fields need correcting."
            if what == "body"
            else "Some query parameters are not valid."
        )
        raise ApiError(message, fields=flatten_errors(exc.messages), status=422) from exc


class GatewaySchema(base.BaseSchema):
    """Base for the gateway's own request schemas: the contract's plain-English messages."""


# -- errors ------------------------------------------------------------------------------------


class ErrorDetailSchema(Schema):
    status = fields.Integer(required=True, metadata={"example": 422})
    message = fields.String(required=True)
    field_errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        data_key="fields",
        metadata={"description": "field path -> reasons", "example": {"title": ["is required"]}},
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


# -- public ------------------------------------------------------------------------------------


class PublicListQuerySchema(GatewaySchema):
    place = fields.String(validate=validate.OneOf(list(PLACES), error="choose one of the places"))
    priority = fields.String(
        validate=validate.OneOf(list(PRIORITIES), error="choose one of the priorities")
    )
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(["open", "closed"]),
        metadata={"description": "open (default) or closed, to see outcomes"},
    )


class SubmissionAcceptedSchema(Schema):
    """The 202 answer to a submitted response."""

    receipt_code = fields.String(required=True, metadata={"example": "K7QM-2XRT-HP4D"})
    status = fields.String(required=True, metadata={"example": "received"})
    consultation_id = fields.String(required=True)


class ReferenceOptionSchema(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)


class EqualityQuestionSchema(Schema):
    id = fields.String(required=True)
    text = fields.String(required=True)
    hint = fields.String()
    free_text = fields.Boolean()
    options = fields.List(fields.Nested(ReferenceOptionSchema), required=True)
    groups = fields.List(fields.Dict())


class ReferenceSchema(Schema):
    places = fields.List(fields.Nested(ReferenceOptionSchema), required=True)
    priorities = fields.List(fields.Nested(ReferenceOptionSchema), required=True)
    equality_questions = fields.List(fields.Nested(EqualityQuestionSchema), required=True)


# -- staff -------------------------------------------------------------------------------------

ROLE_VALUES = ["admin", "engagement-officer", "analyst", "board-viewer"]


class StaffUserSchema(GatewaySchema):
    id = fields.Integer(dump_only=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLE_VALUES))
    created_at = fields.DateTime(dump_only=True)


class StaffUserUpdateSchema(GatewaySchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    role = fields.String(validate=validate.OneOf(ROLE_VALUES))


class TokenSchema(Schema):
    prefix = fields.String(
        metadata={"description": "public id of the token", "example": "eng_3f9a1c2b"}
    )
    label = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(metadata={"description": "the token stops working then"})
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    state = fields.Function(
        lambda t: token_state(t), metadata={"enum": ["active", "revoked", "expired"]}
    )


def token_state(token: dict[str, Any]) -> str:
    if token.get("revoked_at"):
        return "revoked"
    expires = token.get("expires_at")
    return "expired" if expires is not None and expires <= datetime.now(UTC) else "active"


class IssuedTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "shown once; store it safely"})


class TokenIssueSchema(GatewaySchema):
    email = fields.Email(required=True)
    label = fields.String(load_default="", validate=validate.Length(max=200))
    valid_days = fields.Integer(
        strict=True,
        validate=validate.Range(
            min=1, max=365, error="must be a whole number of days from 1 to 365"
        ),
        metadata={
            "description": "days the token works for: up to TOKEN_TTL_DAYS (90 unless "
            "configured), which is also the default"
        },
    )


class TokenListSchema(Schema):
    tokens = fields.List(fields.Nested(TokenSchema))


class StaffListSchema(Schema):
    staff = fields.List(fields.Nested(StaffUserSchema))


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    token_prefix = fields.String()


# -- privacy: erasure requests and the audit log ------------------------------------------------


class ErasureRequestSchema(GatewaySchema):
    """An erasure request: find what is held about a person, then (``confirm``) erase it."""

    receipt_code = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=40)
    )
    text = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=3, max=200, error="must be 3 to 200 characters"),
        metadata={
            "description": "e.g. a name or email address a resident typed into a free-text answer"
        },
    )
    confirm = fields.Boolean(
        load_default=False,
        metadata={"description": "false: only find; true: erase everything found"},
    )


class ErasureResultSchema(Schema):
    found = fields.List(fields.Nested(contract.PersonalDataResponseSchema))
    truncated = fields.Boolean()
    erased = fields.Integer(metadata={"description": "responses erased (0 unless confirm)"})
    services_checked = fields.Dict(keys=fields.String(), values=fields.String())


class AuditEntrySchema(Schema):
    id = fields.Integer()
    staff_user_id = fields.Integer(allow_none=True)
    email = fields.String(allow_none=True)
    action = fields.String()
    target = fields.String()
    at = fields.DateTime(format="iso")


class AuditLogSchema(Schema):
    entries = fields.List(fields.Nested(AuditEntrySchema))


class AuditQuerySchema(GatewaySchema):
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000),
        error_messages={"invalid": "must be a whole number"},
    )
