"""What every part of Engage speaks in.

- Places, priorities and consent wordings come from the ICS configuration
  (``engage_contracts.ics``): read through the functions here, never named in code.
- Equality monitoring follows the ONS Census 2021 (England) questions and categories, so
  answers roll up to Census figures, plus the protected characteristics the Census does
  not ask (marriage and civil partnership, pregnancy and maternity) and learning
  disability, autism and mental health conditions as distinct answers. Every question is
  optional and offers "prefer not to say". Question sets are versioned: each response is
  stored with the version it was asked in, and old answers keep the labels of their
  version (``EQUALITY_SETS``); nothing is re-labelled.
"""

from __future__ import annotations

import re
from typing import Any

from engage_contracts.ics import ics
from engage_contracts.wording import N_

OUTSIDE_AREA = "outside-area"
PREFER_NOT_TO_SAY = "prefer-not-to-say"
POSTCODE_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")


# -- from the ICS configuration ---------------------------------------------------------------


def places() -> dict[str, str]:
    """Place code -> name, in the configuration's order."""
    return ics().place_names()


def priorities() -> dict[str, str]:
    return ics().priority_names()


def place_label(code: str | None) -> str:
    """A place as residents read it. A place no longer configured is shown as stored."""
    if code == OUTSIDE_AREA:
        return f"Outside {ics().short_name}"
    return places().get(code or "", code or "")


def priority_label(code: str) -> str:
    return priorities().get(code, code)


def consent_wordings() -> dict[str, str]:
    return ics().consent_wordings


def current_consent(purpose: str = "consultation") -> dict[str, str]:
    """The wording residents are asked to agree to now, for answering a consultation,
    giving feedback (``purpose="feedback"``) or registering for an event
    (``purpose="events"``): ``{version, wording}``."""
    config = ics()
    version = {
        "feedback": config.feedback_consent_version,
        "events": config.events_consent_version,
    }.get(purpose, config.consent_version)
    return {"version": version, "wording": config.consent_wordings[version]}


def consent_record(version: str) -> dict[str, Any]:
    """What is stored for a resident who agreed to ``version``: the server's wording."""
    return {"given": True, "version": version, "wording": consent_wordings()[version]}


def normalise_postcode_district(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def place_for_postcode_district(district: str) -> str | None:
    """The place a postcode district lies in; ``outside-area`` when it lies in none; None
    when the ICS has still to say which of its places it belongs to."""
    district = normalise_postcode_district(district)
    config = ics()
    found = config.place_for_postcode_district(district)
    if found is not None:
        return found
    if any(district in p.postcode_districts_to_complete for p in config.places):
        return None
    return OUTSIDE_AREA


# -- equality monitoring ----------------------------------------------------------------------


def _options(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"value": v, "label": label} for v, label in pairs] + [
        {"value": PREFER_NOT_TO_SAY, "label": N_("Prefer not to say")}
    ]


def _grouped(groups: list[tuple[str, list[tuple[str, str]]]]) -> dict[str, Any]:
    return {
        "groups": [
            {"label": g, "options": [{"value": v, "label": label} for v, label in opts]}
            for g, opts in groups
        ],
        "options": _options(*[o for _, opts in groups for o in opts]),
    }


# fmt: off
AGE_BANDS = [
    ("under-16", N_("Under 16")), ("16-24", N_("16 to 24")), ("25-34", N_("25 to 34")),
    ("35-44", N_("35 to 44")), ("45-54", N_("45 to 54")), ("55-64", N_("55 to 64")),
    ("65-74", N_("65 to 74")), ("75-84", N_("75 to 84")), ("85-plus", N_("85 or over")),
]
SEXUAL_ORIENTATION = [
    ("straight", N_("Straight or heterosexual")), ("gay-lesbian", N_("Gay or lesbian")),
    ("bisexual", N_("Bisexual")), ("other", N_("Another sexual orientation")),
]
RELIGION = [
    ("none", N_("No religion")), ("christian", N_("Christian")), ("buddhist", N_("Buddhist")),
    ("hindu", N_("Hindu")), ("jewish", N_("Jewish")), ("muslim", N_("Muslim")),
    ("sikh", N_("Sikh")),
    ("other", N_("Any other religion or belief")),
]
POSTCODE_QUESTION = {
    "id": "postcode_district",
    "text": N_("What is the first half of your postcode?"),
    "free_text": True,
    "options": _options(),
}

# The set residents were asked before the Census 2021 categories (kept for its labels).
SET_2026_01: list[dict[str, Any]] = [
    {"id": "age_band", "text": N_("What is your age?"), "options": _options(*AGE_BANDS)},
    {"id": "sex", "text": N_("What is your sex?"),
     "options": _options(("female", N_("Female")), ("male", N_("Male")))},
    {"id": "gender_identity",
     "text": N_("Is the gender you identify with the same as your sex registered at birth?"),
     "options": _options(("yes", N_("Yes")), ("no", N_("No")))},
    {"id": "ethnicity", "text": N_("What is your ethnic group?"), **_grouped([
        (N_("Asian or Asian British"), [
            ("asian-bangladeshi", N_("Bangladeshi")), ("asian-chinese", N_("Chinese")),
            ("asian-indian", N_("Indian")), ("asian-pakistani", N_("Pakistani")),
            ("asian-other", N_("Any other Asian background"))]),
        (N_("Black, Black British, Caribbean or African"), [
            ("black-african", N_("African")), ("black-caribbean", N_("Caribbean")),
            ("black-other", N_("Any other Black, Black British or Caribbean background"))]),
        (N_("Mixed or Multiple ethnic groups"), [
            ("mixed-white-asian", N_("White and Asian")),
            ("mixed-white-black-african", N_("White and Black African")),
            ("mixed-white-black-caribbean", N_("White and Black Caribbean")),
            ("mixed-other", N_("Any other Mixed or Multiple ethnic background"))]),
        (N_("White"), [
            ("white-british", N_("English, Welsh, Scottish, Northern Irish or British")),
            ("white-irish", N_("Irish")),
            ("white-gypsy-irish-traveller", N_("Gypsy or Irish Traveller")),
            ("white-roma", N_("Roma")), ("white-other", N_("Any other White background"))]),
        (N_("Other ethnic group"), [
            ("other-arab", N_("Arab")), ("other-any", N_("Any other ethnic group"))]),
    ])},
    {"id": "disability",
     "text": N_("Are your day-to-day activities limited because of a health problem or disability "
             "which has lasted, or is expected to last, at least 12 months?"),
     "options": _options(("yes-a-lot", N_("Yes, limited a lot")),
                         ("yes-a-little", N_("Yes, limited a little")), ("no", N_("No")))},
    {"id": "sexual_orientation",
     "text": N_("Which of the following best describes your sexual orientation?"),
     "options": _options(*SEXUAL_ORIENTATION)},
    {"id": "religion", "text": N_("What is your religion or belief?"),
     "options": _options(*RELIGION)},
    {"id": "unpaid_carer",
     "text": N_("Do you look after, or give any help or support to, anyone because they have "
             "long-term physical or mental health conditions or illnesses, or problems related "
             "to old age?"),
     "options": _options(("no", N_("No")), ("yes-up-to-19", N_("Yes, up to 19 hours a week")),
                         ("yes-20-49", N_("Yes, 20 to 49 hours a week")),
                         ("yes-50-plus", N_("Yes, 50 or more hours a week")))},
    POSTCODE_QUESTION,
]

# The ONS Census 2021 (England) questions and categories, and what the Census leaves out.
SET_2026_11: list[dict[str, Any]] = [
    {"id": "age_band", "text": N_("What is your age?"), "options": _options(*AGE_BANDS)},
    {"id": "sex", "text": N_("What is your sex?"),
     "hint": N_("A question about gender identity follows."),
     "options": _options(("female", N_("Female")), ("male", N_("Male")))},
    {"id": "gender_identity",
     "text": N_("Is the gender you identify with the same as your sex registered at birth?"),
     "options": _options(("yes", N_("Yes")), ("no", N_("No")))},
    {"id": "sexual_orientation",
     "text": N_("Which of the following best describes your sexual orientation?"),
     "options": _options(*SEXUAL_ORIENTATION)},
    {"id": "ethnicity", "text": N_("What is your ethnic group?"), **_grouped([
        (N_("Asian, Asian British or Asian Welsh"), [
            ("asian-bangladeshi", N_("Bangladeshi")), ("asian-chinese", N_("Chinese")),
            ("asian-indian", N_("Indian")), ("asian-pakistani", N_("Pakistani")),
            ("asian-other", N_("Any other Asian background"))]),
        (N_("Black, Black British, Black Welsh, Caribbean or African"), [
            ("black-african", N_("African")), ("black-caribbean", N_("Caribbean")),
            ("black-other", N_("Any other Black, Black British, or Caribbean background"))]),
        (N_("Mixed or Multiple ethnic groups"), [
            ("mixed-white-asian", N_("White and Asian")),
            ("mixed-white-black-african", N_("White and Black African")),
            ("mixed-white-black-caribbean", N_("White and Black Caribbean")),
            ("mixed-other", N_("Any other Mixed or Multiple background"))]),
        (N_("White"), [
            ("white-british", N_("English, Welsh, Scottish, Northern Irish or British")),
            ("white-irish", N_("Irish")),
            ("white-gypsy-irish-traveller", N_("Gypsy or Irish Traveller")),
            ("white-roma", N_("Roma")), ("white-other", N_("Any other White background"))]),
        (N_("Other ethnic group"), [
            ("other-arab", N_("Arab")), ("other-any", N_("Any other ethnic group"))]),
    ])},
    {"id": "religion", "text": N_("What is your religion?"), "options": _options(*RELIGION)},
    {"id": "disability",
     "text": N_("Do you have any physical or mental health conditions or illnesses lasting or "
             "expected to last 12 months or more, and do they reduce your ability to carry "
             "out day-to-day activities?"),
     "options": _options(("yes-a-lot", N_("Yes, and they reduce it a lot")),
                         ("yes-a-little", N_("Yes, and they reduce it a little")),
                         ("yes-not-at-all", N_("Yes, but they do not reduce it")),
                         ("no", N_("No")))},
    {"id": "conditions", "multiple": True,
     "text": N_("Do any of these apply to you?"),
     "hint": N_("Choose all that apply."),
     "options": _options(("learning-disability", N_("A learning disability")),
                         ("autism", N_("Autism")),
                         ("mental-health", N_("A mental health condition")),
                         ("physical", N_("A physical impairment")),
                         ("sensory", N_("A sight or hearing impairment")),
                         ("long-term-illness", N_("A long-term illness")),
                         ("none", N_("None of these")))},
    {"id": "unpaid_carer",
     "text": N_("Do you look after, or give any help or support to, anyone because they have "
             "long-term physical or mental health conditions or illnesses, or problems related "
             "to old age?"),
     "hint": N_("Exclude anything you do as part of your paid employment."),
     "options": _options(("no", N_("No")), ("yes-up-to-9", N_("Yes, 9 hours a week or less")),
                         ("yes-10-19", N_("Yes, 10 to 19 hours a week")),
                         ("yes-20-34", N_("Yes, 20 to 34 hours a week")),
                         ("yes-35-49", N_("Yes, 35 to 49 hours a week")),
                         ("yes-50-plus", N_("Yes, 50 or more hours a week")))},
    {"id": "marriage_civil_partnership",
     "text": N_("What is your legal marital or registered civil partnership status?"),
     "options": _options(
         ("never", N_("Never married and never registered a civil partnership")),
         ("married", N_("Married")), ("civil-partnership", N_("In a registered civil partnership")),
         ("separated", N_("Separated, but still legally married or in a civil partnership")),
         ("divorced-dissolved", N_("Divorced or civil partnership dissolved")),
         ("widowed", N_("Widowed or surviving civil partnership partner")))},
    {"id": "pregnancy_maternity",
     "text": N_("Are you pregnant, or have you given birth in the last 26 weeks?"),
     "options": _options(("pregnant", N_("Yes, I am pregnant")),
                         ("given-birth", N_("Yes, I have given birth in the last 26 weeks")),
                         ("no", N_("No")))},
    POSTCODE_QUESTION,
]
# fmt: on

EQUALITY_SETS: dict[str, list[dict[str, Any]]] = {"2026-01": SET_2026_01, "2026-11": SET_2026_11}
EQUALITY_VERSION = "2026-11"
EQUALITY_FIELDS = [q["id"] for q in SET_2026_11]
# Every field any version asks, in order: what exports and filters cover.
ALL_EQUALITY_FIELDS = list(dict.fromkeys(q["id"] for qs in EQUALITY_SETS.values() for q in qs))


# Worked out by the gateway, never asked: the Index of Multiple Deprivation decile (1 most
# deprived .. 10) of the full postcode a resident gave (``engage_contracts.population``),
# stored beside the district; the full postcode itself is never stored or queued.
IMD_DECILE = "imd_decile"
DERIVED_EQUALITY_FIELDS = (IMD_DECILE,)


POSTCODE_HINT = N_(
    "For example, %(examples)s. We use this only to see which places we heard from. You "
    "may give your whole postcode: we keep only its first half and how deprived the "
    "area is, never the whole postcode."
)


def equality_questions(version: str = EQUALITY_VERSION) -> list[dict[str, Any]]:
    """The questions of ``version``, with the postcode hint from the configuration."""
    examples = " or ".join(ics().postcode_examples) or "LS6"
    hint = POSTCODE_HINT % {"examples": examples}
    return [
        {**q, "hint": hint} if q["id"] == "postcode_district" else q for q in EQUALITY_SETS[version]
    ]


def equality_versions_with(field: str, value: str | None = None) -> list[str]:
    """The versions that ask ``field`` (and offer ``value``): what a filter covers."""
    found = []
    for version, questions in EQUALITY_SETS.items():
        for q in questions:
            offered = value is None or q.get("free_text") or value in _values(q)
            if q["id"] == field and offered:
                found.append(version)
    return found


def _values(question: dict[str, Any]) -> set[str]:
    return {o["value"] for o in question["options"]}


def equality_label(field: str, value: Any, version: str) -> str:
    """An answer as its version worded it (old answers keep their own labels)."""
    for q in EQUALITY_SETS.get(version, []):
        if q["id"] == field:
            labels = {o["value"]: o["label"] for o in q["options"]}
            values = value if isinstance(value, list) else [value]
            return ", ".join(labels.get(str(v), str(v)) for v in values)
    return str(value)


def validate_equality(
    answers: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check an equality-monitoring section against the current question set; returns
    (clean answers, errors by field). Every item is optional and accepts
    ``prefer-not-to-say``; multiple-choice items take a list."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if not answers:
        return clean, errors
    if not isinstance(answers, dict):
        return clean, {"equality": ["must be an object of answers"]}
    questions = {q["id"]: q for q in EQUALITY_SETS[EQUALITY_VERSION]}
    for key in answers:
        if key not in questions and key not in DERIVED_EQUALITY_FIELDS:
            errors[f"equality.{key}"] = ["is not an equality-monitoring question"]
    decile = answers.get(IMD_DECILE)
    if decile is not None:
        if isinstance(decile, bool) or not isinstance(decile, int) or not 1 <= decile <= 10:
            errors[f"equality.{IMD_DECILE}"] = ["must be a whole number from 1 to 10"]
        else:
            clean[IMD_DECILE] = decile
    for qid, question in questions.items():
        value = answers.get(qid)
        if value in (None, "", []):
            continue
        problem, cleaned = _check(question, value)
        if problem:
            errors[f"equality.{qid}"] = [problem]
        else:
            clean[qid] = cleaned
    return clean, errors


def _check(question: dict[str, Any], value: Any) -> tuple[str | None, Any]:
    if question.get("multiple"):
        chosen = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in chosen):
            return "must be a list of options", None
        unknown = [v for v in chosen if v not in _values(question)]
        if unknown:
            return f"'{unknown[0]}' is not one of the options", None
        return None, list(dict.fromkeys(chosen))
    if not isinstance(value, str):
        return "must be text", None
    if question.get("free_text") and value != PREFER_NOT_TO_SAY:
        district = normalise_postcode_district(value)
        if not POSTCODE_DISTRICT.match(district):
            examples = " or ".join(ics().postcode_examples) or "LS6"
            return f"must be the first half of a UK postcode, like {examples}", None
        return None, district
    if value not in _values(question):
        return f"'{value}' is not one of the options", None
    return None, value
