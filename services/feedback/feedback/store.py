"""SQL for the feedback database, and nothing else."""

from __future__ import annotations

from psycopg import Connection


def ping(conn: Connection) -> bool:
    """True when the database answers a real query."""
    row = conn.execute("SELECT 1 AS ok").fetchone()
    return row is not None and row["ok"] == 1
