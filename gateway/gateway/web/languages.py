"""The resident pages' language: which ones are offered, the one a resident chose, and
the chooser.

Interface text goes through gettext (Flask-Babel, catalogues in
``gateway/translations/<code>/LC_MESSAGES``); a string with no translation shows in
English. A language is offered only when the ICS configuration marks it ``reviewed``;
a demo (``ENGAGE_DEMO=1``) offers the others too, under a banner saying the translation
is still to be checked. The choice is kept in a cookie for the journey, so no
JavaScript is needed; it lasts until the browser closes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, redirect, render_template, request, url_for
from flask_babel import Babel
from markupsafe import Markup

from engage_contracts.ics import Language, ics
from engage_contracts.shared import DEFAULT_LANGUAGE
from gateway.context import engage
from gateway.web import bp, page

COOKIE = "lang"
# Babel's locale for each language code: English pages use UK dates ("31 March 2026").
LOCALES = {"en": "en_GB"}


def offered() -> list[Language]:
    return ics().offered_languages(include_unreviewed=engage().settings.demo)


def chosen() -> Language:
    """The language this request is in: the resident's choice when it is offered, else
    English."""
    languages = offered()
    code = request.cookies.get(COOKIE, "") if request else ""
    by_code = {lang.code: lang for lang in languages}
    return by_code.get(code) or by_code.get(DEFAULT_LANGUAGE) or languages[0]


def _locale() -> str:
    code = chosen().code
    return LOCALES.get(code, code)


def init_languages(app: Flask) -> None:
    """Flask-Babel on ``app``, reading the chosen language."""
    Babel(app, locale_selector=_locale, default_timezone="Europe/London")


@bp.app_context_processor
def _language() -> dict[str, Any]:
    return {"LANGUAGE": chosen(), "LANGUAGES": offered()}


@bp.app_template_filter("lang_attrs")
def lang_attrs(value: Any) -> Markup:
    """`` lang="en" dir="ltr"`` for staff text that has no translation in the reader's
    language (so it shows in English): a screen reader reads it as English and its
    punctuation stays put on a right-to-left page (WCAG 3.1.2). Nothing otherwise."""
    code = chosen().code
    if code == DEFAULT_LANGUAGE or (isinstance(value, dict) and value.get(code)):
        return Markup("")
    return Markup(' lang="{}" dir="ltr"').format(DEFAULT_LANGUAGE)


def _safe_next(target: str | None) -> str:
    """Back to the page the resident was on: a path on this site only."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("web.index")


@bp.route("/language", methods=["GET"])
@page("Choose the language of these pages")
def language_page() -> Any:
    return render_template("language.html", next=_safe_next(request.args.get("next")))


@bp.route("/language/<code>", methods=["GET"])
@page(
    "Use a language for the rest of the visit (kept in a cookie), then back to the page",
    status=303,
)
def choose_language(code: str) -> Any:
    response: Response = redirect(_safe_next(request.args.get("next")), code=303)
    if code in {lang.code for lang in offered()}:
        response.set_cookie(
            COOKIE,
            code,
            httponly=True,
            samesite="Lax",
            secure=engage().settings.production,
        )
    return response
