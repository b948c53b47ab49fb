"""How ``consume_batches`` forms its batches, and the outbox relay woken after a commit,
on real RabbitMQ and PostgreSQL through nameko service containers (issue 15, freshness)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from eventlet.event import Event
from kombu import Connection, Queue
from nameko.amqp.publish import Publisher
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common import messaging
from engage_common.db import Database, Pool
from engage_common.messaging import BatchConsumer, consume_batches, event_handler
from engage_common.outbox import (
    RELAY_LIMIT,
    BatchPublisher,
    OutboxRelay,
    pending_count,
    record_event,
    relay_batch,
)
from engage_common.testing import eventually

QUEUE = Queue("test.batches", durable=True)


class Batches:
    """Records each batch; while ``hold`` is set, a batch waits until its gate is opened."""

    name = "batches"
    calls: ClassVar[list[list[int]]] = []
    gates: ClassVar[list[Event]] = []
    hold: ClassVar[bool] = True

    @consume_batches(QUEUE)
    def take(self, bodies: list[Any]) -> None:
        Batches.calls.append([body["n"] for body in bodies])
        if Batches.hold:
            gate = Event()
            Batches.gates.append(gate)
            gate.wait()


@pytest.fixture
def batches(container_factory, make_vhost) -> Iterator[tuple[Any, Publisher, dict[str, str]]]:
    Batches.calls, Batches.gates, Batches.hold = [], [], True
    config = {"AMQP_URI": make_vhost()}
    container = container_factory(Batches, config)
    container.start()
    publisher = Publisher(config["AMQP_URI"], use_confirms=True, serializer="json")
    publisher.publish({"n": -1}, routing_key=QUEUE.name, declare=[QUEUE])  # queue is there
    assert eventually(lambda: Batches.calls == [[-1]])
    Batches.gates.pop().send()
    yield container, publisher, config
    Batches.hold = False
    for gate in Batches.gates:
        if not gate.ready():
            gate.send()


def send(publisher: Publisher, *numbers: int) -> None:
    for n in numbers:
        publisher.publish({"n": n}, routing_key=QUEUE.name)


def test_messages_gather_while_every_batch_worker_is_busy_and_go_in_one_batch(
    batches: tuple[Any, Publisher, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 200 messages a second a batch a few milliseconds long held one or two messages,
    each paying a whole transaction. Now, while ``BATCH_WORKERS`` batches are handled, the
    next gathers and starts, whole, as soon as one of them is done."""
    monkeypatch.setattr(messaging, "BATCH_MAX_WAIT", 60.0)  # only a free worker starts it
    container, publisher, config = batches
    entrypoint = next(e for e in container.entrypoints if isinstance(e, BatchConsumer))
    assert messaging.BATCH_WORKERS == 2
    send(publisher, 0)
    assert eventually(lambda: Batches.calls[1:] == [[0]])
    send(publisher, 1)
    assert eventually(lambda: Batches.calls[1:] == [[0], [1]])
    send(publisher, *range(2, 12))
    assert eventually(lambda: len(entrypoint._pending) == 10)
    assert Batches.calls[1:] == [[0], [1]]  # both workers busy: nothing more started

    Batches.hold = False
    Batches.gates[0].send()
    assert eventually(lambda: Batches.calls[1:] == [[0], [1], list(range(2, 12))])
    Batches.gates[1].send()
    container.stop()  # what was not acknowledged goes back to the queue
    with Connection(config["AMQP_URI"]) as conn:
        _, ready, _ = QUEUE(conn.default_channel).queue_declare(passive=True)
    assert ready == 0


def test_messages_still_start_within_the_deadline_while_both_batches_are_stuck(
    batches: tuple[Any, Publisher, dict[str, str]],
) -> None:
    """A batch that never ends (a lock wait, a slow database) does not hold back the
    messages behind it longer than ``BATCH_MAX_WAIT``."""
    _, publisher, _ = batches
    send(publisher, 0)
    assert eventually(lambda: Batches.calls[1:] == [[0]])
    send(publisher, 1)
    assert eventually(lambda: Batches.calls[1:] == [[0], [1]])
    send(publisher, 2, 3, 4)
    assert eventually(lambda: sorted(n for call in Batches.calls[3:] for n in call) == [2, 3, 4])
    assert len(Batches.gates) >= 3 and not any(g.ready() for g in Batches.gates[:2])


HEARD: list[str] = []


class Waker:
    name = "waker"
    db = Database()
    relay = OutboxRelay(interval=600)  # left alone, it would look again in 10 minutes

    @rpc
    def make(self, label: str) -> None:
        with self.db.connection() as conn:
            record_event(conn, "waker", "thing_made", {"label": label})
        self.relay.wake()


class Hearer:
    name = "hearer"

    @event_handler("waker", "thing_made")
    def on_thing_made(self, event: dict[str, Any]) -> None:
        HEARD.append(event["label"])


def test_the_relay_publishes_as_soon_as_it_is_woken_after_a_commit(
    container_factory, make_vhost, make_database
) -> None:
    HEARD.clear()
    config = {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys")}
    container_factory(Hearer, config).start()
    container_factory(Waker, config).start()
    with ClusterRpcProxy(config, timeout=30) as proxy:
        proxy.waker.make("first")  # published at the relay's first look, or woken
        assert eventually(lambda: HEARD == ["first"], 20)
        proxy.waker.make("second")  # the relay is idle now, for 600 s unless woken
        assert eventually(lambda: HEARD == ["first", "second"], 20)


class Quiet:
    name = "quiet"
    db = Database()
    relay = OutboxRelay(interval=600)


def test_a_full_relay_batch_is_followed_by_the_next_at_once(
    container_factory, make_vhost, make_database
) -> None:
    """The relay waits (for a wake or its interval) only when it has caught up: a backlog
    of more than one batch goes out batch after batch."""
    HEARD.clear()
    config = {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys")}
    pool = Pool(config["DATABASE_URL"])
    with pool.connection() as conn:
        for n in range(2 * RELAY_LIMIT + 50):
            record_event(conn, "quiet", "thing_made", {"label": str(n)})
    container_factory(Quiet, config).start()
    assert eventually(lambda: pending_count(pool) == 0, 30)


def test_events_stay_pending_when_the_broker_does_not_take_them(make_vhost, make_database) -> None:
    """Marked published in the statement that locks them, but committed only once the
    broker confirmed them all: a failed publish leaves them pending for the next try."""
    config = {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys")}
    pool = Pool(config["DATABASE_URL"])
    with pool.connection() as conn:
        for label in ("a", "b", "c"):
            record_event(conn, "quiet", "thing_made", {"label": label})
    nowhere = config["AMQP_URI"].rsplit("/", 1)[0] + "/engage-no-such-vhost"
    with pytest.raises(Exception):  # noqa: B017 - whatever the broker's refusal raises
        relay_batch(pool, BatchPublisher(nowhere, timeout=5), config)
    assert pending_count(pool) == 3
    publisher = BatchPublisher(config["AMQP_URI"])
    try:
        assert relay_batch(pool, publisher, config) == 3
    finally:
        publisher.close()
    assert pending_count(pool) == 0
