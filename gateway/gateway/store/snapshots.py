"""The last consultation each resident page saw from surveys, kept so residents can still
open the form and answer while surveys does not answer."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb


def remember(conn: Connection, consultation: dict[str, Any]) -> None:
    """Keep the snapshot; rewritten only when surveys changed the consultation (its
    ``updated_at``), not on every page view and submission."""
    conn.execute(
        "INSERT INTO consultation_snapshots (consultation_id, body) VALUES (%s, %s)"
        " ON CONFLICT (consultation_id) DO UPDATE SET body = EXCLUDED.body,"
        " fetched_at = now()"
        " WHERE consultation_snapshots.body->>'updated_at'"
        " IS DISTINCT FROM EXCLUDED.body->>'updated_at'",
        (consultation["id"], Jsonb(consultation)),
    )


def recall(conn: Connection, consultation_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT body FROM consultation_snapshots WHERE consultation_id = %s", (consultation_id,)
    ).fetchone()
    return row["body"] if row else None
