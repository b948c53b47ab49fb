""" "You said, we did" across every channel, and the outcomes ("we did") behind it.

Residents and apps read from the read model only (``gateway.readmodels.you_said``): the
combined picture per place, priority, theme and period, published outcomes with their
history, the conscientious-consideration view of a consultation, and open data. Staff
draft, publish and update outcomes through the outcomes service, one at a time or from
a CSV."""

from __future__ import annotations

import io
from typing import Any
from uuid import UUID

from engage_contracts import outcomes as contract
from engage_contracts.shared import localised
from gateway.api.schemas import (
    ConsiderationSchema,
    FollowStoppedSchema,
    ImportResultSchema,
    OutcomeFiltersQuerySchema,
    OutcomeListSchema,
    PublicOutcomeSchema,
    YouSaidQuerySchema,
    YouSaidSummarySchema,
)
from gateway.application import outcomes
from gateway.application.staff import EDIT, READ
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.errors import ApiError
from gateway.exports import csv_lines
from gateway.http import Blueprint, errors, file_response
from gateway.readmodels import you_said
from gateway.security import READ as READ_RATE
from gateway.security import WRITE, rate_limited

public = Blueprint(
    "outcomes",
    __name__,
    url_prefix="/api/v1",
    description='"You said, we did": what was heard through every channel, and what was done',
)
staff = Blueprint(
    "staff_outcomes",
    __name__,
    url_prefix="/api/v1/staff",
    description="Outcomes for staff: draft, publish, update, import",
)
OGL = "Open Government Licence v3.0 (https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/)"
OPEN_DATA_COLUMNS = [
    "outcome_id",
    "kind",
    "title",
    "status",
    "reason",
    "progress",
    "places",
    "priorities",
    "themes",
    "evidence",
    "partner",
    "due_date",
    "parent_id",
    "updated_at",
]


@public.route("/you-said-we-did/summary", methods=["GET"])
@rate_limited(READ_RATE)
@public.arguments(YouSaidQuerySchema, location="query")
@public.response(200, YouSaidSummarySchema)
def summary(query: dict[str, Any]) -> Any:
    """What people told us through every channel, and what was done

    For a place, priority, theme and period: contributions (not people) by channel, by
    month and by theme, a few approved quotes, and the published outcomes. Counts below
    the ICS's small-number threshold are null. From the read model: answers while the
    services are down."""
    with engage().db.connection() as conn:
        said = you_said.you_said(
            conn,
            query.get("place"),
            query.get("priority"),
            query.get("theme"),
            query.get("since"),
            query.get("until"),
        )
        did = you_said.outcomes(conn, query.get("place"), query.get("priority"), query.get("theme"))
    return {**said, "outcomes": did}


@public.route("/outcomes", methods=["GET"])
@rate_limited(READ_RATE)
@public.arguments(OutcomeFiltersQuerySchema, location="query")
@public.response(200, OutcomeListSchema)
def list_outcomes(query: dict[str, Any]) -> Any:
    """Published outcomes (decisions, actions, commitments)"""
    with engage().db.connection() as conn:
        found = you_said.outcomes(
            conn,
            query.get("place"),
            query.get("priority"),
            query.get("theme"),
            str(query["consultation_id"]) if query.get("consultation_id") else None,
        )
    return {"outcomes": found}


@public.route("/outcomes/<uuid:outcome_id>", methods=["GET"])
@rate_limited(READ_RATE)
@public.response(200, PublicOutcomeSchema)
@errors(404)
def get_outcome(outcome_id: UUID) -> Any:
    """One published outcome: its evidence, status, progress and every change to it"""
    with engage().db.connection() as conn:
        found = you_said.outcome(conn, str(outcome_id))
    if found is None:
        raise ApiError("There is no published outcome with that id.", status=404)
    return found


@public.route("/consultations/<uuid:consultation_id>/consideration", methods=["GET"])
@rate_limited(READ_RATE)
@public.response(200, ConsiderationSchema)
def consideration(consultation_id: UUID) -> Any:
    """Conscientious consideration: every theme raised about a consultation (its answers,
    and linked feedback and event points), the decision on each and its reason; a theme
    with no outcome yet is a gap"""
    with engage().db.connection() as conn:
        return you_said.consideration(conn, str(consultation_id))


@public.route("/you-said-we-did/outcomes.csv", methods=["GET"])
@rate_limited(READ_RATE)
@file_response("text/csv", "published outcomes, one row each (Open Government Licence)")
def open_data() -> Any:
    """Open data: every published outcome as CSV, under the Open Government Licence v3.0"""
    with engage().db.connection() as conn:
        rows = you_said.outcomes(conn)
    lines = csv_lines(
        OPEN_DATA_COLUMNS,
        (
            [
                o["id"],
                o["kind"],
                localised(o["title"]),
                contract.STATUS_WORDS.get(o["status"], o["status"]),
                localised(o["reason"]) if o["reason"] else None,
                o["progress"],
                o["places"],
                o["priorities"],
                o["themes"],
                [contract.evidence_key(e) for e in o["evidence"]],
                o["partner"],
                o["due_date"],
                o["parent_id"],
                o["updated_at"],
            ]
            for o in rows
        ),
    )
    return outcomes.csv_response(lines, "outcomes.csv", licence=OGL)


@public.route("/outcomes/stop/<token>", methods=["POST"])
@rate_limited(WRITE)
@public.response(200, FollowStoppedSchema)
@errors(404, 503)
def stop_following(token: str) -> Any:
    """Stop hearing about what happens to what you said (the link in every digest)"""
    if not 16 <= len(token) <= 128:
        raise ApiError("There is no such link.", status=404)
    return engage().services.outcomes("stop_following", token)


# -- staff ------------------------------------------------------------------------------------


@staff.route("/outcomes", methods=["GET"])
@require_role(*READ)
@staff.arguments(contract.OutcomeFiltersSchema, location="query")
@staff.response(200, OutcomeListSchema)
@errors(503)
def staff_list_outcomes(filters: dict[str, Any]) -> Any:
    """Outcomes, drafts included when asked"""
    return engage().services.outcomes(
        "list_outcomes", contract.OutcomeFiltersSchema().dump(filters)
    )


@staff.route("/outcomes", methods=["POST"])
@require_role(*EDIT)
@staff.arguments(contract.OutcomeInputSchema)
@staff.response(201, contract.OutcomeSchema)
@errors(400, 409, 413, 415, 503)
def create_outcome(outcome: dict[str, Any]) -> Any:
    """Draft an outcome: what was decided or will be done, who is responsible, by when,
    and the evidence it answers"""
    return engage().services.outcomes(
        "create_outcome",
        contract.OutcomeInputSchema().dump(outcome),
        outcomes.actor(current_staff()),
    )


@staff.route("/outcomes/<uuid:outcome_id>", methods=["GET"])
@require_role(*READ)
@staff.response(200, contract.OutcomeSchema)
@errors(404, 503)
def staff_get_outcome(outcome_id: UUID) -> Any:
    """One outcome, draft or published, with its history"""
    return engage().services.outcomes("get_outcome", str(outcome_id), True)


@staff.route("/outcomes/<uuid:outcome_id>", methods=["PATCH"])
@require_role(*EDIT)
@staff.arguments(contract.OutcomeChangeSchema)
@staff.response(200, contract.OutcomeSchema)
@errors(400, 404, 409, 413, 415, 503)
def update_outcome(changes: dict[str, Any], outcome_id: UUID) -> Any:
    """Change an outcome's record (its status and progress move by progress updates)"""
    return engage().services.outcomes(
        "update_outcome",
        str(outcome_id),
        contract.OutcomeChangeSchema().dump(changes),
        outcomes.actor(current_staff()),
    )


@staff.route("/outcomes/<uuid:outcome_id>/progress", methods=["POST"])
@require_role(*EDIT)
@staff.arguments(contract.ProgressUpdateSchema)
@staff.response(200, contract.OutcomeSchema)
@errors(400, 404, 409, 413, 415, 503)
def add_progress(update: dict[str, Any], outcome_id: UUID) -> Any:
    """A dated progress update: status, percentage, a note (kept in the history, never
    overwritten); not taken forward needs a reason"""
    return engage().services.outcomes(
        "add_progress",
        str(outcome_id),
        contract.ProgressUpdateSchema().dump(update),
        outcomes.actor(current_staff()),
    )


@staff.route("/outcomes/<uuid:outcome_id>/publish", methods=["POST"])
@require_role(*EDIT)
@staff.response(200, contract.OutcomeSchema)
@errors(404, 409, 503)
def publish_outcome(outcome_id: UUID) -> Any:
    """Publish: the public see it, and residents following its evidence are told"""
    return engage().services.outcomes(
        "publish_outcome", str(outcome_id), outcomes.actor(current_staff())
    )


@staff.route("/outcomes/import", methods=["POST"])
@require_role(*EDIT)
@staff.doc(
    requestBody={
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "columns: " + ", ".join(outcomes.IMPORT_COLUMNS),
    }
)
@staff.response(200, ImportResultSchema)
@errors(400, 413, 415, 503)
def import_outcomes() -> Any:
    """Create and update many outcomes from a CSV (keyed on `reference`; errors by line;
    importing the same file again changes nothing)"""
    body = io.StringIO(outcomes.csv_body(), newline="")
    return outcomes.import_csv(engage().services, current_staff(), body)
