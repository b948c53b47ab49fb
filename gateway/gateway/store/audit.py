"""The audit log: who did what to which record, when."""

from __future__ import annotations

from psycopg import Connection

from gateway.store.staff import Row


def audit(conn: Connection, staff_user_id: int | None, action: str, target: str = "") -> None:
    conn.execute(
        "INSERT INTO audit_log (staff_user_id, action, target) VALUES (%s, %s, %s)",
        (staff_user_id, action, target),
    )


def audit_entries(conn: Connection, limit: int = 100) -> list[Row]:
    return conn.execute(
        "SELECT a.id, a.staff_user_id, u.email, a.action, a.target, a.at FROM audit_log a"
        " LEFT JOIN staff_users u ON u.id = a.staff_user_id ORDER BY a.id DESC LIMIT %s",
        (limit,),
    ).fetchall()
