"""Public routes: what any resident (or app) may see and do, without signing in."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import url_for

from engage_contracts import surveys as contract
from engage_contracts.feedback import KIND_WORDS, KINDS, signposting
from engage_contracts.ics import ics
from engage_contracts.reference import (
    EQUALITY_VERSION,
    current_consent,
    equality_questions,
    places,
    priorities,
)
from gateway.api.schemas import (
    PRIVATE_FIELDS,
    IdempotencyHeaderSchema,
    PublicConsultationListSchema,
    PublicListQuerySchema,
    ReferenceSchema,
    SubmissionAcceptedSchema,
    YouSaidWeDidSchema,
)
from gateway.application import receipts, responses
from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import Blueprint, errors
from gateway.readmodels import queries
from gateway.security import READ, WRITE, rate_limited

blp = Blueprint("public", __name__, url_prefix="/api/v1", description="For residents and apps")

# Instances, not classes: webargs builds a schema given as a class on every request (its
# nested schemas too), a third of parsing a submission.
RESPONSE_INPUT = contract.ResponseInputSchema()
IDEMPOTENCY_HEADER = IdempotencyHeaderSchema()


def published(consultation_id: UUID) -> dict[str, Any]:
    """A consultation residents may see (open or closed); drafts are not found."""
    consultation = engage().services.surveys("get_consultation", str(consultation_id))
    if consultation.get("status") == "draft":
        raise ApiError("There is no consultation with that id.", status=404)
    return consultation


@blp.route("/consultations", methods=["GET"])
@rate_limited(READ)
@blp.arguments(PublicListQuerySchema, location="query")
@blp.response(200, PublicConsultationListSchema)
@errors(503)
def list_consultations(filters: dict[str, Any]) -> Any:
    """List published consultations (open by default)"""
    return {"consultations": engage().services.surveys("list_consultations", filters)}


@blp.route("/consultations/<uuid:consultation_id>", methods=["GET"])
@rate_limited(READ)
@blp.response(200, contract.ConsultationSchema(exclude=PRIVATE_FIELDS))
@errors(404, 503)
def get_consultation(consultation_id: UUID) -> Any:
    """Read a published consultation"""
    return published(consultation_id)


@blp.route("/consultations/<uuid:consultation_id>/responses", methods=["POST"])
@rate_limited(WRITE)
@blp.arguments(RESPONSE_INPUT)
@blp.arguments(IDEMPOTENCY_HEADER, location="headers")
@blp.response(
    202,
    SubmissionAcceptedSchema,
    headers={
        "Location": {"description": "where to check the receipt", "schema": {"type": "string"}}
    },
)
@errors(400, 404, 409, 413, 415, 503)
def submit(submission: dict[str, Any], headers: dict[str, Any], consultation_id: UUID) -> Any:
    """Submit a response

    The response is queued durably and stored once. Sending the same `Idempotency-Key`
    again returns the same receipt and stores nothing new."""
    receipt = responses.submit_response(
        engage(), str(consultation_id), submission, headers.get("idempotency_key"), "online"
    )
    location = url_for("public.get_receipt", code=receipt["receipt_code"])
    return receipt, 202, {"Location": location}


@blp.route("/receipts/<code>", methods=["GET"])
@rate_limited(READ)
@blp.response(200, contract.ReceiptSchema)
@errors(404, 503)
def get_receipt(code: str) -> Any:
    """What became of a submission

    404 while the submission is still queued (usually a second or two)."""
    return engage().services.surveys("get_submission", receipt(code))


def receipt(code: str) -> str:
    """A receipt code from the URL, normalised; anything else is simply not found."""
    normal = receipts.normalise_receipt(code)
    if normal is None:
        raise ApiError("There is no receipt with that code.", status=404)
    return normal


# Seeing or deleting what was sent is a write-rate operation: the receipt code is the
# only key, so guessing codes must be slow (they are 60-bit HMACs: guessing is hopeless).
@blp.route("/receipts/<code>/response", methods=["GET"])
@rate_limited(WRITE)
@blp.response(200, contract.MyResponseSchema)
@errors(404, 503)
def my_response(code: str) -> Any:
    """See what you sent (answers, equality answers, consent)

    The receipt code is the key: anyone holding it can see and delete the response, so
    keep it safe. 404 while the response is still queued."""
    sent = engage().services.surveys("get_my_response", receipt(code))
    return sent, 200, {"Cache-Control": "no-store"}


@blp.route("/receipts/<code>/response", methods=["DELETE"])
@rate_limited(WRITE)
@blp.response(200, contract.ResponseDeletedSchema)
@errors(404, 503)
def delete_my_response(code: str) -> Any:
    """Delete what you sent

    Deletes the response and its equality answers for good. Published results no longer
    count it."""
    return engage().services.surveys("delete_my_response", receipt(code))


@blp.route("/reference", methods=["GET"])
@rate_limited(READ)
@blp.response(200, ReferenceSchema)
def reference() -> Any:
    """The ICS, its places and priorities, and the equality-monitoring questions"""
    return {
        "ics": {"code": ics().code, "name": ics().name, "short_name": ics().short_name},
        "places": [{"value": k, "label": v} for k, v in places().items()],
        "priorities": [{"value": k, "label": v} for k, v in priorities().items()],
        "equality_version": EQUALITY_VERSION,
        "equality_questions": equality_questions(),
        "feedback_consent": current_consent("feedback"),
        "feedback_kinds": [{"value": k, "label": KIND_WORDS[k]} for k in KINDS],
        "signposting": signposting(),
    }


@blp.route("/you-said-we-did", methods=["GET"])
@rate_limited(READ)
@blp.response(200, YouSaidWeDidSchema)
def you_said_we_did() -> Any:
    """You said, we did: closed consultations, responses per place and decisions

    Built from events (a read model), so it answers even while the services are down and
    may lag them by a moment."""
    with engage().db.connection() as conn:
        return {"consultations": queries.you_said_we_did(conn)}
