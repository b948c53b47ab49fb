"""SQL for the events database, and nothing else: parameterised psycopg queries.

Every function takes a connection that is already inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from engage_common.notify import forget_recipients
from engage_contracts.events import LONDON
from engage_contracts.reference import EQUALITY_VERSION

Json = dict[str, Any]

_EVENT = """
e.id, e.version, e.kind, e.title, e.description, e.place, e.venue, e.online_link,
e.starts_at, e.ends_at, e.capacity, e.registration_opens_at, e.registration_closes_at,
e.consultation_ids, e.priorities, e.themes, e.partners, e.status, e.cancelled_reason,
e.attendance_recorded_at, e.published_at, e.cancelled_at
"""
# Places confirmed (walk-ins aside: they came on the day) and waiting, per event.
_COUNTS = """
coalesce((SELECT sum(r.places) FROM registrations r WHERE r.event_id = e.id
          AND r.status = 'confirmed' AND NOT r.walk_in), 0)::int AS confirmed_places,
coalesce((SELECT sum(r.places) FROM registrations r WHERE r.event_id = e.id
          AND r.status = 'waiting'), 0)::int AS waiting_places
"""
_REGISTRATION = """
r.id, r.event_id, r.receipt_code, r.manage_salt, r.status, r.places, r.queue_order, r.moves,
r.name, r.email, r.phone, r.consent, r.walk_in, r.attended, r.registered_at, r.cancelled_at,
r.reminded_at, r.purged_at, r.erased_at
"""


# -- events -----------------------------------------------------------------------------------


def insert_event(conn: Connection, event: Json) -> None:
    conn.execute(
        "INSERT INTO engagement_events (id, version, kind, title, description, place, venue,"
        " online_link, starts_at, ends_at, capacity, registration_opens_at,"
        " registration_closes_at, consultation_ids, priorities, themes, partners, status,"
        " created_by, updated_by, created_at, updated_at)"
        " VALUES (%(id)s, %(version)s, %(kind)s, %(title)s, %(description)s, %(place)s,"
        " %(venue)s, %(online_link)s, %(starts_at)s, %(ends_at)s, %(capacity)s,"
        " %(registration_opens_at)s, %(registration_closes_at)s, %(consultation_ids)s::uuid[],"
        " %(priorities)s, %(themes)s, %(partners)s, %(status)s, %(created_by)s,"
        " %(updated_by)s, %(created_at)s, %(updated_at)s)",
        _event_params(event),
    )


def _event_params(event: Json) -> Json:
    return {
        **event,
        "title": Jsonb(event["title"]),
        "description": Jsonb(event["description"]),
        "venue": Jsonb(event["venue"]) if event.get("venue") is not None else None,
        "consultation_ids": [str(c) for c in event["consultation_ids"]],
        "created_by": Jsonb(event.get("created_by")),
        "updated_by": Jsonb(event.get("updated_by")),
    }


def save_event(conn: Connection, event: Json) -> None:
    conn.execute(
        "UPDATE engagement_events SET version = %(version)s, kind = %(kind)s,"
        " title = %(title)s, description = %(description)s, place = %(place)s,"
        " venue = %(venue)s, online_link = %(online_link)s, starts_at = %(starts_at)s,"
        " ends_at = %(ends_at)s, capacity = %(capacity)s,"
        " registration_opens_at = %(registration_opens_at)s,"
        " registration_closes_at = %(registration_closes_at)s,"
        " consultation_ids = %(consultation_ids)s::uuid[], priorities = %(priorities)s,"
        " themes = %(themes)s, partners = %(partners)s, status = %(status)s,"
        " cancelled_reason = %(cancelled_reason)s, published_at = %(published_at)s,"
        " cancelled_at = %(cancelled_at)s, updated_by = %(updated_by)s,"
        " updated_at = %(updated_at)s WHERE id = %(id)s",
        _event_params(event),
    )


def lock_event(conn: Connection, event_id: str) -> Json | None:
    """The event, its row locked until this transaction ends: registrations, cancellations
    and capacity changes for one event take turns. Counts are read after the lock, in
    another statement (``event_counts``), so they include what the previous holder wrote."""
    return conn.execute(
        f"SELECT {_EVENT} FROM engagement_events e WHERE e.id = %s FOR UPDATE", (event_id,)
    ).fetchone()


def event_counts(conn: Connection, event_id: str) -> Json:
    """``confirmed_places`` and ``waiting_places`` of one event."""
    return conn.execute(
        f"SELECT {_COUNTS} FROM engagement_events e WHERE e.id = %s", (event_id,)
    ).fetchone()


def get_event(conn: Connection, event_id: str) -> Json | None:
    """The event with its counts (no lock)."""
    return conn.execute(
        f"SELECT {_EVENT}, {_COUNTS} FROM engagement_events e WHERE e.id = %s", (event_id,)
    ).fetchone()


def list_events(
    conn: Connection, filters: Json, statuses: Sequence[str], now: datetime, limit: int
) -> list[Json]:
    """Events with one of ``statuses`` matching ``EventFiltersSchema`` filters (dates are
    UK days), not yet ended unless ``include_past``; soonest first."""
    clauses, params = ["e.status = ANY(%s)"], [list(statuses)]
    for name in ("place", "kind"):
        if filters.get(name) is not None:
            clauses.append(f"e.{name} = %s")
            params.append(filters[name])
    if filters.get("consultation_id") is not None:
        clauses.append("%s::uuid = ANY(e.consultation_ids)")
        params.append(str(filters["consultation_id"]))
    if filters.get("from_date") is not None:
        clauses.append("e.starts_at >= %s")
        params.append(_uk_midnight(filters["from_date"]))
    if filters.get("to_date") is not None:
        clauses.append("e.starts_at < %s")
        params.append(_uk_midnight(filters["to_date"] + timedelta(days=1)))
    if not filters.get("include_past"):
        clauses.append("e.ends_at > %s")
        params.append(now)
    return conn.execute(
        f"SELECT {_EVENT}, {_COUNTS} FROM engagement_events e WHERE {' AND '.join(clauses)}"
        " ORDER BY e.starts_at, e.id LIMIT %s",
        [*params, limit],
    ).fetchall()


def _uk_midnight(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)


def mark_attendance_recorded(conn: Connection, event_id: str, now: datetime) -> None:
    conn.execute(
        "UPDATE engagement_events SET attendance_recorded_at = coalesce(attendance_recorded_at,"
        " %s) WHERE id = %s",
        (now, event_id),
    )


# -- registrations ----------------------------------------------------------------------------


def find_by_key(conn: Connection, event_id: str, key_hash: str) -> Json | None:
    return conn.execute(
        f"SELECT {_REGISTRATION} FROM registrations r"
        " WHERE r.event_id = %s AND r.idempotency_key_hash = %s",
        (event_id, key_hash),
    ).fetchone()


def by_manage_code(conn: Connection, code_hash: str, lock: bool = False) -> Json | None:
    return conn.execute(
        f"SELECT {_REGISTRATION} FROM registrations r WHERE r.manage_code_hash = %s"
        + (" FOR UPDATE" if lock else ""),
        (code_hash,),
    ).fetchone()


def get_registration(conn: Connection, registration_id: str, lock: bool = False) -> Json | None:
    return conn.execute(
        f"SELECT {_REGISTRATION} FROM registrations r WHERE r.id = %s"
        + (" FOR UPDATE" if lock else ""),
        (registration_id,),
    ).fetchone()


def by_receipt(conn: Connection, receipt_code: str) -> Json | None:
    return conn.execute(
        f"SELECT {_REGISTRATION} FROM registrations r WHERE r.receipt_code = %s",
        (receipt_code,),
    ).fetchone()


def insert_registration(conn: Connection, registration: Json) -> None:
    """A registration (a walk-in too) with its equality answers, kept apart. Its place on
    the waiting list is taken from a sequence under the event's lock: the order of arrival."""
    conn.execute(
        "INSERT INTO registrations (id, event_id, idempotency_key_hash, receipt_code,"
        " manage_code_hash, manage_salt, status, places, queue_order, name, email, phone,"
        " consent, walk_in, attended, reminded_at, registered_at)"
        " VALUES (%(id)s, %(event_id)s, %(idempotency_key_hash)s, %(receipt_code)s,"
        " %(manage_code_hash)s, %(manage_salt)s, %(status)s, %(places)s,"
        " nextval('registration_queue'), %(name)s, %(email)s, %(phone)s, %(consent)s,"
        " %(walk_in)s, %(attended)s, %(reminded_at)s, clock_timestamp())",
        {
            "reminded_at": None,
            **registration,
            "consent": Jsonb(registration.get("consent")),
        },
    )
    if registration.get("equality"):
        conn.execute(
            "INSERT INTO registration_equality (registration_id, question_set, answers)"
            " VALUES (%s, %s, %s)",
            (registration["id"], EQUALITY_VERSION, Jsonb(registration["equality"])),
        )


def active(conn: Connection, event_id: str, status: str) -> list[Json]:
    """An event's registrations with ``status`` (walk-ins aside), in the waiting list's
    order (for ``waiting``: its positions, first to last)."""
    return conn.execute(
        f"SELECT {_REGISTRATION} FROM registrations r"
        " WHERE r.event_id = %s AND r.status = %s AND NOT r.walk_in"
        " ORDER BY r.queue_order, r.id",
        (event_id, status),
    ).fetchall()


def position(conn: Connection, registration: Json) -> int | None:
    """A waiting registration's place on its event's waiting list (1 first)."""
    if registration["status"] != "waiting":
        return None
    row = conn.execute(
        "SELECT count(*)::int AS n FROM registrations WHERE event_id = %s"
        " AND status = 'waiting' AND queue_order <= %s",
        (registration["event_id"], registration["queue_order"]),
    ).fetchone()
    return int(row["n"])


def set_status(conn: Connection, registration_ids: Sequence[str], status: str) -> None:
    """Promoted, or moved to the waiting list: each move counted (it keys the email)."""
    if registration_ids:
        conn.execute(
            "UPDATE registrations SET status = %s, moves = moves + 1 WHERE id = ANY(%s::uuid[])",
            (status, list(registration_ids)),
        )


def to_head_of_waiting_list(
    conn: Connection, event_id: str, registration_ids: Sequence[str]
) -> None:
    """Put registrations at the head of the event's waiting list, in the order given."""
    row = conn.execute(
        "SELECT coalesce(min(queue_order), 0) AS first FROM registrations"
        " WHERE event_id = %s AND status = 'waiting'",
        (event_id,),
    ).fetchone()
    start = int(row["first"]) - len(registration_ids)
    for i, rid in enumerate(registration_ids):
        conn.execute(
            "UPDATE registrations SET status = 'waiting', queue_order = %s, moves = moves + 1"
            " WHERE id = %s",
            (start + i, rid),
        )


def cancel_registration(conn: Connection, registration_id: str, now: datetime) -> None:
    conn.execute(
        "UPDATE registrations SET status = 'cancelled', cancelled_at = %s, moves = moves + 1"
        " WHERE id = %s",
        (now, registration_id),
    )


def set_places(conn: Connection, registration_id: str, places: int) -> None:
    conn.execute("UPDATE registrations SET places = %s WHERE id = %s", (places, registration_id))


def event_registrations(conn: Connection, event_id: str) -> list[Json]:
    """Everyone registered for an event (walk-ins and cancelled too), for staff:
    confirmed, then the waiting list in order, then cancelled."""
    return conn.execute(
        f"SELECT {_REGISTRATION} FROM registrations r WHERE r.event_id = %s"
        " ORDER BY CASE r.status WHEN 'confirmed' THEN 0 WHEN 'waiting' THEN 1 ELSE 2 END,"
        " r.walk_in, r.queue_order, r.id",
        (event_id,),
    ).fetchall()


def with_email(conn: Connection, event_id: str, statuses: Sequence[str]) -> list[Json]:
    """Registrations with an email address to tell of something (``statuses`` only)."""
    return conn.execute(
        f"SELECT {_REGISTRATION} FROM registrations r WHERE r.event_id = %s"
        " AND r.status = ANY(%s) AND r.email IS NOT NULL ORDER BY r.queue_order",
        (event_id, list(statuses)),
    ).fetchall()


def forget_contact(conn: Connection, registration_id: str) -> None:
    """The resident stopped emails: their address and phone number go."""
    conn.execute(
        "UPDATE registrations SET email = NULL, phone = NULL WHERE id = %s", (registration_id,)
    )
    conn.execute("DELETE FROM pending_mail WHERE registration_id = %s", (registration_id,))


# -- access needs (adjustments) ---------------------------------------------------------------

_ADJUSTMENT = (
    "a.id, a.registration_id, a.event_id, a.need, a.detail, a.state, a.reason, a.met, a.late,"
    " a.requested_at"
)


def insert_adjustments(conn: Connection, adjustments: Iterable[Json]) -> None:
    for a in adjustments:
        conn.execute(
            "INSERT INTO adjustments (id, registration_id, event_id, need, detail, late,"
            " requested_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                a["id"],
                a["registration_id"],
                a["event_id"],
                a["need"],
                a["detail"],
                a["late"],
                a["requested_at"],
                a["requested_at"],
            ),
        )


def delete_adjustments(conn: Connection, adjustment_ids: Sequence[str]) -> None:
    if adjustment_ids:
        conn.execute("DELETE FROM adjustments WHERE id = ANY(%s::uuid[])", (list(adjustment_ids),))


def needs_of(conn: Connection, registration_ids: Sequence[str]) -> dict[str, list[Json]]:
    """Each registration's access needs, in the order asked."""
    found: dict[str, list[Json]] = {str(i): [] for i in registration_ids}
    for row in conn.execute(
        f"SELECT {_ADJUSTMENT} FROM adjustments a WHERE a.registration_id = ANY(%s::uuid[])"
        " ORDER BY a.requested_at, a.seq",
        ([str(i) for i in registration_ids],),
    ):
        found[str(row["registration_id"])].append(row)
    return found


def event_adjustments(conn: Connection, event_id: str) -> list[Json]:
    """The access needs staff must arrange for an event: of registrations not cancelled."""
    return conn.execute(
        f"SELECT {_ADJUSTMENT} FROM adjustments a JOIN registrations r ON r.id = a.registration_id"
        " WHERE a.event_id = %s AND r.status <> 'cancelled'"
        " ORDER BY a.late DESC, a.requested_at, a.seq",
        (event_id,),
    ).fetchall()


def get_adjustment(conn: Connection, adjustment_id: str) -> Json | None:
    return conn.execute(
        f"SELECT {_ADJUSTMENT} FROM adjustments a WHERE a.id = %s FOR UPDATE", (adjustment_id,)
    ).fetchone()


def save_adjustment(conn: Connection, adjustment: Json, actor: Json, now: datetime) -> None:
    conn.execute(
        "UPDATE adjustments SET state = %s, reason = %s, met = %s, updated_at = %s,"
        " updated_by = %s WHERE id = %s",
        (
            adjustment["state"],
            adjustment["reason"],
            adjustment["met"],
            now,
            Jsonb(actor),
            adjustment["id"],
        ),
    )


# -- attendance -------------------------------------------------------------------------------


def equality_of(conn: Connection, registration_ids: Sequence[str]) -> dict[str, Json]:
    """Registrations' equality answers, by registration id (those who gave some)."""
    if not registration_ids:
        return {}
    rows = conn.execute(
        "SELECT registration_id, answers FROM registration_equality"
        " WHERE registration_id = ANY(%s::uuid[])",
        ([str(i) for i in registration_ids],),
    ).fetchall()
    return {str(r["registration_id"]): r["answers"] for r in rows}


def mark_attended(conn: Connection, registration_ids: Sequence[str], attended: bool) -> None:
    if registration_ids:
        conn.execute(
            "UPDATE registrations SET attended = %s WHERE id = ANY(%s::uuid[])",
            (attended, [str(i) for i in registration_ids]),
        )


# -- reach ------------------------------------------------------------------------------------

_REACH_EVENTS = """
SELECT e.id, e.place FROM engagement_events e
WHERE (%(event_id)s::uuid IS NULL AND e.status = 'published') OR e.id = %(event_id)s::uuid
"""


def reach_events(conn: Connection, event_id: str | None) -> list[Json]:
    """The events reach counts: the one asked for, or every published one (not drafts,
    and not cancelled events: nobody came to them)."""
    return conn.execute(_REACH_EVENTS, {"event_id": event_id}).fetchall()


def reach_totals(conn: Connection, event_ids: Sequence[str]) -> Json:
    """Registrations and places of the events, and who came (people: places)."""
    return conn.execute(
        "SELECT"
        " count(*) FILTER (WHERE r.status = 'confirmed' AND NOT r.walk_in)::int AS registrations,"
        " coalesce(sum(r.places) FILTER (WHERE r.status = 'confirmed' AND NOT r.walk_in), 0)::int"
        "  AS places_registered,"
        " coalesce(sum(r.places) FILTER (WHERE r.status = 'confirmed' AND NOT r.walk_in"
        "  AND r.attended), 0)::int AS attended,"
        " coalesce(sum(r.places) FILTER (WHERE r.walk_in), 0)::int AS walk_ins,"
        " coalesce(sum(r.places) FILTER (WHERE r.status = 'confirmed' AND NOT r.walk_in"
        "  AND e.attendance_recorded_at IS NOT NULL AND r.attended IS NOT TRUE), 0)::int"
        "  AS no_shows,"
        " coalesce(sum(r.places) FILTER (WHERE r.status = 'waiting'), 0)::int AS waiting"
        " FROM registrations r JOIN engagement_events e ON e.id = r.event_id"
        " WHERE r.event_id = ANY(%s::uuid[])",
        (list(event_ids),),
    ).fetchone()


def reach_needs(conn: Connection, event_ids: Sequence[str]) -> list[Json]:
    """Access needs of confirmed places: how many asked, were arranged, were met."""
    return conn.execute(
        "SELECT a.need, count(*)::int AS requested,"
        " count(*) FILTER (WHERE a.state = 'arranged')::int AS arranged,"
        " count(*) FILTER (WHERE a.met)::int AS met"
        " FROM adjustments a JOIN registrations r ON r.id = a.registration_id"
        " WHERE a.event_id = ANY(%s::uuid[]) AND r.status = 'confirmed' GROUP BY a.need",
        (list(event_ids),),
    ).fetchall()


def attendee_equality(conn: Connection, event_ids: Sequence[str]) -> list[Json]:
    """The equality answers of people who came (registered or walked in)."""
    rows = conn.execute(
        "SELECT q.answers FROM registration_equality q JOIN registrations r"
        " ON r.id = q.registration_id WHERE r.event_id = ANY(%s::uuid[]) AND r.attended"
        " AND r.status = 'confirmed'",
        (list(event_ids),),
    ).fetchall()
    return [r["answers"] for r in rows]


def attended_by_place(conn: Connection, event_ids: Sequence[str]) -> dict[str | None, int]:
    """People who came (places), by the place of the event."""
    rows = conn.execute(
        "SELECT e.place, coalesce(sum(r.places), 0)::int AS n FROM registrations r"
        " JOIN engagement_events e ON e.id = r.event_id WHERE r.event_id = ANY(%s::uuid[])"
        " AND r.status = 'confirmed' AND r.attended GROUP BY e.place ORDER BY e.place NULLS LAST",
        (list(event_ids),),
    ).fetchall()
    return {r["place"]: int(r["n"]) for r in rows}


# -- points -----------------------------------------------------------------------------------

_POINT = (
    "p.id, p.event_id, p.text, p.quote, p.redactions, p.redactor_version, p.themes, p.tone,"
    " p.place, p.may_quote, p.quote_approved, p.recorded_by, p.recorded_at"
)


def insert_point(conn: Connection, point: Json) -> None:
    conn.execute(
        "INSERT INTO points (id, event_id, text, text_original, quote, quote_original,"
        " redactions, redactor_version, themes, tone, place, may_quote, recorded_by,"
        " recorded_at) VALUES (%(id)s, %(event_id)s, %(text)s, %(text_original)s, %(quote)s,"
        " %(quote_original)s, %(redactions)s, %(redactor_version)s, %(themes)s, %(tone)s,"
        " %(place)s, %(may_quote)s, %(recorded_by)s, %(recorded_at)s)",
        {
            **point,
            "redactions": Jsonb(point["redactions"]),
            "recorded_by": Jsonb(point["recorded_by"]),
        },
    )


def get_point(conn: Connection, point_id: str) -> Json | None:
    return conn.execute(
        f"SELECT {_POINT} FROM points p WHERE p.id = %s FOR UPDATE", (point_id,)
    ).fetchone()


def approve_quote(conn: Connection, point: Json) -> None:
    conn.execute(
        "UPDATE points SET quote_approved = %s WHERE id = %s",
        (Jsonb(point["quote_approved"]), point["id"]),
    )


def delete_point(conn: Connection, point_id: str) -> None:
    conn.execute("DELETE FROM points WHERE id = %s", (point_id,))


def event_points(conn: Connection, event_id: str) -> list[Json]:
    return conn.execute(
        f"SELECT {_POINT} FROM points p WHERE p.event_id = %s ORDER BY p.recorded_at, p.id",
        (event_id,),
    ).fetchall()


# -- themes -----------------------------------------------------------------------------------


def seed_themes(conn: Connection, themes: Iterable[Json]) -> list[str]:
    """Add the seeded themes events does not have yet; slugs of those added."""
    added = []
    for theme in themes:
        row = conn.execute(
            "INSERT INTO themes (slug, label, priority, active) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (slug) DO NOTHING RETURNING slug",
            (theme["slug"], theme["label"], theme["priority"], theme["active"]),
        ).fetchone()
        if row is not None:
            added.append(row["slug"])
    return added


def apply_theme(conn: Connection, theme: Json) -> None:
    """A theme as a feedback event says it is (``domain.theme_from_event``), unless a newer
    event was applied already."""
    conn.execute(
        "INSERT INTO themes (slug, label, priority, active, event_at)"
        " VALUES (%(slug)s, %(label)s, %(priority)s, %(active)s, %(event_at)s)"
        " ON CONFLICT (slug) DO UPDATE SET label = EXCLUDED.label,"
        " priority = EXCLUDED.priority, active = EXCLUDED.active, event_at = EXCLUDED.event_at"
        " WHERE themes.event_at IS NULL OR EXCLUDED.event_at IS NULL"
        " OR themes.event_at <= EXCLUDED.event_at",
        theme,
    )


def themes_in_use(conn: Connection) -> list[str]:
    return [r["slug"] for r in conn.execute("SELECT slug FROM themes WHERE active ORDER BY slug")]


# -- mail to registrants ----------------------------------------------------------------------
# Sending holds an advisory lock on the message, not a row, so staff and residents can
# change things while mail is being sent (or while the mail server is slow to refuse it).


def queue_mail(conn: Connection, key: str, registration_id: str, subject: str, body: str) -> bool:
    """An email to send once (keyed); False when that key is queued already."""
    row = conn.execute(
        "INSERT INTO pending_mail (message_key, registration_id, subject, body)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (message_key) DO NOTHING RETURNING message_key",
        (key, registration_id, subject, body),
    ).fetchone()
    return row is not None


def pending_keys(conn: Connection, limit: int) -> list[str]:
    rows = conn.execute(
        "SELECT message_key FROM pending_mail ORDER BY queued_at, message_key LIMIT %s", (limit,)
    ).fetchall()
    return [r["message_key"] for r in rows]


def try_lock(conn: Connection, key: str) -> bool:
    """Take the advisory lock ``key`` until this transaction ends; False when another
    transaction holds it (that one is sending)."""
    row = conn.execute(
        "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 727)) AS got", (key,)
    ).fetchone()
    return bool(row["got"])


def pending_mail(conn: Connection, key: str) -> Json | None:
    """A queued email with its registrant's address and receipt code (address None: gone)."""
    return conn.execute(
        "SELECT m.message_key, m.registration_id, m.subject, m.body, m.attempts, r.email,"
        " r.receipt_code FROM pending_mail m JOIN registrations r ON r.id = m.registration_id"
        " WHERE m.message_key = %s",
        (key,),
    ).fetchone()


def mail_done(conn: Connection, key: str) -> None:
    conn.execute("DELETE FROM pending_mail WHERE message_key = %s", (key,))


def mail_failed(conn: Connection, key: str) -> None:
    conn.execute("UPDATE pending_mail SET attempts = attempts + 1 WHERE message_key = %s", (key,))


def due_reminders(conn: Connection, now: datetime, hours: int, limit: int) -> list[Json]:
    """Confirmed registrations with an address, not reminded yet, of published events that
    start within ``hours``, locked (another process skips them)."""
    return conn.execute(
        "SELECT r.id, r.event_id FROM registrations r"
        " JOIN engagement_events e ON e.id = r.event_id"
        " WHERE r.status = 'confirmed' AND r.email IS NOT NULL AND r.reminded_at IS NULL"
        " AND e.status = 'published' AND e.starts_at > %(now)s"
        " AND e.starts_at - make_interval(hours => %(hours)s) <= %(now)s"
        " ORDER BY e.starts_at, r.queue_order LIMIT %(limit)s FOR UPDATE OF r SKIP LOCKED",
        {"now": now, "hours": hours, "limit": limit},
    ).fetchall()


def mark_reminded(conn: Connection, registration_id: str, now: datetime) -> None:
    conn.execute("UPDATE registrations SET reminded_at = %s WHERE id = %s", (now, registration_id))


# -- privacy (UK GDPR) ------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_personal_data(
    conn: Connection, receipt_code: str | None, text: str | None, limit: int
) -> list[Json]:
    """Registrations whose receipt code is ``receipt_code``, or whose name, email, phone or
    an access need's detail contains ``text`` (case-insensitive)."""
    clauses, params = [], []
    if receipt_code:
        clauses.append("r.receipt_code = %s")
        params.append(receipt_code)
    if text:
        clauses.append(
            "(r.name ILIKE %s OR r.email ILIKE %s OR r.phone ILIKE %s OR EXISTS (SELECT 1"
            " FROM adjustments a WHERE a.registration_id = r.id AND a.detail ILIKE %s))"
        )
        params += [_like(text)] * 4
    return conn.execute(
        "SELECT r.id, r.event_id, r.receipt_code, r.registered_at, r.name, r.email, r.phone,"
        " ARRAY(SELECT a.detail FROM adjustments a WHERE a.registration_id = r.id"
        "  AND a.detail <> '' ORDER BY a.requested_at) AS details"
        f" FROM registrations r WHERE {' OR '.join(clauses)}"
        " ORDER BY r.registered_at, r.id LIMIT %s",
        [*params, limit],
    ).fetchall()


def anonymise(
    conn: Connection, registration_ids: Sequence[str], now: datetime, column: str
) -> list[str]:
    """Drop what identifies a person (name, contact, equality answers, the manage code,
    access needs' details, emails waiting, the address in the record of emails sent); keep
    the anonymous row (status, places, needs, attendance) so counts stay. ``column``:
    ``purged_at`` (retention) or ``erased_at`` (a request). The ids changed."""
    stamp = {"purged_at": "purged_at", "erased_at": "erased_at"}[column]
    ids = [str(i) for i in registration_ids]
    if not ids:
        return []
    rows = conn.execute(
        "UPDATE registrations SET name = NULL, email = NULL, phone = NULL,"
        f" manage_code_hash = NULL, manage_salt = NULL, {stamp} = coalesce({stamp}, %s)"
        " WHERE id = ANY(%s::uuid[]) RETURNING id",
        (now, ids),
    ).fetchall()
    conn.execute(
        "DELETE FROM registration_equality WHERE registration_id = ANY(%s::uuid[])", (ids,)
    )
    conn.execute(
        "UPDATE adjustments SET detail = '' WHERE registration_id = ANY(%s::uuid[])", (ids,)
    )
    conn.execute("DELETE FROM pending_mail WHERE registration_id = ANY(%s::uuid[])", (ids,))
    return sorted(str(r["id"]) for r in rows)


def forget_mail(conn: Connection, key_prefixes: list[str]) -> None:
    forget_recipients(conn, key_prefixes)


def expired_registrations(conn: Connection, ended_before: datetime, limit: int) -> list[str]:
    """Registrations of events that ended before ``ended_before`` still holding personal
    details (anything a person could be known by), locked."""
    rows = conn.execute(
        "SELECT r.id FROM registrations r JOIN engagement_events e ON e.id = r.event_id"
        " WHERE e.ends_at < %s AND r.purged_at IS NULL ORDER BY e.ends_at, r.id LIMIT %s"
        " FOR UPDATE OF r SKIP LOCKED",
        (ended_before, limit),
    ).fetchall()
    return [str(r["id"]) for r in rows]


def purge_points(conn: Connection, ended_before: datetime, now: datetime) -> int:
    """The originals of points heard at events that ended before ``ended_before`` (the
    redacted words stay)."""
    return conn.execute(
        "UPDATE points p SET text_original = NULL, quote_original = NULL, purged_at = %s"
        " FROM engagement_events e WHERE e.id = p.event_id AND e.ends_at < %s"
        " AND p.purged_at IS NULL",
        (now, ended_before),
    ).rowcount
