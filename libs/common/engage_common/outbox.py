"""Transactional outbox and its relay.

``record_event`` is called inside the transaction that changes the data, so the
event exists exactly when the change does. ``OutboxRelay`` is a nameko
dependency that runs a greenthread publishing pending rows, with publisher
confirms, to the nameko events exchange ``<source>.events`` (so ordinary
``@event_handler`` entrypoints receive them), then marks them published. A crash
between publish and mark means the event is published again: consumers are
idempotent on ``event_id``.

The nameko config key ``OUTBOX_RELAY_ENABLED`` (default true) holds the relay
back: events are still recorded, just not published until a process with the
relay enabled runs. Operators use it to pause publishing (e.g. while a consumer
is migrated); the reliability tests use it to make "committed but not
published, then SIGKILL" deterministic instead of a race.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from typing import Any

import amqp
import eventlet
from eventlet.event import Event
from kombu import Connection as KombuConnection
from kombu import Exchange
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from psycopg import Connection
from psycopg.types.json import Jsonb

from engage_common.db import Pool
from engage_common.errors import ValidationFailed
from engage_common.messaging import rpc
from engage_common.observability import CONTEXT_KEY, current_correlation_id

log = logging.getLogger(__name__)


def _correlation() -> dict[str, str]:
    """The request an event comes from (``correlation_id``), when there is one, so the
    services and read models that handle the event log under the same id."""
    value = current_correlation_id()
    return {CONTEXT_KEY: value} if value else {}


# An event's ``occurred_at`` is the database's clock when it is recorded, not the app
# host's: the instances of a service on several hosts then agree, and of two changes to
# one row (taking turns by its lock) the later is always recorded later, which the read
# model's "ignore an older event" checks rely on.
OCCURRED_AT = (
    "%s::jsonb || jsonb_build_object('occurred_at', to_char(clock_timestamp() AT TIME ZONE"
    " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'))"
)


def record_event(conn: Connection, source: str, event_type: str, payload: dict[str, Any]) -> str:
    event_id = str(uuid.uuid4())
    body = {**payload, "event_id": event_id, "event_type": event_type, **_correlation()}
    conn.execute(
        "INSERT INTO outbox (event_id, source, event_type, payload)"
        f" VALUES (%s, %s, %s, {OCCURRED_AT})",
        (event_id, source, event_type, Jsonb(body)),
    )
    return event_id


def record_events(
    conn: Connection, source: str, event_type: str, payloads: list[dict[str, Any]]
) -> list[str]:
    """``record_event`` for many events of one type, in one statement."""
    if not payloads:
        return []
    ids = [str(uuid.uuid4()) for _ in payloads]
    correlation = _correlation()
    rows = [
        (
            event_id,
            source,
            event_type,
            Jsonb(
                {
                    **payload,
                    "event_id": event_id,
                    "event_type": event_type,
                    **correlation,
                }
            ),
        )
        for event_id, payload in zip(ids, payloads, strict=True)
    ]
    values = ", ".join([f"(%s, %s, %s, {OCCURRED_AT})"] * len(rows))
    conn.execute(
        "INSERT INTO outbox (event_id, source, event_type, payload) VALUES " + values,
        [value for row in rows for value in row],
    )
    return ids


class BatchPublisher:
    """Publishes many persistent messages on one channel in confirm mode and waits once
    for the broker's acks of all of them (an ack may cover every earlier delivery tag):
    a batch costs one round trip to the broker, not one a message as kombu's
    ``confirm_publish`` does. A nack, a timeout or a lost connection raises, and the
    channel is opened afresh for the next batch."""

    def __init__(self, amqp_uri: str, timeout: float = 10.0) -> None:
        self.amqp_uri, self.timeout = amqp_uri, timeout
        self._conn: KombuConnection | None = None
        self._channel: Any = None
        self._declared: set[str] = set()
        self._sent = self._acked = 0
        self._nacked = False

    def _open(self) -> Any:
        if self._channel is None:
            conn = KombuConnection(self.amqp_uri)
            conn.connect()
            channel = conn.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._conn, self._channel = conn, channel
            self._declared.clear()
            self._sent = self._acked = 0
        return self._channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._acked = max(self._acked, delivery_tag) if multiple else self._acked + 1

    def _on_nack(self, delivery_tag: int, multiple: bool, requeue: bool = False) -> None:
        self._nacked = True
        self._on_ack(delivery_tag, multiple)

    def publish(self, messages: list[tuple[Exchange, str, dict[str, Any], str]]) -> None:
        """``(exchange, routing_key, payload, message_id)`` each, as nameko's publisher
        sends them (JSON, persistent); returns once the broker has confirmed every one."""
        try:
            channel = self._open()
            for exchange, routing_key, payload, message_id in messages:
                if exchange.name not in self._declared:
                    exchange(channel).declare()
                    self._declared.add(exchange.name)
                channel.basic_publish(
                    amqp.Message(
                        json.dumps(payload),
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        message_id=message_id,
                    ),
                    exchange=exchange.name,
                    routing_key=routing_key,
                )
                self._sent += 1
            deadline = time.monotonic() + self.timeout
            while self._acked < self._sent:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the broker did not confirm the batch in time")
                assert self._conn is not None
                self._conn.drain_events(timeout=remaining)
            if self._nacked:
                raise RuntimeError("the broker refused (nacked) a message of the batch")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        self._nacked = False
        if conn is not None:
            with contextlib.suppress(Exception):  # already gone
                conn.release()


RELAY_LIMIT = 200  # events a relay batch at most


def relay_batch(
    pool: Pool, publisher: Any, config: dict[str, Any], limit: int = RELAY_LIMIT
) -> int:
    """Publish up to ``limit`` pending events, in one batch confirmed once when
    ``publisher`` is a ``BatchPublisher`` (else one by one, nameko's ``Publisher``);
    returns how many were published. They are locked and marked published in one
    statement, in the transaction that commits only once the broker has them all: if
    publishing fails, the transaction rolls back and they stay pending."""
    with pool.connection() as conn:
        rows = conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id IN (SELECT id FROM outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING id, source, event_type, payload",
            (limit,),
        ).fetchall()
        rows.sort(key=lambda row: row["id"])  # RETURNING promises no order
        messages = [
            (
                get_event_exchange(row["source"], config),
                row["event_type"],
                row["payload"],
                str(row["payload"]["event_id"]),
            )
            for row in rows
        ]
        if isinstance(publisher, BatchPublisher):
            if messages:
                publisher.publish(messages)
        else:
            for exchange, routing_key, payload, message_id in messages:
                publisher.publish(
                    payload,
                    exchange=exchange,
                    routing_key=routing_key,
                    message_id=message_id,
                    declare=[exchange],
                )
    return len(rows)


def relay_enabled(config: dict[str, Any]) -> bool:
    """``OUTBOX_RELAY_ENABLED`` as a bool; nameko's YAML turns ``true`` into True, the
    environment may give a string."""
    value = config.get("OUTBOX_RELAY_ENABLED", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)


def pending_count(pool: Pool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").fetchone()
    return int(row["n"])


class OutboxRelay(DependencyProvider):
    """Runs the relay loop for the life of the service container. With nothing pending
    it looks again every ``interval`` seconds, or at once when a worker says it has
    committed events (``wake``)."""

    def __init__(self, database_attr: str = "db", interval: float = 0.1) -> None:
        self.database_attr = database_attr
        self.interval = interval
        self._gt: eventlet.greenthread.GreenThread | None = None
        self._running = False
        self._woken = Event()

    def wake(self) -> None:
        """Events were committed: publish them now rather than at the next look (called
        after the transaction, so the relay's query sees them)."""
        if not self._woken.ready():
            self._woken.send()

    def start(self) -> None:
        config = self.container.config
        self.enabled = relay_enabled(config)
        if not self.enabled:
            log.warning("outbox relay disabled (OUTBOX_RELAY_ENABLED): events stay pending")
            return
        self.publisher = BatchPublisher(config["AMQP_URI"])
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def _pool(self) -> Pool:
        provider = next(d for d in self.container.dependencies if d.attr_name == self.database_attr)
        return provider.pool

    def _run(self) -> None:
        pool = self._pool()
        while self._running:
            try:
                published = relay_batch(pool, self.publisher, self.container.config)
            except Exception:  # the broker or database is away: try again shortly
                log.exception("outbox relay failed; retrying")
                published = 0
            if published < RELAY_LIMIT:  # caught up: until woken, or the next look
                self._woken.wait(self.interval)
                self._woken = Event()

    def stop(self) -> None:
        """Publish what is already committed before the container goes away."""
        self._running = False
        self.wake()
        if not getattr(self, "enabled", False):
            return
        if self._gt is not None:
            self._gt.wait()
        try:
            while relay_batch(self._pool(), self.publisher, self.container.config):
                pass
        except Exception:
            log.exception("outbox not drained at shutdown; it will be published on restart")
        self.publisher.close()

    def kill(self) -> None:
        self._running = False
        self.wake()
        if getattr(self, "enabled", False):
            self.publisher.close()

    def get_dependency(self, worker_ctx: Any) -> OutboxRelay:
        return self


REPLAY_MAX = 5000


def published_events(
    conn: Connection, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Published events after outbox row ``after``, oldest first: ``(payloads, next)``."""
    rows = conn.execute(
        "SELECT id, payload FROM outbox WHERE published_at IS NOT NULL AND id > %s"
        " ORDER BY id LIMIT %s",
        (after, limit + 1),
    ).fetchall()
    page = rows[:limit]
    more = len(rows) > limit
    return [r["payload"] for r in page], (page[-1]["id"] if more and page else None)


class EventReplay:
    """Mixin for nameko services (next to ``healthcheck.HealthCheck``; refer to it through
    the module): ``replay_events(after, limit)`` gives back every event the service has
    published, in order, from its outbox (published rows are kept), so a read model can
    be rebuilt from scratch and checked against the one kept from live events."""

    db: Any

    @rpc
    def replay_events(self, after: int | None = None, limit: int = 1000) -> dict[str, Any]:
        if not isinstance(after, int | None) or isinstance(after, bool) or (after or 0) < 0:
            raise ValidationFailed({"after": ["must be a whole number of at least 0"]})
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= REPLAY_MAX:
            raise ValidationFailed({"limit": [f"must be a whole number from 1 to {REPLAY_MAX}"]})
        with self.db.connection() as conn:
            events, next_after = published_events(conn, after or 0, limit)
        return {"events": events, "next": next_after}
