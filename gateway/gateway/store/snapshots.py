"""The last consultation each resident page saw from surveys, kept so residents can still
open the form and answer while surveys does not answer."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb


def remember(conn: Connection, consultation: dict[str, Any], checked: bool = False) -> None:
    """Keep the snapshot; rewritten only when surveys changed the consultation (its
    ``updated_at``), not on every page view. ``checked``: the caller just asked surveys,
    so the snapshot is fresh again (``fetched_at``) even when nothing changed.

    Never over what surveys said later: an answer that was slow to come back (asked before
    a staff change, written after the change's own snapshot) would otherwise pass for
    fresh until ``SNAPSHOT_TTL``."""
    stored = "(consultation_snapshots.body->>'updated_at')::timestamptz"
    given = "(EXCLUDED.body->>'updated_at')::timestamptz"
    newer = ">=" if checked else ">"  # unchecked: only a change is written
    when = f" WHERE {stored} IS NULL OR {given} {newer} {stored}"
    conn.execute(
        "INSERT INTO consultation_snapshots (consultation_id, body) VALUES (%s, %s)"
        " ON CONFLICT (consultation_id) DO UPDATE SET body = EXCLUDED.body,"
        " fetched_at = now()" + when,
        (consultation["id"], Jsonb(consultation)),
    )


def recall_fresh(conn: Connection, consultation_id: str, ttl: float) -> dict[str, Any] | None:
    """The snapshot if surveys gave it less than ``ttl`` seconds ago and no consultation
    event the projections applied since (``consultation_summaries.event_at``, with a
    second's margin for an event recorded while the snapshot was being fetched) says it
    may have changed; else ``None``."""
    row = conn.execute(
        "SELECT s.body FROM consultation_snapshots s"
        " LEFT JOIN consultation_summaries c ON c.id = s.consultation_id"
        " WHERE s.consultation_id = %s AND s.fetched_at > now() - make_interval(secs => %s)"
        " AND (c.event_at IS NULL OR c.event_at < s.fetched_at - interval '1 second')",
        (consultation_id, ttl),
    ).fetchone()
    return row["body"] if row else None


def recall(conn: Connection, consultation_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT body FROM consultation_snapshots WHERE consultation_id = %s", (consultation_id,)
    ).fetchone()
    return row["body"] if row else None
