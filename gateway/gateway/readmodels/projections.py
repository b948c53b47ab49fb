"""The gateway's read models, built from domain events: ``gateway_projections``.

Run as its own process (it is a nameko service, the gateway is a Flask app)::

    nameko run --config gateway/projections.yaml gateway.projections

with ``DATABASE_URL`` pointing at the gateway database. Dashboard reads (``GET
/api/v1/you-said-we-did``) use only these tables, so a board looking at the
dashboard never fans out RPC calls to the services, and it still answers while
they are down.

Every handler claims the event's ``event_id`` (``claim_message``) in the same
transaction as its effect: the outbox relay publishes at least once, so an event
delivered twice changes nothing the second time. Consultation rows keep the
``occurred_at`` of the event they reflect and ignore older ones.

It also drains ``engage.dead-letters`` into the ``dead_letters`` table, so
operators can see poison messages and why they failed (``GET
/api/v1/staff/dead-letters``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime
from typing import Any

import eventlet
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer
from nameko.timer import timer
from psycopg import Connection
from psycopg.types.json import Jsonb

from engage_common import healthcheck
from engage_common.db import Database, Pool
from engage_common.messaging import (
    DEAD_LETTER_QUEUE,
    BatchConsumer,
    ReliableEventHandler,
    claim_message,
    event_handler,
)
from engage_common.observability import Observability
from engage_contracts.feedback import seeded_themes
from engage_contracts.ics import ics
from engage_contracts.outcomes import evidence_key
from engage_contracts.shared import as_localised

log = logging.getLogger(__name__)

SOURCE = "surveys"
FEEDBACK = "feedback"
EVENTS = "events"
OUTCOMES = "outcomes"
DEAD_LETTER_RETRY_PAUSE = 1.0
RESPONSES_LOCK = 7_013  # advisory lock space: a consultation's response submissions/deletions


class DeadLetterConsumer(Consumer):
    """Consumes ``engage.dead-letters`` with the message's metadata, not just its body.

    A dead letter must never be lost, so one that cannot be stored (say, the
    database is away) goes back on the queue after a pause instead of being
    acked, and it is never dead-lettered again (that would rewrite its error).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(DEAD_LETTER_QUEUE, requeue_on_error=True, **kwargs)

    def handle_message(self, body: Any, message: Any) -> None:
        raw = message.body
        text = (
            raw.decode("utf-8", "replace")
            if isinstance(raw, bytes | bytearray)
            else (raw if isinstance(raw, str) else json.dumps(body, default=str))
        )
        letter = {
            "message_id": (message.properties or {}).get("message_id"),
            "headers": json.loads(json.dumps(dict(message.headers or {}), default=str)),
            "body": text,
        }
        args = (letter,)
        handle_result = self._handle_result(message)
        try:
            self.container.spawn_worker(
                self, args, {}, context_data={}, handle_result=handle_result
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def _handle_result(self, message: Any) -> Any:
        def handle(worker_ctx: Any, result: Any = None, exc_info: Any = None) -> Any:
            if exc_info is not None:
                eventlet.sleep(DEAD_LETTER_RETRY_PAUSE)
            self.handle_message_processed(message, result, exc_info)
            return result, exc_info

        return handle


dead_letters = DeadLetterConsumer.decorator


class BatchEventHandler(BatchConsumer, ReliableEventHandler):
    """``event_handler`` whose method gets a list of events: up to ``BATCH_SIZE`` that
    arrived together (``BatchConsumer``'s batching, its fallback to one event at a time
    when a batch fails, its retries and dead letter), on the queue ``event_handler``
    would use for the method."""


batch_event_handler = BatchEventHandler.decorator


def claim_events(conn: Connection, events: list[dict[str, Any]], handler: str) -> list[Any]:
    """``claim_message`` for a batch in one statement: the events seen for the first time
    (once each, in order)."""
    ids = [str(e["event_id"]) for e in events]
    rows = conn.execute(
        "INSERT INTO processed_messages (message_id, handler) SELECT DISTINCT m, %s"
        " FROM unnest(%s::text[]) m ORDER BY m ON CONFLICT DO NOTHING RETURNING message_id",
        (handler, ids),
    ).fetchall()
    fresh = {r["message_id"] for r in rows}
    claimed = []
    for event, event_id in zip(events, ids, strict=True):
        if event_id in fresh:
            fresh.discard(event_id)
            claimed.append(event)
    return claimed


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _text(value: Any) -> Jsonb | None:
    """Text by language for the read model; events from before maps carry plain English."""
    return Jsonb(as_localised(value)) if value is not None else None


def apply_consultation(conn: Connection, event: dict[str, Any]) -> None:
    """Upsert a consultation summary unless a newer event already shaped it."""
    outcome = event.get("outcome")
    conn.execute(
        "INSERT INTO consultation_summaries (id, title, summary, places, priorities, status,"
        " opens_at, closes_at, closed_at, outcome, event_at)"
        ' VALUES (%s, %s, COALESCE(%s::jsonb, \'{"en": ""}\'), %s, %s, %s, %s, %s, %s, %s, %s)'
        " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title,"
        " summary = COALESCE(%s::jsonb, consultation_summaries.summary),"
        " places = EXCLUDED.places,"
        " priorities = EXCLUDED.priorities, status = EXCLUDED.status,"
        " opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at,"
        " closed_at = COALESCE(EXCLUDED.closed_at, consultation_summaries.closed_at),"
        " outcome = COALESCE(EXCLUDED.outcome, consultation_summaries.outcome),"
        " event_at = EXCLUDED.event_at, updated_at = now()"
        " WHERE consultation_summaries.event_at IS NULL"
        " OR consultation_summaries.event_at <= EXCLUDED.event_at",
        (
            event["consultation_id"],
            Jsonb(as_localised(event.get("title") or "")),
            _text(event.get("summary")),
            list(event.get("places") or []),
            list(event.get("priorities") or []),
            event.get("status") or "unknown",
            _when(event.get("opens_at")),
            _when(event.get("closes_at")),
            _when(event.get("closed_at")),
            Jsonb(outcome) if outcome is not None else None,
            _when(event.get("occurred_at")),
            _text(event.get("summary")),
        ),
    )


def apply_response(conn: Connection, event: dict[str, Any], delta: int = 1) -> None:
    """Count a stored response (or, with ``delta=-1``, a deleted one) for its
    consultation and place."""
    cid = event["consultation_id"]
    conn.execute(
        "INSERT INTO consultation_summaries (id, response_count) VALUES (%s, GREATEST(%s, 0))"
        " ON CONFLICT (id) DO UPDATE SET response_count ="
        " GREATEST(consultation_summaries.response_count + %s, 0), updated_at = now()",
        (cid, delta, delta),
    )
    conn.execute(
        "INSERT INTO responses_by_place (consultation_id, place, count)"
        " VALUES (%s, %s, GREATEST(%s, 0))"
        " ON CONFLICT (consultation_id, place) DO UPDATE SET"
        " count = GREATEST(responses_by_place.count + %s, 0)",
        (cid, event.get("place") or "", delta, delta),
    )


def apply_deleted_response(conn: Connection, event: dict[str, Any]) -> None:
    """Uncount a deleted response, once and only if it was counted (its reach row says
    so), and keep its tombstone: a ``response_submitted`` applied after it (another
    replica, a redelivery) then counts nothing. Events from before response ids are
    uncounted as they come."""
    if event.get("response_id") is None:
        apply_response(conn, event, delta=-1)
        return
    _lock_consultations(conn, [event["consultation_id"]])
    conn.execute("DELETE FROM answer_contributions WHERE response_id = %s", (event["response_id"],))
    counted = remove_reach(conn, "response", event["response_id"])
    # Uncounted, the rows are still made (at 0), as a submission then deletion leaves them.
    apply_response(conn, event, delta=-1 if counted else 0)


def _lock_consultations(conn: Connection, consultation_ids: list[Any]) -> None:
    """Take the transaction's lock on each consultation's responses (in order) in the
    schema written to: a response's submission and deletion applied at the same time by
    two replicas then see each other's rows, whichever commits first (and a rebuild
    never waits for the live projections)."""
    for cid in sorted({str(c) for c in consultation_ids}):
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema() || ':' || %s))",
            (RESPONSES_LOCK, cid),
        )


def _removed(conn: Connection, source: str, source_ids: list[Any]) -> set[str]:
    """Which of ``source_ids`` have a tombstone (deleted or erased for good)."""
    rows = conn.execute(
        "SELECT source_id FROM reach_removed WHERE source = %s AND source_id = ANY(%s)",
        (source, [str(i) for i in source_ids]),
    ).fetchall()
    return {r["source_id"] for r in rows}


# -- reach: one row per contribution, with its Census groups only --------------------------


def reach_row(
    conn: Connection,
    source: str,
    source_id: Any,
    event: dict[str, Any],
    consultation_ids: list[Any],
    channel: str,
    occurred_at: Any,
) -> None:
    """Keep (or replace) a contribution's row, unless it was deleted before: a late or
    replayed event never brings a deleted contribution back."""
    reach_rows(
        conn, source, {str(source_id): reach_fields(event, consultation_ids, channel, occurred_at)}
    )


def remove_reach(conn: Connection, source: str, source_id: Any, for_good: bool = True) -> bool:
    """Drop a contribution's row; ``for_good`` (deleted or erased) keeps a tombstone.
    Whether there was a row."""
    found = conn.execute(
        "DELETE FROM reach_contributions WHERE source = %s AND source_id = %s",
        (source, str(source_id)),
    ).rowcount
    if for_good:
        conn.execute(
            "INSERT INTO reach_removed (source, source_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (source, str(source_id)),
        )
    return found > 0


def apply_response_submitted(conn: Connection, event: dict[str, Any]) -> None:
    """Count a stored response and keep its reach row, unless it was deleted already
    (its deletion applied first: nothing to count)."""
    if event.get("response_id") is not None:
        _lock_consultations(conn, [event["consultation_id"]])
        if _removed(conn, "response", [event["response_id"]]):
            return
    apply_response(conn, event)
    if event.get("response_id") is not None:
        reach_row(
            conn,
            "response",
            event["response_id"],
            event,
            [event["consultation_id"]],
            event.get("channel") or "online",
            event.get("submitted_at"),
        )


def apply_responses_submitted(conn: Connection, events: list[dict[str, Any]]) -> None:
    """``apply_response_submitted`` for many events, in a few statements whatever their
    number (the projections' batches and the rebuild): responses deleted already left
    out, the counts added up by consultation and by place, the reach rows in one insert
    (the last event of a response wins, as applied one by one). Rows are written in key
    order: batches at the same time wait for each other rather than deadlock."""
    _lock_consultations(conn, [e["consultation_id"] for e in events])
    known = [e["response_id"] for e in events if e.get("response_id") is not None]
    removed = _removed(conn, "response", known) if known else set()
    events = [e for e in events if str(e.get("response_id")) not in removed]
    if not events:
        return
    by_cid = Counter(str(e["consultation_id"]) for e in events)
    by_place = Counter((str(e["consultation_id"]), e.get("place") or "") for e in events)
    conn.execute(
        "INSERT INTO consultation_summaries AS s (id, response_count)"
        " SELECT id, n FROM unnest(%s::uuid[], %s::int[]) AS x(id, n) ORDER BY id"
        " ON CONFLICT (id) DO UPDATE SET response_count ="
        " GREATEST(s.response_count + EXCLUDED.response_count, 0), updated_at = now()",
        (list(by_cid), list(by_cid.values())),
    )
    conn.execute(
        "INSERT INTO responses_by_place AS p (consultation_id, place, count)"
        " SELECT c, pl, n FROM unnest(%s::uuid[], %s::text[], %s::int[]) AS x(c, pl, n)"
        " ORDER BY c, pl ON CONFLICT (consultation_id, place) DO UPDATE SET"
        " count = GREATEST(p.count + EXCLUDED.count, 0)",
        ([c for c, _ in by_place], [pl for _, pl in by_place], list(by_place.values())),
    )
    reach = {
        str(e["response_id"]): reach_fields(
            e, [e["consultation_id"]], e.get("channel") or "online", e.get("submitted_at")
        )
        for e in events
        if e.get("response_id") is not None
    }
    reach_rows(conn, "response", reach)


def reach_fields(
    event: dict[str, Any], consultation_ids: list[Any], channel: str, occurred_at: Any
) -> dict[str, Any]:
    """What a contribution's reach row keeps of its event (``reach_row``, ``reach_rows``)."""
    groups = event.get("equality") or {}
    decile = groups.get("imd_decile")
    return {
        "consultation_ids": [str(c) for c in consultation_ids if c],
        "place": event.get("place"),
        "channel": channel,
        "occurred_at": occurred_at or event.get("occurred_at"),
        "age_band": groups.get("age_band"),
        "sex": groups.get("sex"),
        "ethnicity": groups.get("ethnicity"),
        "disability": groups.get("disability"),
        "unpaid_care": groups.get("unpaid_care"),
        "imd_decile": decile if isinstance(decile, int) else None,
    }


def reach_rows(conn: Connection, source: str, rows: dict[str, dict[str, Any]]) -> None:
    """Keep (or replace) the reach rows of many contributions of ``source``
    (``{source_id: reach_fields}``) in one statement, in key order, unless deleted before."""
    if not rows:
        return
    conn.execute(
        "INSERT INTO reach_contributions (source, source_id, consultation_ids, place, channel,"
        " occurred_at, age_band, sex, ethnicity, disability, unpaid_care, imd_decile)"
        " SELECT %s, x.source_id, x.consultation_ids, x.place, x.channel,"
        " x.occurred_at, x.age_band, x.sex, x.ethnicity, x.disability, x.unpaid_care,"
        " x.imd_decile FROM jsonb_to_recordset(%s) AS x(source_id text,"
        " consultation_ids uuid[], place text, channel text, occurred_at timestamptz,"
        " age_band text, sex text, ethnicity text, disability text, unpaid_care text,"
        " imd_decile smallint) WHERE NOT EXISTS (SELECT 1 FROM reach_removed r"
        " WHERE r.source = %s AND r.source_id = x.source_id) ORDER BY x.source_id"
        " ON CONFLICT (source, source_id) DO UPDATE SET"
        " consultation_ids = EXCLUDED.consultation_ids, place = EXCLUDED.place,"
        " channel = EXCLUDED.channel, occurred_at = EXCLUDED.occurred_at,"
        " age_band = EXCLUDED.age_band, sex = EXCLUDED.sex, ethnicity = EXCLUDED.ethnicity,"
        " disability = EXCLUDED.disability, unpaid_care = EXCLUDED.unpaid_care,"
        " imd_decile = EXCLUDED.imd_decile",
        (source, Jsonb([{"source_id": k, **v} for k, v in rows.items()]), source),
    )


def apply_feedback_reach_batch(conn: Connection, events: list[dict[str, Any]]) -> None:
    """``apply_feedback_reach`` for many ``feedback_received`` events in two statements
    (an item received twice in one batch: the last wins, but for the first place given,
    as one by one)."""
    last = {str(e["feedback_id"]): e for e in events}
    place: dict[str, Any] = {}
    for e in events:
        if place.get(str(e["feedback_id"])) is None:
            place[str(e["feedback_id"])] = e.get("place")
    facts = [
        {
            "feedback_id": fid,
            "kind": e.get("kind"),
            "place": place[fid],
            "channel": e.get("channel"),
            "consultation_id": e.get("consultation_id"),
            "received_at": e.get("received_at"),
            "urgent": bool(e.get("urgent")),
        }
        for fid, e in last.items()
    ]
    conn.execute(
        "INSERT INTO feedback_facts AS f (feedback_id, kind, place, channel, consultation_id,"
        " received_at, urgent) SELECT x.feedback_id, x.kind, x.place, x.channel,"
        " x.consultation_id, x.received_at, x.urgent FROM jsonb_to_recordset(%s) AS"
        " x(feedback_id uuid, kind text, place text, channel text, consultation_id uuid,"
        " received_at timestamptz, urgent boolean) ORDER BY x.feedback_id"
        " ON CONFLICT (feedback_id) DO UPDATE SET kind = EXCLUDED.kind,"
        " place = COALESCE(f.place, EXCLUDED.place), channel = EXCLUDED.channel,"
        " consultation_id = EXCLUDED.consultation_id, received_at = EXCLUDED.received_at,"
        " urgent = EXCLUDED.urgent WHERE NOT f.deleted",
        (Jsonb(facts),),
    )
    reach_rows(
        conn,
        "feedback",
        {
            fid: reach_fields(
                e, [e.get("consultation_id")], e.get("channel") or "online", e.get("received_at")
            )
            for fid, e in last.items()
        },
    )


def apply_feedback_reach(conn: Connection, event: dict[str, Any]) -> None:
    apply_feedback_received(conn, event)
    reach_row(
        conn,
        "feedback",
        event["feedback_id"],
        event,
        [event.get("consultation_id")],
        event.get("channel") or "online",
        event.get("received_at"),
    )


def apply_feedback_gone(conn: Connection, event: dict[str, Any]) -> None:
    apply_feedback_deleted(conn, event)
    remove_reach(conn, "feedback", event["feedback_id"])


def apply_attendee(conn: Connection, event: dict[str, Any]) -> None:
    """Someone came to an event (registered or walked in): a contribution from the event
    channel; marked absent after all, not one."""
    if not event.get("attended"):
        remove_reach(conn, "attendee", event["registration_id"], for_good=False)
        return
    reach_row(
        conn,
        "attendee",
        event["registration_id"],
        event,
        list(event.get("consultation_ids") or []),
        "event",
        event.get("heard_at"),
    )


def apply_registration_erased(conn: Connection, event: dict[str, Any]) -> None:
    remove_reach(conn, "attendee", event["registration_id"])


def apply_answer_themed(conn: Connection, event: dict[str, Any]) -> None:
    """A free-text answer's confirmed themes: a contribution (the latest confirmation)."""
    conn.execute(
        "INSERT INTO answer_contributions (response_id, question_id, consultation_id, place,"
        " channel, themes, tone, occurred_at, event_at) VALUES (%s, %s, %s, %s, %s, %s, %s,"
        " %s, %s) ON CONFLICT (response_id, question_id) DO UPDATE SET themes = EXCLUDED.themes,"
        " tone = EXCLUDED.tone, event_at = EXCLUDED.event_at"
        " WHERE answer_contributions.event_at IS NULL"
        " OR answer_contributions.event_at <= EXCLUDED.event_at",
        (
            event["response_id"],
            event["question_id"],
            event["consultation_id"],
            event.get("place"),
            event.get("channel"),
            list(event.get("themes") or []),
            event.get("tone"),
            _when(event.get("occurred_at")),
            _when(event.get("occurred_at")),
        ),
    )


def apply_point_heard(conn: Connection, event: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO point_contributions (point_id, event_id, place, consultation_ids, themes,"
        " tone, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (point_id) DO"
        " UPDATE SET themes = EXCLUDED.themes, tone = EXCLUDED.tone, place = EXCLUDED.place,"
        " consultation_ids = EXCLUDED.consultation_ids WHERE NOT point_contributions.withdrawn",
        (
            event["point_id"],
            event["engagement_event_id"],
            event.get("place"),
            list(event.get("consultation_ids") or []),
            list(event.get("themes") or []),
            event.get("tone"),
            _when(event.get("heard_at")) or _when(event.get("occurred_at")),
        ),
    )


def apply_point_withdrawn(conn: Connection, event: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO point_contributions (point_id, event_id, occurred_at, withdrawn)"
        " VALUES (%s, %s, %s, true) ON CONFLICT (point_id) DO UPDATE SET withdrawn = true,"
        " themes = '{}'",
        (event["point_id"], event["engagement_event_id"], _when(event.get("occurred_at"))),
    )
    conn.execute(
        "DELETE FROM published_quotes WHERE source = 'event' AND source_id = %s",
        (event["point_id"],),
    )


def apply_quote(source: str, id_field: str) -> Any:
    """A handler storing a quote approved for publication by ``source``."""

    def apply(conn: Connection, event: dict[str, Any]) -> None:
        consultations = event.get("consultation_ids")
        if consultations is None:
            consultations = [event["consultation_id"]] if event.get("consultation_id") else []
        conn.execute(
            "INSERT INTO published_quotes (source, source_id, quote, place, themes,"
            " consultation_ids, published_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (source, source_id) DO UPDATE SET quote = EXCLUDED.quote,"
            " place = EXCLUDED.place, themes = EXCLUDED.themes,"
            " consultation_ids = EXCLUDED.consultation_ids",
            (
                source,
                event[id_field],
                event["quote"],
                event.get("place"),
                list(event.get("themes") or []),
                list(consultations),
                _when(event.get("occurred_at")),
            ),
        )

    return apply


def apply_outcome(conn: Connection, event: dict[str, Any]) -> None:
    """A published outcome as it is now (unless a later event already shaped it), and the
    event as a line of its history."""
    evidence = list(event.get("evidence") or [])
    at = _when(event.get("occurred_at"))
    conn.execute(
        "INSERT INTO outcome_records (id, kind, title, status, reason, progress, places,"
        " priorities, themes, evidence, evidence_keys, parent_id, partner, due_date, event_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title,"
        " status = EXCLUDED.status, reason = EXCLUDED.reason, progress = EXCLUDED.progress,"
        " places = EXCLUDED.places, priorities = EXCLUDED.priorities, themes = EXCLUDED.themes,"
        " evidence = EXCLUDED.evidence, evidence_keys = EXCLUDED.evidence_keys,"
        " parent_id = EXCLUDED.parent_id, partner = EXCLUDED.partner,"
        " due_date = EXCLUDED.due_date, event_at = EXCLUDED.event_at"
        " WHERE outcome_records.event_at <= EXCLUDED.event_at",
        (
            event["outcome_id"],
            event.get("kind") or "decision",
            Jsonb(as_localised(event.get("title") or "")),
            event.get("status") or "planned",
            Jsonb(as_localised(event["reason"])) if event.get("reason") else None,
            int(event.get("progress") or 0),
            list(event.get("places") or []),
            list(event.get("priorities") or []),
            list(event.get("themes") or []),
            Jsonb(evidence),
            evidence_keys(evidence),
            event.get("parent_id"),
            event.get("partner"),
            event.get("due_date"),
            at,
        ),
    )
    conn.execute(
        "INSERT INTO outcome_record_history (event_id, outcome_id, at, status, progress, reason)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
        (
            event["event_id"],
            event["outcome_id"],
            at,
            event.get("status") or "planned",
            int(event.get("progress") or 0),
            Jsonb(as_localised(event["reason"])) if event.get("reason") else None,
        ),
    )


def evidence_keys(evidence: list[dict[str, Any]]) -> list[str]:
    """Each link's key, and for a question its consultation's too (a question of a
    consultation is evidence about the consultation)."""
    keys = []
    for link in evidence:
        try:
            keys.append(evidence_key(link))
        except KeyError:
            continue
        if link.get("kind") == "question":
            keys.append(f"consultation:{link['consultation_id']}")
    return sorted(set(keys))


def apply_feedback_received(conn: Connection, event: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO feedback_facts (feedback_id, kind, place, channel, consultation_id,"
        " received_at, urgent) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (feedback_id) DO UPDATE SET kind = EXCLUDED.kind,"
        " place = COALESCE(feedback_facts.place, EXCLUDED.place), channel = EXCLUDED.channel,"
        " consultation_id = EXCLUDED.consultation_id, received_at = EXCLUDED.received_at,"
        " urgent = EXCLUDED.urgent WHERE NOT feedback_facts.deleted",
        (
            event["feedback_id"],
            event.get("kind"),
            event.get("place"),
            event.get("channel"),
            event.get("consultation_id"),
            _when(event.get("received_at")),
            bool(event.get("urgent")),
        ),
    )


def apply_feedback_themed(conn: Connection, event: dict[str, Any]) -> None:
    """The confirmed themes (only confirmed themes count), unless a later confirmation
    already arrived. Carries place and channel too, should it come first."""
    conn.execute(
        "INSERT INTO feedback_facts (feedback_id, place, channel, consultation_id,"
        " received_at, themes, tone, themed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (feedback_id) DO UPDATE SET themes = EXCLUDED.themes,"
        " tone = EXCLUDED.tone, themed_at = EXCLUDED.themed_at, place = EXCLUDED.place,"
        " channel = COALESCE(feedback_facts.channel, EXCLUDED.channel),"
        " received_at = COALESCE(feedback_facts.received_at, EXCLUDED.received_at)"
        " WHERE NOT feedback_facts.deleted AND (feedback_facts.themed_at IS NULL"
        " OR feedback_facts.themed_at <= EXCLUDED.themed_at)",
        (
            event["feedback_id"],
            event.get("place"),
            event.get("channel"),
            event.get("consultation_id"),
            _when(event.get("received_at")),
            list(event.get("themes") or []),
            event.get("tone"),
            _when(event.get("occurred_at")),
        ),
    )


def apply_feedback_status(conn: Connection, event: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO feedback_facts (feedback_id, status, status_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (feedback_id) DO UPDATE SET status = EXCLUDED.status,"
        " status_at = EXCLUDED.status_at WHERE feedback_facts.status_at IS NULL"
        " OR feedback_facts.status_at <= EXCLUDED.status_at",
        (event["feedback_id"], event.get("status") or "received", _when(event.get("occurred_at"))),
    )


def apply_feedback_deleted(conn: Connection, event: dict[str, Any]) -> None:
    """Forget all but the id: a late feedback_received must not bring it back."""
    conn.execute(
        "INSERT INTO feedback_facts (feedback_id, deleted) VALUES (%s, true)"
        " ON CONFLICT (feedback_id) DO UPDATE SET deleted = true, kind = NULL, place = NULL,"
        " channel = NULL, consultation_id = NULL, themes = '{}', tone = NULL",
        (event["feedback_id"],),
    )


def apply_theme(conn: Connection, event: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO feedback_themes (slug, label, active, priority, event_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (slug) DO UPDATE SET label = EXCLUDED.label,"
        " active = EXCLUDED.active, priority = EXCLUDED.priority, event_at = EXCLUDED.event_at"
        " WHERE feedback_themes.event_at IS NULL OR feedback_themes.event_at <= EXCLUDED.event_at",
        (
            event["slug"],
            event.get("label") or event["slug"],
            event.get("active", True),
            event.get("priority"),
            _when(event.get("occurred_at")),
        ),
    )


def add_seeded_themes(conn: Connection, themes: list[dict[str, Any]]) -> list[str]:
    """Add the seeded themes (``engage_contracts.feedback.seeded_themes``) the read model
    does not hold, with no event time, so any theme_saved event of feedback's replaces
    them; the slugs added."""
    rows = conn.execute(
        "INSERT INTO feedback_themes (slug, label, active, priority, event_at)"
        " SELECT slug, label, true, priority, NULL"
        " FROM unnest(%s::text[], %s::text[], %s::text[]) AS t (slug, label, priority)"
        " ON CONFLICT (slug) DO NOTHING RETURNING slug",
        (
            [t["slug"] for t in themes],
            [t["label"] for t in themes],
            [t["priority"] for t in themes],
        ),
    ).fetchall()
    return [r["slug"] for r in rows]


# Which function applies which event, and the name its claims are kept under (a
# redelivered event changes nothing). The projections service and the rebuild
# (``gateway.readmodels.rebuild``) both go by this table.
HANDLERS: dict[tuple[str, str], tuple[str, Any]] = {
    (SOURCE, "consultation_opened"): ("consultation", apply_consultation),
    (SOURCE, "consultation_updated"): ("consultation", apply_consultation),
    (SOURCE, "consultation_closed"): ("consultation", apply_consultation),
    (SOURCE, "outcome_published"): ("consultation", apply_consultation),
    (SOURCE, "response_submitted"): ("response", apply_response_submitted),
    (SOURCE, "response_deleted"): ("response", apply_deleted_response),
    (FEEDBACK, "feedback_received"): ("feedback_received", apply_feedback_reach),
    (FEEDBACK, "feedback_themed"): ("feedback_themed", apply_feedback_themed),
    (FEEDBACK, "feedback_status_changed"): ("feedback_status", apply_feedback_status),
    (FEEDBACK, "feedback_deleted"): ("feedback_deleted", apply_feedback_gone),
    (FEEDBACK, "theme_saved"): ("theme", apply_theme),
    (SOURCE, "answer_themed"): ("answer_themed", apply_answer_themed),
    (FEEDBACK, "quote_published"): ("feedback_quote", apply_quote("feedback", "feedback_id")),
    (EVENTS, "point_heard"): ("point_heard", apply_point_heard),
    (EVENTS, "point_withdrawn"): ("point_withdrawn", apply_point_withdrawn),
    (EVENTS, "quote_published"): ("event_quote", apply_quote("event", "point_id")),
    (OUTCOMES, "outcome_published"): ("outcome", apply_outcome),
    (OUTCOMES, "outcome_changed"): ("outcome", apply_outcome),
    (EVENTS, "attendee_recorded"): ("attendee", apply_attendee),
    (EVENTS, "registration_erased"): ("registration_erased", apply_registration_erased),
}


# Events applied many at a time (``apply(conn, events)``), with the same effect as their
# ``HANDLERS`` one by one: a consultation's responses arrive by the thousand.
BATCHED: dict[tuple[str, str], Any] = {
    (SOURCE, "response_submitted"): apply_responses_submitted,
    (FEEDBACK, "feedback_received"): apply_feedback_reach_batch,
}


def store_dead_letter(conn: Connection, letter: dict[str, Any]) -> None:
    headers = letter.get("headers") or {}
    conn.execute(
        "INSERT INTO dead_letters (message_id, queue, error, headers, body)"
        " VALUES (%s, %s, %s, %s, %s)",
        (
            letter.get("message_id"),
            str(headers.get("x-engage-original-queue") or "unknown"),
            str(headers.get("x-engage-error") or "no error recorded"),
            Jsonb(headers),
            letter.get("body") or "",
        ),
    )


class ProjectionsService(healthcheck.HealthCheck):
    name = "gateway_projections"

    db = Database()
    obs = Observability()  # correlation ids, a log line a call, metrics (METRICS_PORT)

    def _apply(self, event: dict[str, Any], handler: str, apply: Any) -> None:
        pool: Pool = self.db
        with pool.connection() as conn:
            if claim_message(conn, str(event["event_id"]), f"{self.name}.{handler}"):
                apply(conn, event)

    @event_handler(SOURCE, "consultation_opened")
    def on_consultation_opened(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[SOURCE, "consultation_opened"])

    @event_handler(SOURCE, "consultation_updated")
    def on_consultation_updated(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[SOURCE, "consultation_updated"])

    @event_handler(SOURCE, "consultation_closed")
    def on_consultation_closed(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[SOURCE, "consultation_closed"])

    @event_handler(SOURCE, "outcome_published")
    def on_outcome_published(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[SOURCE, "outcome_published"])

    def _apply_batch(self, events: list[dict[str, Any]], source: str, event_type: str) -> None:
        """A batch of one type of event, each claimed (``HANDLERS``' claim name), applied
        with ``BATCHED`` in the batch's transaction."""
        handler = HANDLERS[source, event_type][0]
        with self.db.connection() as conn:
            BATCHED[source, event_type](conn, claim_events(conn, events, f"{self.name}.{handler}"))

    @batch_event_handler(SOURCE, "response_submitted")
    def on_response_submitted(self, events: list[dict[str, Any]]) -> None:
        self._apply_batch(events, SOURCE, "response_submitted")

    @event_handler(SOURCE, "response_deleted")
    def on_response_deleted(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[SOURCE, "response_deleted"])

    @event_handler(FEEDBACK, "feedback_received")
    def on_feedback_received(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[FEEDBACK, "feedback_received"])

    @event_handler(FEEDBACK, "feedback_themed")
    def on_feedback_themed(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[FEEDBACK, "feedback_themed"])

    @event_handler(FEEDBACK, "feedback_status_changed")
    def on_feedback_status_changed(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[FEEDBACK, "feedback_status_changed"])

    @event_handler(FEEDBACK, "feedback_deleted")
    def on_feedback_deleted(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[FEEDBACK, "feedback_deleted"])

    @event_handler(FEEDBACK, "theme_saved")
    def on_theme_saved(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[FEEDBACK, "theme_saved"])

    @timer(interval=3600, eager=True)
    def seed_themes(self) -> None:
        """At start (and hourly, harmlessly): the themes feedback seeds from the ICS's
        configuration, as surveys and events keep them too. feedback announces a seeded
        theme once, when it adds it: a read model whose queue was not yet bound then (a
        fresh deployment, started in any order) would never name it. Only missing ones
        are added; feedback's events, staff's changes among them, replace them."""
        with self.db.connection() as conn:
            added = add_seeded_themes(conn, seeded_themes(ics()))
        if added:
            log.info("seeded %d theme(s) from the ICS configuration", len(added))

    @event_handler(SOURCE, "answer_themed")
    def on_answer_themed(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[SOURCE, "answer_themed"])

    @event_handler(FEEDBACK, "quote_published")
    def on_feedback_quote(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[FEEDBACK, "quote_published"])

    @event_handler(EVENTS, "point_heard")
    def on_point_heard(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[EVENTS, "point_heard"])

    @event_handler(EVENTS, "point_withdrawn")
    def on_point_withdrawn(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[EVENTS, "point_withdrawn"])

    @event_handler(EVENTS, "quote_published")
    def on_event_quote(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[EVENTS, "quote_published"])

    @event_handler(OUTCOMES, "outcome_published")
    def on_we_did_published(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[OUTCOMES, "outcome_published"])

    @event_handler(OUTCOMES, "outcome_changed")
    def on_we_did_changed(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[OUTCOMES, "outcome_changed"])

    @event_handler(EVENTS, "attendee_recorded")
    def on_attendee_recorded(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[EVENTS, "attendee_recorded"])

    @event_handler(EVENTS, "registration_erased")
    def on_registration_erased(self, event: dict[str, Any]) -> None:
        self._apply(event, *HANDLERS[EVENTS, "registration_erased"])

    @dead_letters()
    def on_dead_letter(self, letter: dict[str, Any]) -> None:
        with self.db.connection() as conn:
            store_dead_letter(conn, letter)
