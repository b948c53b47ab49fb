"""Board reports for staff, from the read model (``gateway.readmodels``), never from the
services: "you said, we did" as a CSV and a print-friendly page; the board paper for a
period, place and priority (page, tagged PDF, and its data as CSV, JSON and XLSX); the
evidence pack per consultation (PDF, CSV, JSON).

Every one is audited like the responses export: who took which report, with which filter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Response, render_template
from marshmallow import Schema, fields

from engage_common.errors import NotFound
from engage_contracts.ics import ics
from engage_contracts.reference import place_label, priority_label
from engage_contracts.shared import localised
from gateway.api.dashboard import ScopeSchema, scope_from
from gateway.api.schemas import ReportFiltersSchema
from gateway.application import papers
from gateway.application.staff import RESULTS, record
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.exports import csv_lines, csv_tables, json_tables, xlsx_chunks
from gateway.http import Blueprint, errors, file_response
from gateway.readmodels import decisions, queries

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


class EvidencePackSchema(Schema):
    """One consultation's evidence pack; a count hidden by the small-number rule is null."""

    consultation = fields.Dict()
    responses_by_place = fields.List(fields.Dict())
    themes = fields.List(fields.Dict())
    outcomes = fields.List(fields.Dict())
    reach = fields.Dict(allow_none=True)
    threshold = fields.Integer()


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


# -- the board paper and evidence packs ------------------------------------------------------

BOARD_FORMATS = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


BOARD_JSON = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "scope": {"type": "object"},
        "produced": {"type": "string"},
        "tables": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "rows": {"type": "array", "items": {"type": "array"}},
                },
            },
        },
    },
}


def _download(body: Any, mimetype: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _scope_target(scope: decisions.Scope) -> str:
    return " ".join(f"{k}={v or 'all'}" for k, v in scope.as_dict().items())


def _board_export(query: dict[str, Any], kind: str) -> Response:
    """The board paper's data, streamed from one pooled connection (taken when the first
    chunk is asked for, held until the last is sent or the download stops). The generator
    needs no request context: what it uses is read here."""
    scope = scope_from(query)
    record(engage().db, current_staff().id, f"report.board_paper.{kind}", _scope_target(scope))
    db, now, threshold = engage().db, datetime.now(UTC), ics().small_number_threshold
    head = {"title": "Board paper: you said, we did", "scope": scope.as_dict()}

    def chunks() -> Iterator[Any]:
        with db.connection() as conn:
            tables = papers.board_tables(conn, scope, now)
            if kind == "csv":
                yield from csv_tables(tables, threshold)
            elif kind == "json":
                yield from json_tables({**head, "produced": now.isoformat()}, tables)
            else:
                yield from xlsx_chunks(head["title"], tables, threshold)

    return _download(chunks(), BOARD_FORMATS[kind], f"board-paper.{kind}")


@blp.route("/board-paper.html", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(ScopeSchema, location="query")
@file_response("text/html", "The board paper to read or print")
def board_paper_html(query: dict[str, Any]) -> Any:
    """Board paper for a period, place and priority: the printable page

    Title page, executive summary, "you said, we did", outcomes by status (with charts),
    reach and equality, consultation summaries. The PDF is made from this page."""
    scope = scope_from(query)
    with engage().db.connection() as conn:
        html = papers.board_paper_html(conn, scope, datetime.now(UTC))
    record(engage().db, current_staff().id, "report.board_paper.html", _scope_target(scope))
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})


@blp.route("/board-paper.pdf", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(ScopeSchema, location="query")
@file_response("application/pdf", "The board paper as a tagged PDF (PDF/UA-1)")
def board_paper_pdf(query: dict[str, Any]) -> Any:
    """Board paper as PDF

    The printable page made into a tagged PDF (PDF/UA-1, language and title set) by
    WeasyPrint. Summaries only: the full data is the CSV, JSON or XLSX."""
    scope = scope_from(query)
    with engage().db.connection() as conn:
        html = papers.board_paper_html(conn, scope, datetime.now(UTC), for_pdf=True)
    record(engage().db, current_staff().id, "report.board_paper.pdf", _scope_target(scope))
    return _download(papers.pdf(html), "application/pdf", "board-paper.pdf")


@blp.route("/board-paper.csv", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(ScopeSchema, location="query")
@file_response("text/csv", "The board paper's tables in one CSV (streamed)")
def board_paper_csv(query: dict[str, Any]) -> Any:
    """Board paper's data as CSV (streamed)

    Each table (summary, you said we did, outcomes by status and by partner, commitments
    past due, consultations, reach, every outcome) is its name on a line, its header and
    its rows, then an empty line. Hidden counts read "fewer than N"."""
    return _board_export(query, "csv")


@blp.route("/board-paper.json", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(ScopeSchema, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "The board paper's tables as JSON (streamed)",
            "content": {"application/json": {"schema": BOARD_JSON}},
        }
    }
)
def board_paper_json(query: dict[str, Any]) -> Any:
    """Board paper's data as JSON (streamed)

    ``{"title", "scope", "produced", "tables": [{"name", "columns", "rows"}]}``; a count
    hidden by the small-number rule is null."""
    return _board_export(query, "json")


@blp.route("/board-paper.xlsx", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(ScopeSchema, location="query")
@file_response(BOARD_FORMATS["xlsx"], "The board paper's tables, a sheet each")
def board_paper_xlsx(query: dict[str, Any]) -> Any:
    """Board paper's data as XLSX

    A sheet per table, written in XlsxWriter's constant-memory mode to a temporary file
    that is streamed and then removed. Hidden counts read "fewer than N"."""
    return _board_export(query, "xlsx")


def _pack(consultation_id: str, kind: str) -> dict[str, Any]:
    with engage().db.connection() as conn:
        pack = papers.evidence_pack(conn, str(consultation_id), datetime.now(UTC))
    if pack is None:
        raise NotFound("consultation not found")
    record(engage().db, current_staff().id, f"report.evidence_pack.{kind}", str(consultation_id))
    return pack


@blp.route("/evidence-packs/<uuid:consultation_id>.pdf", methods=["GET"])
@require_role(*RESULTS)
@file_response("application/pdf", "The evidence pack as a tagged PDF (PDF/UA-1)")
@errors(404)
def evidence_pack_pdf(consultation_id: UUID) -> Any:
    """Evidence pack for a consultation, as PDF

    The consultation, who responded (in aggregate, small-number rule), every theme raised
    with the decision on it and its reason, the outcomes and their history."""
    pack = _pack(str(consultation_id), "pdf")
    html = papers.evidence_pack_html(pack, datetime.now(UTC), for_pdf=True)
    return _download(papers.pdf(html), "application/pdf", f"evidence-pack-{consultation_id}.pdf")


@blp.route("/evidence-packs/<uuid:consultation_id>.csv", methods=["GET"])
@require_role(*RESULTS)
@file_response("text/csv", "The evidence pack's tables in one CSV")
@errors(404)
def evidence_pack_csv(consultation_id: UUID) -> Any:
    """Evidence pack for a consultation, as CSV

    Tables as in the board paper's CSV: the consultation, responses by place, themes
    raised with decisions, outcome history (and reach when known)."""
    pack = _pack(str(consultation_id), "csv")
    threshold = ics().small_number_threshold
    return _download(
        csv_tables(papers.evidence_tables(pack), threshold),
        "text/csv",
        f"evidence-pack-{consultation_id}.csv",
    )


@blp.route("/evidence-packs/<uuid:consultation_id>.json", methods=["GET"])
@require_role(*RESULTS)
@blp.response(200, EvidencePackSchema)
@errors(404)
def evidence_pack_json(consultation_id: UUID) -> Any:
    """Evidence pack for a consultation, as JSON

    The same as the PDF, as data: counts hidden by the small-number rule are null."""
    return _pack(str(consultation_id), "json")
