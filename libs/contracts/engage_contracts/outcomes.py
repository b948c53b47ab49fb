"""The outcomes service's contract: the "we did" records (decisions, actions, commitments)
with their history, the evidence each answers, and the residents who asked to hear back.
Pure: no I/O.

Why a service of its own: an outcome links evidence owned by surveys (a consultation or
one of its questions), feedback (items, themes) and events (points heard), and the
gateway owns no domain data; so outcomes owns outcomes, and knows the rest only by id.

RPC (service ``outcomes``), raising ``NotFound``/``Conflict``/``ValidationFailed``:

- ``create_outcome(outcome, actor)``: ``OutcomeInputSchema`` in; ``OutcomeSchema`` (a draft)
- ``update_outcome(outcome_id, changes, actor)``: ``OutcomeChangeSchema``; the fields of the
  record (title, owner, links...), never its history
- ``add_progress(outcome_id, update, actor)``: ``ProgressUpdateSchema``; a dated entry in the
  history (status, progress, note, reason); ``not-taken-forward`` needs a reason
- ``publish_outcome(outcome_id, actor)``: ``OutcomeSchema`` (public from now on)
- ``get_outcome(outcome_id, include_drafts=False)``: ``OutcomeSchema``, with ``history``,
  ``children`` and the parent's rolled-up progress
- ``list_outcomes(filters)``: ``OutcomeFiltersSchema`` in; ``{"outcomes": [OutcomeSchema]}``
- ``import_outcomes(rows, actor)``: ``[OutcomeImportRowSchema]`` in (each with its line);
  ``{"created", "updated", "unchanged", "problems": [{"line", "reason"}]}``: rows are keyed
  on ``reference``, so importing the same file again changes nothing
- ``follow(follower)``: ``FollowSchema`` (from the durable queue ``outcomes.submissions``,
  ``engage_common.messaging.submissions_queue("outcomes")``, as well, with ``follow_id`` as
  the message id): a resident who asked to hear back about what they said
- ``stop_following(token)``: ``{"stopped": true}``
- ``replay_events(after=None, limit=1000)``: ``{"events": [...], "next"}``: every event it
  has published, in order (the read model's rebuild)
- ``purge_expired(now=None)``: followers' contact details past retention

Events (source ``outcomes``): see ``EVENT_FIELDS``. Status words: ``STATUS_WORDS``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engage_contracts.base import BaseSchema, Moment, messages, string
from engage_contracts.feedback import THEME_SLUG
from engage_contracts.ics import ics
from engage_contracts.shared import (
    ConsentSchema,
    LocalisedText,
    channel_field,
    place_field,
    priority_field,
)
from engage_contracts.wording import N_

KINDS = ("decision", "action", "commitment")
STATUSES = ("planned", "in-progress", "done", "not-taken-forward")
FINAL_STATUSES = ("done", "not-taken-forward")
STATUS_WORDS = {
    "planned": N_("Planned"),
    "in-progress": N_("In progress"),
    "done": N_("Done"),
    "not-taken-forward": N_("Not taken forward"),
}
EVIDENCE_KINDS = ("consultation", "question", "theme", "feedback", "point")
REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"


def rolled_up(own: int, children: list[dict[str, Any]]) -> int:
    """A commitment's progress: its own, or with children the mean of theirs (each
    already rolled up), a child not taken forward left out."""
    counted = [c["progress"] for c in children if c.get("status") != "not-taken-forward"]
    return round(sum(counted) / len(counted)) if counted else own


def check_status(status: str | None, reason: Any) -> dict[str, list[str]]:
    if status == "not-taken-forward" and not (reason and str(reason).strip()):
        return {"reason": ["say why it was not taken forward"]}
    return {}


def _is_partner(code: str) -> None:
    if code not in {p.code for p in ics().partners}:
        raise ValidationError("is not one of the ICS's partners")


class EvidenceLinkSchema(BaseSchema):
    """What an outcome answers: a consultation, one of its questions, a theme, a feedback
    item, or a point heard at an event."""

    kind = fields.String(required=True, validate=validate.OneOf(EVIDENCE_KINDS))
    consultation_id = fields.UUID(load_default=None, allow_none=True)
    question_id = string(load_default=None, allow_none=True, max_length=40)
    theme = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(THEME_SLUG, error="is not a theme's slug"),
    )
    feedback_id = fields.UUID(load_default=None, allow_none=True)
    point_id = fields.UUID(load_default=None, allow_none=True)

    @validates_schema
    def _the_ids_the_kind_needs(self, data: dict[str, Any], **kwargs: Any) -> None:
        needs = {
            "consultation": ("consultation_id",),
            "question": ("consultation_id", "question_id"),
            "theme": ("theme",),
            "feedback": ("feedback_id",),
            "point": ("point_id",),
        }[data["kind"]]
        missing = {
            name: ["is required for this kind of evidence"] for name in needs if not data.get(name)
        }
        if missing:
            raise ValidationError(missing)


def evidence_key(link: dict[str, Any]) -> str:
    """One string per piece of evidence, e.g. ``question:<consultation id>:q3``."""
    kind = link["kind"]
    if kind == "question":
        return f"question:{link['consultation_id']}:{link['question_id']}"
    value = {
        "consultation": "consultation_id",
        "theme": "theme",
        "feedback": "feedback_id",
        "point": "point_id",
    }[kind]
    return f"{kind}:{link[value]}"


def evidence_link(key: str) -> dict[str, Any]:
    """``evidence_key`` backwards: ``theme:gp-access`` -> ``{"kind": "theme", ...}``;
    ``ValueError`` naming what is wrong."""
    kind, _, rest = key.strip().partition(":")
    if kind not in EVIDENCE_KINDS or not rest:
        raise ValueError(
            f"'{key}' is not evidence: use consultation:<id>, question:<id>:<question>, "
            "theme:<slug>, feedback:<id> or point:<id>"
        )
    if kind == "question":
        consultation_id, _, question_id = rest.partition(":")
        return {"kind": kind, "consultation_id": consultation_id, "question_id": question_id}
    field = {
        "consultation": "consultation_id",
        "theme": "theme",
        "feedback": "feedback_id",
        "point": "point_id",
    }[kind]
    return {"kind": kind, field: rest}


class _OutcomeFields(BaseSchema):
    kind = fields.String(validate=validate.OneOf(KINDS))
    reference = fields.String(
        allow_none=True,
        validate=validate.Regexp(REFERENCE, error="letters, digits and . _ : / - only"),
        metadata={"description": "your own id for it (a CSV import's key)"},
    )
    title = LocalisedText(min_length=1, max_length=300)
    description = LocalisedText(max_length=5000)
    you_said = LocalisedText(
        max_length=2000, metadata={"description": "what people told us, in a sentence"}
    )
    partner = fields.String(validate=_is_partner, allow_none=True)
    owner = string(max_length=200, allow_none=True)
    due_date = fields.Date(allow_none=True)
    places = fields.List(place_field(), validate=validate.Length(max=20))
    priorities = fields.List(priority_field(), validate=validate.Length(max=20))
    themes = fields.List(
        fields.String(validate=validate.Regexp(THEME_SLUG, error="is not a theme's slug")),
        validate=validate.Length(max=20),
    )
    evidence = fields.List(fields.Nested(EvidenceLinkSchema), validate=validate.Length(max=200))
    parent_id = fields.UUID(allow_none=True)


class OutcomeInputSchema(_OutcomeFields):
    """A new outcome (a draft until published); ``status``/``progress``/``reason`` give its
    first history entry."""

    REQUIRED = ("kind", "title")
    DEFAULTS: dict[str, Any] = {
        "reference": None,
        "description": {"en": ""},
        "you_said": {"en": ""},
        "partner": None,
        "owner": None,
        "due_date": None,
        "places": [],
        "priorities": [],
        "themes": [],
        "evidence": [],
        "parent_id": None,
    }
    status = fields.String(load_default="planned", validate=validate.OneOf(STATUSES))
    progress = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=100))
    reason = LocalisedText(max_length=2000, load_default=None, allow_none=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.REQUIRED:
            self.fields[name].required = True
            self.fields[name].error_messages["required"] = "is required"
        for name, value in self.DEFAULTS.items():
            self.fields[name].load_default = value

    @validates_schema(skip_on_field_errors=False)
    def _reason(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = check_status(data.get("status"), (data.get("reason") or {}).get("en"))
        if errors:
            raise ValidationError(errors)


class OutcomeChangeSchema(_OutcomeFields):
    """Changes to an outcome's record; its status and progress move by ``add_progress``."""


class ProgressUpdateSchema(BaseSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    progress = fields.Integer(strict=True, validate=validate.Range(min=0, max=100))
    note = LocalisedText(max_length=2000, load_default=None, allow_none=True)
    reason = LocalisedText(max_length=2000, load_default=None, allow_none=True)
    at = fields.Date(
        load_default=None, allow_none=True, metadata={"description": "the update's date"}
    )

    @validates_schema
    def _something_and_a_reason(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(data.get(k) is not None for k in ("status", "progress", "note")):
            raise ValidationError("give a status, progress or a note")
        errors = check_status(data.get("status"), (data.get("reason") or {}).get("en"))
        if errors:
            raise ValidationError(errors)


class OutcomeImportRowSchema(OutcomeInputSchema):
    """One CSV row (its line number for the errors); ``reference`` is required."""

    line = fields.Integer(required=True, strict=True)

    REQUIRED = ("kind", "title", "reference")


class OutcomeFiltersSchema(BaseSchema):
    place = place_field(load_default=None, allow_none=True)
    priority = priority_field(load_default=None, allow_none=True)
    theme = fields.String(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    consultation_id = fields.UUID(load_default=None, allow_none=True)
    include_drafts = fields.Boolean(load_default=False)


class FollowSchema(BaseSchema):
    """A resident who asked to hear back about what they said: the evidence it became
    (their response's consultation, their feedback item, the event) and where to write.
    Kept apart from what they said; purged after the outcomes reach a final status."""

    follow_id = fields.UUID(required=True, metadata={"description": "idempotency key"})
    email = fields.Email(required=True, error_messages=messages(invalid="is not an email"))
    evidence = fields.List(
        fields.Nested(EvidenceLinkSchema), required=True, validate=validate.Length(min=1, max=20)
    )
    channel = channel_field(required=True)
    consent = fields.Nested(ConsentSchema, required=True)


# -- what outcomes answers --------------------------------------------------------------------


class HistoryEntrySchema(Schema):
    at = Moment()
    on = fields.String(
        allow_none=True, metadata={"description": "the date the update is for (YYYY-MM-DD)"}
    )
    by = fields.String(allow_none=True)
    status = fields.String()
    progress = fields.Integer()
    note = fields.Dict(allow_none=True)
    reason = fields.Dict(allow_none=True)


class OutcomeSchema(Schema):
    id = fields.String()
    reference = fields.String(allow_none=True)
    kind = fields.String()
    title = fields.Dict()
    description = fields.Dict()
    you_said = fields.Dict()
    partner = fields.String(allow_none=True)
    owner = fields.String(allow_none=True)
    due_date = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    status = fields.String()
    reason = fields.Dict(allow_none=True)
    progress = fields.Integer(metadata={"description": "rolled up from children when it has any"})
    places = fields.List(fields.String())
    priorities = fields.List(fields.String())
    themes = fields.List(fields.String())
    evidence = fields.List(fields.Dict())
    parent_id = fields.String(allow_none=True)
    children = fields.List(fields.String())
    published = fields.Boolean()
    published_at = Moment(allow_none=True)
    updated_at = Moment()
    history = fields.List(fields.Nested(HistoryEntrySchema))


# -- events (source "outcomes") ---------------------------------------------------------------

EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "outcome_published": (
        "outcome_id", "kind", "title", "status", "progress", "places", "priorities", "themes",
        "evidence", "parent_id", "partner", "due_date",
    ),
    "outcome_changed": (
        "outcome_id", "kind", "title", "status", "progress", "places", "priorities", "themes",
        "evidence", "parent_id", "partner", "due_date", "reason",
    ),
}  # fmt: skip
