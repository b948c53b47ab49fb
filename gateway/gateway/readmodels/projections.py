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
from datetime import datetime
from typing import Any

import eventlet
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer
from psycopg import Connection
from psycopg.types.json import Jsonb

from engage_common import healthcheck
from engage_common.db import Database, Pool
from engage_common.messaging import DEAD_LETTER_QUEUE, claim_message, event_handler
from engage_contracts.shared import as_localised

log = logging.getLogger(__name__)

SOURCE = "surveys"
FEEDBACK = "feedback"
DEAD_LETTER_RETRY_PAUSE = 1.0


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
    apply_response(conn, event, delta=-1)


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

    def _apply(self, event: dict[str, Any], handler: str, apply: Any) -> None:
        pool: Pool = self.db
        with pool.connection() as conn:
            if claim_message(conn, str(event["event_id"]), f"{self.name}.{handler}"):
                apply(conn, event)

    @event_handler(SOURCE, "consultation_opened")
    def on_consultation_opened(self, event: dict[str, Any]) -> None:
        self._apply(event, "consultation", apply_consultation)

    @event_handler(SOURCE, "consultation_updated")
    def on_consultation_updated(self, event: dict[str, Any]) -> None:
        self._apply(event, "consultation", apply_consultation)

    @event_handler(SOURCE, "consultation_closed")
    def on_consultation_closed(self, event: dict[str, Any]) -> None:
        self._apply(event, "consultation", apply_consultation)

    @event_handler(SOURCE, "outcome_published")
    def on_outcome_published(self, event: dict[str, Any]) -> None:
        self._apply(event, "consultation", apply_consultation)

    @event_handler(SOURCE, "response_submitted")
    def on_response_submitted(self, event: dict[str, Any]) -> None:
        self._apply(event, "response", apply_response)

    @event_handler(SOURCE, "response_deleted")
    def on_response_deleted(self, event: dict[str, Any]) -> None:
        self._apply(event, "response", apply_deleted_response)

    @event_handler(FEEDBACK, "feedback_received")
    def on_feedback_received(self, event: dict[str, Any]) -> None:
        self._apply(event, "feedback_received", apply_feedback_received)

    @event_handler(FEEDBACK, "feedback_themed")
    def on_feedback_themed(self, event: dict[str, Any]) -> None:
        self._apply(event, "feedback_themed", apply_feedback_themed)

    @event_handler(FEEDBACK, "feedback_status_changed")
    def on_feedback_status_changed(self, event: dict[str, Any]) -> None:
        self._apply(event, "feedback_status", apply_feedback_status)

    @event_handler(FEEDBACK, "feedback_deleted")
    def on_feedback_deleted(self, event: dict[str, Any]) -> None:
        self._apply(event, "feedback_deleted", apply_feedback_deleted)

    @event_handler(FEEDBACK, "theme_saved")
    def on_theme_saved(self, event: dict[str, Any]) -> None:
        self._apply(event, "theme", apply_theme)

    @dead_letters()
    def on_dead_letter(self, letter: dict[str, Any]) -> None:
        with self.db.connection() as conn:
            store_dead_letter(conn, letter)
