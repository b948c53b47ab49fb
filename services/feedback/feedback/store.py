"""SQL for the feedback database, and nothing else: parameterised psycopg queries.

Every function takes a connection that is already inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from engage_common.notify import forget_recipients
from engage_contracts.reference import EQUALITY_VERSION

Json = dict[str, Any]

# Everything staff may see of an item (never the originals, which only ``_ITEM`` adds).
_LISTED = """
i.id, i.version, i.receipt_code, i.kind, i.about, i.text, i.redactions, i.redactor_version,
i.language_check, i.urgent, i.safeguarding_categories, i.safeguarding_matches, i.alerted_at,
i.place, i.postcode_district, i.consultation_id, i.channel, i.entered_by, i.source_id,
i.content_hash, i.status, i.suggested_themes, i.themes, i.suggested_tone, i.tone,
i.may_quote, i.quote, i.quote_approved, i.reply_by, i.public_reply, i.replied_at,
i.reply_mail_version, i.received_at, i.closed_at, i.needs_attention
"""
_ITEM = _LISTED + ", i.text_original, i.about_original"


# -- intake -----------------------------------------------------------------------------------


def lock_dedupe_key(conn: Connection, field: str, value: str) -> None:
    """Serialise imports that share a source_id (or content hash) until this transaction
    ends, so two copies stored at once cannot both be new."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 727))", (f"feedback:{field}:{value}",)
    )


def find_duplicate(conn: Connection, field: str, value: str) -> str | None:
    """The id of an item already stored with this ``source_id``/``content_hash``."""
    column = {"source_id": "source_id", "content_hash": "content_hash"}[field]
    row = conn.execute(
        f"SELECT id FROM feedback_items WHERE {column} = %s LIMIT 1", (value,)
    ).fetchone()
    return str(row["id"]) if row else None


def insert_item(conn: Connection, item: Json) -> bool:
    """Store a new item (``domain.new_item``) with its contact address and equality
    answers, each in its own table; False if its ``submission_id`` was already stored."""
    row = conn.execute(
        "INSERT INTO feedback_items (id, version, submission_id, receipt_code, kind, about,"
        " about_original, text, text_original, redactions, redactor_version, language_check,"
        " urgent, safeguarding_categories, safeguarding_matches, place, postcode_district,"
        " consultation_id, channel, entered_by, source_id, content_hash, status,"
        " suggested_themes, themes, suggested_tone, tone, may_quote, reply_by, consent,"
        " received_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (submission_id) DO NOTHING RETURNING id",
        (
            item["id"],
            item["version"],
            item["submission_id"],
            item["receipt_code"],
            item["kind"],
            item["about"],
            item["about_original"],
            item["text"],
            item["text_original"],
            Jsonb(item["redactions"]),
            item["redactor_version"],
            item["language_check"],
            item["urgent"],
            item["safeguarding_categories"],
            item["safeguarding_matches"],
            item["place"],
            item["postcode_district"],
            item["consultation_id"],
            item["channel"],
            Jsonb(item["entered_by"]) if item.get("entered_by") else None,
            item["source_id"],
            item["content_hash"],
            item["status"],
            Jsonb(item["suggested_themes"]),
            item["themes"],
            item["suggested_tone"],
            item["tone"],
            item["may_quote"],
            item["reply_by"],
            Jsonb(item["consent"]) if item.get("consent") else None,
            item["received_at"],
            item["updated_at"],
        ),
    ).fetchone()
    if row is None:
        return False
    if item.get("email"):
        conn.execute(
            "INSERT INTO feedback_contacts (feedback_id, email) VALUES (%s, %s)",
            (item["id"], item["email"]),
        )
    if item.get("equality"):
        conn.execute(
            "INSERT INTO feedback_equality (feedback_id, question_set, answers)"
            " VALUES (%s, %s, %s)",
            (item["id"], EQUALITY_VERSION, Jsonb(item["equality"])),
        )
    return True


def insert_unstored(conn: Connection, record: Json, outcome: str) -> None:
    """Record a message that stored nothing (``rejected`` or ``duplicate``), once."""
    conn.execute(
        "INSERT INTO unstored_submissions (submission_id, receipt_code, outcome, kind,"
        " reasons, duplicate_of, submitted_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (
            record["submission_id"],
            record["receipt_code"],
            outcome,
            record.get("kind"),
            Jsonb(record["reasons"]),
            record.get("duplicate_of"),
            record.get("submitted_at"),
        ),
    )


def insert_history(conn: Connection, feedback_id: str, entries: Iterable[Json]) -> None:
    for e in entries:
        conn.execute(
            "INSERT INTO feedback_history (feedback_id, at, staff_id, by_name, action, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (feedback_id, e["at"], e["staff_id"], e["by"], e["action"], Jsonb(e["detail"])),
        )


# -- items ------------------------------------------------------------------------------------


def get_item(conn: Connection, feedback_id: str, lock: bool = False) -> Json | None:
    """One item with its originals; ``lock`` holds it for this transaction."""
    return conn.execute(
        f"SELECT {_ITEM} FROM feedback_items i WHERE i.id = %s" + (" FOR UPDATE" if lock else ""),
        (feedback_id,),
    ).fetchone()


def histories(conn: Connection, feedback_ids: list[str]) -> dict[str, list[Json]]:
    """Each item's history, oldest first."""
    found: dict[str, list[Json]] = {i: [] for i in feedback_ids}
    for row in conn.execute(
        "SELECT feedback_id, at, by_name, action, detail FROM feedback_history"
        " WHERE feedback_id = ANY(%s::uuid[]) ORDER BY feedback_id, id",
        (feedback_ids,),
    ):
        found[str(row["feedback_id"])].append(row)
    return found


def save_item(conn: Connection, item: Json, read_version: int) -> bool:
    """Write a changed item if it is still at ``read_version``; False when someone else
    changed it first (nothing is written: no lost update)."""
    row = conn.execute(
        "UPDATE feedback_items SET version = %s, status = %s, themes = %s, tone = %s,"
        " place = %s, closed_at = %s, public_reply = %s, replied_at = %s,"
        " reply_mail_version = %s, quote = %s, quote_approved = %s, updated_at = %s"
        " WHERE id = %s AND version = %s RETURNING id",
        (
            item["version"],
            item["status"],
            item["themes"],
            item["tone"],
            item["place"],
            item["closed_at"],
            item["public_reply"],
            item["replied_at"],
            item["reply_mail_version"],
            item["quote"],
            Jsonb(item["quote_approved"]) if item.get("quote_approved") else None,
            item["updated_at"],
            item["id"],
            read_version,
        ),
    ).fetchone()
    return row is not None


def forget_contact(conn: Connection, feedback_id: str) -> None:
    """The resident stopped emails: their address is no longer needed, so it goes."""
    conn.execute("DELETE FROM feedback_contacts WHERE feedback_id = %s", (feedback_id,))


def contact_email(conn: Connection, feedback_id: str) -> str | None:
    row = conn.execute(
        "SELECT email FROM feedback_contacts WHERE feedback_id = %s", (feedback_id,)
    ).fetchone()
    return row["email"] if row else None


def find_receipt(conn: Connection, receipt_code: str) -> Json | None:
    """A receipt: the item's progress, or why a message stored nothing."""
    return conn.execute(
        "SELECT receipt_code, status, kind, received_at AS submitted_at, public_reply,"
        " replied_at, '[]'::jsonb AS reasons FROM feedback_items WHERE receipt_code = %s"
        " UNION ALL SELECT receipt_code, outcome, kind, submitted_at, NULL, NULL, reasons"
        " FROM unstored_submissions WHERE receipt_code = %s LIMIT 1",
        (receipt_code, receipt_code),
    ).fetchone()


def by_receipt(conn: Connection, receipt_code: str) -> Json | None:
    """Everything held about the item with this receipt code (contact and equality too)."""
    return conn.execute(
        f"SELECT {_ITEM}, i.consent, c.email, e.answers AS equality, e.question_set"
        " FROM feedback_items i LEFT JOIN feedback_contacts c ON c.feedback_id = i.id"
        " LEFT JOIN feedback_equality e ON e.feedback_id = i.id WHERE i.receipt_code = %s",
        (receipt_code,),
    ).fetchone()


def delete_items(conn: Connection, feedback_ids: list[str]) -> list[str]:
    """Delete items (history, contact and equality go with them, and the address from
    the record of replies emailed); the ids deleted."""
    if not feedback_ids:
        return []
    rows = conn.execute(
        "DELETE FROM feedback_items WHERE id = ANY(%s::uuid[]) RETURNING id", (feedback_ids,)
    ).fetchall()
    forget_recipients(conn, [f"reply:{i}:" for i in feedback_ids])
    return sorted(str(r["id"]) for r in rows)


# -- search and queues ------------------------------------------------------------------------


def _overdue(targets: Mapping[str, int], now: datetime) -> tuple[str, list[Any]]:
    return (
        "((i.status = 'received' AND i.received_at < %s)"
        " OR (i.status = 'triaged' AND i.received_at < %s))",
        [
            now - timedelta(days=targets["feedback_triage_days"]),
            now - timedelta(days=targets["feedback_reply_days"]),
        ],
    )


def search(
    conn: Connection,
    query: Json,
    after: tuple[datetime, str] | None,
    limit: int,
    now: datetime,
    targets: Mapping[str, int],
) -> list[Json]:
    """Items matching ``query`` (``SearchQuerySchema``), newest first, after the keyset
    position ``after`` (received_at, id): at most ``limit``."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.get("q") and query["q"].strip():
        clauses.append("i.search @@ websearch_to_tsquery('english', %s)")
        params.append(query["q"])
    if query.get("theme"):
        clauses.append("i.themes @> ARRAY[%s]::text[]")
        params.append(query["theme"])
    for name in ("kind", "place", "channel", "status", "urgent", "consultation_id"):
        if query.get(name) is not None:
            clauses.append(f"i.{name} = %s")
            params.append(query[name])
    if query.get("overdue") is not None:
        test, values = _overdue(targets, now)
        clauses.append(test if query["overdue"] else f"NOT {test}")
        params += values
    if query.get("received_from"):
        clauses.append("i.received_at >= %s")
        params.append(query["received_from"])
    if query.get("received_to"):
        clauses.append("i.received_at < %s")
        params.append(query["received_to"])
    if after is not None:
        clauses.append("(i.received_at, i.id) < (%s, %s::uuid)")
        params += list(after)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return conn.execute(
        f"SELECT {_LISTED} FROM feedback_items i{where}"
        " ORDER BY i.received_at DESC, i.id DESC LIMIT %s",
        [*params, limit],
    ).fetchall()


def triage_queue(
    conn: Connection, after: tuple[bool, datetime, str] | None, limit: int
) -> list[Json]:
    """Received items: urgent or not checked by the language check first, then the
    longest waiting; after the keyset position ``after`` (needs_attention, received_at, id)."""
    clause, params = "", []
    if after is not None:
        attention, at, feedback_id = after
        clause = (
            " AND (i.needs_attention < %s OR (i.needs_attention = %s"
            " AND (i.received_at, i.id) > (%s, %s::uuid)))"
        )
        params = [attention, attention, at, feedback_id]
    return conn.execute(
        f"SELECT {_LISTED} FROM feedback_items i WHERE i.status = 'received'{clause}"
        " ORDER BY i.needs_attention DESC, i.received_at, i.id LIMIT %s",
        [*params, limit],
    ).fetchall()


def safeguarding_queue(conn: Connection, limit: int) -> list[Json]:
    """Urgent items not closed, oldest first."""
    return conn.execute(
        f"SELECT {_LISTED} FROM feedback_items i WHERE i.urgent AND i.status <> 'closed'"
        " ORDER BY i.received_at, i.id LIMIT %s",
        (limit,),
    ).fetchall()


# -- mail still to send -----------------------------------------------------------------------
# Sending holds an advisory lock on the message, not the item's row, so staff can change
# an item while its mail is being sent (or while the mail server is slow to refuse it).


def try_lock(conn: Connection, key: str) -> bool:
    """Take the advisory lock ``key`` until this transaction ends; False when another
    transaction holds it (that one is sending)."""
    row = conn.execute(
        "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 727)) AS got", (key,)
    ).fetchone()
    return bool(row["got"])


def _one(feedback_id: str | None) -> tuple[str, list[Any]]:
    return (" AND i.id = %s", [feedback_id]) if feedback_id else ("", [])


def unalerted(conn: Connection, limit: int, feedback_id: str | None = None) -> list[str]:
    """Ids of urgent items (or the one) whose safeguarding alert has not gone yet."""
    only, params = _one(feedback_id)
    rows = conn.execute(
        f"SELECT i.id FROM feedback_items i WHERE i.urgent AND i.alerted_at IS NULL{only}"
        " ORDER BY i.received_at LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [str(r["id"]) for r in rows]


def unalerted_item(conn: Connection, feedback_id: str) -> Json | None:
    return conn.execute(
        f"SELECT {_LISTED} FROM feedback_items i"
        " WHERE i.id = %s AND i.urgent AND i.alerted_at IS NULL",
        (feedback_id,),
    ).fetchone()


def mark_alerted(conn: Connection, feedback_id: str, now: datetime) -> None:
    conn.execute("UPDATE feedback_items SET alerted_at = %s WHERE id = %s", (now, feedback_id))


def unmailed_replies(conn: Connection, limit: int, feedback_id: str | None = None) -> list[str]:
    """Ids of items (or the one) with a reply still to email."""
    only, params = _one(feedback_id)
    rows = conn.execute(
        f"SELECT i.id FROM feedback_items i WHERE i.reply_mail_version IS NOT NULL{only}"
        " ORDER BY i.received_at LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [str(r["id"]) for r in rows]


def unmailed_reply(conn: Connection, feedback_id: str) -> Json | None:
    """The item with its reply still to email, and the resident's address (if held)."""
    return conn.execute(
        f"SELECT {_LISTED}, c.email FROM feedback_items i"
        " LEFT JOIN feedback_contacts c ON c.feedback_id = i.id"
        " WHERE i.id = %s AND i.reply_mail_version IS NOT NULL",
        (feedback_id,),
    ).fetchone()


def reply_mailed(conn: Connection, feedback_id: str, mail_version: int) -> None:
    """The reply ``mail_version`` went (or will never go); a newer one still waits."""
    conn.execute(
        "UPDATE feedback_items SET reply_mail_version = NULL"
        " WHERE id = %s AND reply_mail_version = %s",
        (feedback_id, mail_version),
    )


# -- themes -----------------------------------------------------------------------------------


def list_themes(conn: Connection, include_retired: bool = False) -> list[Json]:
    where = "" if include_retired else " WHERE active"
    return conn.execute(
        "SELECT slug, label, description, keywords, priority, source, active FROM themes"
        + where
        + " ORDER BY CASE source WHEN 'priority' THEN 0 WHEN 'ambition' THEN 1"
        " WHEN 'common' THEN 2 ELSE 3 END, label, slug"
    ).fetchall()


def get_theme(conn: Connection, slug: str, lock: bool = False) -> Json | None:
    return conn.execute(
        "SELECT slug, label, description, keywords, priority, source, active FROM themes"
        " WHERE slug = %s" + (" FOR UPDATE" if lock else ""),
        (slug,),
    ).fetchone()


def insert_theme(conn: Connection, theme: Json) -> bool:
    """Add a theme unless its slug is taken; True when added."""
    row = conn.execute(
        "INSERT INTO themes (slug, label, description, keywords, priority, source, active)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (slug) DO NOTHING RETURNING slug",
        (
            theme["slug"],
            theme["label"],
            theme["description"],
            theme["keywords"],
            theme["priority"],
            theme["source"],
            theme["active"],
        ),
    ).fetchone()
    return row is not None


def save_theme(conn: Connection, theme: Json) -> None:
    conn.execute(
        "UPDATE themes SET label = %s, description = %s, keywords = %s, active = %s,"
        " updated_at = now() WHERE slug = %s",
        (theme["label"], theme["description"], theme["keywords"], theme["active"], theme["slug"]),
    )


# -- privacy (UK GDPR) ------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_personal_data(
    conn: Connection, receipt_code: str | None, text: str | None, limit: int
) -> list[Json]:
    """Items whose receipt code is ``receipt_code``, or whose original words, contact
    email or postcode district contain ``text`` (case-insensitive)."""
    clauses, params = [], []
    if receipt_code:
        clauses.append("i.receipt_code = %s")
        params.append(receipt_code)
    if text:
        clauses.append(
            "(i.text_original ILIKE %s OR i.about_original ILIKE %s OR c.email ILIKE %s"
            " OR i.postcode_district ILIKE %s)"
        )
        params += [_like(text)] * 4
    return conn.execute(
        "SELECT i.id, i.receipt_code, i.received_at, i.text_original, i.about_original,"
        " i.postcode_district, c.email FROM feedback_items i"
        " LEFT JOIN feedback_contacts c ON c.feedback_id = i.id"
        f" WHERE {' OR '.join(clauses)} ORDER BY i.received_at, i.id LIMIT %s",
        [*params, limit],
    ).fetchall()


def expired_items(conn: Connection, closed_before: datetime, limit: int) -> list[str]:
    """Ids of closed items past retention whose personal details are still held, locked."""
    rows = conn.execute(
        "SELECT id FROM feedback_items WHERE status = 'closed' AND closed_at < %s"
        " AND purged_at IS NULL ORDER BY closed_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (closed_before, limit),
    ).fetchall()
    return [str(r["id"]) for r in rows]


def purge_items(conn: Connection, feedback_ids: list[str], now: datetime) -> None:
    """Drop the originals, the postcode district, the contact address and the equality
    answers; keep the redacted words, themes, place and channel, so counts stay."""
    conn.execute(
        "UPDATE feedback_items SET text_original = NULL, about_original = NULL,"
        " postcode_district = NULL, reply_mail_version = NULL, purged_at = %s"
        " WHERE id = ANY(%s::uuid[])",
        (now, feedback_ids),
    )
    conn.execute(
        "DELETE FROM feedback_contacts WHERE feedback_id = ANY(%s::uuid[])", (feedback_ids,)
    )
    conn.execute(
        "DELETE FROM feedback_equality WHERE feedback_id = ANY(%s::uuid[])", (feedback_ids,)
    )
    forget_recipients(conn, [f"reply:{i}:" for i in feedback_ids])
