"""The suggestions every service makes from redacted text (``engage_contracts.suggestions``):
themes with the words that matched, and a tone."""

from __future__ import annotations

import pytest

from engage_contracts.feedback import COMMON_THEMES, MAX_THEMES
from engage_contracts.suggestions import matched_words, themes, tone, word_matches, words

PLACEHOLDERS = ("[phone number removed]", "[name removed]")
CANDIDATES = [
    {"slug": slug, "label": label, "keywords": keywords, "active": True}
    for slug, label, keywords in COMMON_THEMES
]


def test_words_are_lower_case_without_the_redactors_placeholders() -> None:
    text = "Ring [phone number removed]! The GP’s PHONE line isn't answered"
    assert words(text, PLACEHOLDERS) == [
        "ring",
        "the",
        "gp's",
        "phone",
        "line",
        "isn't",
        "answered",
    ]
    assert "number" not in words(text, PLACEHOLDERS)
    assert words("  ") == []


@pytest.mark.parametrize(
    "word, keyword, expected",
    [
        ("appointments", "appointment", True),
        ("waited", "wait", True),
        ("weeks", "weeks", True),  # a keyword's plural s comes off: week
        ("week", "weeks", True),
        ("app", "app", True),
        ("apps", "app", True),
        ("appointment", "app", False),  # a short keyword is only itself or its plural
        ("gp", "GP", True),
        ("gps", "gp", True),
        ("surgeon", "surgery", False),
        ("class", "class", True),  # "ss" is not a plural
    ],
)
def test_word_matches(word: str, keyword: str, expected: bool) -> None:
    assert word_matches(word, keyword) is expected


def test_matched_words_each_once_in_the_order_they_appear_phrases_too() -> None:
    text = words("Parking at the car park: the car parks are full, parking is dear")
    assert matched_words(text, ["car park", "parking", "bus"]) == [
        "parking",
        "car park",
        "car parks",
    ]
    assert matched_words(text, ["", "  "]) == []
    assert matched_words(words("I look after my mum"), ["looking after"]) == []


def test_themes_say_why_most_matches_first_retired_ones_never() -> None:
    text = "Waited 3 weeks for a GP appointment; the receptionist never called back. [name removed]"
    suggested = themes(text, CANDIDATES, PLACEHOLDERS)
    assert suggested[0] == {
        "theme": "gp-access",
        "label": "GP access",
        "because": ["gp", "appointment", "receptionist"],
    }
    assert suggested[1] == {
        "theme": "waiting-times",
        "label": "Waiting times",
        "because": ["waited", "weeks"],
    }
    # a keyword of several words matches as a phrase, each word by its stem
    assert suggested[2]["theme"] == "communication"
    assert suggested[2]["because"] == ["called back"]
    assert len(suggested) == 3
    retired = [{**c, "active": c["slug"] != "gp-access"} for c in CANDIDATES]
    assert [s["theme"] for s in themes(text, retired)] == ["waiting-times", "communication"]
    # a theme without keywords (a priority staff have not given any yet) is never suggested
    assert themes("living well", [{"slug": "living-well", "label": "Living Well"}]) == []
    # a tie is broken by slug; never more than MAX_THEMES
    many = [{"slug": f"t{i:02}", "label": str(i), "keywords": ["bus"]} for i in range(20)]
    assert [s["theme"] for s in themes("bus", many)] == [f"t{i:02}" for i in range(MAX_THEMES)]


def test_the_placeholder_of_a_removed_phone_number_suggests_nothing() -> None:
    text = "Please ring me on [phone number removed]"
    assert themes(text, CANDIDATES, PLACEHOLDERS) == []
    assert [s["theme"] for s in themes(text, CANDIDATES)] == ["communication"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Thank you, the nurses were brilliant", "positive"),
        ("The receptionist was rude and unhelpful", "negative"),
        ("Kind staff but the wait was terrible", "mixed"),
        ("I went on Tuesday", "neutral"),
        ("The staff were not helpful", "negative"),
        ("It wasn't bad at all", "positive"),
        ("Never rude, always kind", "positive"),
        ("", "neutral"),
    ],
)
def test_tone(text: str, expected: str) -> None:
    assert tone(text) == expected


def test_one_word_keywords_match_as_before() -> None:
    """Issue 15: matching was most of surveys' work per stored response; a keyword's stem
    is now worked out once. What matches is what the rule (a prefix of four letters or
    more, else the word or its plural) always said."""

    def rule(word: str, keyword: str) -> bool:
        stem = keyword.casefold()
        if len(stem) > 3 and stem.endswith("s") and not stem.endswith("ss"):
            stem = stem[:-1]
        return word.startswith(stem) if len(stem) >= 4 else word in (stem, stem + "s", stem + "es")

    text = words("Appointments: the app's apps, GP, gps, weeks waited, a WEEK, bus es, class")
    keywords = ["appointment", "app", "GP", "weeks", "wait", "bus", "class", "", "  "]
    expected = [w for w in text if any(rule(w, k) for k in keywords if k.strip())]
    assert matched_words(text, keywords) == list(dict.fromkeys(expected))
    assert all(word_matches(w, k) == rule(w, k) for w in text for k in keywords if k.strip())
