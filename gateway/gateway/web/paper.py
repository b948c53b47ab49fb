"""The paper copy of a consultation (issue 14, item 4): a PDF to print, fill in by hand
and send back by post, in the resident's language.

Every question with boxes to tick or write in, the optional "About you" questions, the
consent wording with its version, how to send it back (the ICS configuration's address)
and a reference staff use to enter it through the on-behalf route
(``POST /api/v1/staff/consultations/<id>/responses`` with ``channel: paper``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import Response, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from engage_contracts.ics import ics
from engage_contracts.questionnaire import DEFAULT_MAX_LENGTH, RATING_MAX, RATING_MIN
from engage_contracts.reference import EQUALITY_VERSION, current_consent
from engage_contracts.shared import DEFAULT_LANGUAGE, localised
from gateway.application import paper_copy as copies
from gateway.application.responses import current_or_snapshot
from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import Blueprint, error_doc
from gateway.security import READ, rate_limited
from gateway.web import _notice, _visible, bp
from gateway.web.equality import likert_options, translated_equality_questions
from gateway.web.forms import any_of, consent_shown
from gateway.web.languages import LOCALES, chosen, offered

PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


def _language(asked: str | None) -> Any:
    """The language asked for in ``?lang=`` when it is offered, else the resident's."""
    by_code = {lang.code: lang for lang in offered()}
    return by_code.get(asked or "") or chosen()


def said(value: Any, code: str) -> Markup:
    """Staff's text in ``code``'s language; English marked as English (``lang``) where
    it has no translation, so it is read, and laid out, as English."""
    text = localised(value, code)
    if code != DEFAULT_LANGUAGE and not (isinstance(value, dict) and value.get(code)):
        return Markup('<span lang="en" dir="ltr">{}</span>').format(text)
    return escape(text)


def _options(question: dict[str, Any], code: str) -> list[Markup]:
    if question.get("type") == "likert":
        return [escape(o["label"]) for o in likert_options()]
    return [said(o.get("label"), code) for o in question.get("options") or []]


def _values(question: dict[str, Any]) -> list[str]:
    if question.get("type") == "likert":
        return [o["value"] for o in likert_options()]
    return [str(o.get("value")) for o in question.get("options") or []]


def _condition(question: dict[str, Any], by_id: dict[str, tuple[int, dict]], code: str) -> str:
    """When to answer a question shown only after a particular answer (on screen it
    appears by itself; on paper the resident is told)."""
    condition = question["show_if"]
    number, source = by_id.get(condition.get("question"), (0, {}))
    plain = (
        [o["label"] for o in likert_options()]
        if source.get("type") == "likert"
        else [localised(o.get("label"), code) for o in source.get("options") or []]
    )
    labels = dict(zip(_values(source), plain, strict=False))
    wanted = any_of(f"“{labels.get(str(v), str(v))}”" for v in condition.get("equals") or [])
    return _(
        "Answer this only if you answered %(answers)s to question %(number)s.",
        answers=wanted,
        number=number,
    )


def page_numbers() -> str:
    """CSS ``content`` for "Page 2 of 5" in the reader's language."""
    words = _("Page %(page)s of %(pages)s", page="\x00", pages="\x01")
    before, rest = words.split("\x00", 1)
    middle, after = rest.split("\x01", 1) if "\x01" in rest else (rest, "")
    parts = [f'"{before}"', "counter(page)", f'"{middle}"', "counter(pages)", f'"{after}"']
    return " ".join(p for p in parts if p != '""')


def paper_questions(questions: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    """What the paper shows of each question, in the reader's language."""
    by_id = {q["id"]: (n, q) for n, q in enumerate(questions, start=1)}
    shown = []
    for number, q in enumerate(questions, start=1):
        kind = q.get("type")
        hints = [_condition(q, by_id, code)] if q.get("show_if") else []
        if q.get("hint"):
            hints.append(said(q["hint"], code))
        item: dict[str, Any] = {
            "id": q["id"],
            "number": number,
            "text": said(q.get("text"), code),
            "required": bool(q.get("required")),
            "kind": kind,
            "options": _options(q, code),
            "hints": hints,
        }
        if kind in ("single_choice", "likert"):
            hints.append(_("Tick one box."))
        elif kind == "multiple_choice":
            hints.append(
                _("Tick up to %(count)s boxes.", count=q["max_choices"])
                if q.get("max_choices")
                else _("Tick all the boxes that apply.")
            )
        elif kind == "rating":
            item["options"] = [escape(n) for n in range(RATING_MIN, RATING_MAX + 1)]
            hints.append(
                _(
                    "Tick one number from %(lowest)s (lowest) to %(highest)s (highest).",
                    lowest=RATING_MIN,
                    highest=RATING_MAX,
                )
            )
        elif kind == "ranking":
            hints.append(
                _(
                    "Write a different number from 1 to %(count)s in each box. "
                    "1 is the one that matters most to you.",
                    count=len(item["options"]),
                )
            )
        else:
            item["kind"] = "free_text"
            limit = int(q.get("max_length") or DEFAULT_MAX_LENGTH)
            item["lines"] = 6 if limit > 300 else 4
            hints.append(_("Write your answer in the box. You can add more pages if you need to."))
        shown.append(item)
    return shown


def paper_html(consultation: dict[str, Any], code: str, reference: str) -> str:
    """The paper copy's HTML, in ``code``'s language (the PDF is made from it)."""
    language = {lang.code: lang for lang in offered()}.get(code) or chosen()
    questions = (consultation.get("questionnaire") or {}).get("questions") or []
    return render_template(
        "paper_copy.html",
        LANGUAGE=language,
        consultation=consultation,
        title=localised(consultation.get("title"), code),
        heading=said(consultation.get("title"), code),
        summary=said(consultation.get("summary"), code),
        description=localised(consultation.get("description"), code),
        description_lang=code
        if isinstance(consultation.get("description"), dict)
        and consultation["description"].get(code)
        else DEFAULT_LANGUAGE,
        questions=paper_questions(questions, code),
        equality=translated_equality_questions(),
        equality_version=EQUALITY_VERSION,
        consent=consent_shown(consultation.get("consent") or current_consent(), code),
        contact=ics().contact,
        reference=reference,
        made=datetime.now(UTC),
        page_numbers=page_numbers(),
    )


@bp.route("/consultations/<uuid:consultation_id>/paper.pdf", methods=["GET"])
@rate_limited(READ, html=True)
@Blueprint.doc(
    summary="A consultation's paper copy to print, fill in by hand and send back by post: "
    "a tagged PDF (PDF/UA-1) in the language asked for (lang=ur), else the resident's",
    parameters=[
        {
            "in": "query",
            "name": "lang",
            "required": False,
            "schema": {"type": "string"},
            "description": "a language code the site offers; anything else means the "
            "resident's language",
        }
    ],
    responses={
        "200": {"description": "the paper copy", "content": PDF},
        **{str(s): error_doc(s, html=True) for s in (404, 409, 503)},
    },
)
def paper_copy(consultation_id: UUID) -> Any:
    """Made once per version of the consultation and language, then kept."""
    found = _visible(current_or_snapshot(engage(), str(consultation_id)))
    if not found.get("accepting_responses"):
        raise ApiError(_notice(found) or "", status=409)
    language = _language(request.args.get("lang"))
    code = language.code
    contact = ics().contact
    version = copies.version(found, code, EQUALITY_VERSION, contact)
    reference = f"{found['id']} / {code} / {version[:8]}"

    def html() -> str:
        with force_locale(LOCALES.get(code, code)):
            return paper_html(found, code, reference)

    document = copies.paper_copy(version, html)
    response = Response(document, mimetype="application/pdf")
    filename = f"consultation-{found['id']}-{code}.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(version)
    return response.make_conditional(request)
