"""Per-client request counts in fixed one-minute windows, shared by every gateway replica."""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import Connection


def count_hit(conn: Connection, key: str, window_start: datetime) -> int:
    """Count one request for ``key`` in the window; the window's count so far."""
    return conn.execute(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES (%s, %s, 1)"
        " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1"
        " RETURNING hits",
        (key, window_start),
    ).fetchone()["hits"]


def sweep(conn: Connection, before: datetime, window: timedelta) -> None:
    """Forget windows that ended before ``before``."""
    conn.execute("DELETE FROM rate_limits WHERE window_start < %s", (before - window,))
