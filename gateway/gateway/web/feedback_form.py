"""The feedback form <-> the contract's ``FeedbackInputSchema``, with no I/O.

``build_fields`` gives the template its view models (the same ``forms.Field`` the
consultation form renders); ``parse`` turns a posted form into the contract's input;
``error_messages`` turns the contract's reasons into sentences that say what to do, each
linked to its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engage_contracts.feedback import KIND_WORDS, KINDS, MAX_TEXT
from engage_contracts.ics import ics
from engage_contracts.reference import OUTSIDE_AREA, current_consent, places
from gateway.web import forms
from gateway.web.forms import Choice, Field, FormData

CONSULTATION_FIELD = "consultation_id"
# The form's own postcode question (where it happened) stands in for the equality one.
EQUALITY_LEFT_OUT = ("postcode_district",)
REPLY_WORDS = {
    "none": "No, I will check with my receipt code",
    "email": "Yes, by email",
}
MESSAGES = {
    "kind": "Choose what kind of feedback this is",
    "about": "Enter what your feedback is about",
    "text": "Enter your feedback",
    "place": "Choose one of the places, or 'Somewhere else'",
    "postcode_district": "Enter the first half of a postcode, like {examples}, or leave it blank",
    "reply_by": "Choose whether you would like a reply by email",
    "email": "Enter an email address in the correct format, like name@example.com",
    "consent": "Tick the box to agree to how we use your feedback",
    "hear_back_email": "Enter your email address to hear what happens, or untick the box",
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
        text="What kind of feedback is this?",
        required=True,
        choices=_choices("kind", [(k, KIND_WORDS[k]) for k in KINDS], {data.get("kind")}),
        error=errors.get("kind"),
    )
    about = Field(
        id="about",
        name="about",
        kind="text",
        number=None,
        text="What is it about?",
        required=True,
        hints=["For example, a GP practice, a hospital ward, a service or a place."],
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
        text="Your feedback",
        required=True,
        hints=[
            "Tell us what happened, what was good or what could be better. Please do not "
            "include names, phone numbers or your NHS number: we remove any we find.",
            f"You can enter up to {MAX_TEXT:,} characters.",
        ],
        value=data.get("text"),
        max_length=MAX_TEXT,
        error=errors.get("text"),
    )
    place_pairs = [*places().items(), (OUTSIDE_AREA, "Somewhere else")]
    place = Field(
        id="place",
        name="place",
        kind="radios",
        number=None,
        text="Which place is it about?",
        choices=_choices("place", place_pairs, {data.get("place")}),
        error=errors.get("place"),
    )
    district = Field(
        id="postcode_district",
        name="postcode_district",
        kind="text",
        number=None,
        text="The first half of the postcode where it happened",
        hints=["For example, " + " or ".join(ics().postcode_examples) + "."],
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
        text="May we quote what you said?",
        hints=[
            "We may publish some of your words, for example in a report to our board, "
            "with anything that could identify you taken out. We will not quote you "
            "unless you tick this."
        ],
        choices=_choices(
            "may_quote",
            [("yes", "Yes, you may quote my words")],
            {data.get("may_quote")},
        ),
    )
    reply_by = Field(
        id="reply_by",
        name="reply_by",
        kind="radios",
        number=None,
        text="Would you like a reply?",
        hints=[
            "Whatever you choose, you can see our reply with your receipt code. We only use "
            "your email address to reply, and delete it when we close your feedback."
        ],
        choices=_choices("reply_by", list(REPLY_WORDS.items()), {data.get("reply_by") or "none"}),
        error=errors.get("reply_by"),
    )
    hear_back = Field(
        id="hear_back",
        name="hear_back",
        kind="checkboxes",
        number=None,
        text="Would you like to hear what happens because of your feedback?",
        hints=[
            "We will email you, at most once a day, when something is decided or changes "
            "because of what people told us, and stop when it is finished."
        ],
        choices=_choices(
            "hear_back", [("yes", "Yes, email me what happens")], {data.get("hear_back")}
        ),
    )
    email = Field(
        id="email",
        name="email",
        kind="text",
        number=None,
        text="Your email address, for a reply or to hear what happens",
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
        if base in MESSAGES:
            message = MESSAGES[base].format(examples=" or ".join(ics().postcode_examples))
        else:
            reasons = errors[path]
            reason = reasons[0] if isinstance(reasons, list | tuple) and reasons else reasons
            message = f"Your feedback: {reason}"
        if base == "email" and "reply" in str(errors[path]):
            message = "Enter your email address, or choose not to have a reply by email"
        summary.append((message, target))
        if target:
            inline[target] = message
    # The equality questions come after the rest of the form, before consent.
    consent = [s for s in summary if s[1] == "consent"]
    rest = [s for s in summary if s[1] != "consent"]
    return rest + equality_summary + consent, {**inline, **equality_inline}
