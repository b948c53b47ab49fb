"""The paper copy of a consultation: a tagged PDF (PDF/UA-1) made by WeasyPrint from the
HTML the resident pages render, kept per consultation version and language.

Rendering takes a second or more of CPU (Urdu's Nastaliq shaping is the slowest), so a
copy is made once per version of the consultation's text and language, and kept in the
process (a bounded, least recently used cache); a request for a copy already made costs a
hash of the consultation. Like the board papers, it is rendered in a child process
(``gateway.application.pdf``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from gateway.application.pdf import render as render_pdf

log = logging.getLogger(__name__)
PAPER_CSS = ("paper_copy.css",)
KEPT = 64  # copies kept per process: consultations open at once x languages, with room
# What a paper copy shows of a consultation: a change to any of these is a new version.
SHOWN = ("id", "title", "summary", "description", "places", "closes_at", "questionnaire")

_kept: OrderedDict[str, bytes] = OrderedDict()
_lock = threading.Lock()
_rendering: dict[str, threading.Lock] = {}


def version(consultation: dict[str, Any], language: str, *extra: Any) -> str:
    """The copy's version: a hash of what it shows (the consultation's text and
    questions, its consent, the language, and ``extra``: the configuration's wording)."""
    shown = {key: consultation.get(key) for key in SHOWN}
    shown["consent"] = (consultation.get("consent") or {}).get("version")
    blob = json.dumps([shown, language, extra], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def paper_copy(key: str, html: Callable[[], str]) -> bytes:
    """The PDF for ``key``: kept, or rendered from ``html()`` once (one render at a time
    per key, so a rush of requests for a new version renders it once)."""
    with _lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
        rendering = _rendering.setdefault(key, threading.Lock())
    with rendering:
        with _lock:
            if key in _kept:
                return _kept[key]
        started = time.monotonic()
        document = render_pdf(html(), PAPER_CSS)
        log.info(
            "paper copy of %d bytes rendered in %.2f s", len(document), time.monotonic() - started
        )
        with _lock:
            _kept[key] = document
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
            _rendering.pop(key, None)
    return document


def forget() -> None:
    """Drop every kept copy (tests)."""
    with _lock:
        _kept.clear()
