"""Resident-facing web pages: find a consultation, answer it, get a receipt, and see
what was decided ("you said, we did").

Server-rendered and complete without JavaScript. Residents have no account; a
CSRF token in Flask's signed session cookie protects the form, a hidden
idempotency key makes a double click store once, and a honeypot field quietly
drops what bots send.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Response, redirect, render_template, request, session, url_for
from flask_babel import format_date, format_number, format_time, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_contracts import surveys as contract
from engage_contracts.base import load
from engage_contracts.ics import ics
from engage_contracts.reference import (
    EQUALITY_VERSION,
    current_consent,
    place_label,
    places,
    priorities,
)
from engage_contracts.shared import DEFAULT_LANGUAGE, localised
from gateway.application.easy_read import easy_read_view
from gateway.application.reach import locate_submission
from gateway.application.receipts import decoy_receipt_code, normalise_receipt
from gateway.application.responses import check, current_or_snapshot, submit_response
from gateway.context import engage
from gateway.errors import ApiError, ServiceUnavailable
from gateway.http import Blueprint, error_doc
from gateway.readmodels import queries
from gateway.security import READ, WRITE, rate_limited
from gateway.web import forms
from gateway.web.equality import likert_options, translated_equality_questions
from gateway.web.schemas import CsrfForm, PageFilters, ResponseForm

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
    description="Resident web pages (HTML, no JavaScript needed)",
)
HTML = {"text/html": {"schema": {"type": "string"}}}


def page(
    summary: str,
    *,
    query: type | None = None,
    form: type | None = None,
    status: int = 200,
    headers: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (),
    description: str = "",
) -> Any:
    """Document a resident page in /openapi.json: an HTML operation (its errors are pages
    too), with its query filters or its form body."""
    success: dict[str, Any] = {"description": "a page", "content": HTML}
    if status == 303:
        success = {"description": "on to the next page"}
    if headers:
        success["headers"] = headers
    doc: dict[str, Any] = {
        "summary": summary,
        "responses": {str(status): success, **_error_pages(errors)},
    }
    if description:
        doc["description"] = description
    if query is not None:
        doc["parameters"] = [{"in": "query", "schema": query}]
    if form is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": form}},
        }
    return Blueprint.doc(**doc)


def _error_pages(statuses: tuple[int, ...]) -> dict[str, Any]:
    return {str(s): error_doc(s, html=True) for s in statuses}


LONDON = ZoneInfo("Europe/London")
CSRF_SESSION_KEY = "csrf"
LAST_RECEIPT_KEY = "receipt"


def _moment(value: datetime | str) -> datetime:
    return (
        value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    ).astimezone(LONDON)


def _english() -> bool:
    return get_locale() is None or get_locale().language == DEFAULT_LANGUAGE


@bp.app_template_filter("when")
def when(value: str | None) -> str:
    """An ISO 8601 timestamp as UK local time, e.g. '31 March 2026 at 5:00pm' (in the
    reader's language's own way for other languages)."""
    if not value:
        return ""
    try:
        moment = _moment(value)
    except ValueError:
        return str(value)
    if not _english():
        return f"{format_date(moment, 'long')}, {format_time(moment, 'HH:mm')}"
    hour = moment.strftime("%I").lstrip("0")
    return f"{moment.day} {moment:%B %Y} at {hour}:{moment:%M}{moment.strftime('%p').lower()}"


@bp.app_template_filter("day")
def day(value: datetime | str | None) -> str:
    """A timestamp as a UK date, e.g. '31 March 2026' (in the reader's language)."""
    if not value:
        return ""
    try:
        moment = _moment(value)
    except ValueError:
        return str(value)
    if not _english():
        return format_date(moment, "long")
    return f"{moment.day} {moment:%B %Y}"


@bp.app_template_filter("t")
def text_for_reader(value: Any) -> str:
    """Text kept by language (``{"en": ...}``) in the reader's language, English when it
    has no translation."""
    from gateway.web.languages import chosen

    return localised(value, chosen().code)


@bp.app_template_filter("number")
def number(value: int | float | None) -> str:
    """A number written the reader's way (1,234 in English, 1 234 in Polish)."""
    return "" if value is None else format_number(value)


@bp.app_template_filter("people")
def people(count: int | None) -> str:
    """A count of people as shown: "fewer than 5" when the small-number rule hides it."""
    if count is None:
        return _("fewer than %(threshold)s", threshold=format_number(ics().small_number_threshold))
    return format_number(count)


@bp.app_template_filter("paragraphs")
def paragraphs(value: str | None) -> Markup:
    """Plain text to paragraphs, escaped (staff text is never trusted as HTML)."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", value or "") if b.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in block.splitlines()))
        for block in blocks
    )


@bp.app_context_processor
def _reference() -> dict[str, Any]:
    return {
        "ICS": ics(),
        "PLACES": places(),
        "PRIORITIES": priorities(),
        "place_label": place_label,
        "status_words": queries.status_words,
    }


def _csrf_token() -> str:
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def _check_csrf() -> None:
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.form.get(forms.CSRF_FIELD, "")
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise ApiError(
            _(
                "Your form could not be sent, because it had expired or did not come "
                "from this website. Go back, reload the page and try again."
            ),
            status=400,
        )


def _idempotency_key(sent: str | None = None) -> str:
    """Keep a posted key (so a corrected form still stores once), else a new one."""
    if sent:
        try:
            return str(uuid.UUID(sent))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _visible(consultation: dict[str, Any]) -> dict[str, Any]:
    """Residents never see drafts: to them a draft does not exist."""
    if consultation.get("status") == "draft":
        raise NotFound("consultation not found")
    return consultation


def _notice(consultation: dict[str, Any]) -> str | None:
    """Why a consultation shows no form, in plain words; None while it takes answers."""
    if consultation.get("accepting_responses"):
        return None
    closed = consultation.get("closed_at") or consultation.get("closes_at")
    if consultation.get("status") == "open" and consultation.get("opens_at"):
        try:
            opens = datetime.fromisoformat(consultation["opens_at"])
            if datetime.now(opens.tzinfo or LONDON) < opens:
                return _(
                    "This consultation opens on %(when)s.", when=when(consultation["opens_at"])
                )
        except ValueError:
            pass
        closed = consultation.get("closes_at")
    if closed:
        return _(
            "This consultation closed on %(when)s. You can no longer answer it.", when=when(closed)
        )
    return _("This consultation is not taking answers just now.")


def _render_consultation(
    consultation: dict[str, Any],
    status: int = 200,
    form: Any | None = None,
    errors: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    easy_read: bool = False,
) -> tuple[str, int]:
    """The consultation's page with its form; ``easy_read``: its easy-read version (the
    points, then the same form in easy-read wording), when it has one."""
    from gateway.web.languages import chosen

    cid = str(consultation.get("id"))
    easy = (
        easy_read_view(
            consultation,
            lambda sha: url_for("web.easy_read_picture", consultation_id=cid, sha256=sha),
        )
        if easy_read
        else None
    )
    if easy:
        consultation = easy["consultation"]
    questions = (consultation.get("questionnaire") or {}).get("questions") or []
    code = chosen().code
    summary, inline = forms.error_messages(questions, errors or {})
    html = render_template(
        "consultation.html",
        consultation=consultation,
        easy_read=easy,
        notice=_notice(consultation),
        fields=forms.build_fields(questions, form, inline, code),
        equality_fields=forms.build_equality_fields(form, inline),
        error_summary=summary,
        consent_error=inline.get("consent"),
        consent_checked=forms.FormData(form).get(forms.CONSENT_FIELD) == "yes",
        consent=forms.consent_shown(consultation.get("consent") or current_consent(), code),
        hear_back_error=inline.get(forms.HEAR_BACK_FIELD),
        hear_back_value=forms.FormData(form).get(forms.HEAR_BACK_FIELD),
        csrf_token=_csrf_token(),
        idempotency_key=_idempotency_key(idempotency_key),
        forms=forms,
    )
    return html, status


def _page_filters() -> tuple[str, str]:
    """The place and priority chosen in a filter form; anything unknown means all."""
    place = request.args.get("place", "")
    priority = request.args.get("priority", "")
    return (place if place in places() else "", priority if priority in priorities() else "")


@bp.route("/", methods=["GET"])
@page(
    "Home: the consultations open now, filterable by place and priority",
    query=PageFilters,
    description="From surveys; while it does not answer, from the gateway's read model "
    "(kept from surveys' events).",
)
def index() -> Any:
    filters: dict[str, Any] = {"status": "open", "accepting": True}
    place, priority = _page_filters()
    if place:
        filters["place"] = place
    if priority:
        filters["priority"] = priority
    ctx = engage()
    try:
        consultations = ctx.services.surveys("list_consultations", filters)
    except ServiceUnavailable:
        with ctx.db.connection() as conn:
            consultations = queries.open_consultations(
                conn, datetime.now(UTC), place or None, priority or None
            )
    return render_template(
        "index.html", consultations=consultations, place=place, priority=priority
    )


@bp.route("/you-said-we-did", methods=["GET"])
@rate_limited(READ, html=True)
@page(
    "You said, we did: what people told us in closed consultations, what was decided "
    "and what is still waiting for a decision",
    query=PageFilters,
    description="Read from the gateway's read model only (no call "
    "to the services), so it answers while they are down and may lag them by a moment.",
)
def you_said_we_did() -> Any:
    place, priority = _page_filters()
    with engage().db.connection() as conn:
        found = queries.you_said_we_did(conn, place or None, priority or None)
    decided, waiting = queries.split_decided(found)
    return render_template(
        "you_said_we_did.html", place=place, priority=priority, decided=decided, waiting=waiting
    )


@bp.route("/consultations/<uuid:consultation_id>", methods=["GET"])
@page(
    "A consultation and its questionnaire as an accessible form (no JavaScript needed)",
    errors=(404, 503),
)
def consultation(consultation_id: UUID) -> Any:
    # From the snapshot while surveys is down: residents can still answer (see submissions).
    found = _visible(current_or_snapshot(engage(), str(consultation_id)))
    return _render_consultation(found)


@bp.route("/consultations/<uuid:consultation_id>", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Send a response from the form: 303 to the receipt page, or the form again with an "
    "error summary (422)",
    form=ResponseForm,
    status=303,
    headers={"Location": {"description": "the receipt page", "schema": {"type": "string"}}},
    errors=(400, 404, 409, 413, 422, 503),
)
def respond(consultation_id: UUID) -> Any:
    _check_csrf()
    ctx = engage()
    cid = str(consultation_id)
    found = _visible(current_or_snapshot(ctx, cid))
    easy = request.form.get(forms.EASY_READ_FIELD) == "yes"  # sent from the easy-read page
    if request.form.get(forms.HONEYPOT_FIELD):
        # Filled in by something that is not a person: store nothing, say nothing.
        return render_template(
            "receipt.html",
            code=decoy_receipt_code(),
            status="received",
            consultation=found,
            reasons=[],
        )
    questions = (found.get("questionnaire") or {}).get("questions") or []
    parsed = forms.parse_form(questions, request.form)
    key = _idempotency_key(request.form.get(forms.IDEMPOTENCY_FIELD))
    errors: dict[str, Any] = dict(parsed.errors)
    try:
        submission = load(contract.ResponseInputSchema(), parsed.submission())
        if errors:
            # The form already has a problem: still check the rest by the rules, but
            # queue nothing until everything is right.
            check(found, locate_submission(ctx.db, submission))
        else:
            receipt = submit_response(ctx, cid, submission, key, "web-form", found)
    except ValidationFailed as failed:
        # The form's own reason (e.g. "consent") wins over the rules' for the same input.
        errors.update(
            {
                k: v
                for k, v in failed.errors.items()
                if k.split(".")[0] not in errors and k not in errors
            }
        )
    except Conflict:
        # It closed while the resident was answering.
        found = current_or_snapshot(ctx, cid)
        return _render_consultation(found, status=409, easy_read=easy)
    if errors:
        return _render_consultation(found, 422, request.form, errors, key, easy_read=easy)
    session[LAST_RECEIPT_KEY] = {
        "code": receipt["receipt_code"],
        "consultation_id": cid,
        "title": found.get("title", ""),
    }
    return redirect(url_for("web.receipt", code=receipt["receipt_code"]), code=303)


@bp.route("/receipts/<code>", methods=["GET"])
@rate_limited(READ, html=True)
@page(
    "A receipt: whether the response is received, stored or rejected",
    errors=(404, 503),
)
def receipt(code: str) -> Any:
    code = _receipt_code(code)
    ctx = engage()
    reasons: list[str] = []
    try:
        stored = ctx.services.surveys("get_submission", code)
        status, reasons = stored.get("status", "received"), stored.get("reasons") or []
        consultation_id = stored.get("consultation_id")
    except (NotFound, ServiceUnavailable):
        # Still on the queue (or surveys is down and will store it when it is back).
        status, consultation_id = "received", None
    last = session.get(LAST_RECEIPT_KEY) or {}
    found: dict[str, Any] | None = None
    if last.get("code") == code:
        found = {"id": last.get("consultation_id"), "title": last.get("title")}
    elif consultation_id:
        try:
            found = ctx.services.surveys("get_consultation", consultation_id)
        except NotFound:
            found = None
    return render_template(
        "receipt.html", code=code, status=status, consultation=found, reasons=reasons
    )


def _receipt_code(code: str) -> str:
    normal = normalise_receipt(code)
    if normal is None:
        raise NotFound("receipt not found")
    return normal


def _label(options: list[dict[str, Any]] | None, value: Any) -> str:
    labels = {str(o.get("value")): localised(o.get("label", "")) for o in options or []}
    return labels.get(str(value), str(value))


def readable_answers(
    questions: list[dict[str, Any]], answers: dict[str, Any]
) -> list[dict[str, str]]:
    """``[{question, answer}]`` in questionnaire order, with option labels, not values."""
    out = []
    for q in questions:
        if q["id"] not in (answers or {}):
            continue
        value = answers[q["id"]]
        if isinstance(value, list):
            labels = [_label(q.get("options"), v) for v in value]
            text = forms.in_order(labels) if q.get("type") == "ranking" else ", ".join(labels)
        elif q.get("type") == "likert":
            text = _label(likert_options(), value)
        else:
            text = _label(q.get("options"), value)
        out.append({"question": localised(q.get("text", q["id"])), "answer": text})
    return out


def _show_response(code: str) -> tuple[dict[str, Any], list[dict[str, str]], list[dict[str, str]]]:
    ctx = engage()
    try:
        sent = ctx.services.surveys("get_my_response", code)
    except NotFound:
        raise ApiError(
            _(
                "We do not hold a response with that receipt code. If you only just "
                "sent it, wait a few seconds and reload this page."
            ),
            status=404,
        ) from None
    try:
        consultation = ctx.services.surveys("get_consultation", sent["consultation_id"])
        questions = (consultation.get("questionnaire") or {}).get("questions") or []
    except NotFound:
        questions = []
    version = sent.get("equality_version") or EQUALITY_VERSION
    equality = readable_answers(translated_equality_questions(version), sent.get("equality") or {})
    return sent, readable_answers(questions, sent.get("answers") or {}), equality


@bp.route("/receipts/<code>/response", methods=["GET"])
@rate_limited(WRITE, html=True)
@page(
    "What the resident sent, with a button to delete it",
    errors=(404, 503),
)
def my_response(code: str) -> Any:
    """See what you sent: the receipt code is the only key a resident holds."""
    code = _receipt_code(code)
    sent, answers, equality = _show_response(code)
    response = Response(
        render_template(
            "my_response.html",
            code=code,
            response=sent,
            answers=answers,
            equality=equality,
            csrf_token=_csrf_token(),
        ),
        mimetype="text/html",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/receipts/<code>/delete", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Delete the resident's response (asks to confirm first)",
    form=CsrfForm,
    errors=(400, 404, 503),
)
def delete_response(code: str) -> Any:
    """Ask first (a page with a confirm button), then delete for good."""
    _check_csrf()
    code = _receipt_code(code)
    if request.form.get("confirm") != "yes":
        return render_template(
            "delete_response.html", code=code, deleted=False, csrf_token=_csrf_token()
        )
    try:
        engage().services.surveys("delete_my_response", code)
    except NotFound:
        raise ApiError(
            _(
                "We do not hold a response with that receipt code. "
                "It may have been deleted already."
            ),
            status=404,
        ) from None
    if (session.get(LAST_RECEIPT_KEY) or {}).get("code") == code:
        session.pop(LAST_RECEIPT_KEY)
    return render_template("delete_response.html", code=code, deleted=True)


ERROR_TITLES = {
    400: _l("Sorry, there is a problem with your request"),
    403: _l("You cannot see this page"),
    404: _l("Page not found"),
    405: _l("Sorry, there is a problem with your request"),
    409: _l("Sorry, you cannot do that just now"),
    413: _l("Your answers are too long to send"),
    422: _l("There is a problem with your answers"),
    429: _l("Too many requests"),
    503: _l("Sorry, the service is unavailable"),
}


def render_error(error: ApiError) -> Response:
    """A friendly page for an error on a resident-facing (non-API) path."""
    status = error.status if 400 <= error.status < 600 else 500
    title = ERROR_TITLES.get(status, _l("Sorry, there is a problem with the service"))
    if status == 404:
        message = _(
            "If you typed the web address, check it is correct. If you pasted it, "
            "check you copied the entire address."
        )
    elif status >= 500 and status != 503:
        message = _("Something went wrong on our side. Please try again later.")
    else:
        message = error.message
    response = Response(
        render_template("error.html", title=title, message=message, status=status),
        status=status,
        mimetype="text/html",
    )
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


# The feedback, events and "you said, we did" pages add their routes to this blueprint.
from gateway.web import easy_read as _easy_read_pages  # noqa: E402, F401
from gateway.web import events as _events_pages  # noqa: E402, F401
from gateway.web import feedback as _feedback_pages  # noqa: E402, F401
from gateway.web import languages as _language_pages  # noqa: E402, F401
from gateway.web import paper as _paper_copy  # noqa: E402, F401
from gateway.web import you_said as _you_said_pages  # noqa: E402, F401
