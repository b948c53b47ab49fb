"""The gateway's own marshmallow schemas (errors, receipts, tokens, reference data,
query filters) and ``load``, which turns marshmallow errors into a 422 naming each field.

Consultation, question, outcome, response and results schemas are the surveys
service's published contract (``surveys.schemas``), imported, not copied.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from engage_common.reference import EQUALITY_FIELDS, PLACES, PRIORITIES
from gateway.errors import ApiError

PLACE_VALUES = [*PLACES, "outside-area"]


def flatten_errors(messages: Any, path: str = "") -> dict[str, list[str]]:
    """``{"answers": {"q1": ["x"]}}`` -> ``{"answers.q1": ["x"]}``; ``_schema`` -> the parent."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            key = str(key)
            child = path if key == "_schema" else (f"{path}.{key}" if path else key)
            for name, reasons in flatten_errors(value, child).items():
                flat.setdefault(name, []).extend(reasons)
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {path or "body": list(messages)}
    if isinstance(messages, list):
        flat = {}
        for m in messages:
            for name, reasons in flatten_errors(m, path).items():
                flat.setdefault(name, []).extend(reasons)
        return flat
    return {path or "body": [str(messages)]}


def load(schema: Schema, data: Any, what: str = "body") -> Any:
    """Validate ``data``; a 422 ApiError listing every bad field otherwise."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        message = ("Some fields need correcting." if what == "body"
                   else "Some query parameters are not valid.")
        raise ApiError(message, fields=flatten_errors(exc.messages), status=422) from exc


# -- errors ------------------------------------------------------------------------------------

class ErrorDetailSchema(Schema):
    status = fields.Integer(required=True, metadata={"example": 422})
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         required=True,
                         metadata={"description": "field path -> reasons",
                                   "example": {"title": ["Missing data for required field."]}})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


# -- public ------------------------------------------------------------------------------------

class PublicListQuerySchema(Schema):
    place = fields.String(validate=validate.OneOf(PLACE_VALUES))
    priority = fields.String(validate=validate.OneOf(list(PRIORITIES)))
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "closed"]),
                           metadata={"description": "open (default) or closed, to see outcomes"})


class ReceiptSchema(Schema):
    receipt_code = fields.String(required=True, metadata={"example": "K7QM-2XRT-HP4D"})
    status = fields.String(required=True, metadata={"example": "received"})
    consultation_id = fields.String(required=True)


class SubmissionStatusSchema(Schema):
    receipt_code = fields.String(required=True)
    consultation_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["stored", "rejected"]))
    reasons = fields.Raw(allow_none=True)
    submitted_at = fields.String(allow_none=True)


class OptionSchema(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)


class EqualityQuestionSchema(Schema):
    id = fields.String(required=True)
    text = fields.String(required=True)
    hint = fields.String()
    free_text = fields.Boolean()
    options = fields.List(fields.Nested(OptionSchema), required=True)
    groups = fields.List(fields.Dict())


class ReferenceSchema(Schema):
    places = fields.List(fields.Nested(OptionSchema), required=True)
    priorities = fields.List(fields.Nested(OptionSchema), required=True)
    equality_questions = fields.List(fields.Nested(EqualityQuestionSchema), required=True)


# -- staff -------------------------------------------------------------------------------------

class StaffListQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["draft", "open", "closed"]))
    place = fields.String(validate=validate.OneOf(PLACE_VALUES))
    priority = fields.String(validate=validate.OneOf(list(PRIORITIES)))
    accepting = fields.Boolean()


ResultsQuerySchema = Schema.from_dict(
    {"place": fields.String(validate=validate.OneOf(PLACE_VALUES)),
     **{name: fields.String(validate=validate.Length(min=1, max=100),
                            metadata={"description": f"only respondents whose {name} is this"})
        for name in EQUALITY_FIELDS}},
    name="ResultsQuerySchema",
)


ROLE_VALUES = ["admin", "engagement-officer", "analyst", "board-viewer"]


class StaffUserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLE_VALUES))
    created_at = fields.DateTime(dump_only=True)


class TokenSchema(Schema):
    prefix = fields.String(metadata={"description": "public id of the token",
                                     "example": "eng_3f9a1c2b"})
    label = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class IssuedTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "shown once; store it safely"})


class TokenIssueSchema(Schema):
    email = fields.Email(required=True)
    label = fields.String(load_default="", validate=validate.Length(max=200))


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
