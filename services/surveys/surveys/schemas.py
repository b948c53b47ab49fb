"""How surveys shows its rows at its boundary, in the shapes its contract defines
(``engage_contracts.surveys``, which the gateway shares); the schemas themselves live
in the contract."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from engage_contracts import surveys as contract
from engage_contracts.reference import current_consent


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def consultation(c: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A consultation row as the contract shapes it (JSON-safe)."""
    return {
        "id": str(c["id"]),
        "title": c["title"],
        "summary": c["summary"],
        "description": c["description"],
        "places": list(c["places"]),
        "priorities": list(c["priorities"]),
        "opens_at": iso(c.get("opens_at")),
        "closes_at": iso(c.get("closes_at")),
        "status": c["status"],
        "accepting_responses": contract.accepting_responses(c, now),
        "questionnaire": c["questionnaire"],
        "outcome": c.get("outcome"),
        "easy_read": c.get("easy_read"),
        "consent": current_consent(),
        "response_count": int(c.get("response_count") or 0),
        "created_at": iso(c.get("created_at")),
        "updated_at": iso(c.get("updated_at")),
        "opened_at": iso(c.get("opened_at")),
        "closed_at": iso(c.get("closed_at")),
    }


def receipt(row: dict[str, Any]) -> dict[str, Any]:
    """What a receipt code tells a resident: stored, or rejected and why (``ReceiptSchema``)."""
    return {
        "receipt_code": row["receipt_code"],
        "consultation_id": row["consultation_id"],
        "status": row["status"],
        "reasons": list(row["reasons"] or []),
        "submitted_at": iso(row["submitted_at"]),
    }


def my_response(row: dict[str, Any]) -> dict[str, Any]:
    """Everything held about one response, for the resident who sent it
    (``MyResponseSchema``): ``equality`` is None when they gave no equality answers, else
    only the ones they gave, with the version of the questions they were asked."""
    return {
        "receipt_code": row["receipt_code"],
        "consultation_id": row["consultation_id"],
        "consultation_title": row["consultation_title"],
        "answers": row["answers"],
        "equality": row["equality"],
        "equality_version": row["question_set"],
        "place": row["place"],
        "consent": row["consent"],
        "submitted_at": iso(row["submitted_at"]),
        "purged_at": iso(row["purged_at"]),
    }


def personal_data_response(row: dict[str, Any], matches: list[dict[str, str]]) -> dict[str, Any]:
    """A response an erasure search found, with where it matched
    (``PersonalDataResponseSchema``)."""
    return {
        "response_id": row["id"],
        "receipt_code": row["receipt_code"],
        "consultation_id": row["consultation_id"],
        "submitted_at": iso(row["submitted_at"]),
        "matches": matches,
    }


def free_text_answer(row: dict[str, Any]) -> dict[str, Any]:
    """A free-text answer as staff see it (``FreeTextAnswerSchema``): ``text`` is the
    redacted text (the caller redacts one not redacted yet; the original never leaves);
    themes and tone as confirmed, empty until staff confirm them."""
    return {
        "response_id": row["response_id"],
        "question_id": row["question_id"],
        "text": row["text"],
        "suggested_themes": list(row.get("suggested_themes") or []),
        "suggested_tone": row.get("suggested_tone"),
        "themes": list(row.get("themes") or []),
        "tone": row.get("tone"),
        "confirmed_at": iso(row.get("confirmed_at")),
    }


def image(row: dict[str, Any], with_data: bool = False) -> dict[str, Any]:
    """An easy-read picture (``ImageSchema``; ``ImageFileSchema`` ``with_data``, base64)."""
    shown = {
        "sha256": row["sha256"],
        "content_type": row["content_type"],
        "bytes": int(row["bytes"]),
        "width": row["width"],
        "height": row["height"],
        "alt": row["alt"],
    }
    if with_data:
        shown["data"] = base64.b64encode(bytes(row["data"])).decode("ascii")
    return shown
