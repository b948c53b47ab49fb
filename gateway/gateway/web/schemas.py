"""What the web pages accept, for the OpenAPI document. The pages parse forms with
``forms.parse_form`` (a question's inputs are named after its id, so the set of
fields differs per consultation); these schemas describe the fixed part."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from engage_contracts.events import KINDS as EVENT_KINDS
from engage_contracts.feedback import KINDS
from engage_contracts.shared import place_field, priority_field
from gateway.web import forms


class PageFilters(Schema):
    place = place_field()
    priority = priority_field()


class CsrfForm(Schema):
    csrf_token = fields.String(
        required=True,
        data_key=forms.CSRF_FIELD,
        metadata={"description": "from the page's hidden field"},
    )
    confirm = fields.String(
        validate=validate.OneOf(["yes"]),
        metadata={"description": "'yes' deletes; absent asks first"},
    )


class ResponseForm(Schema):
    class Meta:
        unknown = INCLUDE

    csrf_token = fields.String(required=True, data_key=forms.CSRF_FIELD)
    idempotency_key = fields.String(
        data_key=forms.IDEMPOTENCY_FIELD,
        metadata={"description": "generated with the form, so a double click stores one response"},
    )
    consent = fields.String(
        data_key=forms.CONSENT_FIELD,
        validate=validate.OneOf(["yes"]),
        metadata={
            "description": "'yes': the resident agrees to the "
            "consultation's privacy wording (required)"
        },
    )
    consent_version = fields.String(
        data_key=forms.CONSENT_VERSION_FIELD,
        metadata={"description": "the version of the privacy wording the page showed"},
    )
    website = fields.String(
        data_key=forms.HONEYPOT_FIELD,
        metadata={"description": "a honeypot: left empty by people, filled by bots"},
    )
    answers = fields.String(
        metadata={
            "description": (
                "one field per question, 'answers-<question id>' (repeated for multiple choice; "
                "'answers-<id>-rank-<n>' for ranking), and 'equality-<field>' for the optional "
                "equality-monitoring section"
            )
        }
    )


class FeedbackForm(Schema):
    """The feedback page's form (``gateway.web.feedback_form``)."""

    class Meta:
        unknown = INCLUDE

    csrf_token = fields.String(required=True, data_key=forms.CSRF_FIELD)
    idempotency_key = fields.String(data_key=forms.IDEMPOTENCY_FIELD)
    website = fields.String(
        data_key=forms.HONEYPOT_FIELD, metadata={"description": "a honeypot: left empty"}
    )
    kind = fields.String(validate=validate.OneOf(KINDS))
    about = fields.String()
    text = fields.String()
    place = fields.String()
    postcode_district = fields.String()
    consultation_id = fields.String(metadata={"description": "the consultation it is about"})
    may_quote = fields.String(validate=validate.OneOf(["yes"]))
    reply_by = fields.String(validate=validate.OneOf(["none", "email"]))
    email = fields.String()
    consent = fields.String(data_key=forms.CONSENT_FIELD, validate=validate.OneOf(["yes"]))
    consent_version = fields.String(data_key=forms.CONSENT_VERSION_FIELD)
    equality = fields.String(
        metadata={"description": "'equality-<field>' for the optional equality questions"}
    )


class EventFilters(Schema):
    place = place_field()
    kind = fields.String(validate=validate.OneOf(EVENT_KINDS))
    consultation_id = fields.String(metadata={"description": "events about this consultation"})


class RegistrationForm(Schema):
    """The event page's registration form (``gateway.web.events_form``)."""

    class Meta:
        unknown = INCLUDE

    csrf_token = fields.String(required=True, data_key=forms.CSRF_FIELD)
    idempotency_key = fields.String(data_key=forms.IDEMPOTENCY_FIELD)
    website = fields.String(data_key=forms.HONEYPOT_FIELD, metadata={"description": "honeypot"})
    name = fields.String()
    email = fields.String()
    phone = fields.String()
    places = fields.String(metadata={"description": "1 to 4"})
    access_needs = fields.String(metadata={"description": "repeated: one per access need"})
    consent = fields.String(data_key=forms.CONSENT_FIELD, validate=validate.OneOf(["yes"]))
    consent_version = fields.String(data_key=forms.CONSENT_VERSION_FIELD)


class YouSaidFilters(Schema):
    place = place_field()
    priority = priority_field()
    theme = fields.String(metadata={"description": "a theme's slug"})
