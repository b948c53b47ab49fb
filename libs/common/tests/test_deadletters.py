"""Listing and replaying dead letters (``engage_common.deadletters``) on real RabbitMQ and
PostgreSQL: a poison message is dead-lettered, listed with its error, and replayed once
its handler is fixed, and stored once."""

from __future__ import annotations

import json
from typing import Any

from kombu import Queue
from nameko.amqp.publish import Publisher

from engage_common import deadletters
from engage_common.db import Database, Pool
from engage_common.messaging import ATTEMPTS_HEADER, DEAD_LETTER_QUEUE, claim_message, consume
from engage_common.testing import eventually, holds_for

MENDING_QUEUE = Queue("test.mending", durable=True)


class Mending:
    """Fails every message until it is fixed; then stores each once."""

    name = "mending"
    db = Database()
    fixed = False
    handled: list[str] = []

    @consume(MENDING_QUEUE)
    def take(self, body: dict[str, Any]) -> None:
        if not Mending.fixed:
            raise ValueError(f"cannot handle {body['id']} yet")
        Mending.handled.append(body["id"])
        with self.db.connection() as conn:
            claim_message(conn, body["id"], "mending.take")


def stored(pool: Pool) -> list[str]:
    with pool.connection() as conn:
        rows = conn.execute("SELECT message_id FROM processed_messages").fetchall()
    return [r["message_id"] for r in rows]


def test_a_dead_letter_is_listed_then_replayed_once_its_handler_is_fixed(
    container_factory, make_vhost, make_database
) -> None:
    config = {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys")}
    amqp = config["AMQP_URI"]
    assert deadletters.list_letters(amqp) == []  # no dead-letter queue yet: nothing to list
    Mending.fixed, Mending.handled = False, []
    container = container_factory(Mending, config)
    container.start()
    publisher = Publisher(amqp, use_confirms=True, serializer="json")
    publisher.publish({"id": "m-1"}, routing_key=MENDING_QUEUE.name, message_id="m-1")
    # A letter from a queue that no longer exists: listed, never replayed, never lost.
    publisher.publish(
        {"id": "gone-1"},
        routing_key=DEAD_LETTER_QUEUE.name,
        headers={"x-engage-original-queue": "test.gone", "x-engage-error": "KeyError: 'x'"},
        declare=[DEAD_LETTER_QUEUE],
    )

    listed = eventually(
        lambda: [x for x in deadletters.list_letters(amqp) if x.queue == MENDING_QUEUE.name],
        30,
        "the poison message dead-lettered",
    )
    assert len(listed) == 1
    letter = listed[0]
    assert json.loads(letter.body) == {"id": "m-1"}
    assert letter.attempts == 5
    assert "ValueError: cannot handle m-1 yet" in letter.error
    assert letter.message_id == "m-1"  # kept through the retries
    # Listing leaves both letters on the queue (a quorum queue may change their order).
    assert sorted(x.queue for x in deadletters.list_letters(amqp)) == ["test.gone", "test.mending"]
    assert [x.queue for x in deadletters.list_letters(amqp, queue="test.gone")] == ["test.gone"]

    Mending.fixed = True
    done = deadletters.replay(amqp, queue=MENDING_QUEUE.name)
    assert [x.message_id for x in done.replayed] == ["m-1"]
    assert done.refused == []
    pool = Pool(config["DATABASE_URL"])
    eventually(lambda: stored(pool) == ["m-1"], 15, "the replayed message stored")
    holds_for(lambda: Mending.handled == ["m-1"], 1, "the replayed message handled once")

    # Replaying everything now: the letter with no queue to go to stays, with the reason.
    done = deadletters.replay(amqp)
    assert done.replayed == []
    assert [(x.queue, why) for x, why in done.refused] == [
        ("test.gone", "queue test.gone does not exist")
    ]
    left = deadletters.list_letters(amqp)
    assert [(x.queue, x.error) for x in left] == [("test.gone", "KeyError: 'x'")]
    assert left[0].replay_headers() == {ATTEMPTS_HEADER: 1}
