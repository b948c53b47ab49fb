"""Shapes every service shares for what residents give (defined once, here):

- ``channel``: how it reached us, and ``entered_by``: the staff member who entered it on
  the resident's behalf (every channel but the two a resident uses themselves);
- consent to a versioned privacy wording (``ConsentSchema``, ``check_consent``);
- text residents read (titles, questions, options, outcomes) kept per language as
  ``{"en": "..."}`` (``LocalisedText``), so more languages need no migration of stored
  data; interface wording is gettext's business, not this.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from engage_contracts.base import Among, BaseSchema, messages
from engage_contracts.ics import ics
from engage_contracts.reference import OUTSIDE_AREA, consent_wordings, places, priorities


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
        metadata={"description": "the version of the wording the consultation shows"},
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


def check_consent(
    consent: Any, versions: Collection[str] | None = None
) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """``({given: True, version}, {})`` when the resident agreed to a wording we use (one
    of ``versions`` when given: what is offered now), else ``(None, errors)``: nothing is
    stored without consent."""
    if not isinstance(consent, dict):
        return None, {"consent": ["is required: agree to how we use your answers"]}
    errors = {}
    if consent.get("given") is not True:
        errors["consent.given"] = [
            "must be true: we can only store a response you agree we may use"
        ]
    if consent.get("version") not in (consent_wordings() if versions is None else versions):
        errors["consent.version"] = [
            "is not a privacy wording we use: reload the consultation to see the current one"
        ]
    if errors:
        return None, errors
    return {"given": True, "version": consent["version"]}, {}


# How something a resident gave reached us. "online" is the JSON API (an app, a partner's
# site); "web-form" is Engage's own pages; the rest are entered by staff for the resident.
CHANNELS = (
    "online", "web-form", "phone", "paper", "email", "letter", "event", "healthwatch", "partner",
)  # fmt: skip
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


# English is always there: every other language falls back to it, never to a blank.
DEFAULT_LANGUAGE = "en"


def languages() -> tuple[str, ...]:
    """Languages staff may give text in: every one the ICS configures, reviewed or not
    (text can be ready before residents are offered the language)."""
    return tuple(lang.code for lang in ics().languages)


class LocalisedText(fields.Field):
    """Text residents read, by language code: ``{"en": "Evening GP appointments"}``.
    A plain string is taken as English. Each language's text is checked for length."""

    def __init__(self, min_length: int = 0, max_length: int = 500, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {
            "description": "text by language code; a plain string means English",
            **kwargs["metadata"],
        }
        kwargs.setdefault("error_messages", messages())
        super().__init__(**kwargs)
        self.min_length, self.max_length = min_length, max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            problem = self._length_problem(value)
            if problem:
                raise ValidationError(problem)  # said of the field, as it was sent
            return {DEFAULT_LANGUAGE: value}
        if not isinstance(value, dict) or not value:
            raise ValidationError('must be text, or text by language code like {"en": "..."}')
        errors: dict[str, list[str]] = {}
        for language, text in value.items():
            if language not in languages():
                errors[str(language)] = ["is not a language we offer: " + ", ".join(languages())]
            elif not isinstance(text, str):
                errors[language] = ["must be text"]
            elif problem := self._length_problem(text):
                errors[language] = [problem]
        if DEFAULT_LANGUAGE not in value and not errors:
            errors[DEFAULT_LANGUAGE] = ["is required: English is what other languages fall back to"]
        if errors:
            raise ValidationError(errors)
        return dict(value)

    def _length_problem(self, text: str) -> str | None:
        if self.min_length <= len(text) <= self.max_length:
            return None
        if self.min_length:
            return f"must be {self.min_length} to {self.max_length} characters"
        return f"must be {self.max_length} characters or fewer"

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return as_localised(value)


def as_localised(value: Any) -> dict[str, str] | None:
    """Stored text as a language map (text stored before maps is English)."""
    if value is None or isinstance(value, dict):
        return value
    return {DEFAULT_LANGUAGE: str(value)}


def localised(value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """The text in ``language``, else English, else any language given; a plain string
    (interface wording, or text stored before maps) as it is."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        return str(value)
    return value.get(language) or value.get(DEFAULT_LANGUAGE) or next(iter(value.values()), "")


def place_field(outside_area: bool = False, **kwargs: Any) -> fields.String:
    """A place code from the ICS configuration (and, with ``outside_area``, the code for
    somewhere outside the ICS)."""

    def choices() -> list[str]:
        return [*places(), *([OUTSIDE_AREA] if outside_area else [])]

    return fields.String(
        validate=Among(choices, "is not one of our places: {choices}"),
        error_messages=messages(invalid="must be text"),
        **kwargs,
    )


def priority_field(**kwargs: Any) -> fields.String:
    """A priority code from the ICS configuration."""
    return fields.String(
        validate=Among(priorities, "is not one of the priorities: {choices}"),
        error_messages=messages(invalid="must be text"),
        **kwargs,
    )


def hear_back_field() -> fields.Email:
    """The optional email of a resident who wants to hear what happens because of what
    they said (kept by the outcomes service, apart from what they said, and purged)."""
    return fields.Email(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=254),
        error_messages=messages(invalid="is not an email address"),
        metadata={
            "description": "to be told, at most once a day, when something is decided or "
            "changes because of what you said; kept apart from your answers and deleted "
            "once the decisions are final"
        },
    )
