"""The gateway's own HTTP schemas: errors, headers, staff and tokens, the audit log, the
read models' answers, query filters. Consultation, question, outcome, response and
results schemas are the surveys contract's (``engage_contracts.surveys``), imported."""

from __future__ import annotations

import re

from marshmallow import EXCLUDE, Schema, fields, validate

from engage_contracts import events as events_contract
from engage_contracts import feedback as feedback_contract
from engage_contracts import surveys as contract
from engage_contracts.base import BaseSchema, Moment, moment
from engage_contracts.shared import ConsentWordingSchema, LocalisedText, place_field, priority_field
from gateway.application.staff import ROLES

ROLE_VALUES = list(ROLES)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
TOKEN_PREFIX = re.compile(r"^eng_[0-9a-z]{1,60}$")


class GatewaySchema(BaseSchema):
    """Base for the gateway's own request schemas: the contract's plain-English messages,
    unknown fields refused."""


# -- errors and health --------------------------------------------------------------------


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


class AliveSchema(Schema):
    status = fields.String()


class ReadinessSchema(Schema):
    status = fields.String(validate=validate.OneOf(["ready", "not ready"]))
    checks = fields.Dict(keys=fields.String(), values=fields.String())
    instance = fields.String(metadata={"description": "host:pid of the process that answered"})


# -- public -------------------------------------------------------------------------------


class PublicListQuerySchema(GatewaySchema):
    place = place_field()
    priority = priority_field()
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(["open", "closed"]),
        metadata={"description": "open (default) or closed, to see outcomes"},
    )


# What residents see of a consultation: everything but counts of responses.
PRIVATE_FIELDS = ("response_count",)


class PublicConsultationListSchema(Schema):
    consultations = fields.List(fields.Nested(contract.ConsultationSchema(exclude=PRIVATE_FIELDS)))


class ConsultationListSchema(Schema):
    consultations = fields.List(fields.Nested(contract.ConsultationSchema))


class IdempotencyHeaderSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # every other header

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Regexp(
            IDEMPOTENCY_KEY, error="must be 1 to 200 printable characters without spaces"
        ),
        metadata={"description": "the same key again gets the same receipt, stored once"},
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
    multiple = fields.Boolean(metadata={"description": "answered with a list of values"})
    options = fields.List(fields.Nested(ReferenceOptionSchema), required=True)
    groups = fields.List(fields.Dict())


class IcsNameSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    short_name = fields.String(required=True)


class ReferenceSchema(Schema):
    ics = fields.Nested(IcsNameSchema, required=True)
    equality_version = fields.String(required=True)
    places = fields.List(fields.Nested(ReferenceOptionSchema), required=True)
    priorities = fields.List(fields.Nested(ReferenceOptionSchema), required=True)
    equality_questions = fields.List(fields.Nested(EqualityQuestionSchema), required=True)
    feedback_consent = fields.Nested(
        ConsentWordingSchema,
        required=True,
        metadata={"description": "the wording to show, and send the version of, with feedback"},
    )
    feedback_kinds = fields.List(fields.Nested(ReferenceOptionSchema), required=True)
    signposting = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "where to turn instead: emergency, NHS 111, Samaritans, "
            "safeguarding, PALS, complaints"
        },
    )


class PlaceCountSchema(Schema):
    place = fields.String(
        allow_none=True,
        metadata={"description": "place code, or null when the resident did not say"},
    )
    label = fields.String()
    count = fields.Integer(
        allow_none=True, metadata={"description": "null below the small-number threshold"}
    )


class YouSaidWeDidItemSchema(Schema):
    id = fields.String()
    title = LocalisedText()
    places = fields.List(fields.String())
    priorities = fields.List(fields.String())
    status = fields.String()
    opens_at = Moment(allow_none=True)
    closes_at = Moment(allow_none=True)
    response_count = fields.Integer()
    responses_by_place = fields.List(fields.Nested(PlaceCountSchema))
    outcome = fields.Nested(contract.OutcomeSchema, allow_none=True)


class YouSaidWeDidSchema(Schema):
    consultations = fields.List(fields.Nested(YouSaidWeDidItemSchema))


# -- staff --------------------------------------------------------------------------------


class StaffUserSchema(GatewaySchema):
    id = fields.Integer(dump_only=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLE_VALUES))
    created_at = fields.DateTime(dump_only=True)


class StaffUserUpdateSchema(GatewaySchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    role = fields.String(validate=validate.OneOf(ROLE_VALUES))


class StaffListSchema(Schema):
    staff = fields.List(fields.Nested(StaffUserSchema))


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    token_prefix = fields.String()


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
    state = fields.String(validate=validate.OneOf(["active", "revoked", "expired"]))


class IssuedTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "shown once; store it safely"})


class TokenIssueSchema(GatewaySchema):
    email = fields.Email(required=True)
    label = fields.String(load_default="", validate=validate.Length(max=200))
    valid_days = fields.Integer(
        strict=True,
        load_default=None,
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
    found = fields.List(
        fields.Nested(contract.PersonalDataResponseSchema),
        metadata={"description": "survey responses"},
    )
    found_feedback = fields.List(fields.Nested(feedback_contract.PersonalDataFeedbackSchema))
    truncated = fields.Boolean(metadata={"description": "more matched than are listed"})
    erased = fields.Integer(metadata={"description": "responses erased (0 unless confirm)"})
    erased_feedback = fields.Integer(
        metadata={"description": "feedback items erased (0 unless confirm)"}
    )
    found_registrations = fields.List(
        fields.Nested(events_contract.PersonalDataRegistrationSchema),
        metadata={"description": "event registrations (names, contact, access needs)"},
    )
    erased_registrations = fields.Integer(
        metadata={"description": "registrations erased (0 unless confirm)"}
    )
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


class LimitQuerySchema(GatewaySchema):
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000),
        error_messages={"invalid": "must be a whole number"},
    )


class DeadLetterSchema(Schema):
    id = fields.Integer()
    message_id = fields.String(allow_none=True)
    queue = fields.String(metadata={"description": "the queue it failed on"})
    error = fields.String(metadata={"description": "the last error, as the handler raised it"})
    headers = fields.Dict()
    body = fields.String(metadata={"description": "the message body as text"})
    received_at = fields.DateTime(format="iso")


class DeadLetterListSchema(Schema):
    dead_letters = fields.List(fields.Nested(DeadLetterSchema))


class ReportFiltersSchema(GatewaySchema):
    place = place_field(metadata={"description": "only consultations for this place"})
    priority = priority_field(metadata={"description": "only consultations for this priority"})


# -- feedback -----------------------------------------------------------------------------


class FeedbackAcceptedSchema(Schema):
    """The 202 answer to feedback sent: keep the receipt code to see the reply."""

    receipt_code = fields.String(required=True, metadata={"example": "K7QM-2XRT-HP4D"})
    status = fields.String(required=True, metadata={"example": "received"})


class FeedbackDeletedSchema(Schema):
    receipt_code = fields.String()
    deleted = fields.Boolean()


class StopEmailsSchema(Schema):
    receipt_code = fields.String()
    stopped = fields.Boolean(metadata={"description": "no more emails about this feedback"})


class FeedbackCountsQuerySchema(GatewaySchema):
    received_from = moment(metadata={"description": "from this moment (inclusive)"})
    received_to = moment(metadata={"description": "until this moment (exclusive)"})
    place = place_field(outside_area=True)


class CountEntrySchema(Schema):
    value = fields.String(allow_none=True, metadata={"description": "null: not given"})
    label = fields.String()
    count = fields.Integer(
        allow_none=True, metadata={"description": "null: below the small-number threshold"}
    )


class FeedbackCountsSchema(Schema):
    total = fields.Integer(allow_none=True)
    themed = fields.Integer(
        allow_none=True, metadata={"description": "items whose themes staff have confirmed"}
    )
    by_theme = fields.List(
        fields.Nested(CountEntrySchema),
        metadata={"description": "confirmed themes only; an item may have several"},
    )
    by_place = fields.List(fields.Nested(CountEntrySchema))
    by_channel = fields.List(fields.Nested(CountEntrySchema))
    by_kind = fields.List(fields.Nested(CountEntrySchema))
    threshold = fields.Integer(metadata={"description": "the small-number threshold applied"})


class ThemeListQuerySchema(GatewaySchema):
    include_retired = fields.Boolean(load_default=False)


class ThemeListSchema(Schema):
    themes = fields.List(fields.Nested(feedback_contract.ThemeSchema))


class SafeguardingQueueSchema(Schema):
    items = fields.List(
        fields.Nested(feedback_contract.FeedbackItemSchema(exclude=("original_text",)))
    )


class BulkResultSchema(Schema):
    changed = fields.List(fields.String())
    conflicts = fields.List(
        fields.String(),
        metadata={"description": "changed by someone else meanwhile, or a move not allowed"},
    )


class FreeTextQuerySchema(GatewaySchema):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": "the next_after of the previous page"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class AnswerThemesSchema(GatewaySchema):
    """The themes and tone staff confirm for one free-text answer (they replace any
    confirmed before; only confirmed themes count anywhere)."""

    themes = fields.List(
        fields.String(validate=validate.Length(min=1, max=60)),
        required=True,
        validate=validate.Length(max=10, error="at most 10 themes"),
        metadata={"description": "slugs of themes in use (GET /api/v1/staff/themes)"},
    )
    tone = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(feedback_contract.TONES),
    )


class QueuePageSchema(GatewaySchema):
    after = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "next"}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


# -- engagement events ------------------------------------------------------------------------


class PublicEventFiltersSchema(events_contract.EventFiltersSchema):
    class Meta(events_contract.EventFiltersSchema.Meta):
        exclude = ("include_drafts",)


class EventListSchema(Schema):
    events = fields.List(fields.Nested(events_contract.EventSchema))


class CancelEventSchema(GatewaySchema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500, error="must be 1 to 500 characters"),
        metadata={"description": "told to everyone registered"},
    )


class StaffRegistrationListSchema(Schema):
    registrations = fields.List(fields.Nested(events_contract.StaffRegistrationSchema))


class AdjustmentListSchema(Schema):
    adjustments = fields.List(fields.Nested(events_contract.AdjustmentSchema))


class PointListSchema(Schema):
    points = fields.List(fields.Nested(events_contract.PointSchema))


class ReachQuerySchema(GatewaySchema):
    place = place_field(metadata={"description": "only events in this place"})


# -- you said, we did across channels ---------------------------------------------------------


class YouSaidQuerySchema(GatewaySchema):
    place = place_field(outside_area=True)
    priority = priority_field()
    theme = fields.String(validate=validate.Length(max=60))
    since = moment(metadata={"description": "from this moment"})
    until = moment(metadata={"description": "until this moment (exclusive)"})


class ChannelCountSchema(Schema):
    channel = fields.String()
    label = fields.String()
    count = fields.Integer(allow_none=True, metadata={"description": "null: too few to show"})


class MonthCountSchema(Schema):
    month = fields.String(metadata={"example": "2026-11"})
    count = fields.Integer(allow_none=True)


class ThemeCountSchema(Schema):
    theme = fields.String()
    label = fields.String()
    count = fields.Integer(allow_none=True)


class QuoteSchema(Schema):
    quote = fields.String(metadata={"description": "redacted; the person allowed quoting"})
    source = fields.String(metadata={"enum": ["feedback", "event"]})
    themes = fields.List(fields.String())


class OutcomeHistoryLineSchema(Schema):
    at = fields.String()
    status = fields.String()
    progress = fields.Integer()
    reason = fields.Dict(allow_none=True)


class PublicOutcomeSchema(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.Dict()
    status = fields.String()
    reason = fields.Dict(allow_none=True)
    progress = fields.Integer()
    places = fields.List(fields.String())
    priorities = fields.List(fields.String())
    themes = fields.List(fields.String())
    evidence = fields.List(fields.Dict())
    parent_id = fields.String(allow_none=True)
    partner = fields.String(allow_none=True)
    due_date = fields.String(allow_none=True)
    updated_at = fields.String()
    history = fields.List(fields.Nested(OutcomeHistoryLineSchema))
    children = fields.List(fields.Dict())


class OutcomeListSchema(Schema):
    outcomes = fields.List(fields.Dict())


class YouSaidSummarySchema(Schema):
    contributions = fields.Integer(
        allow_none=True, metadata={"description": "contributions, not people"}
    )
    by_channel = fields.List(fields.Nested(ChannelCountSchema))
    by_month = fields.List(fields.Nested(MonthCountSchema))
    by_theme = fields.List(fields.Nested(ThemeCountSchema))
    quotes = fields.List(fields.Nested(QuoteSchema))
    outcomes = fields.List(fields.Dict())
    threshold = fields.Integer()


class OutcomeFiltersQuerySchema(GatewaySchema):
    place = place_field()
    priority = priority_field()
    theme = fields.String(validate=validate.Length(max=60))
    consultation_id = fields.UUID()


class ConsideredThemeSchema(Schema):
    theme = fields.String()
    label = fields.String()
    contributions = fields.Integer(allow_none=True)
    by_channel = fields.List(fields.Dict())
    outcomes = fields.List(fields.Dict())
    gap = fields.Boolean(metadata={"description": "raised, and no outcome answers it yet"})


class ConsiderationSchema(Schema):
    consultation_id = fields.String()
    themes = fields.List(fields.Nested(ConsideredThemeSchema))
    outcomes = fields.List(fields.Dict())
    threshold = fields.Integer()


class FollowStoppedSchema(Schema):
    stopped = fields.Boolean()


class ImportProblemSchema(Schema):
    line = fields.Integer()
    reason = fields.String()


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    problems = fields.List(fields.Nested(ImportProblemSchema))


# -- reach against population (gateway.readmodels.reach) ----------------------------------------

_SUPPRESSED = "null: below the small-number threshold, or it would give a hidden count away"


class PopulationReachQuerySchema(GatewaySchema):
    place = place_field(
        metadata={"description": "one of the ICS's places; every contribution when left out"}
    )
    since = moment(metadata={"description": "contributions from this moment (inclusive)"})
    until = moment(metadata={"description": "up to this moment (exclusive)"})


class PopulationReachGroupSchema(Schema):
    group = fields.String()
    label = fields.String()
    count = fields.Integer(allow_none=True, metadata={"description": _SUPPRESSED})
    share = fields.Float(
        allow_none=True,
        metadata={"description": "share of the contributions that said which group (0 to 1)"},
    )
    population_share = fields.Float(
        allow_none=True, metadata={"description": "share of the population (0 to 1)"}
    )
    ratio = fields.Float(
        allow_none=True,
        metadata={"description": "share ÷ population share: 1 heard in proportion"},
    )


class PopulationReachDimensionSchema(Schema):
    dimension = fields.String()
    label = fields.String()
    answered = fields.Integer(allow_none=True, metadata={"description": _SUPPRESSED})
    representativeness = fields.Float(
        allow_none=True,
        metadata={"description": "lowest group's participation rate ÷ highest (0 to 1)"},
    )
    groups = fields.List(fields.Nested(PopulationReachGroupSchema))


class PopulationFurthestBelowSchema(Schema):
    dimension = fields.String()
    group = fields.String()
    label = fields.String()
    ratio = fields.Float()
    sentence = fields.String(metadata={"description": "in plain words, for outreach"})


class PopulationReachSchema(Schema):
    """Who took part, across every channel, against the population (read model only)."""

    contributions = fields.Integer(allow_none=True, metadata={"description": _SUPPRESSED})
    by_channel = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(allow_none=True),
        metadata={"description": "channel -> contributions (" + _SUPPRESSED + ")"},
    )
    dimensions = fields.List(fields.Nested(PopulationReachDimensionSchema))
    representativeness = fields.Float(
        allow_none=True, metadata={"description": "the lowest of the dimensions' figures"}
    )
    furthest_below = fields.List(fields.Nested(PopulationFurthestBelowSchema))
    population_source = fields.String()
    threshold = fields.Integer(metadata={"description": "the small-number threshold"})
    places = fields.List(fields.String(), metadata={"description": "the population compared"})
