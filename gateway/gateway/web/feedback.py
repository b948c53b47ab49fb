"""Resident pages for feedback: give feedback (no account, no JavaScript), follow it with
the receipt code (status and our public reply), see and delete it, stop emails about it.
Every receipt page signposts where to turn instead: 999, NHS 111, Samaritans, the local
safeguarding route, PALS and the formal complaints route."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engage_common.errors import NotFound, ValidationFailed
from engage_contracts import feedback as contract
from engage_contracts.base import load
from engage_contracts.feedback import KIND_WORDS, signposting
from engage_contracts.reference import EQUALITY_VERSION, current_consent
from gateway.application import feedback
from gateway.application.receipts import decoy_receipt_code, normalise_receipt
from gateway.context import engage
from gateway.errors import ApiError, ServiceUnavailable
from gateway.security import READ, WRITE, rate_limited
from gateway.web import (
    _check_csrf,
    _csrf_token,
    _idempotency_key,
    bp,
    forms,
    page,
    readable_answers,
)
from gateway.web import feedback_form as form_
from gateway.web.equality import translated_equality_questions
from gateway.web.languages import chosen
from gateway.web.schemas import CsrfForm, FeedbackForm

LAST_FEEDBACK_KEY = "feedback_receipt"
STATUS_WORDS = {
    "received": (
        _l("Received"),
        _l("We have your feedback. The team who handle feedback will read it."),
    ),
    "triaged": (
        _l("Being looked at"),
        _l("The team have read your feedback and are looking into it."),
    ),
    "responded": (_l("Replied"), _l("We have replied to your feedback. Our reply is below.")),
    "closed": (_l("Closed"), _l("We have finished looking at your feedback.")),
    "duplicate": (
        _l("Already received"),
        _l("We already had this feedback, so we kept one copy."),
    ),
    "rejected": (
        _l("Not stored"),
        _l("Sorry, we received your feedback but could not store it."),
    ),
}


@bp.app_context_processor
def _feedback_words() -> dict[str, Any]:
    return {
        "KIND_WORDS": {k: _(v) for k, v in KIND_WORDS.items()},
        "FEEDBACK_STATUS": STATUS_WORDS,
    }


def _render_form(
    status: int = 200,
    posted: Any | None = None,
    errors: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> tuple[str, int]:
    summary, inline = form_.error_messages(errors or {})
    data = forms.FormData(posted if posted is not None else request.args)
    html = render_template(
        "feedback.html",
        fields=form_.build_fields(posted, inline),
        error_summary=summary,
        consent_error=inline.get("consent"),
        consent_checked=forms.FormData(posted).get(forms.CONSENT_FIELD) == "yes",
        consent=forms.consent_shown(current_consent("feedback"), chosen().code),
        consultation_id=data.get(form_.CONSULTATION_FIELD),
        csrf_token=_csrf_token(),
        idempotency_key=_idempotency_key(idempotency_key),
        forms=forms,
        signposting=signposting(),
    )
    return html, status


@bp.route("/feedback", methods=["GET"])
@page("Give feedback: an accessible form, no account and no JavaScript needed")
def feedback_form() -> Any:
    return _render_form()


@bp.route("/feedback", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Send feedback from the form: 303 to its receipt page, or the form again with an "
    "error summary (422)",
    form=FeedbackForm,
    status=303,
    headers={"Location": {"description": "the receipt page", "schema": {"type": "string"}}},
    errors=(400, 413, 422, 503),
)
def give_feedback() -> Any:
    _check_csrf()
    if request.form.get(forms.HONEYPOT_FIELD):
        return render_template(
            "feedback_receipt.html",
            code=decoy_receipt_code(),
            status="received",
            found=None,
            signposting=signposting(),
        )
    key = _idempotency_key(request.form.get(forms.IDEMPOTENCY_FIELD))
    parsed = form_.parse(request.form)
    try:
        sent = load(contract.FeedbackInputSchema(), parsed)
        receipt = feedback.submit(engage(), sent, key, "web-form")
    except ValidationFailed as failed:
        # Say every problem at once: the rules beyond the fields (consent, equality,
        # district) too, though the fields already failed.
        more = feedback.problems(parsed)
        return _render_form(422, request.form, {**more, **failed.errors}, key)
    session[LAST_FEEDBACK_KEY] = receipt["receipt_code"]
    return redirect(url_for("web.feedback_receipt", code=receipt["receipt_code"]), code=303)


def _code(code: str) -> str:
    normal = normalise_receipt(code)
    if normal is None:
        raise NotFound("receipt not found")
    return normal


@bp.route("/feedback/receipts/<code>", methods=["GET"])
@rate_limited(READ, html=True)
@page(
    "Feedback's receipt: its status and our public reply, and where else to turn",
    errors=(404,),
)
def feedback_receipt(code: str) -> Any:
    code = _code(code)
    try:
        found = engage().services.feedback("get_receipt", code)
    except (NotFound, ServiceUnavailable):
        # Still on the queue, or feedback is away and will store it when it is back.
        found = None
    return render_template(
        "feedback_receipt.html",
        code=code,
        status=(found or {}).get("status", "received"),
        found=found,
        just_sent=session.get(LAST_FEEDBACK_KEY) == code,
        signposting=signposting(),
    )


def _mine(code: str) -> dict[str, Any]:
    try:
        return engage().services.feedback("get_my_feedback", code)
    except NotFound:
        raise ApiError(
            _(
                "We do not hold feedback with that receipt code. If you only just sent it, "
                "wait a few seconds and reload this page."
            ),
            status=404,
        ) from None


@bp.route("/feedback/receipts/<code>/feedback", methods=["GET"])
@rate_limited(WRITE, html=True)
@page("What the resident sent as feedback, with a button to delete it", errors=(404, 503))
def my_feedback(code: str) -> Any:
    code = _code(code)
    sent = _mine(code)
    version = sent.get("equality_version") or EQUALITY_VERSION
    equality = readable_answers(translated_equality_questions(version), sent.get("equality") or {})
    response = Response(
        render_template(
            "my_feedback.html",
            code=code,
            sent=sent,
            equality=equality,
            csrf_token=_csrf_token(),
        ),
        mimetype="text/html",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/feedback/receipts/<code>/delete", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Delete the resident's feedback (asks to confirm first)", form=CsrfForm, errors=(400, 404, 503)
)
def delete_feedback(code: str) -> Any:
    _check_csrf()
    code = _code(code)
    if request.form.get("confirm") != "yes":
        return render_template(
            "delete_feedback.html", code=code, deleted=False, csrf_token=_csrf_token()
        )
    try:
        engage().services.feedback("delete_my_feedback", code)
    except NotFound:
        raise ApiError(
            _("We do not hold feedback with that receipt code. It may have been deleted already."),
            status=404,
        ) from None
    if session.get(LAST_FEEDBACK_KEY) == code:
        session.pop(LAST_FEEDBACK_KEY)
    return render_template("delete_feedback.html", code=code, deleted=True)


@bp.route("/feedback/receipts/<code>/stop-emails", methods=["GET"])
@page(
    "Stop emails about a piece of feedback: asks to confirm (a link scanner must not)",
    errors=(404,),
)
def stop_emails_page(code: str) -> Any:
    code = _code(code)
    return render_template("stop_emails.html", code=code, stopped=False, csrf_token=_csrf_token())


@bp.route("/feedback/receipts/<code>/stop-emails", methods=["POST"])
@rate_limited(WRITE, html=True)
@page("Stop emails about a piece of feedback", form=CsrfForm, errors=(400, 404, 503))
def stop_emails(code: str) -> Any:
    """From the page's button, or a mail provider's one-click unsubscribe (RFC 8058:
    ``List-Unsubscribe=One-Click``, posted with no page and so no CSRF token; the most a
    forged one can do is stop emails)."""
    if request.form.get("List-Unsubscribe") != "One-Click":
        _check_csrf()
    code = _code(code)
    try:
        engage().services.feedback("stop_emails", code)
    except NotFound:
        raise ApiError(_("We do not hold feedback with that receipt code."), status=404) from None
    return render_template("stop_emails.html", code=code, stopped=True)
