"""Reading the "you said, we did" read model (tables filled by ``gateway.projections``).

One query for every reader: the public JSON (``GET /api/v1/you-said-we-did``), the
public page (``GET /you-said-we-did``) and the staff board reports. None of them may
call the services: boards refresh these all day, and they keep answering while the
services are down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from engage_common.disclosure import suppress
from engage_contracts.ics import ics
from engage_contracts.reference import place_label

# Decision statuses (surveys' ``domain.DECISION_STATUSES``) in plain words.
DECISION_STATUS_WORDS = {
    "planned": "Planned",
    "in-progress": "In progress",
    "done": "Done",
    "not-taken-forward": "Not taken forward",
}
NOT_GIVEN = "Not given"


def _naming(
    clauses: list[str], params: list[Any], place: str | None, priority: str | None
) -> tuple[list[str], list[Any]]:
    """``clauses``/``params`` plus: the consultation names ``place``, and ``priority``."""
    for column, value in (("places", place), ("priorities", priority)):
        if value:
            clauses.append(f"%s = ANY({column})")
            params.append(value)
    return clauses, params


def you_said_we_did(
    conn: Connection, place: str | None = None, priority: str | None = None
) -> list[dict[str, Any]]:
    """Consultations that have closed or have a published outcome, latest closing first,
    each with ``responses_by_place`` ([{place, label, count}], biggest first, then
    ``place`` None: residents who did not say), through the small-number rule: a hidden
    count is None, and when hidden counts cannot be protected the list is empty.
    ``place``/``priority`` keep only the consultations that name them."""
    clauses, params = _naming(["(status = 'closed' OR outcome IS NOT NULL)"], [], place, priority)
    rows = conn.execute(
        # For a closed consultation, ``closes_at`` is when it actually closed.
        "SELECT id, title, places, priorities, status, opens_at,"
        " COALESCE(closed_at, closes_at) AS closes_at, outcome, response_count"
        " FROM consultation_summaries WHERE "
        + " AND ".join(clauses)
        + " ORDER BY COALESCE(closed_at, closes_at) DESC NULLS LAST, id",
        params,
    ).fetchall()
    counts = conn.execute(
        "SELECT consultation_id, place, count FROM responses_by_place"
        " WHERE consultation_id = ANY(%s) ORDER BY place = '', count DESC, place",
        ([r["id"] for r in rows],),
    ).fetchall()
    raw: dict[str, dict[str | None, int]] = {}
    for c in counts:
        raw.setdefault(str(c["consultation_id"]), {})[c["place"] or None] = c["count"]
    threshold = ics().small_number_threshold
    by_place = {cid: _places_shown(places, threshold) for cid, places in raw.items()}
    return [
        {
            **r,
            "id": str(r["id"]),
            "places": list(r["places"]),
            "priorities": list(r["priorities"]),
            "responses_by_place": by_place.get(str(r["id"]), []),
        }
        for r in rows
    ]


def open_consultations(
    conn: Connection, now: datetime, place: str | None = None, priority: str | None = None
) -> list[dict[str, Any]]:
    """Consultations taking answers at ``now``, as the home page lists them (soonest to
    close first), from events: what residents still see while surveys is away."""
    clauses, params = _naming(
        ["status = 'open'", "opens_at <= %s", "closes_at > %s"], [now, now], place, priority
    )
    rows = conn.execute(
        "SELECT id, title, summary, places, priorities, opens_at, closes_at"
        " FROM consultation_summaries WHERE " + " AND ".join(clauses) + " ORDER BY closes_at, id",
        params,
    ).fetchall()
    return [
        {
            **r,
            "id": str(r["id"]),
            "opens_at": r["opens_at"].isoformat(),
            "closes_at": r["closes_at"].isoformat(),
        }
        for r in rows
    ]


def _places_shown(counts: dict[str | None, int], threshold: int) -> list[dict[str, Any]]:
    shown, total = suppress(counts, threshold)
    if total is None:
        return []  # the response count beside it would give the hidden ones away
    return [
        {"place": code, "label": place_label(code) if code else NOT_GIVEN, "count": shown[code]}
        for code in counts
    ]


def split_decided(found: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(consultations with a published outcome, closed ones still waiting for a decision)."""
    return (
        [c for c in found if c["outcome"]],
        [c for c in found if not c["outcome"] and c["status"] == "closed"],
    )


def status_words(status: str | None) -> str:
    return DECISION_STATUS_WORDS.get(status or "", (status or "").replace("-", " ").capitalize())


def dead_letters(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Messages that failed every retry, newest first."""
    return conn.execute(
        "SELECT id, message_id, queue, error, headers, body, received_at FROM dead_letters"
        " ORDER BY received_at DESC, id DESC LIMIT %s",
        (limit,),
    ).fetchall()
