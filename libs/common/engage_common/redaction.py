"""Take personal details out of free text before staff read it or it is kept.

``redact(text)`` replaces each detail with a bracketed phrase saying what was removed
("[email address removed]") and returns where each one was in the original text, so a
resident's words stay readable and staff can see that something was there.

What it removes: email addresses; UK phone numbers (01/02/03 landlines, 07 mobiles, +44);
NHS numbers (3-3-4 digits that pass the modulus-11 check, nothing else with ten digits);
full UK postcodes (not a district alone: "LS6" says where, not who); dates of birth, only
after a birth cue ("born on", "DOB", "date of birth", "my birthday is"); and names only
where a cue gives them ("my name is", "I'm called", "named", a title such as "Dr" or
"Nurse" (the title stays: "Dr [name removed]"), and "I am" followed by a first name and a
surname). Times, ward and room numbers, references, counts and other dates stay.

How: Microsoft Presidio's analyzer with Engage's own pattern recognizers and a blank spaCy
English pipeline (a tokenizer only): no trained model, nothing downloaded at run time, so
it behaves the same on a machine without network as in production. A name is recognised
by its cue, never by a statistical model, so names without a cue are not found: the
redactor lowers the risk, staff reading free text still follow the data protection rules.

``REDACTOR_VERSION`` changes whenever what is removed changes, so stored text can say
which redactor it went through. ``redact_off_hub(texts)`` does a batch in a native thread
when eventlet has monkey-patched threading, so a nameko service keeps serving meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import eventlet.patcher
import regex
import spacy
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.recognizer_result import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from engage_common.hub import off_hub

REDACTOR_VERSION = "2026-11.1"

# Presidio logs every recognizer it loads and every analysis at INFO: noise in a service's log.
logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)

REPLACEMENTS = {
    "email": "[email address removed]",
    "phone": "[phone number removed]",
    "nhs_number": "[NHS number removed]",
    "postcode": "[postcode removed]",
    "date_of_birth": "[date of birth removed]",
    "name": "[name removed]",
}


@dataclass(frozen=True)
class Finding:
    """One detail removed: its kind, where it was in the original text, what replaced it."""

    kind: str
    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Redaction:
    text: str
    found: list[Finding]
    version: str = REDACTOR_VERSION


# Case-sensitive by default: names are told by their capital letters. Cue words and
# everything else say so with (?i:...).
CASED = regex.DOTALL | regex.MULTILINE
ANY_CASE = CASED | regex.IGNORECASE

EMAIL = (
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

# A leading 0 (or +44/0044, optionally with "(0)") then 1, 2, 3 or 7 and 8 or 9 more
# digits, each with up to two separators (space, dash, a closing bracket) before it: the
# UK's 10- and 11-digit numbers as people write them. No leading 0, no match: counts and
# references ("12345678") never start with one, and dates use "/" or ".".
PHONE = r"(?<![\w+])(?:(?:\+|00)44\s?(?:\(0\)\s?)?|\(?0)[1237](?:[\s\-)]{0,2}\d){8,9}(?![\d])"

NHS_NUMBER = r"(?<![\w-])\d{3}([ -]?)\d{3}\1\d{4}(?![\w-])"

# Full postcodes only (outward code AND inward code), by the Royal Mail's letter rules:
# the inward code's letters never include C, I, K, M, O or V, so "2pm" is not one.
POSTCODE = r"\b(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?|GIR)\s?\d[ABD-HJLNP-UW-Z]{2}\b"

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DAY = r"\d{1,2}(?!\d)(?:st|nd|rd|th)?"
DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})(?!\d)"
    r"|\d{4}-\d{2}-\d{2}(?!\d)"
    rf"|{DAY}\s+(?:of\s+)?{MONTH}\b(?:,?\s+(?:\d{{4}}|'?\d{{2}})(?!\d))?"
    rf"|{MONTH}\s+{DAY}\b(?:,?\s+\d{{4}}(?!\d))?"
    rf"|{MONTH}\s+\d{{4}}(?!\d))"
)
# Only the date goes; the cue stays so the sentence still reads ("born on [date ...]").
BIRTH_CUE = (
    r"(?<=\b(?:born|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday)"
    r"(?:\s+(?:is|was))?\s*[:\-]?\s*(?:(?:on|in)\s+)?(?:the\s+)?)"
)

NAME_WORD = r"(?:[A-Z]['’])?[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?"
NAME_CUE = (
    r"(?<=(?i:\bmy\s+name\s+is|\bmy\s+name['’]s|\bname['’]s|\bnamed"
    r"|\b(?:i['’]m|i\s+am|is|was|are|were|he['’]s|she['’]s|they['’]re)\s+called)\s+)"
    rf"{NAME_WORD}(?:\s+{NAME_WORD}){{0,2}}"
)
I_AM = rf"(?<=\bI(?:\s+am|['’]m)\s+){NAME_WORD}(?:\s+{NAME_WORD}){{1,2}}"
TITLE = (
    r"(?<=(?:\b(?:Dr|Doctor|Prof|Professor|Mr|Mrs|Ms|Mx|Miss|Nurse|Sister|Matron|Midwife)"
    r"|\b(?:dr|doctor|nurse|midwife|matron))\.?\s+)"
    rf"(?:[A-Z]\.?\s+){{0,2}}{NAME_WORD}(?:\s+{NAME_WORD})?"
)

# Capitalised words that follow a cue but are not names: "I am Very Happy With...",
# "Nurse Practitioner", "Doctor Who", "Dr Patel Monday" (spaCy's English stop words, less
# the two that are also first names, and words residents put after "I am").
NOT_NAME_WORDS = """
    happy sad glad pleased grateful thankful delighted impressed relieved satisfied
    unhappy dissatisfied disappointed angry upset furious annoyed frustrated appalled
    shocked worried concerned confused scared afraid tired sick sorry sure fine ok okay
    good great better worse lucky fortunate writing disabled deaf blind autistic
    diabetic pregnant retired housebound unable able really extremely absolutely
    totally completely quite rather truly genuinely honestly ward unit clinic centre
    center hospital surgery practice team department practitioner specialist consultant
    manager receptionist nurse doctor staff service services nhs gp monday tuesday
    wednesday thursday friday saturday sunday
"""
NOT_NAMES = (frozenset(STOP_WORDS) - {"will", "may"}) | frozenset(NOT_NAME_WORDS.split())

NHS_WEIGHTS = range(10, 1, -1)


def nhs_number_is_valid(digits: str) -> bool:
    """The NHS number's modulus-11 check digit (10 digits; repeated digits are test data)."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits, NHS_WEIGHTS, strict=False)) % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


class NhsNumberRecognizer(PatternRecognizer):
    def validate_result(self, pattern_text: str) -> bool:
        return nhs_number_is_valid("".join(c for c in pattern_text if c.isdigit()))


class PostcodeRecognizer(PatternRecognizer):
    ORDINAL = regex.compile(r"\d(?:st|nd|rd|th)$")

    def invalidate_result(self, pattern_text: str) -> bool:
        """A lower-case ordinal after an outward code ("B2 2nd") is a floor, not a postcode."""
        return bool(self.ORDINAL.search(pattern_text))


class NameRecognizer(PatternRecognizer):
    """A name after its cue, with the ordinary words a cue can be followed by trimmed off
    the end; a match starting with one, or left shorter than ``min_words``, is dropped."""

    def __init__(self, name: str, pattern: str, min_words: int = 1) -> None:
        super().__init__(
            "NAME", name=name, patterns=[Pattern(name, pattern, 0.7)], global_regex_flags=CASED
        )
        self.min_words = min_words

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        kept = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            words = list(regex.finditer(r"\S+", text[result.start : result.end]))
            names = [w for w in words if len(w.group().rstrip(".")) > 1]
            if not names or names[0].group().lower() in NOT_NAMES:
                continue
            while words and words[-1].group().lower() in NOT_NAMES:
                words.pop()
            if len([w for w in words if len(w.group().rstrip(".")) > 1]) < self.min_words:
                continue
            result.end = result.start + words[-1].end()
            kept.append(result)
        return kept


ENTITY_KINDS = {
    "EMAIL": "email",
    "UK_PHONE": "phone",
    "NHS_NUMBER": "nhs_number",
    "UK_POSTCODE": "postcode",
    "DATE_OF_BIRTH": "date_of_birth",
    "NAME": "name",
}


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine with ``spacy.blank("en")``: a tokenizer and nothing to
    download (the stock engine fetches en_core_web_lg when it is missing)."""

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"}])

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en")}


@cache
def analyzer() -> AnalyzerEngine:
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        PatternRecognizer("EMAIL", name="email", patterns=[Pattern("email", EMAIL, 0.95)]),
        PatternRecognizer("UK_PHONE", name="uk-phone", patterns=[Pattern("phone", PHONE, 0.85)]),
        NhsNumberRecognizer(
            "NHS_NUMBER", name="nhs-number", patterns=[Pattern("nhs", NHS_NUMBER, 0.5)]
        ),
        PostcodeRecognizer(
            "UK_POSTCODE",
            name="uk-postcode",
            patterns=[Pattern("postcode", POSTCODE, 0.8)],
            global_regex_flags=ANY_CASE,
        ),
        PatternRecognizer(
            "DATE_OF_BIRTH",
            name="date-of-birth",
            patterns=[Pattern("dob", BIRTH_CUE + DATE, 0.9)],
            global_regex_flags=ANY_CASE,
        ),
        NameRecognizer("name-after-cue", NAME_CUE),
        NameRecognizer("name-after-i-am", I_AM, min_words=2),
        NameRecognizer("name-after-title", TITLE),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry, nlp_engine=BlankSpacyNlpEngine(), supported_languages=["en"]
    )


# spaCy's tokenizer keeps a cache it writes to; one analysis at a time, whichever thread
# (a native lock: under eventlet the patched one cannot be shared with tpool's threads).
_lock = eventlet.patcher.original("threading").Lock()


def redact(text: str) -> Redaction:
    if not text.strip():
        return Redaction(text, [])
    engine = analyzer()
    with _lock:
        results = engine.analyze(text, language="en")
    chosen: list[RecognizerResult] = []
    # Where two recognisers claim overlapping text, the surer (then the longer) wins.
    for result in sorted(results, key=lambda r: (-r.score, r.start - r.end, r.start)):
        if all(result.end <= c.start or c.end <= result.start for c in chosen):
            chosen.append(result)
    found = []
    parts = []
    at = 0
    for result in sorted(chosen, key=lambda r: r.start):
        kind = ENTITY_KINDS[result.entity_type]
        found.append(Finding(kind, result.start, result.end, REPLACEMENTS[kind]))
        parts += [text[at : result.start], REPLACEMENTS[kind]]
        at = result.end
    parts.append(text[at:])
    return Redaction("".join(parts), found)


def redact_all(texts: Sequence[str]) -> list[Redaction]:
    return [redact(text) for text in texts]


def redact_off_hub(texts: Sequence[str]) -> list[Redaction]:
    """``redact`` each text without freezing the other greenthreads of a nameko service."""
    analyzer()  # built here, once, rather than in a native thread
    return off_hub(redact_all, list(texts))
