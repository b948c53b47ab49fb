"""The event registration form <-> the contract's ``RegistrationInputSchema``, no I/O:
view models for the template (``forms.Field``), the posted form parsed, and the
contract's reasons as sentences linked to their inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from engage_contracts.events import ACCESS_NEED_WORDS, ACCESS_NEEDS, MAX_PLACES, NEEDS_DETAIL
from engage_contracts.reference import current_consent
from gateway.web import forms
from gateway.web.forms import Choice, Field, FormData

MESSAGES = {
    "name": _l("Enter your name, or leave your contact details blank too"),
    "contact.email": _l("Enter an email address in the correct format, like name@example.com"),
    "contact.phone": _l("Enter a phone number, like 01632 960 001"),
    "places": _l("Choose how many places you need, from 1 to %(most)s", most=MAX_PLACES),
    "consent": _l("Tick the box to agree to how we use your details"),
}
TARGETS = {
    "name": "name",
    "contact": "email",
    "contact.email": "email",
    "contact.phone": "phone",
    "places": "places",
    "access_needs": "access-needs",
    "consent": "consent",
}


def detail_name(need: str) -> str:
    return f"detail-{need}"


def build_fields(form: Any | None = None, errors: Mapping[str, str] | None = None) -> dict:
    """``{"you": [...], "needs": Field, "details": [...], "equality": [...]}``."""
    data = FormData(form)
    errors = errors or {}

    def text(fid: str, label: str, hints: list[str], **kw: Any) -> Field:
        return Field(
            id=fid,
            name=fid,
            kind="text",
            number=None,
            text=label,
            hints=hints,
            value=data.get(fid),
            error=errors.get(fid),
            wide=True,
            **kw,
        )

    you = [
        text(
            "name",
            _("Your name"),
            [_("Leave your name and contact details blank for an anonymous drop-in place.")],
            autocomplete="name",
            max_length=200,
        ),
        text(
            "email",
            _("Email address"),
            [_("For your reminder the day before, and if anything changes.")],
            autocomplete="email",
            input_type="email",
            max_length=254,
        ),
        text(
            "phone",
            _("Phone number"),
            [_("If you would rather we phoned you about changes.")],
            autocomplete="tel",
            input_type="tel",
            max_length=30,
        ),
    ]
    places = Field(
        id="places",
        name="places",
        kind="radios",
        number=None,
        text=_("How many places do you need?"),
        hints=[
            _("You and anyone coming with you, like a carer. An interpreter does not need a place.")
        ],
        choices=[
            Choice(
                id="places" if n == 1 else f"places-{n}",
                value=str(n),
                label=_("Just me")
                if n == 1
                else ngettext("Me and %(num)d other", "Me and %(num)d others", n - 1),
                checked=(data.get("places") or "1") == str(n),
            )
            for n in range(1, MAX_PLACES + 1)
        ],
        error=errors.get("places"),
    )
    chosen = set(data.getlist("access_needs"))
    needs = Field(
        id="access-needs",
        name="access_needs",
        kind="checkboxes",
        number=None,
        text=_("Do you need anything to take part?"),
        hints=[_("Choose all that apply. We will tell you if we cannot arrange something.")],
        choices=[
            Choice(
                id="access-needs" if i == 0 else f"access-needs-{i}",
                value=need,
                label=_(ACCESS_NEED_WORDS[need]),
                checked=need in chosen,
            )
            for i, need in enumerate(ACCESS_NEEDS)
        ],
        error=errors.get("access-needs"),
    )
    details = [
        text(
            detail_name(need),
            _("Which language?") if need == "spoken-language" else _("What do you need?"),
            [],
            max_length=200,
        )
        for need in NEEDS_DETAIL
    ]
    return {
        "you": you,
        "places": places,
        "needs": needs,
        "details": details,
        "equality": forms.build_equality_fields(form, errors),
    }


def parse(form: Any) -> dict[str, Any]:
    """The contract's input from a posted form (blank is left out)."""
    data = FormData(form)
    sent: dict[str, Any] = {}
    name = data.get("name").strip()
    if name:
        sent["name"] = name
    contact = {k: data.get(k).strip() for k in ("email", "phone") if data.get(k).strip()}
    if contact:
        sent["contact"] = contact
    raw_places = data.get("places").strip() or "1"
    sent["places"] = int(raw_places) if raw_places.isdigit() else raw_places
    sent["access_needs"] = [
        {"need": need, "detail": data.get(detail_name(need)).strip()}
        for need in data.getlist("access_needs")
    ]
    parsed = forms.parse_form([], form)
    sent["equality"] = parsed.equality or None
    sent["consent"] = {
        "given": data.get(forms.CONSENT_FIELD) == "yes",
        "version": data.get(forms.CONSENT_VERSION_FIELD).strip()
        or current_consent("events")["version"],
    }
    return sent


def error_messages(
    errors: Mapping[str, Any], needs: list[str]
) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """(summary ``[(message, input id)]``, inline message by input id)."""
    equality_summary, equality_inline = forms.error_messages(
        [], {k: v for k, v in errors.items() if k.startswith("equality.")}
    )
    summary: list[tuple[str, str | None]] = []
    inline: dict[str, str] = {}
    for path in sorted(p for p in errors if not p.startswith("equality.")):
        parts = path.split(".")
        if parts[0] == "access_needs" and len(parts) > 2 and parts[1].isdigit():
            index = int(parts[1])
            need = needs[index] if index < len(needs) else "other"
            target = detail_name(need) if need in NEEDS_DETAIL else "access-needs"
            message = (
                _("Say which language you need an interpreter for")
                if need == "spoken-language"
                else _("Say what else you need")
            )
        else:
            key = path if path in MESSAGES else parts[0]
            target = TARGETS.get(path) or TARGETS.get(parts[0])
            reasons = errors[path]
            reason = reasons[0] if isinstance(reasons, list | tuple) and reasons else reasons
            known = MESSAGES.get(key)
            message = str(known) if known else _("Your registration: %(reason)s", reason=reason)
        if target and target in inline:
            continue
        summary.append((message, target))
        if target:
            inline[target] = message
    consent = [s for s in summary if s[1] == "consent"]
    rest = [s for s in summary if s[1] != "consent"]
    return rest + equality_summary + consent, {**inline, **equality_inline}
