"""Reach against population, for staff: who took part in a consultation or a place,
across online, paper, phone and event channels, by Census group and deprivation decile,
beside the population's shares. From the read model only (live while a consultation is
open; answers while the services are down); every count through the small-number rule."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from gateway.api.schemas import PopulationReachQuerySchema, PopulationReachSchema
from gateway.application import reach
from gateway.application.staff import RESULTS
from gateway.auth import require_role
from gateway.context import engage
from gateway.http import Blueprint, errors

blp = Blueprint(
    "reach", __name__, url_prefix="/api/v1/staff", description="Reach against population"
)


@blp.route("/consultations/<uuid:consultation_id>/reach", methods=["GET"])
@require_role(*RESULTS)
@blp.response(200, PopulationReachSchema)
@errors(404)
def consultation_reach(consultation_id: UUID) -> Any:
    """Who a consultation has reached, against the population of its places

    Survey responses (every channel), feedback about it and people at engagement events
    linked to it, by age, sex, ethnic group, disability, unpaid care and deprivation
    decile, with each group's share against its share of the population, a
    representativeness figure and the groups furthest below their share. Updates as
    contributions arrive, while the consultation is open."""
    return reach.consultation(engage().db, str(consultation_id))


@blp.route("/reach", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(PopulationReachQuerySchema, location="query")
@blp.response(200, PopulationReachSchema)
def place_reach(query: dict[str, Any]) -> Any:
    """Who Engage has reached in a place (or the whole ICS), in a period

    Every contribution from the place (survey responses, feedback, people at events),
    against its population, as for one consultation."""
    return reach.place(engage().db, query.get("place"), query.get("since"), query.get("until"))
