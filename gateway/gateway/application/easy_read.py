"""Easy read, shared by the API and the pages: staff set a consultation's easy-read version
and upload its pictures (surveys keeps both; the gateway stores no picture), and residents
see the consultation's easy-read points and answer the same form in easy-read wording.

A picture is named by the sha256 of its bytes, so its URL never changes meaning: it is
fetched from surveys with one RPC the first time a gateway process is asked for it, then
served from a small in-process cache, and browsers keep it for a year.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from engage_contracts import surveys as contract
from gateway.application.responses import remember
from gateway.application.staff import record
from gateway.context import Engage

CACHE_PICTURES = 32  # per process: at most 16 MB of 500 KB pictures


class Picture:
    """A picture's bytes and type, as served."""

    __slots__ = ("content_type", "data", "sha256")

    def __init__(self, sha256: str, content_type: str, data: bytes) -> None:
        self.sha256, self.content_type, self.data = sha256, content_type, data


_cache: OrderedDict[tuple[str, str], Picture] = OrderedDict()
_lock = threading.Lock()


def upload_image(
    ctx: Engage, actor: int, consultation_id: str, image: dict[str, Any]
) -> dict[str, Any]:
    """Keep a picture (``ImageUploadSchema``, base64) for the consultation, with surveys."""
    stored = ctx.services.surveys("upload_easy_read_image", consultation_id, image)
    record(ctx.db, actor, "consultation.easy_read_image", f"{consultation_id} {stored['sha256']}")
    return stored


def set_easy_read(
    ctx: Engage, actor: int, consultation_id: str, easy_read: dict[str, Any] | None
) -> dict[str, Any]:
    """Set (None: remove) the easy-read version; the snapshot residents answer from is
    rewritten at once, as for any other change to the consultation's text."""
    consultation = ctx.services.surveys("set_easy_read", consultation_id, easy_read)
    remember(ctx, consultation)
    record(ctx.db, actor, "consultation.easy_read", consultation_id)
    return consultation


def picture(ctx: Engage, consultation_id: str, sha256: str) -> Picture:
    """A picture's bytes: from this process's cache, else one RPC to surveys (``NotFound``
    when it has no such picture)."""
    key = (consultation_id, sha256)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    image = ctx.services.surveys("get_easy_read_image", consultation_id, sha256)
    found = Picture(sha256, image["content_type"], base64.b64decode(image["data"]))
    with _lock:
        _cache[key] = found
        while len(_cache) > CACHE_PICTURES:
            _cache.popitem(last=False)
    return found


def easy_read_view(
    consultation: dict[str, Any], url: Callable[[str], str]
) -> dict[str, Any] | None:
    """What the easy-read page shows: the points, each with its picture's ``url`` (from a
    sha256), and the consultation with its questions in easy-read wording where given (each
    with its ``picture``, and its options' easy-read labels as ``easy_labels``, by value); a
    question without one keeps the standard wording. None when the consultation has no
    easy-read version."""
    easy = consultation.get("easy_read")
    if not easy:
        return None

    def pictured(item: dict[str, Any]) -> dict[str, Any] | None:
        if not item.get("image"):
            return None
        return {
            "url": url(item["image"]),
            "alt": item.get("alt") or {},
            "width": item.get("width"),
            "height": item.get("height"),
        }

    wording = {q["id"]: q for q in easy.get("questions") or []}
    questionnaire = consultation.get("questionnaire") or {}
    questions = []
    for question in questionnaire.get("questions") or []:
        plain = wording.get(question["id"])
        if plain:
            question = {**question, "text": plain["text"], "picture": pictured(plain)}
            if plain.get("hint"):
                question["hint"] = plain["hint"]
            if plain.get("options"):  # the form shows these labels for their values
                question["easy_labels"] = {o["value"]: o["label"] for o in plain["options"]}
        questions.append(question)
    points = [{"text": p["text"], "picture": pictured(p)} for p in easy.get("points") or []]
    shown = {**questionnaire, "questions": questions}
    return {"points": points, "consultation": {**consultation, "questionnaire": shown}}


def is_sha256(value: str) -> bool:
    return bool(contract.SHA256.match(value))
