"""Read-model routes: "you said, we did" for everyone, and dead letters for admins.

Both read only the gateway's own tables, which ``gateway.projections`` fills from
events. A dashboard that boards refresh all day must never fan out RPC calls to
the services (and keeps answering while they are down); the price is that it
lags the services by the time an event takes to arrive, usually well under a
second.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from marshmallow import Schema, fields, validate

from engage_contracts import surveys as contract
from engage_contracts.shared import LocalisedText
from gateway import readmodel
from gateway.api import bp
from gateway.api.docs import doc
from gateway.api.helpers import query_args
from gateway.auth import ADMIN, require_role
from gateway.context import engage
from gateway.schemas import GatewaySchema
from gateway.security import READ, rate_limited

TAG = "dashboard"


class PlaceCountSchema(Schema):
    place = fields.String(
        allow_none=True,
        metadata={"description": "place code, or null when the resident did not say"},
    )
    label = fields.String()
    count = fields.Integer()


class YouSaidWeDidItemSchema(Schema):
    id = fields.String()
    title = LocalisedText()
    places = fields.List(fields.String())
    priorities = fields.List(fields.String())
    status = fields.String()
    opens_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    closes_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    response_count = fields.Integer()
    responses_by_place = fields.List(fields.Nested(PlaceCountSchema))
    outcome = fields.Nested(contract.OutcomeSchema, allow_none=True)


class YouSaidWeDidSchema(Schema):
    consultations = fields.List(fields.Nested(YouSaidWeDidItemSchema))


class DeadLetterQuerySchema(GatewaySchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeadLetterSchema(Schema):
    id = fields.Integer()
    message_id = fields.String(allow_none=True)
    queue = fields.String(metadata={"description": "the queue it failed on"})
    error = fields.String(metadata={"description": "the last error, as the handler raised it"})
    headers = fields.Dict()
    body = fields.String(metadata={"description": "the message body as text"})
    received_at = fields.String(metadata={"format": "date-time"})


class DeadLetterListSchema(Schema):
    dead_letters = fields.List(fields.Nested(DeadLetterSchema))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@bp.get("/you-said-we-did")
@rate_limited(READ)
@doc(
    "You said, we did: closed consultations, responses per place and decisions",
    tag=TAG,
    response=YouSaidWeDidSchema,
    description="Built from events (a read model), so it "
    "answers even while the services are down and may lag them by a moment.",
)
def you_said_we_did() -> Any:
    with engage().db.connection() as conn:
        rows = readmodel.you_said_we_did(conn)
    return jsonify(
        consultations=[
            {
                "id": r["id"],
                "title": r["title"],
                "places": r["places"],
                "priorities": r["priorities"],
                "status": r["status"],
                "opens_at": _iso(r["opens_at"]),
                "closes_at": _iso(r["closes_at"]),
                "response_count": r["response_count"],
                "responses_by_place": r["responses_by_place"],
                "outcome": r["outcome"],
            }
            for r in rows
        ]
    )


@bp.get("/staff/dead-letters")
@require_role(ADMIN)
@doc(
    "Messages that failed every retry, newest first, with their errors",
    tag="admin",
    query=DeadLetterQuerySchema,
    response=DeadLetterListSchema,
    errors=(401, 403, 422),
)
def staff_dead_letters() -> Any:
    limit = query_args(DeadLetterQuerySchema())["limit"]
    with engage().db.connection() as conn:
        rows = conn.execute(
            "SELECT id, message_id, queue, error, headers, body, received_at FROM dead_letters"
            " ORDER BY received_at DESC, id DESC LIMIT %s",
            (limit,),
        ).fetchall()
    return jsonify(dead_letters=[{**r, "received_at": _iso(r["received_at"])} for r in rows])
