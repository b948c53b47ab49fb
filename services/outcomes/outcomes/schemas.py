"""How outcomes shows its rows at its boundary, in the shapes its contract defines
(``engage_contracts.outcomes``, which the gateway shares); the schemas themselves live in
the contract."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

Json = dict[str, Any]


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def history(entries: Sequence[Json]) -> list[Json]:
    """``HistoryEntrySchema``: when it was recorded, the date it is for, who (None: the
    system), and the status, progress, note and reason it gave."""
    return [
        {
            "at": iso(e["at"]),
            "on": iso(e["on_date"]),
            "by": e["by_name"],
            "status": e["status"],
            "progress": e["progress"],
            "note": e["note"],
            "reason": e["reason"],
        }
        for e in entries
    ]


def outcome(row: Json, entries: Sequence[Json], children: Sequence[str], progress: int) -> Json:
    """``OutcomeSchema``: the record, its current status, ``progress`` rolled up from its
    ``children`` when it has any, and its history."""
    return {
        "id": str(row["id"]),
        "reference": row["reference"],
        "kind": row["kind"],
        "title": row["title"],
        "description": row["description"],
        "you_said": row["you_said"],
        "partner": row["partner"],
        "owner": row["owner"],
        "due_date": iso(row["due_date"]),
        "status": row["status"],
        "reason": row["reason"],
        "progress": progress,
        "places": list(row["places"]),
        "priorities": list(row["priorities"]),
        "themes": list(row["themes"]),
        "evidence": [dict(link) for link in row["evidence"]],
        "parent_id": row["parent_id"],
        "children": list(children),
        "published": row["published_at"] is not None,
        "published_at": iso(row["published_at"]),
        "updated_at": iso(row["updated_at"]),
        "history": history(entries),
    }
