"""RabbitMQ plumbing shared by the services and the gateway.

nameko acks a message even when its handler raised, and its events carry no
message id. The entrypoints here add what is missing: a bounded number of
retries, then a dead-letter queue that keeps the message and its error, so a
poison message never blocks the ones behind it. Handlers make themselves
idempotent with ``claim_message`` inside their own transaction.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from kombu import Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler
from nameko.messaging import Consumer
from psycopg import Connection

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ATTEMPTS_HEADER = "x-engage-attempts"
DEAD_LETTER_QUEUE = Queue("engage.dead-letters", durable=True)

SUBMISSIONS_EXCHANGE = Exchange("engage.submissions", type="direct", durable=True)


def submissions_queue(owner: str) -> Queue:
    """The durable queue of resident submissions that ``owner`` (a service) stores."""
    return Queue(
        f"{owner}.submissions", exchange=SUBMISSIONS_EXCHANGE, routing_key=owner, durable=True
    )


def claim_message(conn: Connection, message_id: str, handler: str) -> bool:
    """True the first time ``handler`` sees ``message_id`` (in this transaction)."""
    row = conn.execute(
        "INSERT INTO processed_messages (message_id, handler) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING RETURNING message_id",
        (message_id, handler),
    ).fetchone()
    return row is not None


class _RetryThenDeadLetter:
    """Mixin for nameko message entrypoints: retry a failed message, then dead-letter it."""

    max_attempts = MAX_ATTEMPTS

    def handle_message_processed(
        self, message: Any, result: Any = None, exc_info: Any = None
    ) -> None:
        if exc_info is not None:
            try:
                self._divert(message, exc_info)
            except Exception:
                log.exception("could not divert a failed message; requeueing it")
                self.queue_consumer.requeue_message(message)
                return
        self.queue_consumer.ack_message(message)

    def _divert(self, message: Any, exc_info: Any) -> None:
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 1))
        publisher = Publisher(self.container.config["AMQP_URI"], use_confirms=True)
        queue_name = self.queue.name
        if attempts < self.max_attempts:
            headers[ATTEMPTS_HEADER] = attempts + 1
            log.warning("message on %s failed (attempt %s); retrying", queue_name, attempts)
            publisher.publish(
                message.body,
                exchange=None,
                routing_key=queue_name,
                headers=headers,
                serializer=None,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
            )
            return
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        headers.update({"x-engage-original-queue": queue_name, "x-engage-error": error[:2000]})
        log.error("message on %s dead-lettered after %s attempts: %s", queue_name, attempts, error)
        publisher.publish(
            message.body,
            exchange=None,
            routing_key=DEAD_LETTER_QUEUE.name,
            headers=headers,
            serializer=None,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            declare=[DEAD_LETTER_QUEUE],
        )


class ReliableConsumer(_RetryThenDeadLetter, Consumer):
    pass


class ReliableEventHandler(_RetryThenDeadLetter, EventHandler):
    pass


consume = ReliableConsumer.decorator
event_handler = ReliableEventHandler.decorator


# Ride out a blip in the connection, but answer within a second when RabbitMQ is away
# (nameko's default policy waits about 5 s before giving up).
SHORT_RETRY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.3, "interval_max": 0.5}


class DurablePublisher:
    """Publishes persistent messages with publisher confirms: once ``publish``
    returns, RabbitMQ has the message on disk (or in a quorum) and will keep it.
    When RabbitMQ cannot be reached it raises (kombu's ``OperationalError`` or an
    ``OSError``) within about a second."""

    def __init__(self, amqp_uri: str) -> None:
        self._publisher = Publisher(
            amqp_uri, use_confirms=True, serializer="json", mandatory=True, retry_policy=SHORT_RETRY
        )

    def submit(self, owner: str, payload: dict[str, Any], message_id: str) -> None:
        queue = submissions_queue(owner)
        self._publisher.publish(
            payload,
            exchange=SUBMISSIONS_EXCHANGE,
            routing_key=owner,
            message_id=message_id,
            declare=[queue],
        )
