"""The surveys service's contract: the marshmallow schemas of its RPC arguments and
results, its events and the submissions queued for it, and the rules the gateway and
surveys both apply to a resident's response (so a response the gateway accepts while
surveys is down is judged by the same rules surveys stores it by). Pure: no I/O.

RPC (service ``surveys``; docs/architecture.md has the full table), every method raising
``NotFound``/``Conflict``/``ValidationFailed``:

- ``health()``; ``create_consultation(data)``, ``update_consultation(id, changes)``,
  ``open_consultation(id)``, ``close_consultation(id)``, ``publish_outcome(id, outcome)``,
  ``get_consultation(id)``, ``list_consultations(filters)``: ``ConsultationSchema``
- ``validate_submission(id, submission)``; ``get_submission(receipt_code)``: ``ReceiptSchema``
- ``get_results(id, filters)``: ``ResultsSchema`` (free text as redacted)
- ``export_responses(id, after, limit)``: ``ExportPageSchema`` in, ``ExportRowsSchema``
  out (``rows`` one JSON text; free text as redacted)
- ``get_my_response(receipt_code)``: ``MyResponseSchema`` (the resident's own words, as sent);
  ``delete_my_response(receipt_code)``: ``ResponseDeletedSchema``
- ``find_personal_data(receipt_code, text)``: searches the original words;
  ``erase_responses(response_ids)``; ``purge_expired(now)``
- ``free_text_answers(consultation_id, question_id, after, limit)``: ``FreeTextPageSchema``
  in (with ``question_id``), ``FreeTextAnswersSchema`` out: one free-text question's answers,
  redacted, with suggested and confirmed themes and tone, a keyset page at a time
- ``confirm_answer_themes(response_id, question_id, themes, tone, actor)``:
  ``ConfirmAnswerThemesSchema`` in (themes: slugs of themes in use, several allowed; tone
  one of ``TONES`` or null; ``actor`` as feedback's ``ActorSchema``), ``FreeTextAnswerSchema``
  out; records ``answer_themed``
- ``upload_easy_read_image(consultation_id, image)``: ``ImageUploadSchema`` in (PNG or JPEG
  by content, up to 500 KB, alt text required), ``ImageSchema`` out;
  ``set_easy_read(consultation_id, easy_read)``: ``EasyReadSchema`` in (checked by
  ``check_easy_read``; ``None`` removes it), ``ConsultationSchema`` out, records
  ``consultation_updated``; ``get_easy_read_image(consultation_id, sha256)``:
  ``ImageFileSchema``

Free text shown to staff is always the redacted text (``engage_common.redaction``). A
response stored before redaction existed is redacted by a backfill; until then what staff
are shown of it is redacted as it is read, never the original.

Events (source ``surveys``): ``EVENT_FIELDS``. Surveys also handles feedback's
``theme_saved`` (its copy of the theme taxonomy).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import questionnaire as qn
from engage_contracts.base import BaseSchema, Moment, messages, moment, nest, string
from engage_contracts.feedback import (
    MAX_THEMES,
    THEME_SLUG,
    TONES,
    ActorSchema,
    ThemeSuggestionSchema,
)
from engage_contracts.privacy import (
    PersonalDataMatchSchema,
)
from engage_contracts.reference import (
    ALL_EQUALITY_FIELDS,
    EQUALITY_FIELDS,
    EQUALITY_SETS,
    OUTSIDE_AREA,
    PREFER_NOT_TO_SAY,
    place_for_postcode_district,
    places,
    validate_equality,
)
from engage_contracts.shared import (
    SELF_SERVICE_CHANNELS,
    ConsentSchema,
    ConsentWordingSchema,
    EnteredBySchema,
    LocalisedText,
    StoredConsentSchema,
    channel_field,
    check_channel,
    check_consent,
    hear_back_field,
    localised,
    place_field,
    priority_field,
)

STATUSES = ("draft", "open", "closed")
DECISION_STATUSES = ("planned", "in-progress", "done", "not-taken-forward")
EXPORT_DEFAULT_LIMIT = 1000
EXPORT_MAX_LIMIT = 5000
ERASE_MAX = 1000
FREE_TEXT_DEFAULT_LIMIT = 50
FREE_TEXT_MAX_LIMIT = 200

# -- events (source "surveys") ----------------------------------------------------------------
# Each carries event_id, event_type and occurred_at (engage_common.outbox) beside these. None
# carries what a resident wrote.
_CONSULTATION_EVENT = (
    "consultation_id", "title", "summary", "places", "priorities", "status", "opens_at",
    "closes_at", "closed_at",
)  # fmt: skip
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "consultation_opened": _CONSULTATION_EVENT,
    "consultation_updated": _CONSULTATION_EVENT,
    "consultation_closed": _CONSULTATION_EVENT,
    "outcome_published": (*_CONSULTATION_EVENT, "outcome"),
    # equality: the Census groups and IMD decile only (engage_contracts.population)
    "response_submitted": (
        "consultation_id", "response_id", "receipt_code", "place", "channel", "submitted_at",
        "equality",
    ),
    "response_deleted": ("response_id", "consultation_id", "place"),
    # staff confirmed (or changed) the themes and tone of one free-text answer
    "answer_themed": (
        "response_id", "consultation_id", "question_id", "themes", "tone", "place", "channel",
    ),
}  # fmt: skip


# -- rules both sides apply ---------------------------------------------------------------


def accepting_responses(consultation: dict[str, Any], now: datetime) -> bool:
    opens_at, closes_at = consultation.get("opens_at"), consultation.get("closes_at")
    return (
        consultation.get("status") == "open"
        and opens_at is not None
        and closes_at is not None
        and opens_at <= now < closes_at
    )


def accepting_submission(consultation: dict[str, Any], submitted_at: datetime) -> bool:
    """Whether a queued submission may still be stored: the consultation is still open
    (staff have not closed it meanwhile) and it was submitted within the open window."""
    return accepting_responses(consultation, submitted_at)


def check_schedule(opens_at: datetime | None, closes_at: datetime | None) -> dict[str, list[str]]:
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        return {"closes_at": ["must be after the opening date"]}
    return {}


def check_submission(
    consultation: dict[str, Any], submission: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean a resident's response (answers, equality, place) against a consultation.

    Returns ``({"answers", "equality", "place", "consent"}, errors)``. When the resident
    gave no place but gave a postcode district, the place is derived from the district.
    ``consent`` is ``{given, version}`` as the schema checked it (the wording is the
    server's, stored from the version).
    """
    answers, errors = qn.validate_answers(consultation["questionnaire"], submission.get("answers"))
    equality, equality_errors = validate_equality(submission.get("equality"))
    errors.update(equality_errors)
    place = submission.get("place")
    if place is not None and place not in places() and place != OUTSIDE_AREA:
        errors["place"] = ["choose one of the places"]
        place = None
    if place is None:
        place = derived_place(equality)
    consent, consent_errors = check_consent(submission.get("consent"))
    errors.update(consent_errors)
    return {
        "answers": answers,
        "equality": equality or None,
        "place": place,
        "consent": consent,
    }, errors


def validate_submission(
    consultation: dict[str, Any], submission: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A loaded ``ResponseInputSchema`` checked against the consultation, as both surveys
    and the gateway (while surveys is down) check it: the cleaned response, or
    ``Conflict`` when it is not accepting responses, or ``ValidationFailed``."""
    if not accepting_responses(consultation, now):
        raise Conflict("This consultation is not accepting responses")
    clean, errors = check_submission(consultation, submission)
    if errors:
        raise ValidationFailed(errors)
    return clean


def derived_place(equality: dict[str, Any] | None) -> str | None:
    district = (equality or {}).get("postcode_district")
    if not district or district == PREFER_NOT_TO_SAY:
        return None
    return place_for_postcode_district(district)


# -- schemas --------------------------------------------------------------------------------


class OptionSchema(BaseSchema):
    value = string(
        required=True,
        min_length=1,
        max_length=qn.MAX_OPTION_VALUE,
        metadata={"description": "Stored in answers; unique within the question"},
    )
    label = LocalisedText(required=True, min_length=1, max_length=qn.MAX_TEXT)


class ShowIfSchema(BaseSchema):
    question = fields.String(
        required=True,
        error_messages=messages(invalid="must be text"),
        metadata={"description": "id of an earlier question"},
    )
    equals = fields.List(
        fields.String(error_messages=messages(invalid="must be text")),
        required=True,
        validate=validate.Length(min=1, error="list at least one answer"),
        error_messages=messages(invalid="must be a list of answers"),
    )


class QuestionSchema(BaseSchema):
    id = fields.String(
        required=True,
        validate=validate.Regexp(
            qn.QUESTION_ID,
            error="must be 1 to 40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit",
        ),
        error_messages=messages(invalid="must be text"),
    )
    type = fields.String(
        required=True,
        validate=validate.OneOf(
            qn.QUESTION_TYPES, error="must be one of " + ", ".join(qn.QUESTION_TYPES)
        ),
        error_messages=messages(invalid="must be text"),
    )
    text = LocalisedText(required=True, min_length=1, max_length=qn.MAX_TEXT)
    hint = LocalisedText(max_length=qn.MAX_TEXT, allow_none=True)
    required = fields.Boolean(
        load_default=False, error_messages=messages(invalid="must be true or false")
    )
    options = fields.List(
        fields.Nested(OptionSchema),
        allow_none=True,
        error_messages=messages(invalid="must be a list of options"),
    )
    max_choices = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, error="must be at least 1"),
        error_messages=messages(invalid="must be a whole number"),
    )
    max_length = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(
            min=1, max=qn.MAX_LENGTH_LIMIT, error=f"must be from 1 to {qn.MAX_LENGTH_LIMIT}"
        ),
        error_messages=messages(invalid="must be a whole number"),
    )
    show_if = fields.Nested(ShowIfSchema, allow_none=True)


class QuestionnaireSchema(BaseSchema):
    questions = fields.List(
        fields.Nested(QuestionSchema),
        load_default=list,
        error_messages=messages(invalid="must be a list of questions"),
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
            raise ValidationError(nest(errors))


class _ConsultationFields(BaseSchema):
    title = LocalisedText(min_length=1, max_length=200)
    summary = LocalisedText(min_length=1, max_length=500)
    description = LocalisedText(max_length=20000)
    places = fields.List(place_field(), error_messages=messages(invalid="must be a list of places"))
    priorities = fields.List(
        priority_field(), error_messages=messages(invalid="must be a list of priorities")
    )
    opens_at = moment(allow_none=True)
    closes_at = moment(allow_none=True)
    questionnaire = fields.Nested(QuestionnaireSchema)

    @validates_schema
    def _schedule(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = check_schedule(data.get("opens_at"), data.get("closes_at"))
        if errors:
            raise ValidationError(errors)


class ConsultationCreateSchema(_ConsultationFields):
    """What staff send to create a draft consultation."""

    title = LocalisedText(required=True, min_length=1, max_length=200)
    summary = LocalisedText(required=True, min_length=1, max_length=500)
    description = LocalisedText(max_length=20000, load_default=lambda: {"en": ""})
    places = fields.List(
        place_field(),
        load_default=list,
        error_messages=messages(invalid="must be a list of places"),
    )
    priorities = fields.List(
        priority_field(),
        load_default=list,
        error_messages=messages(invalid="must be a list of priorities"),
    )
    opens_at = moment(allow_none=True, load_default=None)
    closes_at = moment(allow_none=True, load_default=None)
    questionnaire = fields.Nested(QuestionnaireSchema, load_default=lambda: {"questions": []})


class ConsultationUpdateSchema(_ConsultationFields):
    """Changes to a consultation: any subset of the create fields. Once open, only
    ``title``, ``summary``, ``description`` and ``closes_at`` may change."""


class DecisionSchema(BaseSchema):
    you_said = LocalisedText(required=True, min_length=1, max_length=2000)
    we_did = LocalisedText(required=True, min_length=1, max_length=2000)
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            DECISION_STATUSES, error="must be one of " + ", ".join(DECISION_STATUSES)
        ),
        error_messages=messages(invalid="must be text"),
    )
    reason = LocalisedText(max_length=2000, allow_none=True)

    @validates_schema
    def _reason(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("status") == "not-taken-forward" and not localised(data.get("reason")).strip():
            raise ValidationError({"reason": ["explain why this was not taken forward"]})


class OutcomeSchema(BaseSchema):
    """The "you said, we did" outcome staff publish once a consultation has closed."""

    summary = LocalisedText(required=True, min_length=1, max_length=5000)
    decisions = fields.List(
        fields.Nested(DecisionSchema),
        required=True,
        validate=validate.Length(min=1, error="add at least one decision"),
        error_messages=messages(invalid="must be a list of decisions"),
    )
    published_at = Moment(dump_only=True)


class ResponseInputSchema(BaseSchema):
    """What a resident sends. Answers are checked against the questionnaire with
    ``questionnaire.validate_answers``, equality answers with ``validate_equality``."""

    answers = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        error_messages=messages(invalid="must be an object of answers keyed by question id"),
        metadata={"description": "Keyed by question id"},
    )
    equality = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        allow_none=True,
        load_default=None,
        error_messages=messages(invalid="must be an object of answers"),
        metadata={
            "description": "Optional equality monitoring; fields: " + ", ".join(EQUALITY_FIELDS)
        },
    )
    place = place_field(outside_area=True, allow_none=True, load_default=None)
    consent = fields.Nested(
        ConsentSchema,
        required=True,
        error_messages=messages(
            required="is required: agree to how we use your answers, as "
            "{{given: true, version: <the consultation's consent version>}}"
        ),
    )
    hear_back_email = hear_back_field()


class StaffResponseInputSchema(ResponseInputSchema):
    """A response staff enter for a resident who answered on paper or by phone (or at an
    event): the resident's answers and consent, and the channel it came by."""

    channel = channel_field(required=True)

    @validates_schema
    def _not_self_service(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("channel") in SELF_SERVICE_CHANNELS:
            raise ValidationError(
                {"channel": ["residents answer online themselves: name how it reached you"]}
            )


class SubmissionSchema(ResponseInputSchema):
    """The message the gateway queues on ``surveys.submissions`` for the service to store."""

    submission_id = fields.UUID(required=True, error_messages=messages(invalid="must be a UUID"))
    receipt_code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        error_messages=messages(invalid="must be text"),
    )
    consultation_id = fields.String(required=True, error_messages=messages(invalid="must be text"))
    submitted_at = moment(required=True)
    channel = channel_field(required=True)
    entered_by = fields.Nested(EnteredBySchema, allow_none=True, load_default=None)

    @validates_schema
    def _who_entered_it(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = check_channel(data["channel"], data.get("entered_by"))
        if errors:
            raise ValidationError(errors)


# -- easy read ------------------------------------------------------------------------------
# A consultation (and each of its questions) may carry an easy-read version: short
# sentences, one idea each, with a picture and its alt text per point. Pictures are PNG or
# JPEG of up to ``IMAGE_MAX_BYTES``, kept by surveys and named by the sha256 of their bytes.

EASY_READ_MAX_POINTS = 30
EASY_READ_SENTENCE = 300  # characters of one point's sentence
ALT_MAX = 250  # characters of a picture's alt text
IMAGE_MAX_BYTES = 500 * 1024
IMAGE_MAX_PIXELS = 5000  # on either side
IMAGE_SIGNATURES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
IMAGE_LIMIT_MESSAGE = f"a picture may be at most 500 KB ({IMAGE_MAX_BYTES} bytes)"
NOT_AN_IMAGE = (
    "must be a PNG or JPEG picture: its content is neither (the file name does not count)"
)
UNKNOWN_IMAGE = "is not a picture uploaded for this consultation: upload it first"


def image_type(data: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` from the bytes' own signature (never a file name or
    a type the sender claims), else None."""
    for content_type, signature in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    return None


class ImageData(fields.String):
    """A picture sent as base64 text; loads to its bytes, checked for size and type."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", messages(invalid="must be text"))
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        # base64 is 4 characters for 3 bytes: refuse a too-large picture before decoding it
        if len(text) > (IMAGE_MAX_BYTES // 3 + 2) * 4 + 64:
            raise ValidationError(f"is too large: {IMAGE_LIMIT_MESSAGE}")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError("must be the picture's bytes in base64") from exc
        if len(raw) > IMAGE_MAX_BYTES:
            raise ValidationError(f"is {len(raw)} bytes: {IMAGE_LIMIT_MESSAGE}")
        if image_type(raw) is None:
            raise ValidationError(NOT_AN_IMAGE)
        return raw

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode("ascii")
        return value


def _sha256_field(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Regexp(SHA256, error="must be a picture's sha256 (64 hex digits)"),
        error_messages=messages(invalid="must be text"),
        metadata={"description": "the sha256 of a picture uploaded for this consultation"},
        **kwargs,
    )


class ImageUploadSchema(BaseSchema):
    """A picture for a consultation's easy-read version, with its alt text."""

    data = ImageData(
        required=True,
        metadata={
            "description": "the PNG or JPEG file's bytes, base64-encoded (at most 500 KB "
            "decoded); its type is read from its content",
            "format": "byte",
        },
    )
    alt = LocalisedText(
        required=True,
        min_length=1,
        max_length=ALT_MAX,
        metadata={"description": "what the picture shows, for people who cannot see it"},
    )


class ImageSchema(Schema):
    """A stored easy-read picture (``upload_easy_read_image``)."""

    sha256 = fields.String()
    content_type = fields.String(validate=validate.OneOf(tuple(IMAGE_SIGNATURES)))
    bytes = fields.Integer()
    width = fields.Integer()
    height = fields.Integer()
    alt = LocalisedText()


class ImageFileSchema(ImageSchema):
    """A stored picture with its bytes, base64 (``get_easy_read_image``)."""

    data = fields.String()


class ImageRequestSchema(BaseSchema):
    """The arguments of ``get_easy_read_image``."""

    sha256 = _sha256_field(required=True)


class _Pictured(BaseSchema):
    """A picture (by sha256) and its alt text; the alt text defaults to the one given when
    the picture was uploaded. ``width`` and ``height`` are filled in from the picture."""

    image = _sha256_field(allow_none=True, load_default=None)
    alt = LocalisedText(max_length=ALT_MAX, allow_none=True, load_default=None)
    width = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "the picture's, filled in by surveys (ignored when sent)"},
    )
    height = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "the picture's, filled in by surveys (ignored when sent)"},
    )

    @validates_schema
    def _alt_with_picture(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("alt") is not None and data.get("image") is None:
            raise ValidationError({"alt": ["give it with a picture (image)"]})


class EasyReadPointSchema(_Pictured):
    """One easy-read point: a short sentence, one idea, and its picture."""

    text = LocalisedText(required=True, min_length=1, max_length=EASY_READ_SENTENCE)


class EasyReadQuestionSchema(_Pictured):
    """The easy-read wording of one question; it replaces the standard wording, and the
    labels of any of its options given in ``options`` (the rest keep theirs)."""

    id = fields.String(
        required=True,
        error_messages=messages(invalid="must be text"),
        metadata={"description": "the id of one of the consultation's questions"},
    )
    text = LocalisedText(required=True, min_length=1, max_length=qn.MAX_TEXT)
    hint = LocalisedText(max_length=qn.MAX_TEXT, allow_none=True, load_default=None)
    options = fields.List(
        fields.Nested(OptionSchema),
        load_default=list,
        validate=validate.Length(
            max=qn.MAX_OPTIONS, error=f"give at most {qn.MAX_OPTIONS} options"
        ),
        error_messages=messages(invalid="must be a list of options"),
        metadata={
            "description": "easy-read labels of a choice, ranking or likert question's answers"
        },
    )


class EasyReadSchema(BaseSchema):
    """A consultation's easy-read version: its points in order, and the easy-read
    wording of any of its questions (the rest keep the standard wording)."""

    points = fields.List(
        fields.Nested(EasyReadPointSchema),
        required=True,
        validate=validate.Length(
            min=1,
            max=EASY_READ_MAX_POINTS,
            error=f"give 1 to {EASY_READ_MAX_POINTS} points",
        ),
        error_messages=messages(invalid="must be a list of points"),
    )
    questions = fields.List(
        fields.Nested(EasyReadQuestionSchema),
        load_default=list,
        error_messages=messages(invalid="must be a list of questions"),
    )

    @validates_schema
    def _once_each(self, data: dict[str, Any], **kwargs: Any) -> None:
        seen: set[str] = set()
        errors = {}
        for i, question in enumerate(data.get("questions") or []):
            if question["id"] in seen:
                errors[f"questions.{i}.id"] = ["is given twice"]
            seen.add(question["id"])
        if errors:
            raise ValidationError(nest(errors))


def check_easy_read(
    easy_read: dict[str, Any], questionnaire: dict[str, Any], images: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """An easy-read version (``EasyReadSchema`` loaded) checked against the consultation's
    questions and its uploaded pictures (``{sha256: ImageSchema}``), each picture's alt
    text (the uploaded one unless given), width and height filled in."""
    errors: dict[str, list[str]] = {}
    by_id = {q["id"]: q for q in questionnaire.get("questions") or []}
    ids = set(by_id)

    def pictured(item: dict[str, Any], path: str) -> dict[str, Any]:
        sha = item.get("image")
        if sha is None:
            return {**item, "image": None, "alt": None, "width": None, "height": None}
        found = images.get(sha)
        if found is None:
            errors[f"{path}.image"] = [UNKNOWN_IMAGE]
            return item
        return {
            **item,
            "alt": item.get("alt") or found["alt"],
            "width": found["width"],
            "height": found["height"],
        }

    points = [pictured(p, f"points.{i}") for i, p in enumerate(easy_read["points"])]
    questions = []
    for i, q in enumerate(easy_read.get("questions") or []):
        if q["id"] not in ids:
            errors[f"questions.{i}.id"] = ["is not a question of this consultation"]
        else:
            _check_easy_read_options(q, by_id[q["id"]], f"questions.{i}.options", errors)
        questions.append(pictured(q, f"questions.{i}"))
    return {"points": points, "questions": questions}, errors


OPTIONED = ("single_choice", "multiple_choice", "ranking", "likert")  # easy-read options


def _check_easy_read_options(
    easy: dict[str, Any], question: dict[str, Any], path: str, errors: dict[str, list[str]]
) -> None:
    """Each easy-read option names one of the question's answers, once."""
    options = easy.get("options") or []
    if options and question.get("type") not in OPTIONED:
        kind = question.get("type")
        errors[path] = [f"only choice, ranking and likert questions have options, not {kind}"]
        return
    values = qn.option_values(question)
    seen: set[str] = set()
    for j, option in enumerate(options):
        if option["value"] not in values:
            known = ", ".join(map(str, values))
            errors[f"{path}.{j}.value"] = [f"is not one of the question's options: {known}"]
        elif option["value"] in seen:
            errors[f"{path}.{j}.value"] = ["is given twice"]
        seen.add(option["value"])


class ConsultationSchema(Schema):
    """A consultation as the RPC and the API return it."""

    id = fields.String()
    title = LocalisedText()
    summary = LocalisedText()
    description = LocalisedText()
    places = fields.List(fields.String())
    priorities = fields.List(fields.String())
    opens_at = Moment(allow_none=True)
    closes_at = Moment(allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    accepting_responses = fields.Boolean()
    questionnaire = fields.Nested(QuestionnaireSchema)
    outcome = fields.Nested(OutcomeSchema, allow_none=True)
    easy_read = fields.Nested(
        EasyReadSchema,
        allow_none=True,
        metadata={"description": "the easy-read version, if it has one"},
    )
    consent = fields.Nested(
        ConsentWordingSchema,
        metadata={"description": "the privacy wording a response must agree to (send its version)"},
    )
    response_count = fields.Integer()
    created_at = Moment()
    updated_at = Moment()
    opened_at = Moment(allow_none=True)
    closed_at = Moment(allow_none=True)


class ConsultationFiltersSchema(BaseSchema):
    """Filters for ``list_consultations``."""

    status = fields.String(
        validate=validate.OneOf(STATUSES, error="must be one of " + ", ".join(STATUSES))
    )
    place = place_field()
    priority = priority_field()
    accepting = fields.Boolean(error_messages=messages(invalid="must be true or false"))


def _equality_filter(field: str) -> fields.String:
    """A filter on an equality answer, from any version of the question set (a filter
    covers the versions that offer the value: ``equality_versions_with``)."""
    questions = [q for qs in EQUALITY_SETS.values() for q in qs if q["id"] == field]
    if any(q.get("free_text") for q in questions):
        return fields.String(validate=validate.Length(min=1, max=10))
    values = list(dict.fromkeys(o["value"] for q in questions for o in q["options"]))
    return fields.String(validate=validate.OneOf(values, error="is not one of the options"))


ResultsFiltersSchema = Schema.from_dict(
    {
        "place": place_field(outside_area=True),
        **{field: _equality_filter(field) for field in ALL_EQUALITY_FIELDS},
    },
    name="ResultsFiltersSchema",
)
ResultsFiltersSchema.error_messages = BaseSchema.error_messages


SUPPRESSED = "null when the count is below the small-number threshold (or would give one away)"


class OptionResultSchema(Schema):
    value = fields.Raw()
    label = LocalisedText()
    count = fields.Integer(allow_none=True, metadata={"description": SUPPRESSED})
    percent = fields.Float(allow_none=True, metadata={"description": "null when count is"})


class RankingResultSchema(Schema):
    value = fields.String()
    label = LocalisedText()
    mean_rank = fields.Float(allow_none=True)
    first_choice = fields.Integer(allow_none=True, metadata={"description": SUPPRESSED})


class FreeTextResultSchema(Schema):
    response_id = fields.Integer()
    text = fields.String()


class QuestionResultSchema(Schema):
    id = fields.String()
    type = fields.String()
    text = LocalisedText()
    answered = fields.Integer(allow_none=True, metadata={"description": SUPPRESSED})
    options = fields.List(fields.Nested(OptionResultSchema))
    mean = fields.Float(allow_none=True)
    distribution = fields.List(fields.Nested(OptionResultSchema))
    ranking = fields.List(fields.Nested(RankingResultSchema))
    free_text = fields.List(fields.Nested(FreeTextResultSchema))
    free_text_truncated = fields.Boolean()


class ResultsSchema(Schema):
    """Aggregated results of a consultation (``get_results``). Every count of people goes
    through the small-number rule (``engage_common.disclosure``)."""

    consultation_id = fields.String()
    total_responses = fields.Integer(allow_none=True, metadata={"description": SUPPRESSED})
    filters = fields.Dict(keys=fields.String(), values=fields.String())
    small_number_threshold = fields.Integer()
    suppressed = fields.Boolean(
        metadata={"description": "true when the filtered group is too small to show at all"}
    )
    equality_versions = fields.List(
        fields.String(),
        metadata={
            "description": "with a filter on an equality answer: the versions of the "
            "equality questions it covers (answers are never re-labelled across versions)"
        },
    )
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
    consultation_title = LocalisedText()
    answers = fields.Dict(keys=fields.String(), values=fields.Raw())
    equality = fields.Dict(keys=fields.String(), values=fields.Raw(), allow_none=True)
    equality_version = fields.String(
        allow_none=True, metadata={"description": "the version of the equality questions asked"}
    )
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


class PersonalDataResponseSchema(Schema):
    response_id = fields.Integer()
    receipt_code = fields.String()
    consultation_id = fields.String()
    submitted_at = fields.String()
    matches = fields.List(fields.Nested(PersonalDataMatchSchema))


# -- RPC arguments that are not a document --------------------------------------------------
# The RPC takes these as plain arguments; the service (and any caller that wants to check
# first) loads them as one object, e.g. ``{"after": after, "limit": limit}``.

EXPORT_AFTER_MESSAGE = "must be a whole number of at least 0"
EXPORT_LIMIT_MESSAGE = f"must be a whole number from 1 to {EXPORT_MAX_LIMIT}"
RESPONSE_IDS_MESSAGE = f"must be a list of up to {ERASE_MAX} response ids"


class ExportPageSchema(BaseSchema):
    """The paging arguments of ``export_responses``: the rows after the response id
    ``after`` (``None`` or 0: from the first), at most ``limit`` of them."""

    after = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=0,
        validate=validate.Range(min=0, error=EXPORT_AFTER_MESSAGE),
        error_messages=messages(invalid=EXPORT_AFTER_MESSAGE),
    )
    limit = fields.Integer(
        strict=True,
        load_default=EXPORT_DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=EXPORT_MAX_LIMIT, error=EXPORT_LIMIT_MESSAGE),
        error_messages=messages(invalid=EXPORT_LIMIT_MESSAGE, null=EXPORT_LIMIT_MESSAGE),
    )

    @post_load
    def _from_the_first(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "after": data["after"] or 0}


class ExportRowsSchema(Schema):
    """What ``export_responses`` returns: one page of the export. ``rows`` is ONE JSON
    text, an array of the page's rows (each an array of cells in ``columns``' order),
    which the caller decodes: surveys passes on the text PostgreSQL built rather than
    decoding 5,000 rows and encoding them again (most of a page's time)."""

    columns = fields.List(fields.String(), required=True)
    rows = fields.String(
        required=True,
        metadata={"description": "JSON: [[cell, ...], ...], one array a response, oldest first"},
    )
    next_after = fields.Integer(
        required=True, allow_none=True, metadata={"description": "pass as 'after'"}
    )


class _ResponseIds(fields.List):
    """Up to ``ERASE_MAX`` response ids; anything else is one error on the whole list."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            fields.Integer(strict=True),
            validate=validate.Length(max=ERASE_MAX, error=RESPONSE_IDS_MESSAGE),
            error_messages=messages(
                required=RESPONSE_IDS_MESSAGE,
                null=RESPONSE_IDS_MESSAGE,
                invalid=RESPONSE_IDS_MESSAGE,
            ),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[int]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            raise self.make_error("invalid") from None


class EraseResponsesSchema(BaseSchema):
    """The argument of ``erase_responses``: response ids (from ``find_personal_data``),
    loaded as each id once, in order."""

    response_ids = _ResponseIds(required=True)

    @post_load
    def _each_once(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"response_ids": sorted(set(data["response_ids"]))}


# -- themes of free-text answers ----------------------------------------------------------------

FREE_TEXT_LIMIT_MESSAGE = f"must be a whole number from 1 to {FREE_TEXT_MAX_LIMIT}"
NOT_FREE_TEXT = "is not a free-text question of this consultation"
THEME_NOT_IN_USE = "is not a theme in use"


class FreeTextPageSchema(BaseSchema):
    """The arguments of ``free_text_answers`` besides the consultation: the free-text
    question, and the answers of responses with an id after ``after`` (``None`` or 0: from
    the first), at most ``limit`` of them, oldest first."""

    question_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40, error="must be 1 to 40 characters"),
        error_messages=messages(invalid="must be text"),
    )
    after = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=0,
        validate=validate.Range(min=0, error=EXPORT_AFTER_MESSAGE),
        error_messages=messages(invalid=EXPORT_AFTER_MESSAGE),
    )
    limit = fields.Integer(
        strict=True,
        load_default=FREE_TEXT_DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=FREE_TEXT_MAX_LIMIT, error=FREE_TEXT_LIMIT_MESSAGE),
        error_messages=messages(invalid=FREE_TEXT_LIMIT_MESSAGE, null=FREE_TEXT_LIMIT_MESSAGE),
    )

    @post_load
    def _from_the_first(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "after": data["after"] or 0}


class ConfirmAnswerThemesSchema(BaseSchema):
    """The arguments of ``confirm_answer_themes``: the themes (slugs of themes in use,
    several allowed, each counted once; they replace what was confirmed before) and the
    tone staff confirm for one free-text answer, and who confirms them."""

    response_id = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, error="must be a response id"),
        error_messages=messages(invalid="must be a response id"),
    )
    question_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40, error="must be 1 to 40 characters"),
        error_messages=messages(invalid="must be text"),
    )
    themes = fields.List(
        fields.String(
            validate=validate.Regexp(THEME_SLUG, error="is not a theme's slug"),
            error_messages=messages(invalid="must be text"),
        ),
        required=True,
        validate=validate.Length(max=MAX_THEMES, error=f"at most {MAX_THEMES} themes"),
        error_messages=messages(invalid="must be a list of themes' slugs"),
    )
    tone = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(TONES, error="must be one of " + ", ".join(TONES)),
        error_messages=messages(invalid="must be text"),
    )
    actor = fields.Nested(ActorSchema, required=True)

    @post_load
    def _each_once(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "themes": list(dict.fromkeys(data["themes"]))}


class FreeTextAnswerSchema(Schema):
    """One free-text answer as staff see it: redacted, with the themes and tone suggested
    from the redacted text (the words that matched in ``because``) and those staff
    confirmed (only these count)."""

    response_id = fields.Integer()
    question_id = fields.String()
    text = fields.String(metadata={"description": "redacted"})
    suggested_themes = fields.List(fields.Nested(ThemeSuggestionSchema))
    suggested_tone = fields.String(allow_none=True)
    themes = fields.List(fields.String(), metadata={"description": "confirmed by staff"})
    tone = fields.String(allow_none=True, metadata={"description": "confirmed by staff"})
    confirmed_at = Moment(allow_none=True, metadata={"description": "null: not confirmed yet"})


class FreeTextAnswersSchema(Schema):
    """What ``free_text_answers`` returns: a page, and the ``after`` of the next one."""

    answers = fields.List(fields.Nested(FreeTextAnswerSchema))
    next_after = fields.Integer(allow_none=True, metadata={"description": "pass as 'after'"})
