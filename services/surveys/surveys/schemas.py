"""Marshmallow schemas for every surveys boundary.

These are the surveys service's published contract: the gateway imports them to
build its OpenAPI document and to validate requests, and the service enforces
the very same schemas. They are pure (no I/O). Messages are plain English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from engage_common.reference import (
    CONSENT_WORDINGS,
    EQUALITY_FIELDS,
    EQUALITY_QUESTIONS,
    OUTSIDE_AREA,
    PLACES,
    PRIORITIES,
)
from engage_common.storable import DATE_MAX, DATE_MESSAGE, DATE_MIN, unstorable
from surveys import domain
from surveys import questionnaire as qn

PLACE_VALUES = [*PLACES, OUTSIDE_AREA]


def _msgs(**extra: str) -> dict[str, str]:
    return {
        "required": "is required",
        "null": "cannot be empty",
        "invalid": "is not the right kind of value",
        **extra,
    }


def _text(
    required: bool = False, max_length: int = 500, min_length: int = 0, **kwargs: Any
) -> fields.String:
    validators = [
        validate.Length(
            min=min_length,
            max=max_length,
            error=f"must be {min_length} to {max_length} characters"
            if min_length
            else f"must be {max_length} characters or fewer",
        )
    ]
    return fields.String(
        required=required,
        validate=validators,
        error_messages=_msgs(invalid="must be text"),
        **kwargs,
    )


def _when(required: bool = False, **kwargs: Any) -> fields.AwareDateTime:
    return fields.AwareDateTime(
        required=required,
        format="iso",
        validate=validate.Range(min=DATE_MIN, max=DATE_MAX, error=DATE_MESSAGE),
        error_messages=_msgs(
            invalid="must be a date and time, like 2026-03-01T09:00:00+00:00",
            invalid_awareness="must include a time zone, like +00:00",
        ),
        **kwargs,
    )


class BaseSchema(Schema):
    error_messages = {"unknown": "is not a field we know about", "type": "must be an object"}

    class Meta:
        unknown = RAISE

    @pre_load
    def _storable(self, data: Any, **kwargs: Any) -> Any:
        bad = unstorable(data)
        if bad:
            raise ValidationError(bad)
        return data


class OptionSchema(BaseSchema):
    value = _text(
        required=True,
        min_length=1,
        max_length=qn.MAX_OPTION_VALUE,
        metadata={"description": "Stored in answers; unique within the question"},
    )
    label = _text(required=True, min_length=1, max_length=qn.MAX_TEXT)


class ShowIfSchema(BaseSchema):
    question = fields.String(
        required=True,
        error_messages=_msgs(invalid="must be text"),
        metadata={"description": "id of an earlier question"},
    )
    equals = fields.List(
        fields.String(error_messages=_msgs(invalid="must be text")),
        required=True,
        validate=validate.Length(min=1, error="list at least one answer"),
        error_messages=_msgs(invalid="must be a list of answers"),
    )


class QuestionSchema(BaseSchema):
    id = fields.String(
        required=True,
        validate=validate.Regexp(
            qn.QUESTION_ID,
            error="must be 1 to 40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit",
        ),
        error_messages=_msgs(invalid="must be text"),
    )
    type = fields.String(
        required=True,
        validate=validate.OneOf(
            qn.QUESTION_TYPES, error="must be one of " + ", ".join(qn.QUESTION_TYPES)
        ),
        error_messages=_msgs(invalid="must be text"),
    )
    text = _text(required=True, min_length=1, max_length=qn.MAX_TEXT)
    hint = _text(max_length=qn.MAX_TEXT, allow_none=True)
    required = fields.Boolean(
        load_default=False, error_messages=_msgs(invalid="must be true or false")
    )
    options = fields.List(
        fields.Nested(OptionSchema),
        allow_none=True,
        error_messages=_msgs(invalid="must be a list of options"),
    )
    max_choices = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, error="must be at least 1"),
        error_messages=_msgs(invalid="must be a whole number"),
    )
    max_length = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(
            min=1, max=qn.MAX_LENGTH_LIMIT, error=f"must be from 1 to {qn.MAX_LENGTH_LIMIT}"
        ),
        error_messages=_msgs(invalid="must be a whole number"),
    )
    show_if = fields.Nested(ShowIfSchema, allow_none=True)


class QuestionnaireSchema(BaseSchema):
    questions = fields.List(
        fields.Nested(QuestionSchema),
        load_default=list,
        error_messages=_msgs(invalid="must be a list of questions"),
    )

    @validates_schema
    def _cross_checks(self, data: dict[str, Any], **kwargs: Any) -> None:
        raw = {
            "questions": [
                {k: v for k, v in q.items() if v is not None} for q in data.get("questions", [])
            ]
        }
        errors = qn.validate_questionnaire(raw)
        if errors:
            raise ValidationError(_nest(errors))


def _nest(flat: Mapping[str, list[str]]) -> dict[str, Any]:
    """``{"questions.0.id": [..]}`` -> ``{"questions": {0: {"id": [..]}}}`` (marshmallow's)."""
    out: dict[Any, Any] = {}
    for path, reasons in flat.items():
        node = out
        parts: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(parts[-1], []).extend(reasons)
    return out


class _ConsultationFields(BaseSchema):
    title = _text(min_length=1, max_length=200)
    summary = _text(min_length=1, max_length=500)
    description = _text(max_length=20000)
    places = fields.List(
        fields.String(
            validate=validate.OneOf(
                PLACE_VALUES[:-1], error="is not one of our places: " + ", ".join(PLACES)
            )
        ),
        error_messages=_msgs(invalid="must be a list of places"),
    )
    priorities = fields.List(
        fields.String(
            validate=validate.OneOf(
                list(PRIORITIES), error="is not one of the priorities: " + ", ".join(PRIORITIES)
            )
        ),
        error_messages=_msgs(invalid="must be a list of priorities"),
    )
    opens_at = _when(allow_none=True)
    closes_at = _when(allow_none=True)
    questionnaire = fields.Nested(QuestionnaireSchema)

    @validates_schema
    def _schedule(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = domain.check_schedule(data.get("opens_at"), data.get("closes_at"))
        if errors:
            raise ValidationError(errors)


class ConsultationCreateSchema(_ConsultationFields):
    """What staff send to create a draft consultation."""

    title = _text(required=True, min_length=1, max_length=200)
    summary = _text(required=True, min_length=1, max_length=500)
    description = _text(max_length=20000, load_default="")
    places = fields.List(
        fields.String(
            validate=validate.OneOf(
                list(PLACES), error="is not one of our places: " + ", ".join(PLACES)
            )
        ),
        load_default=list,
        error_messages=_msgs(invalid="must be a list of places"),
    )
    priorities = fields.List(
        fields.String(
            validate=validate.OneOf(
                list(PRIORITIES), error="is not one of the priorities: " + ", ".join(PRIORITIES)
            )
        ),
        load_default=list,
        error_messages=_msgs(invalid="must be a list of priorities"),
    )
    opens_at = _when(allow_none=True, load_default=None)
    closes_at = _when(allow_none=True, load_default=None)
    questionnaire = fields.Nested(QuestionnaireSchema, load_default=lambda: {"questions": []})


class ConsultationUpdateSchema(_ConsultationFields):
    """Changes to a consultation: any subset of the create fields. Once open, only
    ``title``, ``summary``, ``description`` and ``closes_at`` may change."""


class DecisionSchema(BaseSchema):
    you_said = _text(required=True, min_length=1, max_length=2000)
    we_did = _text(required=True, min_length=1, max_length=2000)
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            domain.DECISION_STATUSES, error="must be one of " + ", ".join(domain.DECISION_STATUSES)
        ),
        error_messages=_msgs(invalid="must be text"),
    )
    reason = _text(max_length=2000, allow_none=True)

    @validates_schema
    def _reason(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("status") == "not-taken-forward" and not (data.get("reason") or "").strip():
            raise ValidationError({"reason": ["explain why this was not taken forward"]})


class OutcomeSchema(BaseSchema):
    """The "you said, we did" outcome staff publish once a consultation has closed."""

    summary = _text(required=True, min_length=1, max_length=5000)
    decisions = fields.List(
        fields.Nested(DecisionSchema),
        required=True,
        validate=validate.Length(min=1, error="add at least one decision"),
        error_messages=_msgs(invalid="must be a list of decisions"),
    )
    published_at = _when(dump_only=True)


class ConsentSchema(BaseSchema):
    """A resident's agreement to the privacy wording of ``version`` (the consultation's
    ``consent``). The wording itself is the server's: it is stored from ``version``."""

    given = fields.Boolean(
        required=True,
        error_messages=_msgs(invalid="must be true or false"),
        metadata={"description": "must be true (``domain.check_consent``)"},
    )
    version = fields.String(
        required=True,
        error_messages=_msgs(invalid="must be text"),
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


class ResponseInputSchema(BaseSchema):
    """What a resident sends. Answers are checked against the questionnaire with
    ``questionnaire.validate_answers``, equality answers with ``validate_equality``."""

    answers = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        error_messages=_msgs(invalid="must be an object of answers keyed by question id"),
        metadata={"description": "Keyed by question id"},
    )
    equality = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        allow_none=True,
        load_default=None,
        error_messages=_msgs(invalid="must be an object of answers"),
        metadata={
            "description": "Optional equality monitoring; fields: " + ", ".join(EQUALITY_FIELDS)
        },
    )
    place = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(PLACE_VALUES, error="choose one of the places"),
        error_messages=_msgs(invalid="must be text"),
    )
    consent = fields.Nested(
        ConsentSchema,
        required=True,
        error_messages=_msgs(
            required="is required: agree to how we use your answers, as "
            "{{given: true, version: <the consultation's consent version>}}"
        ),
    )


class SubmissionSchema(ResponseInputSchema):
    """The message the gateway queues on ``surveys.submissions`` for the service to store."""

    submission_id = fields.UUID(required=True, error_messages=_msgs(invalid="must be a UUID"))
    receipt_code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        error_messages=_msgs(invalid="must be text"),
    )
    consultation_id = fields.String(required=True, error_messages=_msgs(invalid="must be text"))
    submitted_at = _when(required=True)


class ConsultationSchema(Schema):
    """A consultation as the RPC and the API return it."""

    id = fields.String()
    title = fields.String()
    summary = fields.String()
    description = fields.String()
    places = fields.List(fields.String())
    priorities = fields.List(fields.String())
    opens_at = fields.AwareDateTime(format="iso", allow_none=True)
    closes_at = fields.AwareDateTime(format="iso", allow_none=True)
    status = fields.String(validate=validate.OneOf(domain.STATUSES))
    accepting_responses = fields.Boolean()
    questionnaire = fields.Nested(QuestionnaireSchema)
    outcome = fields.Nested(OutcomeSchema, allow_none=True)
    consent = fields.Nested(
        ConsentWordingSchema,
        metadata={"description": "the privacy wording a response must agree to (send its version)"},
    )
    response_count = fields.Integer()
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")
    opened_at = fields.AwareDateTime(format="iso", allow_none=True)
    closed_at = fields.AwareDateTime(format="iso", allow_none=True)


class ConsultationFiltersSchema(BaseSchema):
    """Filters for ``list_consultations``."""

    status = fields.String(
        validate=validate.OneOf(
            domain.STATUSES, error="must be one of " + ", ".join(domain.STATUSES)
        )
    )
    place = fields.String(validate=validate.OneOf(list(PLACES), error="choose one of the places"))
    priority = fields.String(
        validate=validate.OneOf(list(PRIORITIES), error="choose one of the priorities")
    )
    accepting = fields.Boolean(error_messages=_msgs(invalid="must be true or false"))


def _equality_filter(question: dict[str, Any]) -> fields.String:
    if question.get("free_text"):
        return fields.String(validate=validate.Length(min=1, max=10))
    values = [o["value"] for o in question["options"]]
    return fields.String(validate=validate.OneOf(values, error="is not one of the options"))


ResultsFiltersSchema = Schema.from_dict(
    {
        "place": fields.String(
            validate=validate.OneOf(PLACE_VALUES, error="choose one of the places")
        ),
        **{q["id"]: _equality_filter(q) for q in EQUALITY_QUESTIONS},
    },
    name="ResultsFiltersSchema",
)
ResultsFiltersSchema.error_messages = BaseSchema.error_messages


class OptionResultSchema(Schema):
    value = fields.Raw()
    label = fields.String()
    count = fields.Integer()
    percent = fields.Float()


class RankingResultSchema(Schema):
    value = fields.String()
    label = fields.String()
    mean_rank = fields.Float(allow_none=True)
    first_choice = fields.Integer()


class FreeTextResultSchema(Schema):
    response_id = fields.Integer()
    text = fields.String()


class QuestionResultSchema(Schema):
    id = fields.String()
    type = fields.String()
    text = fields.String()
    answered = fields.Integer()
    options = fields.List(fields.Nested(OptionResultSchema))
    mean = fields.Float(allow_none=True)
    distribution = fields.List(fields.Nested(OptionResultSchema))
    ranking = fields.List(fields.Nested(RankingResultSchema))
    free_text = fields.List(fields.Nested(FreeTextResultSchema))
    free_text_truncated = fields.Boolean()


class ResultsSchema(Schema):
    """Aggregated results of a consultation (``get_results``)."""

    consultation_id = fields.String()
    total_responses = fields.Integer()
    filters = fields.Dict(keys=fields.String(), values=fields.String())
    questions = fields.List(fields.Nested(QuestionResultSchema))


class ReceiptSchema(Schema):
    """What ``get_submission`` returns for a receipt code."""

    receipt_code = fields.String()
    consultation_id = fields.String()
    status = fields.String(validate=validate.OneOf(("stored", "rejected")))
    reasons = fields.List(fields.String())
    submitted_at = fields.String()


class MyResponseSchema(Schema):
    """What ``get_my_response`` returns: everything held about one response."""

    receipt_code = fields.String()
    consultation_id = fields.String()
    consultation_title = fields.String()
    answers = fields.Dict(keys=fields.String(), values=fields.Raw())
    equality = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    place = fields.String(allow_none=True)
    consent = fields.Nested(StoredConsentSchema, allow_none=True)
    submitted_at = fields.String()
    purged_at = fields.String(
        allow_none=True,
        metadata={
            "description": "when free text, postcode and consent were purged after the "
            "retention period"
        },
    )


class ResponseDeletedSchema(Schema):
    """What ``delete_my_response`` returns."""

    receipt_code = fields.String()
    deleted = fields.Boolean()


class PersonalDataMatchSchema(Schema):
    field = fields.String(
        metadata={
            "description": "receipt_code, answers.<question id> or equality.postcode_district"
        }
    )
    text = fields.String()


class PersonalDataResponseSchema(Schema):
    response_id = fields.Integer()
    receipt_code = fields.String()
    consultation_id = fields.String()
    submitted_at = fields.String()
    matches = fields.List(fields.Nested(PersonalDataMatchSchema))


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict -> ``{"a.0.b": [reasons]}`` (the contract's shape)."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "_schema"
            for k, v in flatten_errors(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for k, v in flatten_errors(item, prefix).items():
                out.setdefault(k, []).extend(v)
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def load(schema: Schema, data: Any, prefix: str = "") -> dict[str, Any]:
    """Load ``data`` or raise ``ValidationFailed`` with flattened, prefixed paths."""
    from engage_common.errors import ValidationFailed

    if data is None:
        data = {}
    bad = unstorable(data)
    if bad:
        raise ValidationFailed({(f"{prefix}.{p}" if prefix else p): v for p, v in bad.items()})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(flatten_errors(exc.messages, prefix)) from None


__all__ = [
    "ConsentSchema",
    "ConsentWordingSchema",
    "ConsultationCreateSchema",
    "ConsultationFiltersSchema",
    "ConsultationSchema",
    "ConsultationUpdateSchema",
    "DecisionSchema",
    "MyResponseSchema",
    "OptionSchema",
    "OutcomeSchema",
    "QuestionSchema",
    "QuestionnaireSchema",
    "ReceiptSchema",
    "ResponseDeletedSchema",
    "StoredConsentSchema",
    "ResponseInputSchema",
    "ResultsFiltersSchema",
    "ResultsSchema",
    "ShowIfSchema",
    "SubmissionSchema",
    "flatten_errors",
    "load",
]
