"""Reference data every part of Engage speaks in: places, priorities, and the
equality-monitoring questions (the same for every consultation).

Places and priorities come from the West Yorkshire and Harrogate partnership and
the five life-course priorities in the strategies in ``shared/seeds``.
"""

from __future__ import annotations

import re
from typing import Any

PLACES: dict[str, str] = {
    "bradford-craven": "Bradford district and Craven",
    "calderdale": "Calderdale",
    "harrogate": "Harrogate",
    "kirklees": "Kirklees",
    "leeds": "Leeds",
    "wakefield": "Wakefield",
}
OUTSIDE_AREA = "outside-area"

PRIORITIES: dict[str, str] = {
    "starting-well": "Starting Well",
    "living-well": "Living Well",
    "working-well": "Working Well",
    "ageing-well": "Ageing Well",
    "dying-well": "Dying Well",
}

PREFER_NOT_TO_SAY = "prefer-not-to-say"

# The privacy wording a resident agrees to, by version. A response is stored with the
# version it was given under and that version's wording; a changed wording gets a new
# version and the old one stays here, so what each resident agreed to can be shown.
CONSENT_WORDINGS: dict[str, str] = {
    "2026-11": (
        "I agree that my answers can be stored and used, without my name or anything that "
        "identifies me, to report what people told the NHS in this consultation."
    ),
}
CONSENT_VERSION = "2026-11"


def current_consent() -> dict[str, str]:
    """The wording residents are asked to agree to now: ``{version, wording}``."""
    return {"version": CONSENT_VERSION, "wording": CONSENT_WORDINGS[CONSENT_VERSION]}


def consent_record(version: str) -> dict[str, Any]:
    """What is stored for a resident who agreed to ``version``: the server's wording."""
    return {"given": True, "version": version, "wording": CONSENT_WORDINGS[version]}


# Postcode districts (the first half of a postcode) to place. Most areas map by
# their letters; the districts listed in _DISTRICT_EXCEPTIONS cross a boundary.
_AREA_PLACES = {
    "BD": "bradford-craven",
    "HX": "calderdale",
    "HG": "harrogate",
    "HD": "kirklees",
    "LS": "leeds",
    "WF": "wakefield",
}
_DISTRICT_EXCEPTIONS = {
    "LS29": "bradford-craven",  # Ilkley
    "OL14": "calderdale",  # Todmorden
    "WF12": "kirklees",
    "WF13": "kirklees",
    "WF14": "kirklees",
    "WF15": "kirklees",
    "WF16": "kirklees",
    "WF17": "kirklees",  # Dewsbury, Batley
    "YO51": "harrogate",
    "YO61": "harrogate",  # Boroughbridge, Easingwold edge
}
POSTCODE_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")


def normalise_postcode_district(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def place_for_postcode_district(district: str) -> str:
    """The place a postcode district lies in, or ``outside-area``."""
    district = normalise_postcode_district(district)
    if district in _DISTRICT_EXCEPTIONS:
        return _DISTRICT_EXCEPTIONS[district]
    letters = re.match(r"^[A-Z]+", district)
    return _AREA_PLACES.get(letters.group(0) if letters else "", OUTSIDE_AREA)


def _options(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"value": v, "label": label} for v, label in pairs] + [
        {"value": PREFER_NOT_TO_SAY, "label": "Prefer not to say"}
    ]


ETHNICITY_GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Asian or Asian British",
        [
            ("asian-bangladeshi", "Bangladeshi"),
            ("asian-chinese", "Chinese"),
            ("asian-indian", "Indian"),
            ("asian-pakistani", "Pakistani"),
            ("asian-other", "Any other Asian background"),
        ],
    ),
    (
        "Black, Black British, Caribbean or African",
        [
            ("black-african", "African"),
            ("black-caribbean", "Caribbean"),
            ("black-other", "Any other Black, Black British or Caribbean background"),
        ],
    ),
    (
        "Mixed or Multiple ethnic groups",
        [
            ("mixed-white-asian", "White and Asian"),
            ("mixed-white-black-african", "White and Black African"),
            ("mixed-white-black-caribbean", "White and Black Caribbean"),
            ("mixed-other", "Any other Mixed or Multiple ethnic background"),
        ],
    ),
    (
        "White",
        [
            ("white-british", "English, Welsh, Scottish, Northern Irish or British"),
            ("white-irish", "Irish"),
            ("white-gypsy-irish-traveller", "Gypsy or Irish Traveller"),
            ("white-roma", "Roma"),
            ("white-other", "Any other White background"),
        ],
    ),
    ("Other ethnic group", [("other-arab", "Arab"), ("other-any", "Any other ethnic group")]),
]

EQUALITY_QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "age_band",
        "text": "What is your age?",
        "options": _options(
            ("under-16", "Under 16"),
            ("16-24", "16 to 24"),
            ("25-34", "25 to 34"),
            ("35-44", "35 to 44"),
            ("45-54", "45 to 54"),
            ("55-64", "55 to 64"),
            ("65-74", "65 to 74"),
            ("75-84", "75 to 84"),
            ("85-plus", "85 or over"),
        ),
    },
    {
        "id": "sex",
        "text": "What is your sex?",
        "options": _options(("female", "Female"), ("male", "Male")),
    },
    {
        "id": "gender_identity",
        "text": "Is the gender you identify with the same as your sex registered at birth?",
        "options": _options(("yes", "Yes"), ("no", "No")),
    },
    {
        "id": "ethnicity",
        "text": "What is your ethnic group?",
        "groups": [
            {"label": g, "options": [{"value": v, "label": label} for v, label in opts]}
            for g, opts in ETHNICITY_GROUPS
        ],
        "options": _options(*[o for _, opts in ETHNICITY_GROUPS for o in opts]),
    },
    {
        "id": "disability",
        "text": (
            "Are your day-to-day activities limited because of a health problem or disability "
            "which has lasted, or is expected to last, at least 12 months?"
        ),
        "options": _options(
            ("yes-a-lot", "Yes, limited a lot"),
            ("yes-a-little", "Yes, limited a little"),
            ("no", "No"),
        ),
    },
    {
        "id": "sexual_orientation",
        "text": "Which of the following best describes your sexual orientation?",
        "options": _options(
            ("straight", "Straight or heterosexual"),
            ("gay-lesbian", "Gay or lesbian"),
            ("bisexual", "Bisexual"),
            ("other", "Another sexual orientation"),
        ),
    },
    {
        "id": "religion",
        "text": "What is your religion or belief?",
        "options": _options(
            ("none", "No religion"),
            ("christian", "Christian"),
            ("buddhist", "Buddhist"),
            ("hindu", "Hindu"),
            ("jewish", "Jewish"),
            ("muslim", "Muslim"),
            ("sikh", "Sikh"),
            ("other", "Any other religion or belief"),
        ),
    },
    {
        "id": "unpaid_carer",
        "text": (
            "Do you look after, or give any help or support to, anyone because they have long-term "
            "physical or mental health conditions or illnesses, or problems related to old age?"
        ),
        "options": _options(
            ("no", "No"),
            ("yes-up-to-19", "Yes, up to 19 hours a week"),
            ("yes-20-49", "Yes, 20 to 49 hours a week"),
            ("yes-50-plus", "Yes, 50 or more hours a week"),
        ),
    },
    {
        "id": "postcode_district",
        "text": "What is the first half of your postcode?",
        "hint": "For example, LS6 or BD23. We use this only to see which places we heard from.",
        "free_text": True,
        "options": _options(),
    },
]
EQUALITY_FIELDS = [q["id"] for q in EQUALITY_QUESTIONS]


def validate_equality(
    answers: dict[str, Any] | None,
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Check an equality-monitoring section; returns (clean answers, errors by field).

    Every item is optional and every item accepts ``prefer-not-to-say``.
    """
    clean: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    if not answers:
        return clean, errors
    if not isinstance(answers, dict):
        return clean, {"equality": ["must be an object of answers"]}
    for key in answers:
        if key not in EQUALITY_FIELDS:
            errors[f"equality.{key}"] = ["is not an equality-monitoring question"]
    for question in EQUALITY_QUESTIONS:
        qid = question["id"]
        value = answers.get(qid)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            errors[f"equality.{qid}"] = ["must be text"]
            continue
        if question.get("free_text") and value != PREFER_NOT_TO_SAY:
            district = normalise_postcode_district(value)
            if not POSTCODE_DISTRICT.match(district):
                errors[f"equality.{qid}"] = [
                    "must be the first half of a UK postcode, like LS6 or BD23"
                ]
            else:
                clean[qid] = district
            continue
        allowed = {o["value"] for o in question["options"]}
        if value not in allowed:
            errors[f"equality.{qid}"] = [f"'{value}' is not one of the options"]
        else:
            clean[qid] = value
    return clean, errors
