"""The feedback service's contract: what residents and staff send, what is queued on
``feedback.submissions``, the RPC's arguments and answers, and the events feedback
publishes (source ``feedback``). Pure: no I/O.

A feedback item is a comment from any channel: residents online or through the web form,
or staff entering a phone call, letter, email, event conversation, Healthwatch referral
or partner's spreadsheet on a resident's behalf. Feedback is not a complaint: every
receipt points to PALS and the formal complaints route.

RPC (service ``feedback``), every method raising ``NotFound``/``Conflict``/
``ValidationFailed`` as the other services do:

- ``health()``: ``HealthSchema``
- ``get_receipt(receipt_code)``: ``ReceiptSchema``
- ``get_my_feedback(receipt_code)``: ``MyFeedbackSchema`` (what the resident sent)
- ``delete_my_feedback(receipt_code)``: ``{"receipt_code", "deleted": true}``
- ``search(query)``: ``SearchQuerySchema`` in, ``SearchPageSchema`` out (redacted text)
- ``get_item(feedback_id, with_original)``: ``FeedbackItemSchema`` (``original_text`` only
  with ``with_original``)
- ``triage(feedback_id, change, actor)``: ``TriageSchema`` in, with the item's ``version``
  as read; the item out; ``Conflict`` when another change got there first
- ``respond(feedback_id, reply, actor)``: ``ReplySchema`` in; the item out (status
  ``responded``; emailed when the resident asked for that)
- ``bulk(change, actor)``: ``BulkChangeSchema`` in; ``{"changed": [ids], "conflicts": [ids]}``
- ``approve_quote(feedback_id, approval, actor)``: ``QuoteApprovalSchema`` in; the item out
- ``safeguarding_queue()``: ``{"items": [FeedbackItemSchema]}`` (urgent, not closed, oldest
  first)
- ``list_themes(include_retired=False)``: ``{"themes": [ThemeSchema]}``
- ``create_theme(theme, actor)``, ``update_theme(slug, changes, actor)``: ``ThemeSchema``
- ``find_personal_data(receipt_code, text)``, ``erase_feedback(ids)``: as surveys' (erasure
  requests)
- ``purge_expired(now=None)``: ``{"purged": n}`` (retention from the ICS configuration)

``actor`` is ``{"staff_id", "name", "role"}`` (``ActorSchema``): the gateway authenticates
staff; feedback records who did what.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from engage_contracts.base import BaseSchema, Moment, messages, moment
from engage_contracts.ics import ics
from engage_contracts.privacy import PersonalDataMatchSchema
from engage_contracts.reference import (
    EQUALITY_FIELDS,
    POSTCODE_DISTRICT,
    normalise_postcode_district,
    place_for_postcode_district,
    validate_equality,
)
from engage_contracts.shared import (
    ConsentSchema,
    EnteredBySchema,
    StoredConsentSchema,
    channel_field,
    check_channel,
    check_consent,
    hear_back_field,
    place_field,
    priority_field,
)
from engage_contracts.wording import N_

KINDS = ("compliment", "concern", "idea", "question", "experience-of-care")
STATUSES = ("received", "triaged", "responded", "closed")
# What may follow what: a status never goes back, except that staff may reopen a closed item.
NEXT_STATUSES = {
    "received": ("triaged", "responded", "closed"),
    "triaged": ("responded", "closed"),
    "responded": ("closed",),
    "closed": ("triaged",),
}
KIND_WORDS = {
    "compliment": N_("A compliment"),
    "concern": N_("A concern"),
    "idea": N_("An idea"),
    "question": N_("A question"),
    "experience-of-care": N_("My experience of care"),
}
TONES = ("positive", "negative", "mixed", "neutral")
REPLY_BY = ("none", "email")
MAX_TEXT = 5000
MAX_THEMES = 10
THEME_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
LANGUAGE_CHECK = ("checked", "not-checked-automatically")
SEARCH_MAX = 100

# Topics every ICS hears about, beside its own priorities and ambitions (configuration).
COMMON_THEMES = (
    ("gp-access", "GP access", ["gp", "surgery", "appointment", "receptionist", "doctor"]),
    ("waiting-times", "Waiting times", ["wait", "waiting", "waited", "queue", "delay", "weeks"]),
    ("mental-health", "Mental health", ["mental", "anxiety", "depression", "counselling"]),
    ("children-young-people", "Children and young people",
     ["child", "children", "baby", "school", "teenager", "young"]),
    ("carers", "Carers", ["carer", "carers", "caring", "looking after"]),
    ("transport", "Transport", ["bus", "parking", "transport", "taxi", "travel", "car park"]),
    ("digital-exclusion", "Digital exclusion",
     ["online", "app", "internet", "computer", "smartphone", "website"]),
    ("communication", "Communication",
     ["letter", "told", "explain", "information", "phone", "call back", "listen"]),
)  # fmt: skip


def signposting() -> dict[str, str]:
    """Where a resident should turn instead of (or as well as) feedback, as every receipt
    says: emergencies, urgent advice, someone to talk to, the ICS's safeguarding route,
    PALS and the formal complaints route (feedback is not a complaint)."""
    config = ics()
    return {
        "emergency": N_("If someone is in danger or seriously ill, call 999 now."),
        "urgent_advice": N_("For urgent medical help or advice, call NHS 111 or go to 111.nhs.uk."),
        "someone_to_talk_to": N_(
            "If you are struggling, you can call Samaritans free on 116 123, day or night."
        ),
        "safeguarding": config.safeguarding["local_route"],
        "pals": config.contact["pals"],
        "complaints": config.contact["complaints"],
    }


def theme_slug(label: str) -> str:
    """``"Waiting times "`` -> ``"waiting-times"``."""
    return re.sub(r"[^a-z0-9]+", "-", label.strip().lower()).strip("-")[:60].rstrip("-")


def check_feedback(
    feedback: dict[str, Any], consent_versions: Collection[str] | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The rules a loaded ``FeedbackInputSchema`` (or staff input, or queued message) must
    meet beyond its fields, as the gateway checks it before queueing and feedback checks it
    again when it stores it: the equality answers by the current question set, consent to
    a wording we have (one of ``consent_versions`` when given: the gateway asks for the
    feedback wording offered now; feedback stores what any wording it has allowed), the
    postcode district's form. Returns (the feedback cleaned, with the place worked out from
    the district when none was given; errors by field)."""
    clean = dict(feedback)
    equality, errors = validate_equality(feedback.get("equality"))
    clean["equality"] = equality or None
    consent, consent_errors = check_consent(feedback.get("consent"), consent_versions)
    errors.update(consent_errors)
    clean["consent"] = consent
    district = feedback.get("postcode_district")
    if district:
        district = normalise_postcode_district(district)
        if not POSTCODE_DISTRICT.match(district):
            examples = " or ".join(ics().postcode_examples) or "LS6"
            errors["postcode_district"] = [
                f"must be the first half of a UK postcode, like {examples}"
            ]
        clean["postcode_district"] = district
    if not clean.get("place") and district and "postcode_district" not in errors:
        clean["place"] = place_for_postcode_district(district)
    return clean, errors


def normalised_text(text: str) -> str:
    """Text as compared for duplicates: case, spacing and punctuation do not count."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def can_move(current: str, wanted: str) -> bool:
    return wanted == current or wanted in NEXT_STATUSES.get(current, ())


def _themes_field(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Regexp(THEME_SLUG, error="is not a theme's slug")),
        validate=validate.Length(max=MAX_THEMES, error=f"at most {MAX_THEMES} themes"),
        **kwargs,
    )


# -- what residents send --------------------------------------------------------------------


class FeedbackInputSchema(BaseSchema):
    """What a resident sends (the API and the web form)."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(KINDS, error="must be one of " + ", ".join(KINDS)),
        error_messages=messages(invalid="must be text"),
    )
    about = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200, error="must be 1 to 200 characters"),
        metadata={"description": "the service or place it is about, in the resident's words"},
    )
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_TEXT, error=f"must be 1 to {MAX_TEXT} characters"),
    )
    place = place_field(outside_area=True, load_default=None, allow_none=True)
    postcode_district = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=10)
    )
    consultation_id = fields.UUID(load_default=None, allow_none=True)
    equality = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        load_default=None,
        allow_none=True,
        metadata={"description": "optional equality monitoring: " + ", ".join(EQUALITY_FIELDS)},
    )
    may_quote = fields.Boolean(
        load_default=False,
        metadata={"description": "the resident allows a redacted quote to be published"},
    )
    reply_by = fields.String(
        load_default="none",
        validate=validate.OneOf(REPLY_BY, error="must be one of " + ", ".join(REPLY_BY)),
        metadata={"description": "'none': see the reply with the receipt code; 'email'"},
    )
    email = fields.Email(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=254),
        metadata={"description": "only to reply; kept apart from the feedback, purged"},
    )
    consent = fields.Nested(ConsentSchema, required=True)
    hear_back_email = hear_back_field()

    @validates_schema(skip_on_field_errors=False)  # said with the other problems at once
    def _reply_needs_an_address(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("reply_by") == "email" and not data.get("email"):
            raise ValidationError({"email": ["give an email address to get a reply by email"]})


class StaffFeedbackInputSchema(FeedbackInputSchema):
    """Feedback a staff member enters for a resident from another channel. ``source_id``
    names a row of an imported spreadsheet, so importing it again stores nothing twice."""

    channel = channel_field(required=True)
    source_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=200)
    )
    received_at = moment(
        load_default=None,
        allow_none=True,
        metadata={"description": "when it reached us (a letter's date), if not now"},
    )

    @validates_schema
    def _not_a_self_service_channel(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("channel") in ("online", "web-form"):
            raise ValidationError({"channel": ["staff enter feedback from other channels"]})


class FeedbackMessageSchema(FeedbackInputSchema):
    """The message the gateway queues on ``feedback.submissions`` for feedback to store
    once (keyed on ``submission_id``). ``content_hash``: the normalised text's hash, which
    an import without ``source_id`` is deduplicated on."""

    submission_id = fields.UUID(required=True)
    receipt_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    submitted_at = moment(required=True)
    channel = channel_field(required=True)
    entered_by = fields.Nested(EnteredBySchema, allow_none=True, load_default=None)
    source_id = fields.String(load_default=None, allow_none=True)
    content_hash = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _who_entered_it(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = check_channel(data["channel"], data.get("entered_by"))
        if errors:
            raise ValidationError(errors)


# -- what staff send ------------------------------------------------------------------------


class ActorSchema(BaseSchema):
    staff_id = fields.Integer(required=True, strict=True)
    name = fields.String(required=True)
    role = fields.String(required=True)


class TriageSchema(BaseSchema):
    """A change to one item. ``version`` is the item's version as it was read: a change
    made meanwhile by someone else is a ``Conflict`` (no lost update)."""

    version = fields.Integer(required=True, strict=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    themes = _themes_field(metadata={"description": "the confirmed themes (replaces them)"})
    tone = fields.String(validate=validate.OneOf(TONES), allow_none=True)
    place = place_field(outside_area=True, allow_none=True)
    note = fields.String(validate=validate.Length(max=2000), load_default=None, allow_none=True)


class BulkChangeSchema(BaseSchema):
    feedback_ids = fields.List(
        fields.UUID(), required=True, validate=validate.Length(min=1, max=500)
    )
    status = fields.String(validate=validate.OneOf(STATUSES))
    add_themes = _themes_field(load_default=list)
    note = fields.String(validate=validate.Length(max=2000), load_default=None, allow_none=True)


class ReplySchema(BaseSchema):
    version = fields.Integer(required=True, strict=True)
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=5000, error="must be 1 to 5000 characters"),
    )


class QuoteApprovalSchema(BaseSchema):
    """Publishing a quote: only what the resident allowed, and only redacted text (staff
    may shorten it; it must still be part of the redacted text)."""

    version = fields.Integer(required=True, strict=True)
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ThemeInputSchema(BaseSchema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=500))
    keywords = fields.List(
        fields.String(validate=validate.Length(min=2, max=40)), load_default=list
    )
    priority = priority_field(load_default=None, allow_none=True)


class ThemeChangeSchema(BaseSchema):
    label = fields.String(validate=validate.Length(min=1, max=120))
    description = fields.String(validate=validate.Length(max=500))
    keywords = fields.List(fields.String(validate=validate.Length(min=2, max=40)))
    active = fields.Boolean()


class SearchQuerySchema(BaseSchema):
    """Full-text search over the redacted text (stemmed English) with filters, newest first,
    a page at a time (``after``: the ``next`` of the previous page)."""

    q = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    theme = fields.String(load_default=None, allow_none=True)
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(KINDS))
    place = place_field(outside_area=True, load_default=None, allow_none=True)
    channel = channel_field(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    urgent = fields.Boolean(load_default=None, allow_none=True)
    overdue = fields.Boolean(load_default=None, allow_none=True)
    consultation_id = fields.UUID(load_default=None, allow_none=True)
    received_from = moment(load_default=None, allow_none=True)
    received_to = moment(load_default=None, allow_none=True)
    after = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=SEARCH_MAX))


# -- what feedback answers ------------------------------------------------------------------


class ThemeSuggestionSchema(Schema):
    theme = fields.String()
    label = fields.String()
    because = fields.List(fields.String(), metadata={"description": "the words that matched"})


class HistoryEntrySchema(Schema):
    at = Moment()
    by = fields.String(allow_none=True, metadata={"description": "staff name; null: the system"})
    action = fields.String()
    detail = fields.Dict()


class SafeguardingSchema(Schema):
    urgent = fields.Boolean()
    categories = fields.List(fields.String())
    matches = fields.List(fields.String(), metadata={"description": "what flagged it"})


class FeedbackItemSchema(Schema):
    """An item as staff see it. ``original_text`` only for triage and safeguarding roles,
    and each such read is audited by the gateway."""

    id = fields.String()
    version = fields.Integer()
    receipt_code = fields.String()
    kind = fields.String()
    about = fields.String()
    text = fields.String(metadata={"description": "redacted"})
    original_text = fields.String(allow_none=True)
    redactions = fields.List(fields.String(), metadata={"description": "what was removed"})
    redactor_version = fields.String()
    language_check = fields.String(validate=validate.OneOf(LANGUAGE_CHECK))
    safeguarding = fields.Nested(SafeguardingSchema)
    place = fields.String(allow_none=True)
    postcode_district = fields.String(allow_none=True)
    consultation_id = fields.String(allow_none=True)
    channel = fields.String()
    entered_by = fields.Nested(EnteredBySchema, allow_none=True)
    status = fields.String()
    suggested_themes = fields.List(fields.Nested(ThemeSuggestionSchema))
    themes = fields.List(fields.String(), metadata={"description": "confirmed by staff"})
    suggested_tone = fields.String(allow_none=True)
    tone = fields.String(allow_none=True)
    may_quote = fields.Boolean()
    quote = fields.String(allow_none=True, metadata={"description": "approved, public"})
    reply_by = fields.String()
    public_reply = fields.String(allow_none=True)
    received_at = Moment()
    waited_days = fields.Integer(metadata={"description": "days since it was received"})
    overdue = fields.Boolean(metadata={"description": "past the ICS's response target"})
    history = fields.List(fields.Nested(HistoryEntrySchema))


class SearchPageSchema(Schema):
    items = fields.List(fields.Nested(FeedbackItemSchema(exclude=("original_text", "history"))))
    next = fields.String(allow_none=True, metadata={"description": "pass as 'after'"})


class ReceiptSchema(Schema):
    """What a resident sees with their receipt code. ``status`` is the workflow's, or
    ``rejected`` (with ``reasons``) or ``duplicate`` (an imported row already held)."""

    receipt_code = fields.String()
    status = fields.String()
    reasons = fields.List(fields.String(), metadata={"description": "why it was not stored"})
    kind = fields.String()
    submitted_at = Moment()
    public_reply = fields.String(allow_none=True)
    replied_at = Moment(allow_none=True)


class MyFeedbackSchema(Schema):
    receipt_code = fields.String()
    kind = fields.String()
    about = fields.String()
    text = fields.String()
    place = fields.String(allow_none=True)
    postcode_district = fields.String(allow_none=True)
    equality = fields.Dict(allow_none=True)
    equality_version = fields.String(allow_none=True)
    may_quote = fields.Boolean()
    reply_by = fields.String()
    email = fields.String(allow_none=True)
    consent = fields.Nested(StoredConsentSchema, allow_none=True)
    status = fields.String()
    public_reply = fields.String(allow_none=True)
    submitted_at = Moment()


ERASE_MAX = 1000
FEEDBACK_IDS_MESSAGE = f"must be a list of up to {ERASE_MAX} feedback ids"


class EraseFeedbackSchema(BaseSchema):
    """The argument of ``erase_feedback``: feedback ids (from ``find_personal_data``),
    loaded as each id once, sorted."""

    feedback_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(max=ERASE_MAX, error=FEEDBACK_IDS_MESSAGE),
        error_messages=messages(
            required=FEEDBACK_IDS_MESSAGE, null=FEEDBACK_IDS_MESSAGE, invalid=FEEDBACK_IDS_MESSAGE
        ),
    )

    @post_load
    def _each_once(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"feedback_ids": sorted({str(i) for i in data["feedback_ids"]})}


class PersonalDataFeedbackSchema(Schema):
    """Feedback an erasure search found (``find_personal_data``), with where it matched."""

    feedback_id = fields.String()
    receipt_code = fields.String()
    submitted_at = fields.String()
    matches = fields.List(fields.Nested(PersonalDataMatchSchema))


class ThemeSchema(Schema):
    slug = fields.String()
    label = fields.String()
    description = fields.String()
    keywords = fields.List(fields.String())
    priority = fields.String(allow_none=True)
    source = fields.String(metadata={"enum": ["priority", "ambition", "common", "staff"]})
    active = fields.Boolean()


# -- events (source "feedback") ---------------------------------------------------------------
# Each carries event_id, event_type and occurred_at (engage_common.outbox) beside these.
# None carries the resident's text or contact (the read model counts, it does not read),
# except quote_published: words approved for publication, redacted, that they allowed.

EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    # equality: the Census groups and IMD decile only (engage_contracts.population)
    "feedback_received": (
        "feedback_id", "kind", "place", "channel", "consultation_id", "received_at", "urgent",
        "equality",
    ),
    "feedback_themed": (
        "feedback_id", "themes", "tone", "place", "channel", "consultation_id", "received_at",
    ),
    "feedback_status_changed": ("feedback_id", "status"),
    "feedback_deleted": ("feedback_id",),
    "safeguarding_flagged": ("feedback_id", "categories"),
    "theme_saved": ("slug", "label", "active", "priority"),
    # Approved for publication: redacted words the resident allowed to be quoted.
    "quote_published": ("feedback_id", "quote", "place", "themes", "consultation_id"),
}  # fmt: skip


def clean_keywords(keywords: Iterable[str]) -> list[str]:
    """Lower case, single spaces, each once: keywords as both services keep them."""
    return list(dict.fromkeys(" ".join(k.casefold().split()) for k in keywords if k.strip()))


def seeded_themes(config: Any) -> list[dict[str, Any]]:
    """The themes every deployment starts with, as feedback owns them and surveys keeps a
    copy: each of the ICS's priorities and ambitions (no keywords until staff give them
    some) and the common topics with theirs. A slug met twice keeps its first theme.
    ``[{slug, label, keywords, priority, source}]``."""
    themes: dict[str, dict[str, Any]] = {}

    def add(
        slug: str, label: str, source: str, priority: str | None, keywords: Iterable[str] = ()
    ) -> None:
        if THEME_SLUG.match(slug) and slug not in themes:
            themes[slug] = {
                "slug": slug,
                "label": label.strip(),
                "keywords": clean_keywords(keywords),
                "priority": priority,
                "source": source,
            }

    for priority in config.priorities:
        add(theme_slug(priority.name), priority.name, "priority", priority.code)
        for ambition in priority.ambitions:
            add(theme_slug(ambition), ambition, "ambition", priority.code)
    for slug, label, keywords in COMMON_THEMES:
        add(slug, label, "common", None, keywords)
    return list(themes.values())


def theme_keywords(themes: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """``{slug: keywords}`` of the active themes (what suggestions match on)."""
    return {t["slug"]: list(t.get("keywords") or []) for t in themes if t.get("active", True)}
