"""What PostgreSQL can store and give back, checked before anything is accepted.

A value the gateway accepts (and gives a receipt for) must be storable by the service
that stores it later, or the resident is told "received" for something that is then
lost. PostgreSQL refuses, in text and JSONB alike:

- U+0000 (NUL);
- lone UTF-16 surrogates (U+D800 to U+DFFF), which JSON's ``\\ud800`` escapes let
  through into Python strings but which are not Unicode characters;
- numbers JSON cannot carry (``1e400`` parses to infinity in Python).

Dates are bounded separately (``DATE_MIN``/``DATE_MAX``): PostgreSQL stores years up to
294276 but the calendars and exports around it do not, and a date outside the range
breaks every list it is in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

NUL_MESSAGE = "cannot contain the NUL character (U+0000)"
SURROGATE_MESSAGE = "contains a character that is not valid Unicode (a lone surrogate)"
NUMBER_MESSAGE = "is a number too large to store"
DATE_MIN = datetime(2000, 1, 1, tzinfo=UTC)
DATE_MAX = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)
DATE_MESSAGE = "must be between 1 January 2000 and 31 December 2100 (UTC)"

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return NUL_MESSAGE
    if _SURROGATE.search(text):
        return SURROGATE_MESSAGE
    return None


def unstorable(value: Any, path: str = "") -> dict[str, list[str]]:
    """``{path: [reason]}`` for every string (or key) and number in ``value`` that
    PostgreSQL could not store; empty when all of it can be stored."""
    found: dict[str, list[str]] = {}
    here = path or "_schema"
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            found[here] = [problem]
    elif isinstance(value, float) and not math.isfinite(value):
        found[here] = [NUMBER_MESSAGE]
    elif isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            problem = text_problem(key) if isinstance(key, str) else None
            if problem:
                found.setdefault(here, []).append(problem)
                child = f"{path}.?" if path else "?"
            for k, v in unstorable(item, child).items():
                found.setdefault(k, []).extend(v)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            for k, v in unstorable(item, f"{path}.{i}" if path else str(i)).items():
                found.setdefault(k, []).extend(v)
    return found


def date_in_range(value: datetime) -> bool:
    """True when an aware ``value`` lies between ``DATE_MIN`` and ``DATE_MAX``."""
    return DATE_MIN <= value <= DATE_MAX
