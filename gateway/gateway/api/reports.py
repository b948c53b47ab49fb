"""Board reports for staff: "you said, we did" as a CSV and as a print-friendly HTML
board paper, both from the read model (``gateway.readmodel``), never from the services.

Both are audited like the responses export: who took which report, with which filter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, render_template
from marshmallow import fields, validate

from engage_contracts.reference import PLACES, PRIORITIES
from engage_contracts.shared import localised
from gateway import readmodel
from gateway.api import bp
from gateway.api.docs import doc
from gateway.api.helpers import query_args
from gateway.api.staff import csv_line
from gateway.auth import RESULTS, audit, require_role
from gateway.context import engage
from gateway.schemas import GatewaySchema

TAG = "reports"
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


class ReportFiltersSchema(GatewaySchema):
    place = fields.String(
        validate=validate.OneOf(list(PLACES)),
        metadata={"description": "only consultations for this place"},
    )
    priority = fields.String(
        validate=validate.OneOf(list(PRIORITIES)),
        metadata={"description": "only consultations for this priority"},
    )


def _report() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The filters asked for, and the read model's consultations matching them."""
    filters = query_args(ReportFiltersSchema())
    with engage().db.connection() as conn:
        found = readmodel.you_said_we_did(conn, filters.get("place"), filters.get("priority"))
    return filters, found


def _audit_target(filters: dict[str, Any]) -> str:
    return f"place={filters.get('place') or 'all'} priority={filters.get('priority') or 'all'}"


def _day(value: datetime | None) -> str:
    return value.astimezone(LONDON).date().isoformat() if value else ""


def decision_rows(found: list[dict[str, Any]]) -> Iterator[list[Any]]:
    """One row per published decision, in ``COLUMNS`` order, in plain words."""
    for c in found:
        for d in (c["outcome"] or {}).get("decisions") or []:
            yield [  # a board paper is in English; the stored text may have other languages
                localised(c["title"]),
                [PLACES.get(p, p) for p in c["places"]] or ["All places"],
                [PRIORITIES.get(p, p) for p in c["priorities"]],
                _day(c["closes_at"]),
                c["response_count"],
                localised(d.get("you_said")),
                localised(d.get("we_did")),
                readmodel.status_words(d.get("status")),
                localised(d.get("reason")) or None,
            ]


def _csv(found: list[dict[str, Any]]) -> Iterator[str]:
    yield csv_line(COLUMNS)
    for row in decision_rows(found):
        yield csv_line(row)


@bp.get("/staff/reports/you-said-we-did.csv")
@require_role(*RESULTS)  # officers, analysts, board viewers (and admins)
@doc(
    "Board report: every published decision as CSV (streamed)",
    tag=TAG,
    query=ReportFiltersSchema,
    produces="text/csv",
    errors=(401, 403, 422),
    description="One row per decision: consultation, places, priorities, closed, "
    "responses, you said, we did, status (in words), reason. From the read model. Text "
    "that a spreadsheet would run as a formula is prefixed with an apostrophe.",
)
def staff_report_csv() -> Any:
    filters, found = _report()
    audit("report.you_said_we_did.csv", _audit_target(filters))
    return Response(
        _csv(found),
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
            for status, words in readmodel.DECISION_STATUS_WORDS.items()
        ],
    }


@bp.get("/staff/reports/you-said-we-did.html")
@require_role(*RESULTS)  # officers, analysts, board viewers (and admins)
@doc(
    "Board report: a print-friendly HTML board paper of every published decision",
    tag=TAG,
    query=ReportFiltersSchema,
    produces="text/html",
    errors=(401, 403, 422),
    description="The CSV's content with a summary table (consultations, responses, "
    "decisions by status) and the consultations waiting for a decision; print it to PDF.",
)
def staff_report_html() -> Any:
    filters, found = _report()
    audit("report.you_said_we_did.html", _audit_target(filters))
    decided, waiting = readmodel.split_decided(found)
    html = render_template(
        "board_report.html",
        summary=summary(decided, waiting),
        decided=decided,
        waiting=waiting,
        place=PLACES.get(filters.get("place", ""), ""),
        priority=PRIORITIES.get(filters.get("priority", ""), ""),
        produced=datetime.now(UTC),
    )
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})
