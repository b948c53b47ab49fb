"""SQL for the outcomes database, and nothing else: parameterised psycopg queries.

Every function takes a connection that is already inside the caller's transaction. Ids
come back as text, so rows compare equal to what the domain builds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from engage_common.notify import forget_recipients

Json = dict[str, Any]

_OUTCOME = """
o.id::text AS id, o.reference, o.kind, o.title, o.description, o.you_said, o.partner,
o.owner, o.due_date, o.status, o.reason, o.progress, o.places, o.priorities, o.themes,
o.parent_id::text AS parent_id, o.published_at, o.final_at, o.created_at, o.updated_at
"""


def _jsonb(value: Any) -> Jsonb | None:
    return Jsonb(value) if value is not None else None


def try_lock(conn: Connection, key: str) -> bool:
    """An advisory lock on ``key`` until this transaction ends, if nobody holds it."""
    row = conn.execute(
        "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 727)) AS got", (key,)
    ).fetchone()
    return bool(row["got"])


def lock(conn: Connection, key: str) -> None:
    """Wait for an advisory lock on ``key``, held until this transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 727))", (key,))


def lock_tree(conn: Connection) -> None:
    """Serialise changes of parents, so two at once cannot make a loop between them."""
    lock(conn, "outcomes:tree")


# -- outcomes ---------------------------------------------------------------------------------


def _with_evidence(conn: Connection, rows: list[Json]) -> list[Json]:
    ids = [r["id"] for r in rows]
    links: dict[str, list[Json]] = {i: [] for i in ids}
    if ids:
        for row in conn.execute(
            "SELECT outcome_id::text AS outcome_id, link FROM outcome_evidence"
            " WHERE outcome_id = ANY(%s::uuid[]) ORDER BY outcome_id, position",
            (ids,),
        ):
            links[row["outcome_id"]].append(row["link"])
    return [{**r, "evidence": links[r["id"]]} for r in rows]


def get_outcome(conn: Connection, outcome_id: str, lock: bool = False) -> Json | None:
    row = conn.execute(
        f"SELECT {_OUTCOME} FROM outcomes o WHERE o.id = %s" + (" FOR UPDATE" if lock else ""),
        (outcome_id,),
    ).fetchone()
    return _with_evidence(conn, [row])[0] if row else None


def by_reference(conn: Connection, reference: str, lock: bool = False) -> Json | None:
    row = conn.execute(
        f"SELECT {_OUTCOME} FROM outcomes o WHERE o.reference = %s"
        + (" FOR UPDATE" if lock else ""),
        (reference,),
    ).fetchone()
    return _with_evidence(conn, [row])[0] if row else None


def reference_taken(conn: Connection, reference: str | None, outcome_id: str) -> bool:
    if reference is None:
        return False
    row = conn.execute(
        "SELECT 1 FROM outcomes WHERE reference = %s AND id <> %s", (reference, outcome_id)
    ).fetchone()
    return row is not None


def exists(conn: Connection, outcome_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM outcomes WHERE id = %s", (outcome_id,)).fetchone() is not None
    )


def insert_outcome(conn: Connection, outcome: Json) -> bool:
    """Store a new outcome (``domain.new_outcome``; its evidence by ``replace_evidence``);
    False when another outcome has its reference."""
    row = conn.execute(
        "INSERT INTO outcomes (id, reference, kind, title, description, you_said, partner,"
        " owner, due_date, status, reason, progress, places, priorities, themes, parent_id,"
        " published_at, final_at, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (reference) DO NOTHING RETURNING id",
        (
            outcome["id"],
            outcome["reference"],
            outcome["kind"],
            Jsonb(outcome["title"]),
            Jsonb(outcome["description"]),
            Jsonb(outcome["you_said"]),
            outcome["partner"],
            outcome["owner"],
            outcome["due_date"],
            outcome["status"],
            _jsonb(outcome["reason"]),
            outcome["progress"],
            outcome["places"],
            outcome["priorities"],
            outcome["themes"],
            outcome["parent_id"],
            outcome["published_at"],
            outcome["final_at"],
            outcome["created_at"],
            outcome["updated_at"],
        ),
    ).fetchone()
    return row is not None


def save_outcome(conn: Connection, outcome: Json) -> None:
    """Write an outcome's record and current state (its history is only ever added to)."""
    conn.execute(
        "UPDATE outcomes SET reference = %s, kind = %s, title = %s, description = %s,"
        " you_said = %s, partner = %s, owner = %s, due_date = %s, status = %s, reason = %s,"
        " progress = %s, places = %s, priorities = %s, themes = %s, parent_id = %s,"
        " published_at = %s, final_at = %s, updated_at = %s WHERE id = %s",
        (
            outcome["reference"],
            outcome["kind"],
            Jsonb(outcome["title"]),
            Jsonb(outcome["description"]),
            Jsonb(outcome["you_said"]),
            outcome["partner"],
            outcome["owner"],
            outcome["due_date"],
            outcome["status"],
            _jsonb(outcome["reason"]),
            outcome["progress"],
            outcome["places"],
            outcome["priorities"],
            outcome["themes"],
            outcome["parent_id"],
            outcome["published_at"],
            outcome["final_at"],
            outcome["updated_at"],
            outcome["id"],
        ),
    )


def replace_evidence(conn: Connection, outcome_id: str, rows: Iterable[Json]) -> None:
    """The outcome's evidence links (``domain.evidence_rows``) replace those it had."""
    conn.execute("DELETE FROM outcome_evidence WHERE outcome_id = %s", (outcome_id,))
    for r in rows:
        conn.execute(
            "INSERT INTO outcome_evidence (outcome_id, evidence_key, kind, consultation_id,"
            " position, link) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                outcome_id,
                r["evidence_key"],
                r["kind"],
                r["consultation_id"],
                r["position"],
                Jsonb(r["link"]),
            ),
        )


def insert_history(conn: Connection, outcome_id: str, e: Json) -> None:
    conn.execute(
        "INSERT INTO outcome_history (outcome_id, at, on_date, staff_id, by_name, status,"
        " progress, note, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            outcome_id,
            e["at"],
            e["on"],
            e["staff_id"],
            e["by"],
            e["status"],
            e["progress"],
            _jsonb(e["note"]),
            _jsonb(e["reason"]),
        ),
    )


def histories(conn: Connection, outcome_ids: Sequence[str]) -> dict[str, list[Json]]:
    """Each outcome's history, oldest first."""
    found: dict[str, list[Json]] = {i: [] for i in outcome_ids}
    for row in conn.execute(
        "SELECT outcome_id::text AS outcome_id, at, on_date, by_name, status, progress, note,"
        " reason FROM outcome_history WHERE outcome_id = ANY(%s::uuid[])"
        " ORDER BY outcome_id, id",
        (list(outcome_ids),),
    ):
        found[row["outcome_id"]].append(row)
    return found


def history_count(conn: Connection, outcome_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM outcome_history WHERE outcome_id = %s", (outcome_id,)
    ).fetchone()
    return int(row["n"])


def ancestors(conn: Connection, outcome_id: str) -> list[str]:
    """The outcome and its parent, grandparent... (a loop, were there one, ends it)."""
    rows = conn.execute(
        "WITH RECURSIVE up (id, parent_id) AS ("
        " SELECT id, parent_id FROM outcomes WHERE id = %s"
        " UNION SELECT o.id, o.parent_id FROM outcomes o JOIN up ON o.id = up.parent_id)"
        " SELECT id::text AS id FROM up",
        (outcome_id,),
    ).fetchall()
    return [r["id"] for r in rows]


def tree(conn: Connection, outcome_ids: Sequence[str], include_drafts: bool) -> dict[str, Json]:
    """The outcomes and every descendant (published ones only unless ``include_drafts``):
    id -> {parent_id, status, progress}, for rolling progress up."""
    rows = conn.execute(
        "WITH RECURSIVE down (id, parent_id, status, progress) AS ("
        " SELECT id, parent_id, status, progress FROM outcomes WHERE id = ANY(%s::uuid[])"
        " UNION SELECT o.id, o.parent_id, o.status, o.progress FROM outcomes o"
        " JOIN down ON o.parent_id = down.id WHERE %s OR o.published_at IS NOT NULL)"
        " SELECT id::text AS id, parent_id::text AS parent_id, status, progress FROM down",
        (list(outcome_ids), include_drafts),
    ).fetchall()
    return {r["id"]: r for r in rows}


def children(
    conn: Connection, outcome_ids: Sequence[str], include_drafts: bool
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in outcome_ids}
    for row in conn.execute(
        "SELECT id::text AS id, parent_id::text AS parent_id FROM outcomes"
        " WHERE parent_id = ANY(%s::uuid[]) AND (%s OR published_at IS NOT NULL)"
        " ORDER BY seq",
        (list(outcome_ids), include_drafts),
    ):
        found[row["parent_id"]].append(row["id"])
    return found


def list_outcomes(conn: Connection, filters: Json) -> list[Json]:
    """Outcomes matching ``OutcomeFiltersSchema``'s filters, in the order they were made."""
    where, params = [], []
    if not filters.get("include_drafts"):
        where.append("o.published_at IS NOT NULL")
    if filters.get("place"):
        where.append("%s = ANY(o.places)")
        params.append(filters["place"])
    if filters.get("priority"):
        where.append("%s = ANY(o.priorities)")
        params.append(filters["priority"])
    if filters.get("status"):
        where.append("o.status = %s")
        params.append(filters["status"])
    if filters.get("theme"):
        where.append(
            "(%s = ANY(o.themes) OR EXISTS (SELECT 1 FROM outcome_evidence e"
            " WHERE e.outcome_id = o.id AND e.evidence_key = %s))"
        )
        params += [filters["theme"], f"theme:{filters['theme']}"]
    if filters.get("consultation_id"):
        where.append(
            "EXISTS (SELECT 1 FROM outcome_evidence e WHERE e.outcome_id = o.id"
            " AND e.consultation_id = %s)"
        )
        params.append(filters["consultation_id"])
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = conn.execute(
        f"SELECT {_OUTCOME} FROM outcomes o{clause} ORDER BY o.seq", params
    ).fetchall()
    return _with_evidence(conn, rows)


# -- followers --------------------------------------------------------------------------------


def insert_follower(conn: Connection, follower: Json, evidence: Iterable[Json]) -> bool:
    """Store a follower, their address apart, and the evidence they follow; False when
    this follow_id was stored already (nothing changes)."""
    row = conn.execute(
        "INSERT INTO followers (id, channel, consent, created_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        (follower["id"], follower["channel"], Jsonb(follower["consent"]), follower["created_at"]),
    ).fetchone()
    if row is None:
        return False
    conn.execute(
        "INSERT INTO follower_contacts (follower_id, email) VALUES (%s, %s)",
        (follower["id"], follower["email"]),
    )
    for e in evidence:
        conn.execute(
            "INSERT INTO follower_evidence (follower_id, evidence_key, kind, consultation_id)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (follower["id"], e["evidence_key"], e["kind"], e["consultation_id"]),
        )
    return True


def queue_notices(conn: Connection, outcome_id: str, what: str, status: str, now: datetime) -> int:
    """A notice for every follower (still following) the outcome concerns."""
    return conn.execute(
        "INSERT INTO pending_notices (follower_id, outcome_id, what, status, created_at)"
        " SELECT l.follower_id, l.outcome_id, %s, %s, %s FROM follower_outcomes l"
        " JOIN followers f ON f.id = l.follower_id"
        " WHERE l.outcome_id = %s AND f.stopped_at IS NULL AND f.purged_at IS NULL",
        (what, status, now, outcome_id),
    ).rowcount


def due_digests(conn: Connection, today: date, limit: int) -> list[str]:
    """Followers with notices not sent who have had no digest today."""
    rows = conn.execute(
        "SELECT f.id::text AS id FROM followers f"
        " WHERE f.stopped_at IS NULL AND f.purged_at IS NULL"
        " AND (f.last_digest_on IS NULL OR f.last_digest_on < %s)"
        " AND EXISTS (SELECT 1 FROM pending_notices n"
        "  WHERE n.follower_id = f.id AND n.sent_at IS NULL)"
        " ORDER BY f.created_at LIMIT %s",
        (today, limit),
    ).fetchall()
    return [r["id"] for r in rows]


def digest_for(conn: Connection, follower_id: str, today: date) -> Json | None:
    """A follower's address and unsent notices, each with its outcome as it is now; None
    when they have no digest due today (or no address)."""
    follower = conn.execute(
        "SELECT f.id::text AS id, c.email FROM followers f"
        " JOIN follower_contacts c ON c.follower_id = f.id"
        " WHERE f.id = %s AND f.stopped_at IS NULL AND f.purged_at IS NULL"
        " AND (f.last_digest_on IS NULL OR f.last_digest_on < %s)",
        (follower_id, today),
    ).fetchone()
    if follower is None:
        return None
    notices = conn.execute(
        "SELECT n.id, n.outcome_id::text AS outcome_id, n.what, o.status, o.title, o.reason"
        " FROM pending_notices n JOIN outcomes o ON o.id = n.outcome_id"
        " WHERE n.follower_id = %s AND n.sent_at IS NULL AND o.published_at IS NOT NULL"
        " ORDER BY n.id",
        (follower_id,),
    ).fetchall()
    return {**follower, "notices": notices} if notices else None


def add_token(conn: Connection, follower_id: str, token_hash: str) -> None:
    conn.execute(
        "INSERT INTO follower_tokens (token_hash, follower_id) VALUES (%s, %s)",
        (token_hash, follower_id),
    )


def digest_sent(
    conn: Connection,
    follower_id: str,
    notice_ids: Sequence[int],
    key: str,
    today: date,
    now: datetime,
) -> None:
    conn.execute(
        "UPDATE pending_notices SET sent_at = %s, digest_key = %s WHERE id = ANY(%s)",
        (now, key, list(notice_ids)),
    )
    conn.execute("UPDATE followers SET last_digest_on = %s WHERE id = %s", (today, follower_id))


def follower_by_token(conn: Connection, token_hash: str) -> Json | None:
    return conn.execute(
        "SELECT f.id::text AS id, c.email FROM follower_tokens t"
        " JOIN followers f ON f.id = t.follower_id"
        " LEFT JOIN follower_contacts c ON c.follower_id = f.id WHERE t.token_hash = %s",
        (token_hash,),
    ).fetchone()


def followers_with_email(conn: Connection, email: str) -> list[str]:
    rows = conn.execute(
        "SELECT follower_id::text AS id FROM follower_contacts WHERE lower(email) = lower(%s)",
        (email,),
    ).fetchall()
    return [r["id"] for r in rows]


def contact(conn: Connection, follower_id: str) -> str | None:
    row = conn.execute(
        "SELECT email FROM follower_contacts WHERE follower_id = %s", (follower_id,)
    ).fetchone()
    return row["email"] if row else None


def _forget(conn: Connection, follower_ids: Sequence[str]) -> None:
    """Their addresses go: the contact rows, unsent notices, stop tokens, and the address
    on the record of digests sent (the record stays, so none is sent twice)."""
    conn.execute(
        "DELETE FROM follower_contacts WHERE follower_id = ANY(%s::uuid[])", (list(follower_ids),)
    )
    conn.execute(
        "DELETE FROM pending_notices WHERE follower_id = ANY(%s::uuid[]) AND sent_at IS NULL",
        (list(follower_ids),),
    )
    forget_recipients(conn, [f"digest:{i}:" for i in follower_ids])


def stop_followers(conn: Connection, follower_ids: Sequence[str], now: datetime) -> None:
    conn.execute(
        "UPDATE followers SET stopped_at = %s WHERE id = ANY(%s::uuid[]) AND stopped_at IS NULL",
        (now, list(follower_ids)),
    )
    _forget(conn, follower_ids)


def expired_followers(conn: Connection, before: datetime, limit: int) -> list[str]:
    """Followers still holding an address whose linked published outcomes all reached a
    final status before ``before``; with none linked, who followed before it."""
    rows = conn.execute(
        "SELECT f.id::text AS id FROM followers f"
        " CROSS JOIN LATERAL (SELECT count(o.id) AS linked,"
        "  count(o.id) FILTER (WHERE o.final_at IS NULL) AS open,"
        "  max(o.final_at) AS last_final"
        "  FROM follower_outcomes l JOIN outcomes o ON o.id = l.outcome_id"
        "  WHERE l.follower_id = f.id AND o.published_at IS NOT NULL) s"
        " WHERE f.purged_at IS NULL AND f.stopped_at IS NULL AND CASE WHEN s.linked = 0"
        "  THEN f.created_at < %s ELSE s.open = 0 AND s.last_final < %s END"
        " ORDER BY f.created_at LIMIT %s",
        (before, before, limit),
    ).fetchall()
    return [r["id"] for r in rows]


def purge_followers(conn: Connection, follower_ids: Sequence[str], now: datetime) -> None:
    conn.execute(
        "UPDATE followers SET purged_at = %s WHERE id = ANY(%s::uuid[])",
        (now, list(follower_ids)),
    )
    conn.execute(
        "DELETE FROM follower_tokens WHERE follower_id = ANY(%s::uuid[])", (list(follower_ids),)
    )
    _forget(conn, follower_ids)


# -- consultation outcomes moved from surveys -------------------------------------------------


def moved_consultation(conn: Connection, consultation_id: str) -> Json | None:
    return conn.execute(
        "SELECT consultation_id, event_id, occurred_at, decisions FROM moved_consultations"
        " WHERE consultation_id = %s",
        (consultation_id,),
    ).fetchone()


def save_moved(conn: Connection, moved: Json) -> None:
    conn.execute(
        "INSERT INTO moved_consultations (consultation_id, event_id, occurred_at, decisions)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (consultation_id) DO UPDATE SET"
        " event_id = EXCLUDED.event_id, occurred_at = EXCLUDED.occurred_at,"
        " decisions = EXCLUDED.decisions",
        (
            moved["consultation_id"],
            moved["event_id"],
            moved["occurred_at"],
            len(moved["decisions"]),
        ),
    )
