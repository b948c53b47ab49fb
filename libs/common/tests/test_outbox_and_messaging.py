"""The outbox relay and the retrying, dead-lettering entrypoints, on real RabbitMQ and
PostgreSQL, through nameko service containers."""

from __future__ import annotations

from typing import Any

import pytest
from kombu import Connection, Queue
from nameko.amqp.publish import Publisher
from nameko.rpc import rpc

from engage_common.db import Database, Pool
from engage_common.messaging import (
    ATTEMPTS_HEADER,
    DEAD_LETTER_QUEUE,
    claim_message,
    consume,
    event_handler,
)
from engage_common.outbox import OutboxRelay, pending_count, record_event
from engage_common.testing import eventually


class Emitter:
    name = "emitter"
    db = Database()
    outbox = OutboxRelay()

    @rpc
    def make(self, label: str) -> str:
        with self.db.connection() as conn:
            return record_event(conn, "emitter", "thing_made", {"label": label})


class Listener:
    """Applies each event once, recording the effect in its own database."""

    name = "listener"
    db = Database()

    @event_handler("emitter", "thing_made")
    def on_thing_made(self, payload: dict[str, Any]) -> None:
        with self.db.connection() as conn:
            if claim_message(conn, payload["event_id"], "listener.on_thing_made"):
                conn.execute(
                    "INSERT INTO outbox (event_id, source, event_type, payload, published_at)"
                    " VALUES (gen_random_uuid(), 'listener', 'applied', %s, now())",
                    (f'{{"label": "{payload["label"]}"}}',),
                )


def applied_labels(pool: Pool) -> list[str]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT payload->>'label' AS label FROM outbox WHERE source = 'listener' ORDER BY id"
        ).fetchall()
    return [r["label"] for r in rows]


@pytest.fixture
def configs(make_vhost, make_database) -> tuple[dict[str, str], dict[str, str]]:
    amqp = make_vhost()
    return (
        {"AMQP_URI": amqp, "DATABASE_URL": make_database("surveys")},
        {"AMQP_URI": amqp, "DATABASE_URL": make_database("surveys")},
    )


def test_events_committed_while_the_relay_was_down_are_published_once(
    container_factory, configs
) -> None:
    emitter_config, listener_config = configs
    listener = container_factory(Listener, listener_config)
    listener.start()
    emitter_pool = Pool(emitter_config["DATABASE_URL"])
    # Committed, but the process "died" before publishing: nothing is running the relay.
    with emitter_pool.connection() as conn:
        for label in ("a", "b", "c"):
            record_event(conn, "emitter", "thing_made", {"label": label})
    assert pending_count(emitter_pool) == 3

    emitter = container_factory(Emitter, emitter_config)
    emitter.start()
    listener_pool = Pool(listener_config["DATABASE_URL"])
    assert eventually(lambda: sorted(applied_labels(listener_pool)) == ["a", "b", "c"])
    assert pending_count(emitter_pool) == 0


def test_a_republished_event_is_applied_once(container_factory, configs) -> None:
    emitter_config, listener_config = configs
    listener = container_factory(Listener, listener_config)
    listener.start()
    emitter = container_factory(Emitter, emitter_config)
    emitter.start()
    emitter_pool = Pool(emitter_config["DATABASE_URL"])
    listener_pool = Pool(listener_config["DATABASE_URL"])
    with emitter_pool.connection() as conn:
        record_event(conn, "emitter", "thing_made", {"label": "once"})
    eventually(lambda: applied_labels(listener_pool) == ["once"])
    # Simulate a crash after publishing but before marking: the relay publishes it again.
    with emitter_pool.connection() as conn:
        conn.execute("UPDATE outbox SET published_at = NULL")
    eventually(lambda: pending_count(emitter_pool) == 0)
    with emitter_pool.connection() as conn:
        record_event(conn, "emitter", "thing_made", {"label": "after"})
    eventually(lambda: applied_labels(listener_pool) == ["once", "after"])
    assert applied_labels(listener_pool) == ["once", "after"]


POISON_QUEUE = Queue("test.poison", durable=True)


class Fussy:
    name = "fussy"
    db = Database()

    @consume(POISON_QUEUE)
    def take(self, body: dict[str, Any]) -> None:
        if body.get("poison"):
            raise ValueError(f"cannot handle {body['n']}")
        with self.db.connection() as conn:
            claim_message(conn, str(body["n"]), "fussy.take")


def test_a_poison_message_is_retried_then_dead_lettered_without_blocking(
    container_factory, make_vhost, make_database
) -> None:
    config = {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys")}
    container = container_factory(Fussy, config)
    container.start()
    publisher = Publisher(config["AMQP_URI"], use_confirms=True, serializer="json")
    publisher.publish({"n": 0, "poison": True}, routing_key=POISON_QUEUE.name)
    for n in range(1, 6):
        publisher.publish({"n": n}, routing_key=POISON_QUEUE.name)
    pool = Pool(config["DATABASE_URL"])

    def handled() -> int:
        with pool.connection() as conn:
            return conn.execute("SELECT count(*) AS n FROM processed_messages").fetchone()["n"]

    eventually(lambda: handled() == 5)
    with Connection(config["AMQP_URI"]) as conn:
        queue = DEAD_LETTER_QUEUE(conn.default_channel)
        queue.declare()
        message = eventually(lambda: queue.get(no_ack=True), timeout=15)
    assert message.payload == {"n": 0, "poison": True}
    assert message.headers["x-engage-original-queue"] == "test.poison"
    assert "ValueError: cannot handle 0" in message.headers["x-engage-error"]
    assert message.headers[ATTEMPTS_HEADER] == 5
