"""Suggestions for staff, pure: the themes an item's redacted text seems to be about,
with the words that matched, and its tone. Deliberately simple (keyword prefixes, small
word lists) so staff can see why each suggestion was made; staff confirm or change them,
and only what they confirm is counted.

Shared by every service that suggests themes (feedback for its items, surveys for free-text
answers), so the same text gets the same suggestions whichever service holds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from engage_contracts.feedback import MAX_THEMES

_WORD = re.compile(r"\w+(?:'\w+)?")


def words(text: str, ignore: Iterable[str] = ()) -> list[str]:
    """Lower-case words of ``text``, without the redactor's placeholders (``ignore``): a
    removed phone number must not suggest "Communication"."""
    for placeholder in sorted(set(ignore), key=len, reverse=True):
        if placeholder:
            text = text.replace(placeholder, " ")
    return _WORD.findall(text.casefold().replace("\u2019", "'"))


def _keyword_stem(word: str) -> str:
    """A keyword's naive stem: a plural ``s`` off (``weeks`` -> ``week``)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@cache
def _matcher(keyword: str) -> tuple[str, tuple[str, ...]]:
    """What a keyword matches: a prefix (``(stem, ())``), or whole words (``("", words)``).
    Worked out once a keyword: every stored answer is matched against every theme."""
    stem = _keyword_stem(keyword.casefold())
    if len(stem) >= 4:
        return stem, ()
    return "", (stem, stem + "s", stem + "es")


def word_matches(word: str, keyword: str) -> bool:
    """Naive stemming: a text word matches a keyword it starts with (``appointments``,
    ``waited``), a short keyword (under 4 letters) only itself or its plural, so ``app``
    does not match ``appointment``."""
    prefix, whole = _matcher(keyword)
    return word.startswith(prefix) if prefix else word in whole


@cache
def _parts(keyword: str) -> tuple[str, ...]:
    return tuple(keyword.casefold().split())


def matched_words(text_words: Sequence[str], keywords: Iterable[str]) -> list[str]:
    """The words (or phrases, for keywords of several words) of ``text_words`` that
    match any of ``keywords``, each once, in the order they appear."""
    found: dict[int, str] = {}
    for keyword in keywords:
        parts = _parts(keyword)
        if not parts:
            continue
        if len(parts) == 1:
            prefix, whole = _matcher(parts[0])
            for i, word in enumerate(text_words):
                if word.startswith(prefix) if prefix else word in whole:
                    found.setdefault(i, word)
            continue
        for i in range(len(text_words) - len(parts) + 1):
            window = text_words[i : i + len(parts)]
            if all(word_matches(w, k) for w, k in zip(window, parts, strict=True)):
                found.setdefault(i, " ".join(window))
    return list(dict.fromkeys(found[i] for i in sorted(found)))


def themes(
    text: str, candidates: Sequence[dict[str, Any]], ignore: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The ``candidates`` (themes) whose keywords the (redacted) text has, each with the
    words that matched (``because``), most matches first; at most ``MAX_THEMES``. Retired
    themes are not suggested."""
    text_words = words(text, ignore)
    suggestions = []
    for theme in candidates:
        if not theme.get("active", True):
            continue
        because = matched_words(text_words, theme.get("keywords") or ())
        if because:
            suggestions.append(
                {"theme": theme["slug"], "label": theme["label"], "because": because}
            )
    suggestions.sort(key=lambda s: (-len(s["because"]), s["theme"]))
    return suggestions[:MAX_THEMES]


POSITIVE = (
    "thank", "thanks", "great", "excellent", "brilliant", "kind", "kindness", "helpful",
    "good", "lovely", "amazing", "wonderful", "caring", "friendly", "happy", "pleased",
    "impressed", "fantastic", "outstanding", "professional", "easy", "supportive",
    "grateful", "appreciate", "appreciated", "best", "better", "quick", "reassuring",
)  # fmt: skip
NEGATIVE = (
    "bad", "poor", "terrible", "awful", "rude", "slow", "unhelpful", "difficult",
    "impossible", "worried", "worse", "worst", "angry", "upset", "disappointed",
    "disappointing", "frustrated", "frustrating", "complain", "complaint", "dirty",
    "ignored", "cancelled", "unacceptable", "struggle", "struggled", "struggling",
    "horrible", "useless", "dismissive", "scared", "confusing", "confused", "hard",
)  # fmt: skip
NEGATORS = ("not", "no", "never", "nothing", "hardly", "without")


def _negated(previous: str) -> bool:
    return previous in NEGATORS or previous.endswith("n't")


def tone(text: str, ignore: Iterable[str] = ()) -> str:
    """``positive``, ``negative``, ``mixed`` or ``neutral`` from small word lists; a word
    after "not"/"never"/"n't" counts the other way ("not helpful" is negative)."""
    positive = negative = False
    previous = ""
    for word in words(text, ignore):
        good, bad = word in POSITIVE, word in NEGATIVE
        if (good or bad) and _negated(previous):
            good, bad = bad, good
        positive, negative = positive or good, negative or bad
        previous = word
    if positive and negative:
        return "mixed"
    return "positive" if positive else "negative" if negative else "neutral"
