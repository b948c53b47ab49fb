"""Dead letters the projections process stored (``dead_letters``), for listing and replay."""

from __future__ import annotations

from psycopg import Connection

from gateway.store.staff import Row

COLUMNS = "id, message_id, queue, error, headers, body, received_at"
FROM_QUEUE = "(%(queue)s::text IS NULL OR queue = %(queue)s)"


def stored(conn: Connection, queue: str | None, limit: int | None) -> list[Row]:
    """Stored dead letters, oldest first (only those from ``queue`` when given)."""
    return conn.execute(
        f"SELECT {COLUMNS} FROM dead_letters WHERE {FROM_QUEUE} ORDER BY id LIMIT %(limit)s",
        {"queue": queue, "limit": limit},
    ).fetchall()


def take(conn: Connection, letter_id: int) -> Row | None:
    """The stored dead letter, locked until the transaction ends; None when it is gone
    or another replay holds it."""
    return conn.execute(
        f"SELECT {COLUMNS} FROM dead_letters WHERE id = %s FOR UPDATE SKIP LOCKED",
        (letter_id,),
    ).fetchone()


def remove(conn: Connection, letter_id: int) -> None:
    conn.execute("DELETE FROM dead_letters WHERE id = %s", (letter_id,))
