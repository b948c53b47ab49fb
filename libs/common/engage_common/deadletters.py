"""Dead letters: see what is on ``engage.dead-letters`` and put it back on its queue.

A message that failed every retry waits on the dead-letter queue with the queue it came
from, its error and its attempts in headers (``messaging._RetryThenDeadLetter``). Once the
cause is fixed, ``replay`` publishes each one back to its queue, attempts reset, with
publisher confirms and mandatory routing, and only then acknowledges the dead letter: a
replay that dies midway loses nothing (a letter republished but not yet acknowledged is
replayed again, and consumers are idempotent on their message ids). A letter whose queue
no longer exists stays where it is.

The queue is only ever declared passively, so this works whatever arguments it was
declared with (classic or quorum). Listing takes letters without acknowledging them and
hands them back: none is lost, though on a quorum queue one looked at may come back
behind letters that arrived meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from amqp.exceptions import NotFound
from kombu import Connection
from nameko.amqp.publish import Publisher, UndeliverableMessage

from engage_common.messaging import ATTEMPTS_HEADER, DEAD_LETTER_QUEUE

ORIGINAL_QUEUE_HEADER = "x-engage-original-queue"
ERROR_HEADER = "x-engage-error"
# Set by RabbitMQ on a quorum queue's redeliveries (each look at a letter is one).
DELIVERY_COUNT_HEADER = "x-delivery-count"
DROPPED_ON_REPLAY = (ORIGINAL_QUEUE_HEADER, ERROR_HEADER, ATTEMPTS_HEADER, DELIVERY_COUNT_HEADER)


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter: where it came from, why it failed, and the message itself."""

    queue: str
    error: str
    attempts: int
    body: bytes | str
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    content_type: str | None = "application/json"
    content_encoding: str | None = "utf-8"

    @classmethod
    def from_headers(cls, body: bytes | str, headers: dict[str, Any], **props: Any) -> DeadLetter:
        return cls(
            queue=str(headers.get(ORIGINAL_QUEUE_HEADER) or ""),
            error=str(headers.get(ERROR_HEADER) or "no error recorded"),
            attempts=int(headers.get(ATTEMPTS_HEADER) or 1),
            body=body,
            headers=dict(headers),
            **props,
        )

    @classmethod
    def from_message(cls, message: Any) -> DeadLetter:
        return cls.from_headers(
            message.body,
            dict(message.headers or {}),
            message_id=(message.properties or {}).get("message_id"),
            content_type=message.content_type,
            content_encoding=message.content_encoding,
        )

    def replay_headers(self) -> dict[str, Any]:
        """The message's own headers, with a fresh count of attempts."""
        kept = {k: v for k, v in self.headers.items() if k not in DROPPED_ON_REPLAY}
        return {**kept, ATTEMPTS_HEADER: 1}


class CannotReplay(Exception):
    """The letter's queue is unknown or does not exist (any more): it was not replayed."""


def republisher(amqp_uri: str) -> Callable[[DeadLetter], None]:
    """A function that publishes a letter back to its queue and returns once RabbitMQ has
    confirmed it (``CannotReplay`` when nothing would receive it)."""
    publisher = Publisher(amqp_uri, use_confirms=True, mandatory=True)

    def republish(letter: DeadLetter) -> None:
        if not letter.queue or letter.queue == DEAD_LETTER_QUEUE.name:
            raise CannotReplay(f"no queue to replay to ({letter.queue or 'none recorded'})")
        props = {"message_id": letter.message_id} if letter.message_id else {}
        try:
            publisher.publish(
                letter.body,
                exchange=None,
                routing_key=letter.queue,
                headers=letter.replay_headers(),
                serializer=None,
                content_type=letter.content_type,
                content_encoding=letter.content_encoding,
                **props,
            )
        except UndeliverableMessage:
            raise CannotReplay(f"queue {letter.queue} does not exist") from None

    return republish


@dataclass
class _Look:
    """A channel on the dead-letter queue, how many letters it held (0 when the queue was
    never declared), and how many of them this look acknowledged."""

    channel: Any
    depth: int
    acked: int = 0


SETTLE_SECONDS = 10.0  # at most, for letters looked at to be back on the queue


@contextmanager
def _dead_letter_channel(amqp_uri: str) -> Iterator[_Look]:
    """A look at the dead-letter queue. On the way out, whatever was taken and not
    acknowledged is handed back, and the look waits until the queue holds it again: a
    quorum queue takes a handed-back letter back asynchronously, so without the wait, a
    second look straight after this one could miss letters (seen in CI)."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        try:
            depth = channel.queue_declare(DEAD_LETTER_QUEUE.name, passive=True).message_count
        except NotFound:
            yield _Look(None, 0)
            return
        look = _Look(channel, depth)
        try:
            yield look
        finally:
            channel.basic_recover(requeue=True)
            channel.close()
            _settle(conn, depth - look.acked)


def _settle(conn: Any, expected: int) -> None:
    """Wait (up to ``SETTLE_SECONDS``) until the queue holds at least ``expected`` letters
    ready (new letters only add to it)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    channel = conn.channel()
    try:
        while time.monotonic() < deadline:
            ready = channel.queue_declare(DEAD_LETTER_QUEUE.name, passive=True).message_count
            if ready >= expected:
                return
            time.sleep(0.05)
    finally:
        channel.close()


def list_letters(amqp_uri: str, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
    """Up to ``limit`` letters waiting on the queue, in queue order (only those from
    ``queue`` when given), left on the queue."""
    letters: list[DeadLetter] = []
    with _dead_letter_channel(amqp_uri) as look:
        channel = look.channel
        for _ in range(look.depth):
            if len(letters) >= limit:
                break
            message = channel.basic_get(DEAD_LETTER_QUEUE.name, no_ack=False)
            if message is None:
                break
            letter = DeadLetter.from_message(_kombu_message(channel, message))
            if queue is None or letter.queue == queue:
                letters.append(letter)
    return letters


@dataclass
class Replayed:
    """What a replay did: letters put back, and letters left with the reason."""

    replayed: list[DeadLetter] = field(default_factory=list)
    refused: list[tuple[DeadLetter, str]] = field(default_factory=list)


def replay(
    amqp_uri: str,
    queue: str | None = None,
    limit: int | None = None,
    on_replayed: Callable[[DeadLetter], None] | None = None,
) -> Replayed:
    """Put letters back on their queues (only those from ``queue`` when given; at most
    ``limit``), each acknowledged only after its republish was confirmed. Only the letters
    there when it starts are looked at, so a letter that fails again is not replayed twice."""
    done = Replayed()
    republish = republisher(amqp_uri)
    with _dead_letter_channel(amqp_uri) as look:
        channel = look.channel
        for _ in range(look.depth):
            if limit is not None and len(done.replayed) >= limit:
                break
            message = channel.basic_get(DEAD_LETTER_QUEUE.name, no_ack=False)
            if message is None:
                break
            letter = DeadLetter.from_message(_kombu_message(channel, message))
            if queue is not None and letter.queue != queue:
                continue
            try:
                republish(letter)
            except CannotReplay as refused:
                done.refused.append((letter, str(refused)))
                continue
            channel.basic_ack(message.delivery_tag)
            look.acked += 1
            done.replayed.append(letter)
            if on_replayed:
                on_replayed(letter)
    return done


def _kombu_message(channel: Any, raw: Any) -> Any:
    """kombu's Message for a raw ``basic_get`` result (headers and properties parsed)."""
    return channel.message_to_python(raw)
