"""Publisher confirms shared by a process's threads: one connection, many messages in flight.

``DurablePublisher`` publishes a message and waits for its confirm before the next one
may use the connection: one round trip per message, whichever thread sends it.
``SharedConfirms`` gives the whole process (a gunicorn worker) one AMQP connection and
one channel in confirm mode, owned by one background thread. A request thread hands it
a message and waits for that message's own confirm; meanwhile the owner publishes the
other threads' messages, so their confirms share round trips (RabbitMQ confirms several
with one ``basic.ack``).

What a caller is promised is ``DurablePublisher``'s: once ``submit`` returns, RabbitMQ
holds the message (persistent, in a quorum queue) and will keep it. ``submit`` raises
``NotConfirmed`` (an ``AMQPError``) when RabbitMQ refused it (``basic.nack``), could not
route it (``mandatory``: ``basic.return``), did not confirm it within ``timeout``
seconds, or the connection was lost before its confirm and sending it again failed; and
kombu's ``OperationalError`` (or an ``OSError``) when no node of ``AMQP_URI`` answers
(within about a second, as ``DurablePublisher``). A message whose confirm was lost with
the connection is sent again on a new one (at most ``ATTEMPTS`` times): it may then be
queued twice, which every consumer of the submission queues already absorbs (each stores
a submission once, by its id).

The owner connects when the first message comes (so a process that forks, like gunicorn,
connects in each worker) and again after its connection is lost, when the next message
comes. ``AMQP_URI`` may list several nodes (``;``): it connects to the first that
answers. A process that forked after using it gets its own owner (``os.getpid``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from amqp.exceptions import AMQPError
from kombu import Connection, Exchange, Queue
from kombu.serialization import dumps

from engage_common.messaging import SUBMISSIONS_EXCHANGE, redacted, submissions_queue
from engage_common.observability import message_headers

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 5.0  # seconds a caller waits for its confirm
ATTEMPTS = 2  # times a message is sent when its connection is lost before its confirm
HEARTBEAT = 30  # seconds (AMQP heartbeat), so a silently dead connection is noticed
TICK = 1.0  # seconds the owner waits on its socket between heartbeat checks
# Connecting: ride out a blip, but answer within about a second when no node answers.
CONNECT_RETRY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.3, "interval_max": 0.5}


class Submits(Protocol):
    """What queues a resident's submission: ``DurablePublisher`` or ``SharedConfirms``."""

    def submit(self, owner: str, payload: dict[str, Any], message_id: str) -> None: ...


class NotConfirmed(AMQPError):
    """RabbitMQ did not confirm the message: nacked, unroutable, no confirm in time, or
    the connection was lost before it came (and sending it again failed)."""


@dataclass(eq=False)
class _Message:
    exchange: Exchange
    routing_key: str
    body: bytes
    content_type: str
    content_encoding: str
    properties: dict[str, Any]
    headers: dict[str, Any]
    declare: tuple[Queue, ...]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    attempts: int = 0
    sent_at: float = 0.0

    @property
    def route(self) -> tuple[str, str, str | None]:
        return self.exchange.name, self.routing_key, self.properties.get("message_id")

    def settle(self, error: BaseException | None = None) -> None:
        """The first outcome wins: its confirm, or its caller giving up."""
        with _SETTLING:
            if not self.done.is_set():
                self.error = error
                self.done.set()


_STOP = object()
_SETTLING = threading.Lock()


class SharedConfirms:
    """Persistent, mandatory publishes with confirms on one shared connection (above)."""

    def __init__(
        self, amqp_uri: str, timeout: float = CONFIRM_TIMEOUT, name: str = "engage"
    ) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.name = name
        self._lock = threading.Lock()
        self._owner: _Owner | None = None
        self._pid = 0

    def submit(self, owner: str, payload: dict[str, Any], message_id: str) -> None:
        """Queue ``payload`` on ``owner``'s durable submissions queue (``DurablePublisher``
        's ``submit``); returns once RabbitMQ confirmed it."""
        self.publish(
            payload,
            SUBMISSIONS_EXCHANGE,
            owner,
            message_id=message_id,
            declare=[submissions_queue(owner)],
        )

    def publish(
        self,
        payload: Any,
        exchange: Exchange,
        routing_key: str,
        message_id: str,
        declare: Iterable[Queue] = (),
    ) -> None:
        """Publish ``payload`` (as JSON) and wait for its confirm; ``declare``: queues
        (with their exchange and binding) declared once per connection first."""
        content_type, content_encoding, body = dumps(payload, serializer="json")
        message = _Message(
            exchange=exchange,
            routing_key=routing_key,
            body=body if isinstance(body, bytes) else body.encode(content_encoding),
            content_type=content_type,
            content_encoding=content_encoding,
            properties={"delivery_mode": 2, "message_id": message_id},
            headers=message_headers(),  # the request's correlation id, read in its thread
            declare=tuple(declare),
        )
        self._running().send(message)
        if not message.done.wait(self.timeout):
            message.settle(NotConfirmed(f"no confirm within {self.timeout} s"))
        if message.error is not None:
            raise message.error

    def close(self) -> None:
        """Stop the owner and close its connection (messages still waiting fail)."""
        with self._lock:
            owner, self._owner = self._owner, None
        if owner is not None and self._pid == os.getpid():
            owner.stop()

    def _running(self) -> _Owner:
        with self._lock:
            if self._owner is None or self._pid != os.getpid():
                self._owner = _Owner(self.amqp_uri, self.timeout, f"{self.name}-{os.getpid()}")
                self._pid = os.getpid()
            return self._owner


class _Owner:
    """The thread that owns the connection: it publishes what callers hand it, reads the
    confirms and settles each caller's message."""

    def __init__(self, amqp_uri: str, timeout: float, name: str) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.name = name
        self._inbox: queue.Queue[Any] = queue.Queue()  # green under eventlet (tests)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._conn: Connection | None = None
        self._channel: Any = None
        self._declared: set[str] = set()
        self._pending: dict[int, _Message] = {}  # delivery tag -> message awaiting confirm
        self._returned: dict[tuple[str, str, str | None], Exception] = {}
        self._next_tag = 1
        self._thread = threading.Thread(target=self._run, name=f"confirms-{name}", daemon=True)
        self._thread.start()

    # -- callers' side --------------------------------------------------------------------

    def send(self, message: _Message) -> None:
        self._inbox.put(message)
        self._wake()

    def stop(self) -> None:
        self._inbox.put(_STOP)
        self._wake()
        self._thread.join(timeout=5)

    def _wake(self) -> None:
        # A full socket buffer means it is awake already; a closed one that it stopped.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- the owner thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._step():
                pass
        except Exception:  # never leave callers waiting on a dead thread
            log.exception("the publisher's confirm thread failed")
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:
                log.debug("closing the publisher's connection failed", exc_info=True)
            self._conn = None
        self._lose(NotConfirmed("the publisher stopped"), resend=False)
        for message in self._take_inbox():
            if message is not _STOP:
                message.settle(NotConfirmed("the publisher stopped"))
        self._wake_r.close()
        self._wake_w.close()

    def _step(self) -> bool:
        """One turn: publish what came, read what RabbitMQ sent. False once stopped."""
        if self._conn is None:
            first = self._inbox.get()  # idle without a connection until a message comes
            if first is _STOP:
                return False
            self._inbox.put(first)
        messages = self._take_inbox()
        if _STOP in messages:
            for message in messages:
                if message is not _STOP:
                    message.settle(NotConfirmed("the publisher stopped"))
            return False
        if messages and self._conn is None and not self._connect(messages):
            return True
        unsent = list(reversed(messages))
        try:
            while unsent:
                self._publish(unsent[-1])
                unsent.pop()
            self._read(TICK if not messages else 0.0)
            self._conn.connection.heartbeat_tick()  # type: ignore[union-attr]
            self._check_stuck()
        except Exception as exc:
            log.warning("lost the publisher's connection: %s", exc)
            self._lose(exc, resend=True, unsent=list(reversed(unsent)))
        return True

    def _take_inbox(self) -> list[Any]:
        with contextlib.suppress(OSError):  # BlockingIOError once it is empty
            while self._wake_r.recv(4096):
                pass
        taken = []
        while True:
            try:
                taken.append(self._inbox.get_nowait())
            except queue.Empty:
                return taken

    def _connect(self, messages: list[_Message]) -> bool:
        conn = Connection(
            self.amqp_uri,
            connect_timeout=2,
            heartbeat=HEARTBEAT,
            transport_options={"client_properties": {"connection_name": self.name}},
        )
        try:
            conn.ensure_connection(**CONNECT_RETRY)
            channel = conn.channel()
            channel.confirm_select()
        except Exception as exc:
            conn.release()
            log.warning("could not connect to %s to publish: %s", redacted(self.amqp_uri), exc)
            for message in messages:
                message.settle(exc)
            return False
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._conn, self._channel = conn, channel
        self._declared, self._returned, self._next_tag = set(), {}, 1
        return True

    def _publish(self, message: _Message) -> None:
        if message.done.is_set():
            return  # its caller gave up
        message.attempts += 1
        for entity in message.declare:
            if entity.name not in self._declared:
                entity(self._channel).declare()
                self._declared.add(entity.name)
        prepared = self._channel.prepare_message(
            message.body,
            0,
            message.content_type,
            message.content_encoding,
            message.headers,
            message.properties,
        )
        tag = self._next_tag
        self._next_tag += 1
        message.sent_at = time.monotonic()
        self._pending[tag] = message
        self._channel.basic_publish(
            prepared,
            exchange=message.exchange.name,
            routing_key=message.routing_key,
            mandatory=True,
        )

    def _read(self, wait: float) -> None:
        """Handle every frame RabbitMQ has sent, waiting up to ``wait`` seconds for one
        (or for a caller's wake-up)."""
        assert self._conn is not None
        raw = self._conn.connection
        readable, _, _ = select.select([raw.sock, self._wake_r], [], [], wait)
        if raw.sock not in readable:
            return
        while True:
            try:
                raw.drain_events(timeout=0)
            except TimeoutError:
                return

    def _check_stuck(self) -> None:
        """A confirm long overdue: treat the connection as dead (its callers gave up)."""
        if self._pending:
            oldest = min(m.sent_at for m in self._pending.values())
            if time.monotonic() - oldest > 2 * self.timeout:
                raise NotConfirmed(f"no confirm for {2 * self.timeout} s")

    def _settled(self, delivery_tag: int, multiple: bool) -> list[_Message]:
        if multiple:
            tags = [tag for tag in self._pending if tag <= delivery_tag]
        else:
            tags = [delivery_tag] if delivery_tag in self._pending else []
        return [self._pending.pop(tag) for tag in tags]

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        for message in self._settled(delivery_tag, multiple):
            returned = self._returned.pop(message.route, None)
            message.settle(returned)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        for message in self._settled(delivery_tag, multiple):
            self._returned.pop(message.route, None)
            message.settle(NotConfirmed("RabbitMQ refused the message (basic.nack)"))

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        """An unroutable message (``mandatory``): its ``basic.ack`` follows; it fails. The
        next message to that queue declares it again (it may have been deleted)."""
        message_id = (message.properties or {}).get("message_id")
        self._returned[(exchange, routing_key, message_id)] = NotConfirmed(
            f"unroutable: {exchange!r} {routing_key!r} ({exc})"
        )
        self._declared.clear()

    def _lose(self, exc: BaseException, resend: bool, unsent: list[_Message] | None = None) -> None:
        """Drop the connection. Messages awaiting their confirm, or not sent yet, are sent
        again on a new one (``resend``, up to ``ATTEMPTS`` sends) or fail."""
        waiting = [self._pending[tag] for tag in sorted(self._pending)] + (unsent or [])
        self._pending = {}
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                conn.collect()  # no goodbye: the connection is broken
            except Exception:
                log.debug("closing a lost connection failed", exc_info=True)
        for message in waiting:
            if resend and message.attempts < ATTEMPTS and not message.done.is_set():
                self._inbox.put(message)
            else:
                message.settle(NotConfirmed(f"connection lost before the confirm: {exc}"))
