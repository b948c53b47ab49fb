"""The classic-to-quorum migration on the real broker, in a throwaway vhost: queues an
earlier Engage left classic become quorum queues with the same messages and bindings."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from kombu import Connection, Exchange, Queue

from engage_common.messaging import (
    DEAD_LETTER_QUEUE,
    SUBMISSIONS_EXCHANGE,
    DurablePublisher,
    submissions_queue,
)
from engage_common.queues import SUFFIX, Management, migrate_queues

EVENTS = Exchange("surveys.events", type="topic", durable=True)
HANDLER = "evt-surveys-response_submitted--gateway_projections.on_response"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def types(uri: str) -> dict[str, str]:
    return {q["name"]: q["type"] for q in Management.for_uri(uri).queues()}


def drain(uri: str, queue: Queue) -> list[tuple[str, dict, Any]]:
    """Every message of ``queue``: (message id, headers, payload)."""
    got = []
    with Connection(uri) as conn:
        bound = queue(conn.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            got.append((message.properties.get("message_id"), message.headers, message.payload))
    return got


def test_classic_queues_become_quorum_queues_with_their_messages(
    make_vhost: Callable[[], str],
) -> None:
    uri = make_vhost()
    classic_submissions = Queue(
        "surveys.submissions", exchange=SUBMISSIONS_EXCHANGE, routing_key="surveys", durable=True
    )
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.default_channel
        producer = conn.Producer(channel)
        classic_submissions(channel).declare()
        Queue(DEAD_LETTER_QUEUE.name, durable=True)(channel).declare()
        Queue(HANDLER, exchange=EVENTS, routing_key="response_submitted", durable=True)(
            channel
        ).declare()
        Queue("rpc-surveys", durable=True)(channel).declare()  # as nameko declares it
        Queue("rpc.reply-standalone_rpc_proxy-1", durable=False)(channel).declare()
        for n in range(3):
            producer.publish(
                {"n": n},
                exchange=SUBMISSIONS_EXCHANGE,
                routing_key="surveys",
                message_id=f"s{n}",
                headers={"x-engage-attempts": 2},
                delivery_mode=2,
            )
        producer.publish({"dead": 1}, routing_key=DEAD_LETTER_QUEUE.name, message_id="d1")
        # An interrupted migration: its temporary queue holds a message, the queue is gone.
        Queue(
            "outcomes.submissions" + SUFFIX,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )(channel).declare()
        producer.publish({"follow": 1}, routing_key="outcomes.submissions" + SUFFIX)

    # AMQP_URI as a failover list whose first node is away
    down = f"amqp://guest:guest@127.0.0.1:{closed_port()}/{uri.rsplit('/', 1)[1]}"
    report = migrate_queues(f"{down};{uri}")

    assert report.migrated == {
        "surveys.submissions": 3,
        DEAD_LETTER_QUEUE.name: 1,
        HANDLER: 0,
        "outcomes.submissions": 0,
    }
    assert report.deleted == ["rpc-surveys"] and not report.skipped
    assert types(uri) == {
        "surveys.submissions": "quorum",
        DEAD_LETTER_QUEUE.name: "quorum",
        HANDLER: "quorum",
        "outcomes.submissions": "quorum",
        "rpc.reply-standalone_rpc_proxy-1": "classic",  # not ours
    }
    # The code's own declarations now agree with the broker, bindings included.
    DurablePublisher(uri).submit("surveys", {"n": 3}, message_id="s3")
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish({"event": 1}, exchange=EVENTS, routing_key="response_submitted")
    got = drain(uri, submissions_queue("surveys"))
    assert sorted((m, h.get("x-engage-attempts"), b) for m, h, b in got) == [
        ("s0", 2, {"n": 0}),
        ("s1", 2, {"n": 1}),
        ("s2", 2, {"n": 2}),
        ("s3", None, {"n": 3}),
    ]
    assert [m for m, _, _ in drain(uri, DEAD_LETTER_QUEUE)] == ["d1"]
    assert [b for _, _, b in drain(uri, Queue(HANDLER))] == [{"event": 1}]
    assert [b for _, _, b in drain(uri, submissions_queue("outcomes"))] == [{"follow": 1}]
    again = migrate_queues(uri)  # once is enough
    assert again.migrated == {} and again.deleted == []


def test_a_queue_with_consumers_is_left_alone(make_vhost: Callable[[], str]) -> None:
    uri = make_vhost()
    with Connection(uri) as conn:
        queue = Queue("feedback.submissions", durable=True)(conn.default_channel)
        queue.declare()
        queue.consume(callback=lambda *_: None)
        report = migrate_queues(uri)
        assert "stop the services" in report.skipped["feedback.submissions"]
        assert report.migrated == {}
    assert types(uri) == {"feedback.submissions": "classic"}
