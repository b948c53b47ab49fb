"""Resident pages for "you said, we did" across every channel: the combined picture by
place, priority and theme, each published outcome with its history and evidence, and the
conscientious-consideration view of a consultation. From the read model only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import render_template, request, url_for
from flask_babel import gettext as _

from engage_common.errors import NotFound
from engage_contracts.outcomes import STATUS_WORDS
from engage_contracts.reference import places, priorities
from gateway.context import engage
from gateway.readmodels import you_said
from gateway.security import READ, WRITE, rate_limited
from gateway.web import _check_csrf, _csrf_token, bp, page
from gateway.web.schemas import CsrfForm, YouSaidFilters

# Tokens the outcomes service issues are 43 characters; anything far off is no link.
STOP_TOKEN_LENGTH = range(16, 129)


def _chosen() -> dict[str, str]:
    place, priority = request.args.get("place", ""), request.args.get("priority", "")
    theme = request.args.get("theme", "")
    return {
        "place": place if place in places() else "",
        "priority": priority if priority in priorities() else "",
        "theme": theme if len(theme) <= 60 else "",
    }


@bp.app_context_processor
def _outcome_words() -> dict[str, Any]:
    return {"OUTCOME_STATUS": {k: _(v) for k, v in STATUS_WORDS.items()}}


@bp.route("/you-said-we-did/themes", methods=["GET"])
@rate_limited(READ, html=True)
@page(
    "What people told us through every channel, by place, priority and theme, and what "
    "was done about it",
    query=YouSaidFilters,
)
def you_said_themes() -> Any:
    chosen = _chosen()
    with engage().db.connection() as conn:
        said = you_said.you_said(
            conn, chosen["place"] or None, chosen["priority"] or None, chosen["theme"] or None
        )
        did = you_said.outcomes(
            conn, chosen["place"] or None, chosen["priority"] or None, chosen["theme"] or None
        )
        themes = you_said.theme_labels(conn)
    return render_template("you_said_themes.html", said=said, did=did, chosen=chosen, themes=themes)


@bp.route("/you-said-we-did/outcomes/<uuid:outcome_id>", methods=["GET"])
@rate_limited(READ, html=True)
@page("One outcome: what it answers, its status and every change to it", errors=(404,))
def outcome_page(outcome_id: UUID) -> Any:
    with engage().db.connection() as conn:
        found = you_said.outcome(conn, str(outcome_id))
        themes = you_said.theme_labels(conn)
    if found is None:
        raise NotFound("outcome not found")
    return render_template("outcome.html", outcome=found, themes=themes)


@bp.route("/consultations/<uuid:consultation_id>/consideration", methods=["GET"])
@rate_limited(READ, html=True)
@page(
    "How we considered what people said about a consultation: every theme and its decision",
    errors=(404,),
)
def consideration_page(consultation_id: UUID) -> Any:
    with engage().db.connection() as conn:
        found = you_said.consideration(conn, str(consultation_id))
        title = conn.execute(
            "SELECT title FROM consultation_summaries WHERE id = %s", (str(consultation_id),)
        ).fetchone()
    return render_template(
        "consideration.html", found=found, title=title["title"] if title else None
    )


@bp.route("/outcomes/stop/<token>", methods=["GET"])
@rate_limited(READ, html=True)
@page("Stop hearing about what happens to what you said: asks to confirm", errors=(404,))
def stop_following_page(token: str) -> Any:
    """A GET only asks: mail scanners open links, and must not stop anyone's updates."""
    if len(token) not in STOP_TOKEN_LENGTH:
        raise NotFound("There is no such link.")
    return render_template(
        "stop_following.html",
        stopped=False,
        csrf_token=_csrf_token(),
        action=url_for("web.stop_following", token=token),
    )


@bp.route("/outcomes/stop/<token>", methods=["POST"])
@rate_limited(WRITE, html=True)
@page(
    "Stop hearing about what happens to what you said (also one-click, RFC 8058)",
    form=CsrfForm,
    errors=(400, 404, 503),
)
def stop_following(token: str) -> Any:
    if request.form.get("List-Unsubscribe") != "One-Click":
        _check_csrf()
    if len(token) not in STOP_TOKEN_LENGTH:
        raise NotFound("There is no such link.")
    engage().services.outcomes("stop_following", token)
    return render_template("stop_following.html", stopped=True)
