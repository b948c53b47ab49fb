"""Admin routes under ``/api/v1/staff``: staff users, API tokens, the audit log and the
dead letters. Admins only."""

from __future__ import annotations

from typing import Any

from gateway.api.schemas import (
    TOKEN_PREFIX,
    AuditLogSchema,
    DeadLetterListSchema,
    IssuedTokenSchema,
    LimitQuerySchema,
    StaffListSchema,
    StaffUserSchema,
    StaffUserUpdateSchema,
    TokenIssueSchema,
    TokenListSchema,
    TokenSchema,
)
from gateway.application import staff
from gateway.application.staff import ADMIN, token_state
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import Blueprint, errors
from gateway.readmodels import queries

blp = Blueprint("admin", __name__, url_prefix="/api/v1/staff", description="For admins")


@blp.route("/users", methods=["GET"])
@require_role(ADMIN)
@blp.response(200, StaffListSchema)
def list_users() -> Any:
    """List staff users"""
    return {"staff": staff.list_staff(engage().db)}


@blp.route("/users", methods=["POST"])
@require_role(ADMIN)
@blp.arguments(StaffUserSchema)
@blp.response(201, StaffUserSchema)
@errors(400, 415)
def create_user(user: dict[str, Any]) -> Any:
    """Add a staff user"""
    return staff.create_staff(
        engage().db, current_staff().id, user["email"], user["name"], user["role"]
    )


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@require_role(ADMIN)
@blp.arguments(StaffUserUpdateSchema)
@blp.response(200, StaffUserSchema)
@errors(400, 404, 409, 415)
def update_user(changes: dict[str, Any], user_id: int) -> Any:
    """Rename a staff user or change their role

    409 when it would demote the last admin with a working token."""
    return staff.change_staff(engage().db, current_staff().id, user_id, changes)


@blp.route("/tokens", methods=["GET"])
@require_role(ADMIN)
@blp.response(200, TokenListSchema)
def list_tokens() -> Any:
    """List API tokens (prefixes only; tokens are stored hashed)"""
    return {"tokens": staff.list_tokens(engage().db)}


@blp.route("/tokens", methods=["POST"])
@require_role(ADMIN)
@blp.arguments(TokenIssueSchema)
@blp.response(201, IssuedTokenSchema)
@errors(400, 404, 415)
def issue_token(request: dict[str, Any]) -> Any:
    """Issue a token for a staff user (shown once)"""
    ctx = engage()
    token, row = staff.issue_token_for(
        ctx.db,
        current_staff().id,
        request["email"],
        request["label"],
        request["valid_days"],
        ctx.settings.token_ttl_days,
    )
    return {**row, "token": token, "state": token_state(row)}


@blp.route("/tokens/<prefix>", methods=["DELETE"])
@require_role(ADMIN)
@blp.response(200, TokenSchema)
@errors(404, 409)
def revoke_token(prefix: str) -> Any:
    """Revoke a token by its prefix

    409 when it is the last working token of any admin."""
    if not TOKEN_PREFIX.match(prefix):
        raise ApiError("There is no token with that prefix.", status=404)
    row = staff.revoke(engage().db, current_staff().id, prefix)
    return {**row, "state": token_state(row)}


@blp.route("/audit-log", methods=["GET"])
@require_role(ADMIN)
@blp.arguments(LimitQuerySchema, location="query")
@blp.response(200, AuditLogSchema)
def audit_log(query: dict[str, Any]) -> Any:
    """The audit log, newest first"""
    return {"entries": staff.audit_log(engage().db, query["limit"])}


@blp.route("/dead-letters", methods=["GET"])
@require_role(ADMIN)
@blp.arguments(LimitQuerySchema, location="query")
@blp.response(200, DeadLetterListSchema)
def dead_letters(query: dict[str, Any]) -> Any:
    """Messages that failed every retry, newest first, with their errors"""
    with engage().db.connection() as conn:
        return {"dead_letters": queries.dead_letters(conn, query["limit"])}
