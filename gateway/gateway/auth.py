"""Staff authentication: a bearer token per request, checked against its SHA-256 hash
(see ``gateway.application.staff``), and the role each route requires."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import g, request
from flask_smorest import Blueprint

from gateway.application.staff import ADMIN, ROLES, TOKEN_PREFIX, hash_token
from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import error_doc
from gateway.store import staff as store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Staff:
    id: int
    email: str
    name: str
    role: str
    token_prefix: str


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
            raise _unauthorised("That token is not valid, has expired or has been revoked.")
        store.touch_token(conn, row["id"])
    return Staff(
        id=row["staff_user_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        token_prefix=row["prefix"],
    )


def require_role(*roles: str, admins: bool = True) -> Callable[[F], F]:
    """Allow the view to staff with one of ``roles`` (and admins, unless ``admins`` is
    False: what residents wrote before redaction is for the triage roles only). Sets
    ``g.staff``; keeps the roles on the view as ``__roles__`` (the role-matrix test reads
    them) and documents the bearer token, the roles and the 401/403 answers."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    allowed = tuple(sorted({ADMIN, *roles} if admins else set(roles)))

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            staff = authenticate()
            if staff.role not in allowed:
                raise ApiError(f"Your role ({staff.role}) may not do this.", status=403)
            g.staff = staff
            return view(*args, **kwargs)

        wrapper.__roles__ = allowed  # type: ignore[attr-defined]
        return Blueprint.doc(  # type: ignore[return-value]
            security=[{"bearerAuth": []}],
            responses={"401": error_doc(401), "403": error_doc(403)},
            **{"x-roles": list(allowed)},
        )(wrapper)

    return decorate


def current_staff() -> Staff:
    return g.staff
