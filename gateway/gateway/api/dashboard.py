"""The decision makers' dashboard (staff): themes over time, outcomes by status and by
partner, commitments past due, time to outcome and reach against population, as JSON and
as a page with charts drawn on the server (no JavaScript). Thin routes: the figures come
from ``gateway.readmodels.decisions`` (the read model, never a service), the page from
``gateway.application.papers``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response
from marshmallow import Schema, ValidationError, fields, validates_schema

from engage_common.disclosure import describe
from engage_contracts.shared import place_field, priority_field
from gateway.api.schemas import GatewaySchema
from gateway.application import papers
from gateway.application.staff import RESULTS
from gateway.auth import require_role
from gateway.context import engage
from gateway.exports import Hidden
from gateway.http import Blueprint, file_response
from gateway.readmodels import decisions

blp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/api/v1/staff",
    description="The decision makers' dashboard (read model only)",
)


@blp.app_template_filter("percent")
def percent(share: float | None) -> str:
    """A share (0.25) as a board reads it ("25.0%"); nothing when unknown or hidden."""
    return "" if share is None else f"{share * 100:.1f}%"


@blp.app_template_filter("shown")
def shown(value: Any) -> Any:
    """A table's value on a page: a count hidden by the small-number rule in words."""
    if isinstance(value, Hidden):
        return describe(None, decisions.threshold())
    return "" if value is None else value


class ScopeSchema(GatewaySchema):
    place = place_field(metadata={"description": "only this place"})
    priority = priority_field(metadata={"description": "only this priority"})
    since = fields.Date(metadata={"description": "from this UK day (YYYY-MM-DD)"})
    until = fields.Date(metadata={"description": "to this UK day, included (YYYY-MM-DD)"})

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("is before since", field_name="until")


def scope_from(query: dict[str, Any]) -> decisions.Scope:
    return decisions.Scope(
        query.get("place"), query.get("priority"), query.get("since"), query.get("until")
    )


class DashboardSchema(Schema):
    """The dashboard's figures: counts of people are null when the small-number rule hides
    them (below ``threshold``); counts of outcome records are not about people."""

    scope = fields.Dict()
    scope_words = fields.String()
    today = fields.String()
    threshold = fields.Integer()
    contributions = fields.Dict()
    themes_over_time = fields.Dict()
    outcomes = fields.Dict()
    overdue_commitments = fields.List(fields.Dict())
    time_to_outcome = fields.Dict()
    reach = fields.List(fields.Dict(), allow_none=True)


@blp.route("/dashboard", methods=["GET"])
@require_role(*RESULTS)  # officers, analysts, board viewers (and admins)
@blp.arguments(ScopeSchema, location="query")
@blp.response(200, DashboardSchema)
def dashboard(query: dict[str, Any]) -> Any:
    """The dashboard's figures as JSON

    Themes over time (the six most raised, by UK month), outcomes by status and by partner,
    commitments past their due date, each closed consultation's time to outcome against
    the 12-week expectation, reach against population. From the read model only."""
    with engage().db.connection() as conn:
        return decisions.dashboard(conn, scope_from(query), datetime.now(UTC))


@blp.route("/dashboard.html", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(ScopeSchema, location="query")
@file_response("text/html", "The dashboard page: charts (SVG) each with its table")
def dashboard_page(query: dict[str, Any]) -> Any:
    """The dashboard as a page

    Each chart is drawn on the server as SVG and followed by a table of its figures for
    screen readers; no JavaScript."""
    with engage().db.connection() as conn:
        html = papers.dashboard_page(conn, scope_from(query), datetime.now(UTC))
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})
