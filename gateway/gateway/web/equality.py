"""The equality-monitoring questions (ONS Census 2021) and the likert scale in the
reader's language.

Their English wording lives in the contracts (``engage_contracts.reference``,
``engage_contracts.questionnaire``), marked with ``N_`` so ``pybabel extract -k N_``
puts it in the gateway's catalogues; the contracts never import Flask-Babel, so the
gateway translates the wording here, where it shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from babel.lists import format_list
from flask_babel import get_locale, gettext

from engage_contracts.ics import ics
from engage_contracts.questionnaire import LIKERT_OPTIONS
from engage_contracts.reference import EQUALITY_VERSION, POSTCODE_HINT, equality_questions


def reader_locale() -> str:
    """The reader's locale for Babel's lists ("LS6, BD23 or HG1"); UK English outside a
    request."""
    return str(get_locale() or "en_GB")


def any_of(items: Iterable[str]) -> str:
    """Alternatives the reader's way: "LS6 or BD23" in English, "LS6 lub BD23" in Polish
    (CLDR's list patterns, so no sentence is built from a translated " or ")."""
    listed = list(items)
    return format_list(listed, style="or", locale=reader_locale()) if listed else ""


def _options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**o, "label": gettext(o["label"])} for o in options]


def translated_equality_questions(version: str = EQUALITY_VERSION) -> list[dict[str, Any]]:
    """``equality_questions(version)`` with their text, hints and labels translated."""
    found = []
    for q in equality_questions(version):
        t = {**q, "text": gettext(q["text"]), "options": _options(q["options"])}
        if q["id"] == "postcode_district":
            t["hint"] = gettext(POSTCODE_HINT, examples=any_of(ics().postcode_examples))
        elif q.get("hint"):
            t["hint"] = gettext(q["hint"])
        if q.get("groups"):
            t["groups"] = [
                {"label": gettext(g["label"]), "options": _options(g["options"])}
                for g in q["groups"]
            ]
        found.append(t)
    return found


def likert_options() -> list[dict[str, Any]]:
    """The agree/disagree scale, translated."""
    return [{"value": o["value"], "label": gettext(o["label"])} for o in LIKERT_OPTIONS]
