"""Staff routes under ``/api/v1/staff``: bearer token, checked against the caller's role."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import psycopg
from flask import Response, jsonify, url_for
from marshmallow import Schema, fields

from engage_contracts import surveys as contract
from gateway import store
from gateway.api import bp
from gateway.api.docs import doc
from gateway.api.helpers import check_id, json_body, query_args
from gateway.auth import (
    ADMIN,
    EDIT,
    ERASE,
    EXPORT,
    READ,
    RESULTS,
    audit,
    current_staff,
    issue_token,
    require_role,
    revoke_token,
    update_staff,
)
from gateway.context import engage
from gateway.errors import ApiError
from gateway.schemas import (
    AuditLogSchema,
    AuditQuerySchema,
    ErasureRequestSchema,
    ErasureResultSchema,
    IssuedTokenSchema,
    MeSchema,
    StaffListSchema,
    StaffUserSchema,
    StaffUserUpdateSchema,
    TokenIssueSchema,
    TokenListSchema,
    TokenSchema,
)

TAG = "staff"
TOKEN_PREFIX_PATTERN = re.compile(r"^eng_[0-9a-z]{1,60}$")
EXPORT_PAGE = 500
# Cells a spreadsheet would run as a formula; residents' text must never execute.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ConsultationListSchema(Schema):
    consultations = fields.List(fields.Nested(contract.ConsultationSchema))


def surveys(method: str, *args: Any) -> Any:
    return engage().services.surveys(method, *args)


# -- consultations -----------------------------------------------------------------------------


@bp.get("/staff/consultations")
@require_role(*READ)
@doc(
    "List all consultations, drafts included",
    tag=TAG,
    query=contract.ConsultationFiltersSchema,
    response=ConsultationListSchema,
    errors=(401, 403, 422, 503),
)
def staff_list_consultations() -> Any:
    return jsonify(
        consultations=surveys(
            "list_consultations", query_args(contract.ConsultationFiltersSchema())
        )
    )


@bp.post("/staff/consultations")
@require_role(*EDIT)
@doc(
    "Create a draft consultation",
    tag=TAG,
    body=contract.ConsultationCreateSchema,
    response=contract.ConsultationSchema,
    status=201,
    errors=(400, 401, 403, 413, 415, 422, 503),
    headers={"Location": "the new consultation"},
)
def staff_create_consultation() -> Any:
    consultation = surveys(
        "create_consultation", json_body(contract.ConsultationCreateSchema(), raw=True)
    )
    audit("consultation.create", str(consultation["id"]))
    response = jsonify(consultation)
    response.status_code = 201
    response.headers["Location"] = url_for(
        "api.staff_get_consultation", consultation_id=consultation["id"]
    )
    return response


@bp.get("/staff/consultations/<consultation_id>")
@require_role(*READ)
@doc(
    "Read a consultation",
    tag=TAG,
    response=contract.ConsultationSchema,
    errors=(401, 403, 404, 503),
)
def staff_get_consultation(consultation_id: str) -> Any:
    return jsonify(surveys("get_consultation", check_id(consultation_id)))


@bp.patch("/staff/consultations/<consultation_id>")
@require_role(*EDIT)
@doc(
    "Edit a consultation",
    tag=TAG,
    body=contract.ConsultationUpdateSchema,
    response=contract.ConsultationSchema,
    errors=(400, 401, 403, 404, 409, 413, 415, 422, 503),
    description="Drafts change freely; open consultations only their text and `closes_at`.",
)
def staff_update_consultation(consultation_id: str) -> Any:
    consultation_id = check_id(consultation_id)
    changes = json_body(contract.ConsultationUpdateSchema(), raw=True)
    consultation = surveys("update_consultation", consultation_id, changes)
    audit("consultation.update", consultation_id)
    return jsonify(consultation)


@bp.post("/staff/consultations/<consultation_id>/open")
@require_role(*EDIT)
@doc(
    "Open a draft consultation to responses",
    tag=TAG,
    response=contract.ConsultationSchema,
    errors=(401, 403, 404, 409, 422, 503),
)
def staff_open_consultation(consultation_id: str) -> Any:
    consultation_id = check_id(consultation_id)
    consultation = surveys("open_consultation", consultation_id)
    audit("consultation.open", consultation_id)
    return jsonify(consultation)


@bp.post("/staff/consultations/<consultation_id>/close")
@require_role(*EDIT)
@doc(
    "Close a consultation",
    tag=TAG,
    response=contract.ConsultationSchema,
    errors=(401, 403, 404, 409, 503),
)
def staff_close_consultation(consultation_id: str) -> Any:
    consultation_id = check_id(consultation_id)
    consultation = surveys("close_consultation", consultation_id)
    audit("consultation.close", consultation_id)
    return jsonify(consultation)


@bp.put("/staff/consultations/<consultation_id>/outcome")
@require_role(*EDIT)
@doc(
    "Publish the outcome ('you said, we did') of a closed consultation",
    tag=TAG,
    body=contract.OutcomeSchema,
    response=contract.ConsultationSchema,
    errors=(400, 401, 403, 404, 409, 413, 415, 422, 503),
)
def staff_publish_outcome(consultation_id: str) -> Any:
    consultation_id = check_id(consultation_id)
    outcome = json_body(contract.OutcomeSchema(), raw=True)
    consultation = surveys("publish_outcome", consultation_id, outcome)
    audit("consultation.outcome", consultation_id)
    return jsonify(consultation)


@bp.get("/staff/consultations/<consultation_id>/results")
@require_role(*RESULTS)
@doc(
    "Aggregated results, optionally for one place or equality group",
    tag=TAG,
    query=contract.ResultsFiltersSchema,
    response=contract.ResultsSchema,
    errors=(401, 403, 404, 422, 503),
)
def staff_results(consultation_id: str) -> Any:
    consultation_id = check_id(consultation_id)
    filters = query_args(contract.ResultsFiltersSchema())
    results = surveys("get_results", consultation_id, filters)
    if any(q.get("free_text") for q in results.get("questions", [])):
        # residents' own words are personal data: reading them is audited
        audit("consultation.results.free_text", consultation_id)
    return jsonify(results)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = "; ".join(_cell(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_line(values: list[Any]) -> str:
    """One CSV line, every cell made safe for spreadsheets (see ``_cell``)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buffer.getvalue()


def export_lines(first: dict[str, Any], fetch: Any) -> Iterator[str]:
    """The CSV, one line at a time: the header, then every row, page after page.

    ``first`` is the first page (already fetched, so a missing consultation or an
    absent service is a proper error status instead of a broken download);
    ``fetch(after)`` gets the next one.
    """
    page = first
    yield csv_line(page["columns"])
    while True:
        for row in page["rows"]:
            yield csv_line(row)
        if page.get("next_after") is None:
            return
        page = fetch(page["next_after"])


@bp.get("/staff/consultations/<consultation_id>/responses.csv")
@require_role(*EXPORT)
@doc(
    "Every response as CSV (streamed)",
    tag=TAG,
    produces="text/csv",
    errors=(401, 403, 404, 503),
    description="One row per stored response, with a header row. Text that a spreadsheet "
    "would run as a formula is prefixed with an apostrophe.",
)
def staff_export_responses(consultation_id: str) -> Any:
    consultation_id = check_id(consultation_id)
    services = engage().services  # the generator runs after the request context is gone

    def fetch(after: int | None) -> dict[str, Any]:
        return services.surveys("export_responses", consultation_id, after, EXPORT_PAGE)

    first = fetch(None)
    audit("consultation.export", consultation_id)
    return Response(
        export_lines(first, fetch),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="consultation-{consultation_id}-responses.csv"'
            ),
            "Cache-Control": "no-store",
        },
    )


# -- who am I, staff users, tokens (admin) -----------------------------------------------------


@bp.get("/staff/me")
@require_role(*READ)
@doc("The signed-in staff member", tag=TAG, response=MeSchema, errors=(401,))
def staff_me() -> Any:
    staff = current_staff()
    return jsonify(MeSchema().dump(staff))


@bp.get("/staff/users")
@require_role(ADMIN)
@doc("List staff users", tag="admin", response=StaffListSchema, errors=(401, 403))
def staff_list_users() -> Any:
    with engage().db.connection() as conn:
        rows = store.list_staff(conn)
    return jsonify(staff=StaffUserSchema(many=True).dump(rows))


@bp.post("/staff/users")
@require_role(ADMIN)
@doc(
    "Add a staff user",
    tag="admin",
    body=StaffUserSchema,
    response=StaffUserSchema,
    status=201,
    errors=(400, 401, 403, 409, 415, 422),
)
def staff_create_user() -> Any:
    data = json_body(StaffUserSchema())
    try:
        with engage().db.connection() as conn:
            row = store.create_staff(conn, data["email"], data["name"], data["role"])
            store.audit(conn, current_staff().id, "staff.create", row["email"])
    except psycopg.errors.UniqueViolation as exc:
        raise ApiError(
            "A staff user with that email already exists.",
            status=409,
            fields={"email": ["is already in use"]},
        ) from exc
    return jsonify(StaffUserSchema().dump(row)), 201


@bp.patch("/staff/users/<int:user_id>")
@require_role(ADMIN)
@doc(
    "Rename a staff user or change their role",
    tag="admin",
    body=StaffUserUpdateSchema,
    response=StaffUserSchema,
    errors=(400, 401, 403, 404, 409, 415, 422),
    description="409 when it would demote the last admin with a working token.",
)
def staff_update_user(user_id: int) -> Any:
    changes = json_body(StaffUserUpdateSchema())
    with engage().db.connection() as conn:
        row = update_staff(conn, user_id, changes)
        if row is None:
            raise ApiError("There is no staff user with that id.", status=404)
        store.audit(
            conn,
            current_staff().id,
            "staff.update",
            f"{row['email']} " + " ".join(f"{k}={v}" for k, v in changes.items()),
        )
    return jsonify(StaffUserSchema().dump(row))


@bp.get("/staff/tokens")
@require_role(ADMIN)
@doc(
    "List API tokens (prefixes only; tokens are stored hashed)",
    tag="admin",
    response=TokenListSchema,
    errors=(401, 403),
)
def staff_list_tokens() -> Any:
    with engage().db.connection() as conn:
        rows = store.list_tokens(conn)
    return jsonify(tokens=TokenSchema(many=True).dump(rows))


@bp.post("/staff/tokens")
@require_role(ADMIN)
@doc(
    "Issue a token for a staff user (shown once)",
    tag="admin",
    body=TokenIssueSchema,
    response=IssuedTokenSchema,
    status=201,
    errors=(400, 401, 403, 404, 415, 422),
)
def staff_issue_token() -> Any:
    data = json_body(TokenIssueSchema())
    most = engage().settings.token_ttl_days
    days = data.get("valid_days", most)
    if days > most:
        raise ApiError(
            "Some fields need correcting.",
            status=422,
            fields={"valid_days": [f"must be at most {most} (TOKEN_TTL_DAYS)"]},
        )
    with engage().db.connection() as conn:
        user = store.staff_by_email(conn, data["email"])
        if user is None:
            raise ApiError(
                "There is no staff user with that email.",
                status=404,
                fields={"email": ["is not a staff user"]},
            )
        token, row = issue_token(conn, user["id"], data["label"], days)
        store.audit(conn, current_staff().id, "token.issue", row["prefix"])
    return jsonify(IssuedTokenSchema().dump({**row, "token": token})), 201


@bp.delete("/staff/tokens/<prefix>")
@require_role(ADMIN)
@doc(
    "Revoke a token by its prefix",
    tag="admin",
    response=TokenSchema,
    errors=(401, 403, 404, 409),
    description="409 when it is the last working token of any admin.",
)
def staff_revoke_token(prefix: str) -> Any:
    if not TOKEN_PREFIX_PATTERN.match(prefix):
        raise ApiError("There is no token with that prefix.", status=404)
    with engage().db.connection() as conn:
        row = revoke_token(conn, prefix)
        if row is None:
            raise ApiError("There is no token with that prefix.", status=404)
        store.audit(conn, current_staff().id, "token.revoke", prefix)
    return jsonify(TokenSchema().dump(row))


# -- UK GDPR: erasure requests and the audit log -----------------------------------------------

# Services that hold data about residents, and what they hold. Feedback and events hold
# no personal data yet; when they do, they get a find/erase RPC and a line here.
SERVICES_CHECKED = {
    "surveys": "searched (responses: receipt code, free-text answers, postcode district)",
    "feedback": "holds no personal data",
    "events": "holds no personal data",
}


@bp.post("/staff/erasure-requests")
@require_role(*ERASE)
@doc(
    "Find, and with confirm erase, everything held about a person",
    tag="privacy",
    body=ErasureRequestSchema,
    response=ErasureResultSchema,
    errors=(400, 401, 403, 413, 415, 422, 503),
    description="Give a receipt code and/or a text the person may have typed (a name, an "
    "email). Send `confirm: false` first to see what matches, then `confirm: true` to "
    "erase those responses. Both are audited (without the searched text).",
)
def staff_erasure_request() -> Any:
    data = json_body(ErasureRequestSchema())
    code = (data.get("receipt_code") or "").strip().upper() or None
    text = (data.get("text") or "").strip() or None
    if not code and not text:
        raise ApiError(
            "Give a receipt code, a text to search for, or both.",
            status=422,
            fields={"receipt_code": ["give this, text, or both"]},
        )
    found = surveys("find_personal_data", code, text)
    ids = [r["response_id"] for r in found["responses"]]
    # The audit says who searched and what was found, never the searched text itself.
    criteria = f"receipt_code={code or '-'} text={'given' if text else '-'}"
    audit("personal_data.search", f"{criteria} found={len(ids)}")
    erased = 0
    if data["confirm"] and ids:
        erased = surveys("erase_responses", ids)["erased"]
        audit("personal_data.erase", "responses " + ",".join(str(i) for i in ids))
    return jsonify(
        found=found["responses"],
        truncated=found["truncated"],
        erased=erased,
        services_checked=SERVICES_CHECKED,
    )


@bp.get("/staff/audit-log")
@require_role(ADMIN)
@doc(
    "The audit log, newest first",
    tag="admin",
    query=AuditQuerySchema,
    response=AuditLogSchema,
    errors=(401, 403, 422),
)
def staff_audit_log() -> Any:
    limit = query_args(AuditQuerySchema())["limit"]
    with engage().db.connection() as conn:
        rows = store.audit_entries(conn, limit)
    return jsonify(AuditLogSchema().dump({"entries": rows}))
