"""Resident pages for engagement events: find one (by place, kind, date, consultation),
see when and where (in UK time) and how accessible it is, register with no account
(no JavaScript needed), then see, change or cancel the registration with its private
link and add it to a calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_contracts import events as contract
from engage_contracts.base import load
from engage_contracts.events import (
    ACCESS_NEED_WORDS,
    KIND_WORDS,
    KINDS,
    VENUE_FEATURE_WORDS,
)
from engage_contracts.reference import current_consent, places, validate_equality
from engage_contracts.shared import check_consent
from gateway.application import events
from gateway.application.receipts import normalise_receipt
from gateway.context import engage
from gateway.security import READ, WRITE, rate_limited
from gateway.web import _check_csrf, _csrf_token, _idempotency_key, bp, forms, page
from gateway.web import events_form as form_
from gateway.web.languages import chosen
from gateway.web.schemas import CsrfForm, EventFilters, RegistrationForm

REGISTRATION_WORDS = {
    "confirmed": _l("You have a place"),
    "waiting": _l("You are on the waiting list"),
    "cancelled": _l("Your registration is cancelled"),
}


@bp.app_context_processor
def _event_words() -> dict[str, Any]:
    return {
        "EVENT_KINDS": {k: _(v) for k, v in KIND_WORDS.items()},
        "VENUE_FEATURES": {k: _(v) for k, v in VENUE_FEATURE_WORDS.items()},
        "ACCESS_NEED_WORDS": {k: _(v) for k, v in ACCESS_NEED_WORDS.items()},
        "REGISTRATION_WORDS": REGISTRATION_WORDS,
    }


def _filters() -> dict[str, Any]:
    """The list's filters as chosen; anything unknown means all."""
    place, kind = request.args.get("place", ""), request.args.get("kind", "")
    return {
        "place": place if place in places() else None,
        "kind": kind if kind in KINDS else None,
        "consultation_id": request.args.get("consultation_id") or None,
    }


@bp.route("/events", methods=["GET"])
@rate_limited(READ, html=True)
@page("Engagement events coming up, by place and kind", query=EventFilters, errors=(503,))
def events_page() -> Any:
    chosen = _filters()
    query = {k: v for k, v in chosen.items() if v}
    try:
        query = contract.EventFiltersSchema().dump(load(contract.EventFiltersSchema(), query))
    except ValidationFailed:
        query, chosen["consultation_id"] = {}, None
    found = engage().services.events("list_events", query)["events"]
    return render_template("events.html", events=found, chosen=chosen, KINDS=KINDS)


def _render_event(
    event: dict[str, Any],
    status: int = 200,
    posted: Any | None = None,
    errors: dict[str, Any] | None = None,
    key: str | None = None,
    notice: str | None = None,
) -> tuple[str, int]:
    needs = [n for n in forms.FormData(posted).getlist("access_needs")]
    summary, inline = form_.error_messages(errors or {}, needs)
    html = render_template(
        "event.html",
        event=event,
        fields=form_.build_fields(posted, inline),
        error_summary=summary,
        consent_error=inline.get("consent"),
        consent_checked=forms.FormData(posted).get(forms.CONSENT_FIELD) == "yes",
        consent=forms.consent_shown(current_consent("events"), chosen().code),
        csrf_token=_csrf_token(),
        idempotency_key=_idempotency_key(key),
        forms=forms,
        notice=notice,
        now=datetime.now(UTC).isoformat(),
    )
    return html, status


@bp.route("/events/<uuid:event_id>", methods=["GET"])
@rate_limited(READ, html=True)
@page("An event: when (UK time), where, its access, and a registration form", errors=(404, 503))
def event_page(event_id: Any) -> Any:
    return _render_event(engage().services.events("get_event", str(event_id)))


@bp.route("/events/<uuid:event_id>", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Register from the form: 303 to the registration, or the form again with an error "
    "summary (422), or why registration is closed (409)",
    form=RegistrationForm,
    status=303,
    headers={"Location": {"description": "the registration", "schema": {"type": "string"}}},
    errors=(400, 404, 409, 413, 422, 503),
)
def register(event_id: Any) -> Any:
    _check_csrf()
    ctx = engage()
    event = ctx.services.events("get_event", str(event_id))
    key = _idempotency_key(request.form.get(forms.IDEMPOTENCY_FIELD))
    if request.form.get(forms.HONEYPOT_FIELD):
        return _render_event(event, notice=_("Thank you."))
    parsed = form_.parse(request.form)
    try:
        sent = load(contract.RegistrationInputSchema(), parsed)
        made = events.register(ctx, str(event_id), sent, key)
    except ValidationFailed as failed:
        # Every problem at once: consent and equality too, though the fields failed.
        more = check_consent(parsed.get("consent"))[1]
        more.update(validate_equality(parsed.get("equality"))[1])
        return _render_event(event, 422, request.form, {**more, **failed.errors}, key)
    except Conflict as closed:
        return _render_event(event, 409, notice=closed.message)
    return redirect(url_for("web.registration_page", code=made["manage_code"]), code=303)


def _manage(code: str) -> str:
    if not contract.MANAGE_CODE.match(code):
        raise NotFound("registration not found")
    return code


def _registration(code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ctx = engage()
    found = ctx.services.events("get_registration", _manage(code))
    return found, ctx.services.events("get_event", found["event_id"])


def _render_registration(
    code: str, status: int = 200, posted: Any | None = None, errors: dict[str, Any] | None = None
) -> Response:
    found, event = _registration(code)
    chosen = posted or {"access_needs": [n["need"] for n in found.get("access_needs") or []]}
    needs = forms.FormData(chosen).getlist("access_needs")
    summary, inline = form_.error_messages(errors or {}, needs)
    response = Response(
        render_template(
            "registration.html",
            registration=found,
            event=event,
            code=code,
            fields=form_.build_fields(chosen, inline),
            error_summary=summary,
            csrf_token=_csrf_token(),
        ),
        status=status,
        mimetype="text/html",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL is the private key
    return response


@bp.route("/events/registrations/<code>", methods=["GET"])
@rate_limited(WRITE, html=True)
@page(
    "A registration: a place or the waiting list, add to calendar, change or cancel",
    errors=(404, 503),
)
def registration_page(code: str) -> Any:
    return _render_registration(code)


@bp.route("/events/registrations/<code>", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Change a registration's access needs: 303 back to it, or it again with an error summary (422)",
    form=CsrfForm,
    status=303,
    errors=(400, 404, 409, 422, 503),
)
def change_registration(code: str) -> Any:
    _check_csrf()
    changes = {"access_needs": form_.parse(request.form)["access_needs"]}
    try:
        load(contract.RegistrationChangeSchema(), changes)
        engage().services.events("update_registration", _manage(code), changes)
    except ValidationFailed as failed:
        return _render_registration(code, 422, request.form, failed.errors)
    return redirect(url_for("web.registration_page", code=code), code=303)


@bp.route("/events/registrations/<code>/cancel", methods=["POST"])
@rate_limited(WRITE, html=True)
@page("Cancel a registration (asks to confirm first)", form=CsrfForm, errors=(400, 404, 503))
def cancel_registration(code: str) -> Any:
    _check_csrf()
    found, event = _registration(code)
    if request.form.get("confirm") != "yes":
        return render_template(
            "cancel_registration.html", code=code, event=event, done=False, csrf_token=_csrf_token()
        )
    engage().services.events("cancel_registration", code)
    return render_template("cancel_registration.html", code=code, event=event, done=True)


@bp.route("/events/registrations/<code>/calendar.ics", methods=["GET"])
@rate_limited(WRITE, html=True)
@page("The event as a calendar file, with the private links", errors=(404, 503))
def registration_calendar(code: str) -> Any:
    found, event = _registration(code)
    body = events.calendar(event, engage().settings.public_url, {**found, "manage_code": code})
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="event.ics"'},
    )


@bp.route("/events/registrations/stop-emails/<code>", methods=["GET"])
@page("Stop emails about a registration: asks to confirm", errors=(404,))
def event_stop_emails_page(code: str) -> Any:
    if normalise_receipt(code) is None:
        raise NotFound("registration not found")
    return render_template(
        "stop_emails.html",
        code=code,
        stopped=False,
        csrf_token=_csrf_token(),
        action=url_for("web.event_stop_emails", code=code),
        about="registration",
    )


@bp.route("/events/registrations/stop-emails/<code>", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Stop emails about a registration (also one-click, RFC 8058)",
    form=CsrfForm,
    errors=(400, 404, 503),
)
def event_stop_emails(code: str) -> Any:
    if request.form.get("List-Unsubscribe") != "One-Click":
        _check_csrf()
    normal = normalise_receipt(code)
    if normal is None:
        raise NotFound("registration not found")
    engage().services.events("stop_emails", normal)
    return render_template("stop_emails.html", code=normal, stopped=True, about="registration")
