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

The recognizers (``engage_common.recognizers``) load Presidio and spaCy, about two
seconds of CPU and 85 MB. A nameko service loads them as it starts (``Redactor``), so its
first text does not hold up its other greenthreads while they load. ``redact`` does not
need them for text without a digit, an @ or a name's cue (``SCREEN``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import eventlet.patcher
from nameko.extensions import DependencyProvider

from engage_common.hub import off_hub

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

REDACTOR_VERSION = "2026-11.1"

TITLES = "Dr|Doctor|Prof|Professor|Mr|Mrs|Ms|Mx|Miss|Nurse|Sister|Matron|Midwife"

# What every recognizer (``engage_common.recognizers``) needs before it can match: a
# digit (phone, NHS number, postcode, date of birth), an @ (email), or a name's cue
# ("name", "called", "I am", a title), in any case. Most free text has none of them and
# skips the analyzer (two thirds of bench/run.py's texts: 0.31 to 0.09 ms a response).
# SCREENED names the recognizers it was written for: one added to ``analyzer`` fails a
# test until the screen is checked for it.
SCREEN = re.compile(rf"[\d@]|(?i:name|called|\bI(?:\s+am|['’]m)\b|\b(?:{TITLES})\b)")
SCREENED = frozenset(
    {
        "email",
        "uk-phone",
        "nhs-number",
        "uk-postcode",
        "date-of-birth",
        "name-after-cue",
        "name-after-i-am",
        "name-after-title",
    }
)

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


NHS_WEIGHTS = range(10, 1, -1)


def nhs_number_is_valid(digits: str) -> bool:
    """The NHS number's modulus-11 check digit (10 digits; repeated digits are test data)."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits, NHS_WEIGHTS, strict=False)) % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def analyzer() -> AnalyzerEngine:
    """Presidio's analyzer with Engage's recognizers, built once per process."""
    from engage_common import recognizers

    return recognizers.analyzer()


# spaCy's tokenizer keeps a cache it writes to; one analysis at a time, whichever thread
# (a native lock: under eventlet the patched one cannot be shared with tpool's threads).
_lock = eventlet.patcher.original("threading").Lock()


def redact(text: str) -> Redaction:
    if not SCREEN.search(text):
        return Redaction(text, [])
    from engage_common.recognizers import ENTITY_KINDS

    engine = analyzer()
    with _lock:
        results = engine.analyze(text, language="en")
    chosen = []
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


class Redactor(DependencyProvider):
    """nameko dependency: ``redact_off_hub``. Presidio and spaCy are loaded and the
    analyzer built as the container starts (about two seconds of CPU on the hub, before
    any entrypoint serves) rather than when the first text that needs them arrives, which
    would hold up every other call of the service meanwhile."""

    def setup(self) -> None:
        analyzer()

    def get_dependency(self, worker_ctx: object) -> Callable[[Sequence[str]], list[Redaction]]:
        return redact_off_hub
