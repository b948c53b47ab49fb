"""Counting community feedback from the read model (``feedback_facts``, kept from
feedback's events): by confirmed theme, place, channel and kind, through the
small-number rule, without calling the feedback service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from engage_common.disclosure import hidden, suppress
from engage_contracts.ics import ics
from engage_contracts.reference import place_label
from engage_contracts.shared import localised

NOT_GIVEN = "Not given"
CHANNEL_WORDS = {
    "online": "Online (app or partner site)",
    "web-form": "Engage website",
    "phone": "Phone",
    "paper": "Paper form",
    "email": "Email",
    "letter": "Letter",
    "event": "Engagement event",
    "healthwatch": "Healthwatch referral",
    "partner": "Partner organisation",
}


def _where(
    received_from: datetime | None, received_to: datetime | None, place: str | None
) -> tuple[str, list[Any]]:
    clauses, params = ["NOT deleted", "kind IS NOT NULL"], []
    if received_from:
        clauses.append("received_at >= %s")
        params.append(received_from)
    if received_to:
        clauses.append("received_at < %s")
        params.append(received_to)
    if place:
        clauses.append("place = %s")
        params.append(place)
    return " AND ".join(clauses), params


def _breakdown(
    counts: dict[str | None, int], label: Any, threshold: int, partition: bool = True
) -> list[dict[str, Any]]:
    """``[{value, label, count}]``, biggest first, hidden counts None. A breakdown that
    adds up to the total (``partition``) hides more counts so none can be worked out by
    subtraction, and is empty when its hidden counts cannot be protected. Themes overlap
    (an item may have several), so no total pins a hidden one down: each small count is
    hidden on its own."""
    if partition:
        shown, total = suppress(counts, threshold)
        if total is None:
            return []
    else:
        shown = {k: None if hidden(v, threshold) else v for k, v in counts.items()}
    order = sorted(counts, key=lambda k: (k is None, -counts[k], str(k)))
    return [{"value": k, "label": label(k), "count": shown[k]} for k in order]


def feedback_counts(
    conn: Connection,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    place: str | None = None,
) -> dict[str, Any]:
    """Feedback received in the period (and place), counted by confirmed theme, place,
    channel and kind. ``themed``: how many items have confirmed themes so far."""
    where, params = _where(received_from, received_to, place)
    rows = conn.execute(
        "SELECT kind, place, channel, themes FROM feedback_facts WHERE " + where, params
    ).fetchall()
    labels = {
        r["slug"]: r["label"]
        for r in conn.execute("SELECT slug, label FROM feedback_themes").fetchall()
    }
    threshold = ics().small_number_threshold
    by: dict[str, dict[Any, int]] = {"place": {}, "channel": {}, "kind": {}, "theme": {}}
    themed = 0
    for r in rows:
        for column in ("place", "channel", "kind"):
            key = r[column] or None
            by[column][key] = by[column].get(key, 0) + 1
        if r["themes"]:
            themed += 1
        for theme in r["themes"]:
            by["theme"][theme] = by["theme"].get(theme, 0) + 1
    total_shown = suppress({"all": len(rows)}, threshold)[0]["all"]
    themed_shown = suppress({"themed": themed}, threshold)[0]["themed"]
    return {
        "total": total_shown,
        "themed": themed_shown,
        "by_theme": _breakdown(
            by["theme"], lambda k: localised(labels.get(k, k)), threshold, partition=False
        ),
        "by_place": _breakdown(
            by["place"], lambda k: place_label(k) if k else NOT_GIVEN, threshold
        ),
        "by_channel": _breakdown(
            by["channel"], lambda k: CHANNEL_WORDS.get(k or "", k or NOT_GIVEN), threshold
        ),
        "by_kind": _breakdown(
            by["kind"], lambda k: (k or NOT_GIVEN).replace("-", " ").capitalize(), threshold
        ),
        "threshold": threshold,
    }
