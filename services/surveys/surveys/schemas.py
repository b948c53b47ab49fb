"""How surveys shows its rows at its boundary, in the shapes its contract defines
(``engage_contracts.surveys``, which the gateway shares); the schemas themselves live
in the contract."""

from __future__ import annotations

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
        "consent": current_consent(),
        "response_count": int(c.get("response_count") or 0),
        "created_at": iso(c.get("created_at")),
        "updated_at": iso(c.get("updated_at")),
        "opened_at": iso(c.get("opened_at")),
        "closed_at": iso(c.get("closed_at")),
    }


def rejection_reasons(errors: dict[str, list[str]]) -> list[str]:
    """Flat, readable reasons for a rejected submission (answer errors name their question)."""
    out = []
    for path, messages in errors.items():
        for message in messages:
            out.append(
                message
                if path.startswith("answers.") and message.startswith("Question ")
                else f"{path}: {message}"
            )
    return out
