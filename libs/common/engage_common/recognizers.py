"""Presidio's pattern recognizers for what ``engage_common.redaction`` removes, and the
analyzer that runs them over a blank spaCy English pipeline (a tokenizer only: no trained
model, nothing downloaded). ``redaction.analyzer()`` imports this on first use."""

from __future__ import annotations

from functools import cache

import regex
import spacy
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.recognizer_result import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from engage_common.redaction import TITLES, nhs_number_is_valid

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
    rf"(?<=(?:\b(?:{TITLES})"
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
