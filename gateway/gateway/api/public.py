"""Public routes: what any resident (or app) may see and do, without signing in."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, request, url_for
from marshmallow import Schema, fields

from engage_contracts import surveys as contract
from engage_contracts.reference import EQUALITY_QUESTIONS, PLACES, PRIORITIES
from gateway.api import bp
from gateway.api.docs import doc
from gateway.api.helpers import check_id, json_body, query_args
from gateway.context import engage
from gateway.errors import ApiError
from gateway.schemas import (
    PublicListQuerySchema,
    ReferenceSchema,
    SubmissionAcceptedSchema,
)
from gateway.security import READ, WRITE, rate_limited
from gateway.submissions import normalise_receipt, submit_response

TAG = "public"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

# What residents see of a consultation: everything but counts of responses.
PRIVATE_FIELDS = ("response_count",)
PublicConsultationSchema = contract.ConsultationSchema(exclude=PRIVATE_FIELDS)


class PublicConsultationListSchema(Schema):
    consultations = fields.List(fields.Nested(contract.ConsultationSchema(exclude=PRIVATE_FIELDS)))


def public_view(consultation: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in consultation.items() if k not in PRIVATE_FIELDS}


def published_consultation(consultation_id: str) -> dict[str, Any]:
    """A consultation residents may see (open or closed); drafts are not found."""
    consultation_id = check_id(consultation_id)
    consultation = engage().services.surveys("get_consultation", consultation_id)
    if consultation.get("status") == "draft":
        raise ApiError("There is no consultation with that id.", status=404)
    return consultation


@bp.get("/consultations")
@rate_limited(READ)
@doc(
    "List published consultations (open by default)",
    tag=TAG,
    query=PublicListQuerySchema,
    response=PublicConsultationListSchema,
    errors=(422, 503),
)
def list_consultations() -> Any:
    filters = query_args(PublicListQuerySchema())
    found = engage().services.surveys("list_consultations", filters)
    return jsonify(consultations=[public_view(c) for c in found])


@bp.get("/consultations/<consultation_id>")
@rate_limited(READ)
@doc("Read a published consultation", tag=TAG, response=PublicConsultationSchema, errors=(404, 503))
def get_consultation(consultation_id: str) -> Any:
    return jsonify(public_view(published_consultation(consultation_id)))


@bp.post("/consultations/<consultation_id>/responses")
@rate_limited(WRITE)
@doc(
    "Submit a response",
    tag=TAG,
    body=contract.ResponseInputSchema,
    response=SubmissionAcceptedSchema,
    status=202,
    errors=(400, 404, 409, 413, 415, 422, 503),
    description="The response is queued durably and stored once. Sending the same "
    "`Idempotency-Key` again returns the same receipt and stores nothing new.",
    headers={"Location": "where to check the receipt"},
    request_headers={"Idempotency-Key": "any printable string up to 200 characters"},
)
def submit(consultation_id: str) -> Any:
    consultation_id = check_id(consultation_id)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            "The Idempotency-Key header is not valid.",
            status=422,
            fields={"Idempotency-Key": ["must be 1 to 200 printable characters without spaces"]},
        )
    body = json_body(contract.ResponseInputSchema(), raw=True)
    receipt = submit_response(engage(), consultation_id, body, key, "online")
    response = jsonify(receipt)
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_receipt", code=receipt["receipt_code"])
    return response


@bp.get("/receipts/<code>")
@rate_limited(READ)
@doc(
    "What became of a submission",
    tag=TAG,
    response=contract.ReceiptSchema,
    errors=(404, 503),
    description="404 while the submission is still queued (usually a second or two).",
)
def get_receipt(code: str) -> Any:
    return jsonify(engage().services.surveys("get_submission", receipt(code)))


def receipt(code: str) -> str:
    """A receipt code from the URL, normalised; anything else is simply not found."""
    normal = normalise_receipt(code)
    if normal is None:
        raise ApiError("There is no receipt with that code.", status=404)
    return normal


# Seeing or deleting what was sent is a write-rate operation: the receipt code is the
# only key, so guessing codes must be slow (they are 60-bit HMACs: guessing is hopeless).
@bp.get("/receipts/<code>/response")
@rate_limited(WRITE)
@doc(
    "See what you sent (answers, equality answers, consent)",
    tag=TAG,
    response=contract.MyResponseSchema,
    errors=(404, 503),
    description="The receipt code is the key: anyone holding it can see and delete the "
    "response, so keep it safe. 404 while the response is still queued.",
)
def my_response(code: str) -> Any:
    response = jsonify(engage().services.surveys("get_my_response", receipt(code)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/receipts/<code>/response")
@rate_limited(WRITE)
@doc(
    "Delete what you sent",
    tag=TAG,
    response=contract.ResponseDeletedSchema,
    errors=(404, 503),
    description="Deletes the response and its equality answers for good. Published "
    "results no longer count it.",
)
def delete_my_response(code: str) -> Any:
    return jsonify(engage().services.surveys("delete_my_response", receipt(code)))


@bp.get("/reference")
@rate_limited(READ)
@doc("Places, priorities and equality-monitoring questions", tag=TAG, response=ReferenceSchema)
def reference() -> Any:
    return jsonify(
        places=[{"value": k, "label": v} for k, v in PLACES.items()],
        priorities=[{"value": k, "label": v} for k, v in PRIORITIES.items()],
        equality_questions=EQUALITY_QUESTIONS,
    )
