"""/readyz with ``AMQP_URI`` as a failover list (issue 16): the broker is ready when any
node answers, however far down the list it is."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from gateway.app import create_app
from gateway.config import Settings


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(make_database: Callable[[str], str], amqp: str) -> Iterator[Flask]:
    dead = [f"amqp://guest:guest@127.0.0.1:{closed_port()}/" for _ in range(3)]
    flask_app = create_app(
        Settings(
            amqp_uri=";".join([*dead, amqp]),
            database_url=make_database("gateway"),
            rpc_timeout=1,
        )
    )
    yield flask_app
    flask_app.extensions["engage"].db.close()


def test_the_broker_is_ready_when_the_last_node_of_the_list_answers(app: Flask) -> None:
    answer = app.test_client().get("/readyz")
    checks = answer.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"] == "ok", checks
    # No service runs here: not ready, and it says which.
    assert answer.status_code == 503
    assert checks["surveys"].startswith("not answering")


def test_the_broker_is_not_ready_when_no_node_answers(
    make_database: Callable[[str], str],
) -> None:
    dead = ";".join(f"amqp://guest:guest@127.0.0.1:{closed_port()}/" for _ in range(2))
    app = create_app(Settings(amqp_uri=dead, database_url=make_database("gateway"), rpc_timeout=1))
    try:
        answer = app.test_client().get("/readyz")
        assert answer.status_code == 503
        assert answer.get_json()["checks"]["broker"].startswith("unreachable")
    finally:
        app.extensions["engage"].db.close()
