"""RabbitMQ plumbing shared by the services and the gateway.

nameko acks a message even when its handler raised, and its events carry no
message id. The entrypoints here add what is missing: a bounded number of
retries, then a dead-letter queue that keeps the message and its error, so a
poison message never blocks the ones behind it. Handlers make themselves
idempotent with ``claim_message`` inside their own transaction.

Every queue that holds residents' input or domain events (the submissions queues, the
event handlers' queues and the dead-letter queue) is a quorum queue: RabbitMQ keeps it
on a majority of a cluster's nodes, so a node can die without losing a message. RPC
request queues stay classic but transient (``rpc``): RabbitMQ forgets one when its node
dies, and the service declares it again on the node it reconnects to (a durable classic
queue whose node is down cannot be declared anywhere: the service could not consume
again until that node came back). RabbitMQ refuses to redeclare a queue with another
type or durability: ``engage_common.queues.migrate_queues`` turns a broker's existing
classic queues into quorum ones (``./engage manage migrate-queues``).

``AMQP_URI`` may list several nodes separated by ``;`` (kombu's failover syntax):
publishers and consumers connect to the first that answers and move to the next when
theirs goes away.
"""

from __future__ import annotations

import logging
import traceback
from functools import partial
from typing import Any

import eventlet
from kombu import Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.events import SERVICE_POOL, EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer, QueueConsumer
from nameko.rpc import RPC_QUEUE_TEMPLATE, Rpc, RpcConsumer, get_rpc_exchange
from nameko.utils import sanitize_url
from psycopg import Connection

from engage_common.observability import batch_context, message_headers

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ATTEMPTS_HEADER = "x-engage-attempts"
QUORUM = {"x-queue-type": "quorum"}  # replicated, durable; never exclusive or auto-delete
DEAD_LETTER_QUEUE = Queue("engage.dead-letters", durable=True, queue_arguments=QUORUM)

SUBMISSIONS_EXCHANGE = Exchange("engage.submissions", type="direct", durable=True)


def submissions_queue(owner: str) -> Queue:
    """The durable queue of resident submissions that ``owner`` (a service) stores."""
    return Queue(
        f"{owner}.submissions",
        exchange=SUBMISSIONS_EXCHANGE,
        routing_key=owner,
        durable=True,
        queue_arguments=QUORUM,
    )


def amqp_uris(amqp_uri: str) -> list[str]:
    """The URIs of ``AMQP_URI``: one, or several separated by ``;`` (failover)."""
    return [uri.strip() for uri in amqp_uri.split(";") if uri.strip()]


def redacted(amqp_uri: str) -> str:
    """``AMQP_URI`` with every node's password hidden, for logs."""
    return ";".join(sanitize_url(uri) for uri in amqp_uris(amqp_uri))


class _QueueConsumer(QueueConsumer):
    """nameko's queue consumer; its warning when it cannot connect hides the password of
    every node of an ``AMQP_URI`` list (nameko's hides only the first one's)."""

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        log.warning(
            "Error connecting to broker at %s (%s). Retrying in %s seconds.",
            redacted(self.amqp_uri),
            exc,
            interval,
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
        # The message keeps its id through retries and into the dead-letter queue.
        message_id = (message.properties or {}).get("message_id")
        same_id = {"message_id": message_id} if message_id else {}
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
                **same_id,
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
            **same_id,
        )


class ReliableConsumer(_RetryThenDeadLetter, Consumer):
    queue_consumer = _QueueConsumer()


class ReliableEventHandler(_RetryThenDeadLetter, EventHandler):
    """nameko's ``event_handler`` with retries and a dead letter. Its queue (one per
    handler, shared by a service's instances: ``SERVICE_POOL``) is a quorum queue;
    nameko builds it in ``setup`` without arguments. Broadcast and singleton handlers,
    and ones without reliable delivery (auto-delete queues), keep nameko's classic queue."""

    queue_consumer = _QueueConsumer()

    def setup(self) -> None:
        super().setup()  # builds self.queue; the queue consumer declares it when it starts
        if self.handler_type is SERVICE_POOL and self.reliable_delivery:
            self.queue.queue_arguments = {**(self.queue.queue_arguments or {}), **QUORUM}


class TransientRpcConsumer(RpcConsumer):
    """nameko's RPC consumer with a transient ``rpc-<service>`` queue (nameko's is
    durable). A request waits in it while the service is down and the broker up."""

    queue_consumer = _QueueConsumer()

    def setup(self) -> None:
        if self.queue is None:
            service = self.container.service_name
            self.queue = Queue(
                RPC_QUEUE_TEMPLATE.format(service),
                exchange=get_rpc_exchange(self.container.config),
                routing_key=f"{service}.*",
                durable=False,
            )
            self.queue_consumer.register_provider(self)
            self._registered = True


class TransientRpc(Rpc):
    """nameko's ``rpc`` on a transient queue: every ``@rpc`` of a service must be this
    one (or none of them), since they share the queue."""

    rpc_consumer = TransientRpcConsumer()


consume = ReliableConsumer.decorator
event_handler = ReliableEventHandler.decorator
rpc = TransientRpc.decorator

BATCH_SIZE = 100  # messages a batch at most
BATCH_WORKERS = 2  # batches handled at once; the next one fills meanwhile
BATCH_LINGER = 0.005  # seconds a short batch waits for more while a batch worker is free
BATCH_MAX_WAIT = 0.05  # seconds it waits at most while every batch worker is busy
BATCHES_IN_FLIGHT = BATCH_WORKERS + 1  # unacknowledged batches: those handled, one filling


class _BatchQueueConsumer(_QueueConsumer):
    """nameko's queue consumer on its own connection, with a prefetch of a few batches
    (nameko's is ``max_workers``, a batch would be at most that)."""

    @property
    def prefetch_count(self) -> int:
        return BATCH_SIZE * BATCHES_IN_FLIGHT


class BatchConsumer(ReliableConsumer):
    """``consume``, but the handler gets a list of message bodies, handled in one worker
    and all acknowledged when it returns. When it raises, each message of the batch is
    handled again on its own (``[body]``), with ``consume``'s retries and dead letter, so
    one poison message never holds back the others. The handler must be idempotent per
    message (``claim_message``): a message may be seen twice.

    Batches form naturally: while ``BATCH_WORKERS`` batches are being handled, messages
    gather into the next one, which starts as soon as one of them is done (or when it
    holds ``BATCH_SIZE``, or after ``BATCH_MAX_WAIT``); with a batch worker free, a batch
    starts ``BATCH_LINGER`` after its first message. So a steady trickle is handled in
    batches of what arrived meanwhile, not one message (and a whole transaction) each."""

    queue_consumer = _BatchQueueConsumer()

    def setup(self) -> None:
        super().setup()
        self._pending: list[Any] = []
        self._flusher: Any = None
        self._busy = 0  # batches being handled

    def handle_message(self, body: Any, message: Any) -> None:
        self._pending.append((body, message))
        if len(self._pending) >= BATCH_SIZE:
            self._flush()
        elif self._flusher is None:
            wait = BATCH_LINGER if self._busy < BATCH_WORKERS else BATCH_MAX_WAIT
            self._flusher = eventlet.spawn_after(wait, self._flush)

    def _flush(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()  # a no-op when it is the flusher that runs this
            self._flusher = None
        batch, self._pending = self._pending, []
        if batch:
            self._spawn(batch)

    def _spawn(self, batch: list[Any]) -> None:
        bodies = [body for body, _ in batch]
        self._busy += 1
        try:
            self.container.spawn_worker(
                self,
                (bodies,),
                {},
                context_data=batch_context(m for _, m in batch),  # correlation ids
                handle_result=partial(self._batch_done, batch),
            )
        except ContainerBeingKilled:
            self._busy -= 1
            for _, message in batch:
                self.queue_consumer.requeue_message(message)

    def _batch_done(
        self, batch: list[Any], worker_ctx: Any, result: Any = None, exc_info: Any = None
    ) -> tuple[Any, Any]:
        self._busy -= 1
        if exc_info is None:
            for _, message in batch:
                self.queue_consumer.ack_message(message)
        elif len(batch) == 1:
            self.handle_message_processed(batch[0][1], result, exc_info)
        else:
            log.warning(
                "a batch of %d messages on %s failed; handling each on its own",
                len(batch),
                self.queue.name,
            )
            for one in batch:
                self._spawn([one])
        if self._pending and self._busy < BATCH_WORKERS:
            self._flush()  # what gathered while this batch was handled
        return result, exc_info


consume_batches = BatchConsumer.decorator


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
            headers=message_headers(),  # the request's correlation id (observability)
        )
