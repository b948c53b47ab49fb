"""SharedConfirms on the real broker: many threads publish at once on one connection and
each waits for its own confirm; an unroutable message fails; a connection the broker
closes is replaced on the next publish, and nothing confirmed is lost."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

from engage_common.confirms import NotConfirmed, SharedConfirms
from engage_common.messaging import submissions_queue
from engage_common.observability import HEADER, correlation
from engage_common.testing import eventually
from engage_common.vhosts import AUTH, MANAGEMENT_URL

NOWHERE = Exchange("engage.test-nowhere", type="direct", durable=True)


@pytest.fixture
def amqp_uri(make_vhost: Callable[[], str]) -> str:
    return make_vhost()


@pytest.fixture
def confirms(amqp_uri: str) -> Iterator[SharedConfirms]:
    shared = SharedConfirms(amqp_uri, name=f"test-{uuid.uuid4().hex[:8]}")
    yield shared
    shared.close()


def drain(uri: str, queue: Queue) -> list[Any]:
    """Every message of ``queue``, taken off it."""
    got = []
    with Connection(uri) as conn:
        bound = queue(conn.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            got.append(message)
    return got


def broker_connections(name_prefix: str) -> list[str]:
    """Names (the broker's) of open connections whose client named itself ``name_prefix...``."""
    got = requests.get(f"{MANAGEMENT_URL}/api/connections", auth=AUTH, timeout=30)
    got.raise_for_status()
    return [
        c["name"]
        for c in got.json()
        if str(c.get("user_provided_name") or "").startswith(name_prefix)
    ]


def close_connections(name_prefix: str) -> int:
    names = eventually(
        lambda: broker_connections(name_prefix), 30, "the management API lists the connection"
    )
    for name in names:
        requests.delete(
            f"{MANAGEMENT_URL}/api/connections/{quote(name, safe='')}",
            auth=AUTH,
            timeout=30,
            headers={"X-Reason": "test: connection dropped"},
        ).raise_for_status()
    return len(names)


def test_many_threads_publish_at_once_and_each_gets_its_own_confirm(
    confirms: SharedConfirms, amqp_uri: str
) -> None:
    errors: list[BaseException] = []
    ids = [str(uuid.uuid4()) for _ in range(200)]

    def send(chunk: list[str]) -> None:
        for message_id in chunk:
            try:
                with correlation(f"req-{message_id}"):
                    confirms.submit("surveys", {"id": message_id}, message_id=message_id)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=send, args=(ids[i::20],)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = drain(amqp_uri, submissions_queue("surveys"))
    assert sorted(m.properties["message_id"] for m in got) == sorted(ids)
    for message in got:
        mid = message.properties["message_id"]
        assert message.payload == {"id": mid}
        assert message.properties["delivery_mode"] == 2
        assert message.content_type == "application/json"
        assert message.headers.get(HEADER) == f"req-{mid}"
    # one connection for the process, not one per thread
    assert len(eventually(lambda: broker_connections(confirms.name), 30, "listed")) == 1


def test_an_unroutable_message_fails_and_the_next_routable_one_is_confirmed(
    confirms: SharedConfirms, amqp_uri: str
) -> None:
    with Connection(amqp_uri) as conn:
        NOWHERE(conn.default_channel).declare()  # an exchange with no queue bound
    with pytest.raises(NotConfirmed, match="unroutable"):
        confirms.publish({"n": 1}, NOWHERE, "nobody", message_id="lost-1")
    confirms.submit("surveys", {"n": 2}, message_id="kept-2")
    assert [m.payload for m in drain(amqp_uri, submissions_queue("surveys"))] == [{"n": 2}]


def test_a_deleted_queue_makes_the_publish_fail_then_is_declared_again(
    confirms: SharedConfirms, amqp_uri: str
) -> None:
    confirms.submit("surveys", {"n": 1}, message_id="m1")
    with Connection(amqp_uri) as conn:
        submissions_queue("surveys")(conn.default_channel).delete()
    with pytest.raises(NotConfirmed, match="unroutable"):
        confirms.submit("surveys", {"n": 2}, message_id="m2")
    confirms.submit("surveys", {"n": 3}, message_id="m3")
    assert [m.payload for m in drain(amqp_uri, submissions_queue("surveys"))] == [{"n": 3}]


# It waits for RabbitMQ's management statistics to list the connection (about 20 s):
# ./engage test runs it in the heavy pytest, beside the rest.
@pytest.mark.heavy
def test_a_dropped_connection_is_replaced_and_nothing_confirmed_is_lost(
    confirms: SharedConfirms, amqp_uri: str
) -> None:
    confirmed: list[str] = []
    failed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def keep_sending(worker: int) -> None:
        n = 0
        while not stop.is_set():
            message_id = f"{worker}-{n}"
            n += 1
            try:
                confirms.submit("surveys", {"id": message_id}, message_id=message_id)
            except (NotConfirmed, OperationalError, OSError):
                with lock:
                    failed.append(message_id)
            else:
                with lock:
                    confirmed.append(message_id)

    threads = [threading.Thread(target=keep_sending, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    try:
        eventually(lambda: len(confirmed) > 50, 30, "messages confirmed before the drop")
        assert close_connections(confirms.name) == 1
        before = len(confirmed)
        # the next publishes go out on a new connection
        eventually(lambda: len(confirmed) > before + 50, 30, "confirms after the drop")
    finally:
        stop.set()
        for t in threads:
            t.join()
    stored = {m.properties["message_id"] for m in drain(amqp_uri, submissions_queue("surveys"))}
    assert set(confirmed) <= stored
    assert len(eventually(lambda: broker_connections(confirms.name), 30, "listed")) == 1


def test_no_broker_is_an_error_for_the_caller() -> None:
    confirms = SharedConfirms("amqp://guest:guest@127.0.0.1:1/", name="test-nobroker")
    try:
        with pytest.raises((OperationalError, OSError)):
            confirms.submit("surveys", {"n": 1}, message_id="m1")
    finally:
        confirms.close()


def test_a_node_that_does_not_answer_is_passed_over_for_the_next(amqp_uri: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    vhost = amqp_uri.rsplit("/", 1)[1]
    confirms = SharedConfirms(
        f"amqp://guest:guest@127.0.0.1:{closed}/{vhost};{amqp_uri}", name="test-failover"
    )
    try:
        confirms.submit("surveys", {"n": 1}, message_id="m1")
    finally:
        confirms.close()
    assert [m.payload for m in drain(amqp_uri, submissions_queue("surveys"))] == [{"n": 1}]
