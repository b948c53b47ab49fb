"""The feedback form <-> the contract's ``FeedbackInputSchema``, with no I/O.

``build_fields`` gives the template its view models (the same ``forms.Field`` the
consultation form renders); ``parse`` turns a posted form into the contract's input;
``error_messages`` turns the contract's reasons into sentences that say what to do, each
linked to its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engage_contracts.feedback import KIND_WORDS, KINDS, MAX_TEXT
from engage_contracts.ics import ics
from engage_contracts.reference import OUTSIDE_AREA, current_consent, places
from gateway.web import forms
from gateway.web.forms import Choice, Field, FormData, any_of

CONSULTATION_FIELD = "consultation_id"
# The form's own postcode question (where it happened) stands in for the equality one.
EQUALITY_LEFT_OUT = ("postcode_district",)
REPLY_WORDS = {
    "none": _l("No, I will check with my receipt code"),
    "email": _l("Yes, by email"),
}
MESSAGES = {
    "kind": _l("Choose what kind of feedback this is"),
    "about": _l("Enter what your feedback is about"),
    "text": _l("Enter your feedback"),
    "place": _l("Choose one of the places, or 'Somewhere else'"),
    "reply_by": _l("Choose whether you would like a reply by email"),
    "email": _l("Enter an email address in the correct format, like name@example.com"),
    "consent": _l("Tick the box to agree to how we use your feedback"),
    "hear_back_email": _l("Enter your email address to hear what happens, or untick the box"),
}
TARGETS = {
    "kind": "kind",
    "about": "about",
    "text": "text",
    "place": "place",
    "postcode_district": "postcode_district",
    "reply_by": "reply_by",
    "email": "email",
    "hear_back_email": "email",
    "may_quote": "may_quote",
    "consent": "consent",
}


def _examples() -> str:
    """The configuration's example postcode districts, "LS6 or BD23"."""
    return any_of(ics().postcode_examples)


def _choices(base: str, pairs: list[tuple[str, str]], chosen: set[str]) -> list[Choice]:
    return [
        Choice(id=base if i == 0 else f"{base}-{i}", value=v, label=label, checked=v in chosen)
        for i, (v, label) in enumerate(pairs)
    ]


def build_fields(
    form: Any | None = None, errors: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``{"feedback": [...], "where": [...], "reply": [...], "equality": [...]}``."""
    data = FormData(form)
    errors = errors or {}
    kind = Field(
        id="kind",
        name="kind",
        kind="radios",
        number=None,
        text=_("What kind of feedback is this?"),
        required=True,
        choices=_choices("kind", [(k, _(KIND_WORDS[k])) for k in KINDS], {data.get("kind")}),
        error=errors.get("kind"),
    )
    about = Field(
        id="about",
        name="about",
        kind="text",
        number=None,
        text=_("What is it about?"),
        required=True,
        hints=[_("For example, a GP practice, a hospital ward, a service or a place.")],
        value=data.get("about"),
        max_length=200,
        error=errors.get("about"),
        autocomplete="off",
        wide=True,
    )
    text = Field(
        id="text",
        name="text",
        kind="textarea",
        number=None,
        text=_("Your feedback"),
        required=True,
        hints=[
            _(
                "Tell us what happened, what was good or what could be better. Please do not "
                "include names, phone numbers or your NHS number: we remove any we find."
            ),
            _("You can enter up to %(count)s characters.", count=format_number(MAX_TEXT)),
        ],
        value=data.get("text"),
        max_length=MAX_TEXT,
        error=errors.get("text"),
    )
    place_pairs = [*places().items(), (OUTSIDE_AREA, _("Somewhere else"))]
    place = Field(
        id="place",
        name="place",
        kind="radios",
        number=None,
        text=_("Which place is it about?"),
        choices=_choices("place", place_pairs, {data.get("place")}),
        error=errors.get("place"),
    )
    district = Field(
        id="postcode_district",
        name="postcode_district",
        kind="text",
        number=None,
        text=_("The first half of the postcode where it happened"),
        hints=[_("For example, %(examples)s.", examples=_examples())],
        value=data.get("postcode_district"),
        max_length=10,
        error=errors.get("postcode_district"),
        autocomplete="off",
    )
    quote = Field(
        id="may_quote",
        name="may_quote",
        kind="checkboxes",
        number=None,
        text=_("May we quote what you said?"),
        hints=[
            _(
                "We may publish some of your words, for example in a report to our board, "
                "with anything that could identify you taken out. We will not quote you "
                "unless you tick this."
            )
        ],
        choices=_choices(
            "may_quote",
            [("yes", _("Yes, you may quote my words"))],
            {data.get("may_quote")},
        ),
    )
    reply_by = Field(
        id="reply_by",
        name="reply_by",
        kind="radios",
        number=None,
        text=_("Would you like a reply?"),
        hints=[
            _(
                "Whatever you choose, you can see our reply with your receipt code. We only "
                "use your email address to reply, and delete it when we close your feedback."
            )
        ],
        choices=_choices(
            "reply_by",
            [(k, str(v)) for k, v in REPLY_WORDS.items()],
            {data.get("reply_by") or "none"},
        ),
        error=errors.get("reply_by"),
    )
    hear_back = Field(
        id="hear_back",
        name="hear_back",
        kind="checkboxes",
        number=None,
        text=_("Would you like to hear what happens because of your feedback?"),
        hints=[
            _(
                "We will email you, at most once a day, when something is decided or changes "
                "because of what people told us, and stop when it is finished."
            )
        ],
        choices=_choices(
            "hear_back", [("yes", _("Yes, email me what happens"))], {data.get("hear_back")}
        ),
    )
    email = Field(
        id="email",
        name="email",
        kind="text",
        number=None,
        text=_("Your email address, for a reply or to hear what happens"),
        value=data.get("email"),
        max_length=254,
        error=errors.get("email"),
        autocomplete="email",
        wide=True,
        input_type="email",
    )
    equality = [
        f
        for f in forms.build_equality_fields(form, errors)
        if f.id not in {forms.equality_field_id(q) for q in EQUALITY_LEFT_OUT}
    ]
    return {
        "feedback": [kind, about, text],
        "where": [place, district],
        "reply": [quote, reply_by, hear_back, email],
        "equality": equality,
    }


def parse(form: Any) -> dict[str, Any]:
    """The contract's input from a posted form: blank answers are left out, so the
    contract's own rules say what is missing."""
    data = FormData(form)
    sent: dict[str, Any] = {}
    for name in ("kind", "about", "place", "postcode_district", "email", "reply_by"):
        value = data.get(name).strip()
        if value:
            sent[name] = value
    text = data.get("text").replace("\r\n", "\n").strip()
    if text:
        sent["text"] = text
    consultation = data.get(CONSULTATION_FIELD).strip()
    if consultation:
        sent["consultation_id"] = consultation
    sent["may_quote"] = data.get("may_quote") == "yes"
    if data.get("hear_back") == "yes":
        sent["hear_back_email"] = data.get("email").strip()  # blank: said to be missing
    parsed = forms.parse_form([], form)
    if parsed.equality:
        sent["equality"] = {
            k: v for k, v in parsed.equality.items() if k not in EQUALITY_LEFT_OUT
        } or None
    sent["consent"] = {
        "given": data.get(forms.CONSENT_FIELD) == "yes",
        "version": data.get(forms.CONSENT_VERSION_FIELD).strip()
        or current_consent("feedback")["version"],
    }
    return sent


def error_messages(
    errors: Mapping[str, Any],
) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """(summary ``[(message, input id)]`` in the page's order, inline message by input id)."""
    equality_summary, equality_inline = forms.error_messages(
        [], {k: v for k, v in errors.items() if k.startswith("equality.")}
    )
    order = list(TARGETS)
    summary: list[tuple[str, str | None]] = []
    inline: dict[str, str] = {}
    for path in sorted(
        (p for p in errors if not p.startswith("equality.")),
        key=lambda p: order.index(p.split(".")[0]) if p.split(".")[0] in order else len(order),
    ):
        base = path.split(".")[0]
        target = TARGETS.get(base)
        if target and target in inline:
            continue
        if base == "postcode_district":
            message = _(
                "Enter the first half of a postcode, like %(examples)s, or leave it blank",
                examples=_examples(),
            )
        elif base in MESSAGES:
            message = str(MESSAGES[base])
        else:
            reasons = errors[path]
            reason = reasons[0] if isinstance(reasons, list | tuple) and reasons else reasons
            message = _("Your feedback: %(reason)s", reason=reason)
        if base == "email" and "reply" in str(errors[path]):
            message = _("Enter your email address, or choose not to have a reply by email")
        summary.append((message, target))
        if target:
            inline[target] = message
    # The equality questions come after the rest of the form, before consent.
    consent = [s for s in summary if s[1] == "consent"]
    rest = [s for s in summary if s[1] != "consent"]
    return rest + equality_summary + consent, {**inline, **equality_inline}
