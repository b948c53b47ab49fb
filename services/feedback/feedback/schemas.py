"""How feedback shows its rows at its boundary, in the shapes its contract defines
(``engage_contracts.feedback``, which the gateway shares); the schemas themselves live in
the contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from feedback import domain

Json = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def history(entries: Sequence[Json]) -> list[Json]:
    """``HistoryEntrySchema``: when, who (None: the system), what, and its detail."""
    return [
        {"at": iso(e["at"]), "by": e["by_name"], "action": e["action"], "detail": e["detail"]}
        for e in entries
    ]


def item(
    row: Json,
    now: datetime,
    targets: Mapping[str, int],
    entries: Sequence[Json] | None = None,
    with_original: bool = False,
) -> Json:
    """An item as staff see it (``FeedbackItemSchema``): the redacted text. In full (with
    its history ``entries``) it also has ``original_text``, None unless ``with_original``."""
    shaped = {
        "id": str(row["id"]),
        "version": row["version"],
        "receipt_code": row["receipt_code"],
        "kind": row["kind"],
        "about": row["about"],
        "text": row["text"],
        "redactions": domain.redaction_kinds(row["redactions"]),
        "redactor_version": row["redactor_version"],
        "language_check": row["language_check"],
        "safeguarding": {
            "urgent": row["urgent"],
            "categories": list(row["safeguarding_categories"]),
            "matches": list(row["safeguarding_matches"]),
        },
        "place": row["place"],
        "postcode_district": row["postcode_district"],
        "consultation_id": domain.str_or_none(row["consultation_id"]),
        "channel": row["channel"],
        "entered_by": row["entered_by"],
        "status": row["status"],
        "suggested_themes": row["suggested_themes"],
        "themes": list(row["themes"]),
        "suggested_tone": row["suggested_tone"],
        "tone": row["tone"],
        "may_quote": row["may_quote"],
        "quote": row["quote"],
        "reply_by": row["reply_by"],
        "public_reply": row["public_reply"],
        "received_at": iso(row["received_at"]),
        "waited_days": domain.waited_days(row, now),
        "overdue": domain.overdue(row, now, targets),
    }
    if entries is not None:  # one item in full; a search page leaves both out
        shaped["original_text"] = row["text_original"] if with_original else None
        shaped["history"] = history(entries)
    return shaped


def receipt(row: Json) -> Json:
    """What a receipt code tells a resident (``ReceiptSchema``), plus ``reasons`` when
    their feedback was not stored (rejected, or already imported)."""
    return {
        "receipt_code": row["receipt_code"],
        "status": row["status"],
        "kind": row["kind"],
        "submitted_at": iso(row["submitted_at"]),
        "public_reply": row.get("public_reply"),
        "replied_at": iso(row.get("replied_at")),
        "reasons": list(row.get("reasons") or []),
    }


def my_feedback(row: Json) -> Json:
    """Everything held about one item, for the resident who sent it (``MyFeedbackSchema``):
    their own words while we keep them (the redacted ones after the retention purge)."""
    return {
        "receipt_code": row["receipt_code"],
        "kind": row["kind"],
        "about": row["about_original"] if row["about_original"] is not None else row["about"],
        "text": row["text_original"] if row["text_original"] is not None else row["text"],
        "place": row["place"],
        "postcode_district": row["postcode_district"],
        "equality": row["equality"],
        "equality_version": row["question_set"],
        "may_quote": row["may_quote"],
        "reply_by": row["reply_by"],
        "email": row["email"],
        "consent": row["consent"],
        "status": row["status"],
        "public_reply": row["public_reply"],
        "submitted_at": iso(row["received_at"]),
    }


def theme(row: Json) -> Json:
    """``ThemeSchema``."""
    return {
        "slug": row["slug"],
        "label": row["label"],
        "description": row["description"],
        "keywords": list(row["keywords"]),
        "priority": row["priority"],
        "source": row["source"],
        "active": row["active"],
    }


def personal_data_item(row: Json, matches: list[Json]) -> Json:
    """An item an erasure search found, with where it matched (as surveys'
    ``PersonalDataResponseSchema``, keyed ``feedback_id``)."""
    return {
        "feedback_id": str(row["id"]),
        "receipt_code": row["receipt_code"],
        "submitted_at": iso(row["received_at"]),
        "matches": matches,
    }
