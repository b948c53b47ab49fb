"""Staff users and their API tokens (stored only as hashes)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

Row = dict[str, Any]

_TOKEN_COLUMNS = (
    "t.id, t.prefix, t.label, t.staff_user_id, t.created_at, t.expires_at, t.revoked_at,"
    " t.last_used_at, u.email, u.name, u.role"
)
# A token that works: not revoked and not expired.
_WORKING = "t.revoked_at IS NULL AND t.expires_at > now()"


def create_staff(conn: Connection, email: str, name: str, role: str) -> Row:
    return conn.execute(
        "INSERT INTO staff_users (email, name, role) VALUES (%s, %s, %s)"
        " RETURNING id, email, name, role, created_at",
        (email.strip().lower(), name.strip(), role),
    ).fetchone()


def staff_by_email(conn: Connection, email: str) -> Row | None:
    return conn.execute(
        "SELECT id, email, name, role, created_at FROM staff_users WHERE lower(email) = lower(%s)",
        (email.strip(),),
    ).fetchone()


def list_staff(conn: Connection) -> list[Row]:
    return conn.execute(
        "SELECT id, email, name, role, created_at FROM staff_users ORDER BY id"
    ).fetchall()


def insert_token(
    conn: Connection, staff_user_id: int, token_hash: str, prefix: str, label: str, valid_days: int
) -> Row:
    row = conn.execute(
        "INSERT INTO api_tokens (token_hash, prefix, label, staff_user_id, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + make_interval(days => %s)) RETURNING id",
        (token_hash, prefix, label, staff_user_id, valid_days),
    ).fetchone()
    return token_by_id(conn, row["id"])  # type: ignore[return-value]


def token_by_id(conn: Connection, token_id: int) -> Row | None:
    return conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM api_tokens t JOIN staff_users u ON u.id = t.staff_user_id"
        " WHERE t.id = %s",
        (token_id,),
    ).fetchone()


def active_token(conn: Connection, token_hash: str) -> Row | None:
    """The working (unrevoked, unexpired) token with this hash, with its owner's email,
    name and role."""
    return conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM api_tokens t JOIN staff_users u ON u.id = t.staff_user_id"
        f" WHERE t.token_hash = %s AND {_WORKING}",
        (token_hash,),
    ).fetchone()


def touch_token(conn: Connection, token_id: int) -> None:
    """Record use, at most once a minute per token (no write on every request)."""
    conn.execute(
        "UPDATE api_tokens SET last_used_at = now() WHERE id = %s"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        (token_id,),
    )


def list_tokens(conn: Connection) -> list[Row]:
    """Every token, revoked ones included (admins see when each was revoked)."""
    return conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM api_tokens t JOIN staff_users u ON u.id = t.staff_user_id"
        " ORDER BY t.id"
    ).fetchall()


def token_by_prefix(conn: Connection, prefix: str) -> Row | None:
    return conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM api_tokens t JOIN staff_users u ON u.id = t.staff_user_id"
        " WHERE t.prefix = %s",
        (prefix,),
    ).fetchone()


def working_tokens_labelled(conn: Connection, staff_user_id: int, label: str) -> list[Row]:
    return conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM api_tokens t JOIN staff_users u ON u.id = t.staff_user_id"
        f" WHERE t.staff_user_id = %s AND t.label = %s AND {_WORKING} ORDER BY t.id",
        (staff_user_id, label),
    ).fetchall()


def lock_admins(conn: Connection) -> None:
    """Serialise changes that could leave no working admin (until the transaction ends)."""
    conn.execute("SELECT pg_advisory_xact_lock(727002)")


def working_admins(
    conn: Connection, except_token: str | None = None, except_user: int | None = None
) -> int:
    """Admins with at least one working token, leaving out one token (by prefix) or one
    user (as if demoted)."""
    return conn.execute(
        "SELECT count(DISTINCT u.id) AS n FROM staff_users u"
        f" JOIN api_tokens t ON t.staff_user_id = u.id AND {_WORKING}"
        " WHERE u.role = 'admin' AND t.prefix IS DISTINCT FROM %s"
        " AND u.id IS DISTINCT FROM %s",
        (except_token, except_user),
    ).fetchone()["n"]


def staff_by_id(conn: Connection, staff_user_id: int) -> Row | None:
    return conn.execute(
        "SELECT id, email, name, role, created_at FROM staff_users WHERE id = %s",
        (staff_user_id,),
    ).fetchone()


def update_staff(conn: Connection, staff_user_id: int, changes: dict[str, Any]) -> Row | None:
    """Change a staff user's ``name`` and/or ``role``; None when there is no such user."""
    allowed = {k: v for k, v in changes.items() if k in ("name", "role")}
    if not allowed:
        return staff_by_id(conn, staff_user_id)
    sets = ", ".join(f"{column} = %s" for column in allowed)
    return conn.execute(
        f"UPDATE staff_users SET {sets} WHERE id = %s RETURNING id, email, name, role, created_at",
        (*allowed.values(), staff_user_id),
    ).fetchone()


def revoke_token(conn: Connection, prefix: str) -> Row | None:
    """Revoke by prefix; returns the token (already-revoked ones keep their first time),
    or None when no token has that prefix."""
    row = conn.execute(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = %s"
        " RETURNING id",
        (prefix,),
    ).fetchone()
    return token_by_id(conn, row["id"]) if row else None
