"""A gunicorn worker that leaves closes what it opened (``observability.worker_exit``):
its RPC proxies' and publishing connections, so RabbitMQ logs closed connections rather
than "client unexpectedly closed TCP connection", and its idle database connections."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from kombu import Connection

from engage_common.messaging import submissions_queue
from engage_common.testing import eventually
from gateway import observability
from gateway.app import create_app
from gateway.config import Settings
from gateway.errors import ServiceUnavailable
from gateway.rpc import Services


def test_a_leaving_worker_closes_its_publishing_connection_after_its_confirms(
    settings: Settings, amqp: str, surveys: Any
) -> None:
    app = create_app(settings)
    engage = app.extensions["engage"]
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for message_id in ids:
        engage.publisher.submit("exit-test", {"n": message_id}, message_id)
    owner = engage.publisher._owner
    assert owner is not None and owner._thread.is_alive() and owner._conn is not None
    with engage.db.connection() as conn:
        conn.execute("SELECT 1")
    assert engage.db._idle, "the pool kept its connection"
    assert engage.services.surveys("health")
    caller = engage.services._local.caller
    assert caller._runner is not None

    observability.worker_exit(server=None, worker=SimpleNamespace(wsgi=app))

    assert engage.publisher._owner is None
    assert not owner._thread.is_alive() and owner._conn is None
    assert engage.db._idle == []
    assert caller._runner is None and engage.services._callers == []
    assert engage.services.surveys("health"), "a later call starts a new proxy"
    engage.services.close()
    # What was confirmed before the worker left is in the queue.
    with Connection(amqp) as conn:
        queue = submissions_queue("exit-test")(conn.channel())
        got = []
        while (message := queue.get(no_ack=True)) is not None:
            got.append(message.properties["message_id"])
    assert got == ids


def test_a_closed_services_stops_probing_a_service_it_saw_down(settings: Settings) -> None:
    services = Services(settings.amqp_uri, timeout=1)
    with pytest.raises(ServiceUnavailable):
        services.call("nobody", "health")  # no such service: marked down, probed
    prober = services._prober
    assert prober is not None and prober.is_alive()
    services.close()
    eventually(lambda: not prober.is_alive(), 10, "the prober to stop")
    with pytest.raises(ServiceUnavailable):
        services.call("nobody", "health")  # still failing fast, and no new prober
    assert services._prober is None
