"""Board reports for staff: "you said, we did" as a CSV and as a print-friendly HTML
board paper, both from the read model (``gateway.readmodels``), never from the services.

Both are audited like the responses export: who took which report, with which filter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, render_template

from engage_contracts.reference import place_label, priority_label
from engage_contracts.shared import localised
from gateway.api.schemas import ReportFiltersSchema
from gateway.application.staff import RESULTS, record
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.exports import csv_lines
from gateway.http import Blueprint, file_response
from gateway.readmodels import queries

blp = Blueprint(
    "reports", __name__, url_prefix="/api/v1/staff/reports", description="Board reports"
)
LONDON = ZoneInfo("Europe/London")
COLUMNS = [
    "consultation",
    "places",
    "priorities",
    "closed",
    "responses",
    "you said",
    "we did",
    "status",
    "reason",
]


def _report(filters: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The read model's consultations matching the filters; audited: who took which
    report, with which filter."""
    with engage().db.connection() as conn:
        found = queries.you_said_we_did(conn, filters.get("place"), filters.get("priority"))
    record(engage().db, current_staff().id, f"report.you_said_we_did.{kind}", _target(filters))
    return found


def _target(filters: dict[str, Any]) -> str:
    return f"place={filters.get('place') or 'all'} priority={filters.get('priority') or 'all'}"


def _day(value: datetime | None) -> str:
    return value.astimezone(LONDON).date().isoformat() if value else ""


def decision_rows(found: list[dict[str, Any]]) -> Iterator[list[Any]]:
    """One row per published decision, in ``COLUMNS`` order, in plain words."""
    for c in found:
        for d in (c["outcome"] or {}).get("decisions") or []:
            yield [  # a board paper is in English; the stored text may have other languages
                localised(c["title"]),
                [place_label(p) for p in c["places"]] or ["All places"],
                [priority_label(p) for p in c["priorities"]],
                _day(c["closes_at"]),
                c["response_count"],
                localised(d.get("you_said")),
                localised(d.get("we_did")),
                queries.status_words(d.get("status")),
                localised(d.get("reason")) or None,
            ]


@blp.route("/you-said-we-did.csv", methods=["GET"])
@require_role(*RESULTS)  # officers, analysts, board viewers (and admins)
@blp.arguments(ReportFiltersSchema, location="query")
@file_response("text/csv", "One row per decision")
def report_csv(filters: dict[str, Any]) -> Any:
    """Board report: every published decision as CSV (streamed)

    One row per decision: consultation, places, priorities, closed, responses, you said,
    we did, status (in words), reason. From the read model. Text that a spreadsheet
    would run as a formula is prefixed with an apostrophe."""
    found = _report(filters, "csv")
    return Response(
        csv_lines(COLUMNS, decision_rows(found)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="you-said-we-did.csv"',
            "Cache-Control": "no-store",
        },
    )


def summary(decided: list[dict[str, Any]], waiting: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers a board paper opens with."""
    statuses = Counter(
        d.get("status") for c in decided for d in c["outcome"].get("decisions") or []
    )
    return {
        "decided": len(decided),
        "waiting": len(waiting),
        "responses": sum(c["response_count"] for c in decided),
        "decisions": sum(statuses.values()),
        "by_status": [
            (words, statuses.get(status, 0))
            for status, words in queries.DECISION_STATUS_WORDS.items()
        ],
    }


@blp.route("/you-said-we-did.html", methods=["GET"])
@require_role(*RESULTS)  # officers, analysts, board viewers (and admins)
@blp.arguments(ReportFiltersSchema, location="query")
@file_response("text/html", "A board paper to print")
def report_html(filters: dict[str, Any]) -> Any:
    """Board report: a print-friendly HTML board paper of every published decision

    The CSV's content with a summary table (consultations, responses, decisions by
    status) and the consultations waiting for a decision; print it to PDF."""
    found = _report(filters, "html")
    decided, waiting = queries.split_decided(found)
    html = render_template(
        "board_report.html",
        summary=summary(decided, waiting),
        decided=decided,
        waiting=waiting,
        place=place_label(filters.get("place")),
        priority=priority_label(filters["priority"]) if filters.get("priority") else "",
        produced=datetime.now(UTC),
    )
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})
