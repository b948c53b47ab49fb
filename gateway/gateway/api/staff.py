"""Staff routes under ``/api/v1/staff``: consultations and their results, the erasure of a
person's data, who am I. Bearer token, checked against the caller's role."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response, url_for

from engage_common.errors import ValidationFailed
from engage_contracts import surveys as contract
from gateway.api.schemas import (
    AnswerThemesSchema,
    ConsultationListSchema,
    ErasureRequestSchema,
    ErasureResultSchema,
    FreeTextQuerySchema,
    IdempotencyHeaderSchema,
    MeSchema,
    SubmissionAcceptedSchema,
)
from gateway.application import consultations, privacy, responses
from gateway.application.staff import (
    EDIT,
    ERASE,
    EXPORT,
    FREE_TEXT,
    READ,
    RESULTS,
    ROLES,
    THEMES_CONFIRM,
)
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.exports import csv_lines
from gateway.http import Blueprint, errors, file_response

blp = Blueprint("staff", __name__, url_prefix="/api/v1/staff", description="For staff")
CONSULTATION = "/consultations/<uuid:consultation_id>"


def _json(schema: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Loaded data as JSON again, to pass over RPC (where only JSON types travel); the
    service loads it with the same contract schema."""
    return schema().dump(data)


@blp.route("/consultations", methods=["GET"])
@require_role(*READ)
@blp.arguments(contract.ConsultationFiltersSchema, location="query")
@blp.response(200, ConsultationListSchema)
@errors(503)
def list_consultations(filters: dict[str, Any]) -> Any:
    """List all consultations, drafts included"""
    return {"consultations": engage().services.surveys("list_consultations", filters)}


@blp.route("/consultations", methods=["POST"])
@require_role(*EDIT)
@blp.arguments(contract.ConsultationCreateSchema)
@blp.response(
    201,
    contract.ConsultationSchema,
    headers={"Location": {"description": "the consultation", "schema": {"type": "string"}}},
)
@errors(400, 413, 415, 503)
def create_consultation(draft: dict[str, Any]) -> Any:
    """Create a draft consultation"""
    data = _json(contract.ConsultationCreateSchema, draft)
    created = consultations.create(engage(), current_staff().id, data)
    location = url_for("staff.get_consultation", consultation_id=created["id"])
    return created, 201, {"Location": location}


@blp.route(CONSULTATION, methods=["GET"])
@require_role(*READ)
@blp.response(200, contract.ConsultationSchema)
@errors(404, 503)
def get_consultation(consultation_id: UUID) -> Any:
    """Read a consultation"""
    return engage().services.surveys("get_consultation", str(consultation_id))


@blp.route(CONSULTATION, methods=["PATCH"])
@require_role(*EDIT)
@blp.arguments(contract.ConsultationUpdateSchema)
@blp.response(200, contract.ConsultationSchema)
@errors(400, 404, 409, 413, 415, 503)
def update_consultation(changes: dict[str, Any], consultation_id: UUID) -> Any:
    """Edit a consultation

    Drafts change freely; open consultations only their text and `closes_at`."""
    data = _json(contract.ConsultationUpdateSchema, changes)
    return consultations.update(engage(), current_staff().id, str(consultation_id), data)


@blp.route(f"{CONSULTATION}/open", methods=["POST"])
@require_role(*EDIT)
@blp.response(200, contract.ConsultationSchema)
@errors(404, 409, 422, 503)
def open_consultation(consultation_id: UUID) -> Any:
    """Open a draft consultation to responses"""
    return consultations.open_(engage(), current_staff().id, str(consultation_id))


@blp.route(f"{CONSULTATION}/close", methods=["POST"])
@require_role(*EDIT)
@blp.response(200, contract.ConsultationSchema)
@errors(404, 409, 503)
def close_consultation(consultation_id: UUID) -> Any:
    """Close a consultation"""
    return consultations.close(engage(), current_staff().id, str(consultation_id))


@blp.route(f"{CONSULTATION}/outcome", methods=["PUT"])
@require_role(*EDIT)
@blp.arguments(contract.OutcomeSchema)
@blp.response(200, contract.ConsultationSchema)
@errors(400, 404, 409, 413, 415, 503)
def publish_outcome(outcome: dict[str, Any], consultation_id: UUID) -> Any:
    """Publish the outcome ("you said, we did") of a closed consultation"""
    data = _json(contract.OutcomeSchema, outcome)
    return consultations.publish_outcome(engage(), current_staff().id, str(consultation_id), data)


@blp.route(f"{CONSULTATION}/responses", methods=["POST"])
@require_role(*EDIT)
@blp.arguments(contract.StaffResponseInputSchema)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.response(202, SubmissionAcceptedSchema)
@errors(400, 404, 409, 413, 415, 503)
def enter_response(
    submission: dict[str, Any], headers: dict[str, Any], consultation_id: UUID
) -> Any:
    """Enter a response for a resident who answered on paper or by phone

    Checked and queued like a resident's own, marked with the channel and who entered
    it. A full postcode in the equality answers is kept only as its district and IMD
    decile. The same `Idempotency-Key` again stores nothing new."""
    me = current_staff()
    channel = submission.pop("channel")
    return responses.submit_response(
        engage(),
        str(consultation_id),
        submission,
        headers.get("idempotency_key"),
        channel,
        entered_by={"staff_id": me.id, "name": me.name},
    )


@blp.route(f"{CONSULTATION}/results", methods=["GET"])
@require_role(*RESULTS)
@blp.arguments(contract.ResultsFiltersSchema, location="query")
@blp.response(200, contract.ResultsSchema)
@errors(404, 503)
def results(filters: dict[str, Any], consultation_id: UUID) -> Any:
    """Aggregated results, optionally for one place or equality group"""
    return consultations.results(engage(), current_staff().id, str(consultation_id), filters)


@blp.route(f"{CONSULTATION}/responses.csv", methods=["GET"])
@require_role(*EXPORT)
@file_response("text/csv", "One row per stored response")
@errors(404, 503)
def export_responses(consultation_id: UUID) -> Any:
    """Every response as CSV (streamed)

    One row per stored response, with a header row. Text that a spreadsheet would run
    as a formula is prefixed with an apostrophe."""
    cid = str(consultation_id)
    header, rows = consultations.export(engage(), current_staff().id, cid)
    return Response(
        csv_lines(header, rows),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="consultation-{cid}-responses.csv"',
            "Cache-Control": "no-store",
        },
    )


@blp.route(f"{CONSULTATION}/questions/<question_id>/answers", methods=["GET"])
@require_role(*FREE_TEXT)
@blp.arguments(FreeTextQuerySchema, location="query")
@blp.response(200, contract.FreeTextAnswersSchema)
@errors(404, 503)
def free_text_answers(page: dict[str, Any], consultation_id: UUID, question_id: str) -> Any:
    """One free-text question's answers, redacted, with suggested themes (audited)

    Each answer shows the themes and tone suggested from its redacted text, with the words
    that matched, and those staff confirmed. Oldest first; pass `next_after` as `after`."""
    return consultations.free_text_answers(
        engage(), current_staff().id, str(consultation_id), {**page, "question_id": question_id}
    )


@blp.route("/responses/<int:response_id>/answers/<question_id>/themes", methods=["PUT"])
@require_role(*THEMES_CONFIRM)
@blp.arguments(AnswerThemesSchema)
@blp.response(200, contract.FreeTextAnswerSchema)
@errors(400, 404, 413, 415, 503)
def confirm_answer_themes(confirmed: dict[str, Any], response_id: int, question_id: str) -> Any:
    """Confirm the themes and tone of one free-text answer

    Several themes allowed; they replace what was confirmed before. Only confirmed themes
    count anywhere."""
    return consultations.confirm_answer_themes(
        engage(), current_staff(), response_id, question_id, confirmed
    )


@blp.route("/erasure-requests", methods=["POST"])
@require_role(*ERASE)
@blp.arguments(ErasureRequestSchema)
@blp.response(200, ErasureResultSchema)
@errors(400, 413, 415, 503)
def erasure_request(request: dict[str, Any]) -> Any:
    """Find, and with confirm erase, everything held about a person

    Give a receipt code and/or a text the person may have typed (a name, an email). Send
    `confirm: false` first to see what matches (survey responses and feedback), then
    `confirm: true` to erase them. Both are audited (without the searched text)."""
    code = (request.get("receipt_code") or "").strip().upper() or None
    text = (request.get("text") or "").strip() or None
    if not code and not text:
        raise ValidationFailed({"receipt_code": ["give this, text, or both"]})
    return privacy.erasure_request(engage(), current_staff().id, code, text, request["confirm"])


@blp.route("/me", methods=["GET"])
@require_role(*ROLES)
@blp.response(200, MeSchema)
def me() -> Any:
    """The signed-in staff member"""
    return current_staff()
