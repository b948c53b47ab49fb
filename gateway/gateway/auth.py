"""Staff authentication: bearer tokens, stored only as SHA-256 hashes.

A token looks like ``eng_3f9a1c2b_<43 random characters>``. Its first part
(``eng_3f9a1c2b``) is the *prefix*: it is stored in clear so an admin can list
and revoke tokens without ever seeing them. The whole token is hashed with
SHA-256 for lookup; a plain hash is enough because the token carries 256 bits of
randomness (no dictionary to guess from).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import g, request
from psycopg import Connection

from engage_common.errors import Conflict
from gateway import store
from gateway.context import engage
from gateway.errors import ApiError

ADMIN = "admin"
OFFICER = "engagement-officer"
ANALYST = "analyst"
BOARD = "board-viewer"
ROLES = (ADMIN, OFFICER, ANALYST, BOARD)

# Who may do what (admin may always do everything; see require_role).
READ = (OFFICER, ANALYST, BOARD)
EDIT = (OFFICER,)
RESULTS = (OFFICER, ANALYST, BOARD)
EXPORT = (OFFICER, ANALYST)
ERASE = (OFFICER,)  # find and erase a person's data (UK GDPR erasure requests)

TOKEN_PREFIX = "eng_"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Staff:
    id: int
    email: str
    name: str
    role: str
    token_prefix: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(token, prefix)``."""
    prefix = TOKEN_PREFIX + secrets.token_hex(4)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def issue_token(
    conn: Connection, staff_user_id: int, label: str = "", valid_days: int = 90
) -> tuple[str, dict]:
    """Create a token for a staff user, working for ``valid_days``; the clear token is
    returned here and never again."""
    token, prefix = new_token()
    row = store.insert_token(conn, staff_user_id, hash_token(token), prefix, label, valid_days)
    return token, row


LAST_ADMIN = (
    "That would leave no admin with a working token, and nobody could manage "
    "staff or tokens through the API. Issue another admin a token first (an "
    "admin locked out recovers with './engage manage issue-token')."
)


def revoke_token(conn: Connection, prefix: str, force: bool = False) -> dict | None:
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


def update_staff(conn: Connection, staff_user_id: int, changes: dict[str, Any]) -> dict | None:
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
) -> tuple[str, dict]:
    """Revoke this user's working tokens with ``label`` and issue a new one (``./engage up``
    does this for its demo token, so tokens do not pile up)."""
    for old in store.working_tokens_labelled(conn, staff_user_id, label):
        store.revoke_token(conn, old["prefix"])
    return issue_token(conn, staff_user_id, label, valid_days)


def _unauthorised(message: str) -> ApiError:
    return ApiError(message, status=401, headers={"WWW-Authenticate": 'Bearer realm="engage"'})


def authenticate() -> Staff:
    """The staff member whose bearer token came with this request, or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise _unauthorised("Sign in: send 'Authorization: Bearer <token>'.")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise _unauthorised("That token is not valid.")
    with engage().db.connection() as conn:
        row = store.active_token(conn, hash_token(token))
        if row is None:
            raise _unauthorised("That token is not valid or has been revoked.")
        store.touch_token(conn, row["id"])
    return Staff(
        id=row["staff_user_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        token_prefix=row["prefix"],
    )


def require_role(*roles: str) -> Callable[[F], F]:
    """Allow the view to staff with one of ``roles`` (admins always pass).

    Sets ``g.staff``. The roles are kept on the view as ``__roles__`` so the
    OpenAPI document can mark the route as needing a bearer token.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    allowed = {ADMIN, *roles}

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            staff = authenticate()
            if staff.role not in allowed:
                raise ApiError(f"Your role ({staff.role}) may not do this.", status=403)
            g.staff = staff
            return view(*args, **kwargs)

        wrapper.__roles__ = tuple(sorted(allowed))  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def current_staff() -> Staff:
    return g.staff


def audit(action: str, target: str = "") -> None:
    """Record what the signed-in staff member just did."""
    with engage().db.connection() as conn:
        store.audit(conn, current_staff().id, action, target)
