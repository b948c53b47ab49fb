"""Staff, their API tokens and the audit log: what an admin does, through the API or the
shell (``gateway.cli``), the same way.

A token looks like ``eng_3f9a1c2b_<43 random characters>``. Its first part
(``eng_3f9a1c2b``) is the *prefix*: it is stored in clear so an admin can list and
revoke tokens without ever seeing them. The whole token is stored only as its SHA-256
hash; a plain hash is enough because the token carries 256 bits of randomness.

Workflows take the gateway's connection pool and the acting staff member's id (``None``
from the shell) and raise the domain errors (``NotFound``, ``Conflict``,
``ValidationFailed``) the API turns into 404, 409 and 422.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import Connection

from engage_common.db import Pool
from engage_common.errors import Conflict, NotFound, ValidationFailed
from gateway.store import audit as audit_store
from gateway.store import staff as store

ADMIN = "admin"
OFFICER = "engagement-officer"
ANALYST = "analyst"
BOARD = "board-viewer"
TRIAGE = "triage-officer"
SAFEGUARDING = "safeguarding-lead"
ROLES = (ADMIN, OFFICER, ANALYST, BOARD, TRIAGE, SAFEGUARDING)

# Who may do what (admins may always do everything, except read what residents wrote
# before redaction: only the triage roles do, and each such read is audited).
READ = (OFFICER, ANALYST, BOARD, TRIAGE)
EDIT = (OFFICER,)
RESULTS = (OFFICER, ANALYST, BOARD)
EXPORT = (OFFICER, ANALYST)
ERASE = (OFFICER,)  # find and erase a person's data (UK GDPR erasure requests)
FEEDBACK_READ = (OFFICER, ANALYST, TRIAGE, SAFEGUARDING)  # redacted text only
FEEDBACK_ENTER = (OFFICER, TRIAGE)  # enter feedback from other channels for a resident
FEEDBACK_TRIAGE = (OFFICER, TRIAGE, SAFEGUARDING)  # themes, status, replies, quotes
ORIGINALS = (TRIAGE, SAFEGUARDING)  # the text as the resident wrote it (not admins)
SAFEGUARDING_QUEUE = (TRIAGE, SAFEGUARDING)
THEMES_EDIT = (OFFICER, TRIAGE)
FREE_TEXT = (OFFICER, ANALYST, TRIAGE)  # survey free-text answers, redacted (audited)
THEMES_CONFIRM = (OFFICER, TRIAGE)  # confirm the themes of feedback and free-text answers

TOKEN_PREFIX = "eng_"
DEMO_TOKEN_LABEL = "demo"
LAST_ADMIN = (
    "That would leave no admin with a working token, and nobody could manage staff or "
    "tokens through the API. Issue another admin a token first (an admin locked out "
    "recovers with './engage manage issue-token')."
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(token, prefix)``."""
    prefix = TOKEN_PREFIX + secrets.token_hex(4)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def token_state(token: dict[str, Any]) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if token.get("revoked_at"):
        return "revoked"
    expires = token.get("expires_at")
    return "expired" if expires is not None and expires <= datetime.now(UTC) else "active"


# -- rules inside a transaction -------------------------------------------------------------


def issue_token(
    conn: Connection, staff_user_id: int, label: str = "", valid_days: int = 90
) -> tuple[str, dict[str, Any]]:
    """Create a token working for ``valid_days``; the clear token is returned here and
    never again."""
    token, prefix = new_token()
    row = store.insert_token(conn, staff_user_id, hash_token(token), prefix, label, valid_days)
    return token, row


def revoke_token(conn: Connection, prefix: str, force: bool = False) -> dict[str, Any] | None:
    """Revoke a token by prefix (None when there is none). Refuses (``Conflict``) to revoke
    the last working admin token unless ``force`` (the shell's recovery path)."""
    store.lock_admins(conn)
    token = store.token_by_prefix(conn, prefix)
    if token is None:
        return None
    if (
        not force
        and token["role"] == ADMIN
        and token["revoked_at"] is None
        and store.working_admins(conn) > 0
        and store.working_admins(conn, except_token=prefix) == 0
    ):
        raise Conflict(LAST_ADMIN)
    return store.revoke_token(conn, prefix)


def update_staff(
    conn: Connection, staff_user_id: int, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Rename a staff user or change their role (None when there is no such user).
    Refuses (``Conflict``) to demote the last admin with a working token."""
    store.lock_admins(conn)
    user = store.staff_by_id(conn, staff_user_id)
    if user is None:
        return None
    if (
        changes.get("role", ADMIN) != ADMIN
        and user["role"] == ADMIN
        and store.working_admins(conn) > 0
        and store.working_admins(conn, except_user=staff_user_id) == 0
    ):
        raise Conflict(LAST_ADMIN)
    return store.update_staff(conn, staff_user_id, changes)


def reissue_labelled(
    conn: Connection, staff_user_id: int, label: str, valid_days: int
) -> tuple[str, dict[str, Any]]:
    """Revoke this user's working tokens with ``label`` and issue a new one (``./engage up``
    does this for its demo token, so tokens do not pile up)."""
    for old in store.working_tokens_labelled(conn, staff_user_id, label):
        store.revoke_token(conn, old["prefix"])
    return issue_token(conn, staff_user_id, label, valid_days)


# -- workflows ----------------------------------------------------------------------------


def record(db: Pool, actor: int | None, action: str, target: str = "") -> None:
    """Audit what ``actor`` (a staff id; None from the shell) just did."""
    with db.connection() as conn:
        audit_store.audit(conn, actor, action, target)


def create_staff(db: Pool, actor: int | None, email: str, name: str, role: str) -> dict[str, Any]:
    try:
        with db.connection() as conn:
            row = store.create_staff(conn, email, name, role)
            audit_store.audit(conn, actor, "staff.create", row["email"])
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            "A staff user with that email already exists.", {"email": ["is already in use"]}
        ) from None
    return row


def change_staff(
    db: Pool, actor: int | None, staff_user_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    with db.connection() as conn:
        row = update_staff(conn, staff_user_id, changes)
        if row is None:
            raise NotFound("There is no staff user with that id.")
        target = " ".join([row["email"], *(f"{k}={v}" for k, v in changes.items())])
        audit_store.audit(conn, actor, "staff.update", target)
    return row


def issue_token_for(
    db: Pool, actor: int | None, email: str, label: str, valid_days: int | None, most: int
) -> tuple[str, dict[str, Any]]:
    """Issue a token to the staff member with ``email``, for ``valid_days`` (at most
    ``most``, the configured TTL, which is also the default)."""
    days = most if valid_days is None else valid_days
    if not 1 <= days <= most:
        raise ValidationFailed({"valid_days": [f"must be at most {most} (TOKEN_TTL_DAYS)"]})
    with db.connection() as conn:
        user = store.staff_by_email(conn, email)
        if user is None:
            raise NotFound("There is no staff user with that email.")
        token, row = issue_token(conn, user["id"], label, days)
        audit_store.audit(conn, actor, "token.issue", row["prefix"])
    return token, row


def revoke(db: Pool, actor: int | None, prefix: str, force: bool = False) -> dict[str, Any]:
    with db.connection() as conn:
        row = revoke_token(conn, prefix, force=force)
        if row is None:
            raise NotFound("There is no token with that prefix.")
        audit_store.audit(conn, actor, "token.revoke", prefix)
    return row


def acting(db: Pool, email: str) -> Any:
    """The staff member a shell command acts as (``--as``), as ``gateway.auth.Staff``
    would have them: id, email, name, role."""
    from types import SimpleNamespace

    with db.connection() as conn:
        row = store.staff_by_email(conn, email.strip().lower())
    if row is None:
        raise NotFound(f"There is no staff user {email}.")
    return SimpleNamespace(id=row["id"], email=row["email"], name=row["name"], role=row["role"])


def list_staff(db: Pool) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return store.list_staff(conn)


def list_tokens(db: Pool) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return [{**t, "state": token_state(t)} for t in store.list_tokens(conn)]


def audit_log(db: Pool, limit: int) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return audit_store.audit_entries(conn, limit)
