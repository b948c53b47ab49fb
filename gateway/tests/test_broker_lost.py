"""RabbitMQ lost while the gateway runs: its connections to the broker go through a
forwarder here, which is then cut (every connection closed, new ones refused), or which
stops answering new connections (accepted, never a word back: a stalled broker, or a dead
node behind a live load balancer). Staff calls to a service and residents' submissions
answer 503 with Retry-After within the RPC timeout, never a 500 (kombu's OperationalError,
after nameko's 5 s of retries, did) and never after 12 s or more (kombu's 5 s a connection
attempt, tried again, did)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from engage_contracts.reference import current_consent
from gateway.app import create_app
from gateway.config import Settings

# A TCP forwarder in a process of its own (this one is monkey-patched by eventlet, and
# sockets closed under other greenthreads' feet would leave the hub listening on reused
# file descriptors): it prints its port, forwards the first ``argv[3]`` connections (all,
# without it), accepts later ones and never answers them, and is killed to cut.
FORWARDER = """
import socket, sys, threading
target = (sys.argv[1], int(sys.argv[2]))
forwarded = int(sys.argv[3]) if len(sys.argv) > 3 else None
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
silent = []

def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    for s in (source, sink):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

while True:
    client, _ = listener.accept()
    if forwarded is not None and forwarded <= 0:
        silent.append(client)
        continue
    forwarded = None if forwarded is None else forwarded - 1
    upstream = socket.create_connection(target)
    for a, b in ((client, upstream), (upstream, client)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
"""


class Forwarder:
    """A TCP forwarder to the broker, on a port of its own, that can be cut."""

    def __init__(self, host: str, port: int, forwarded: int | None = None) -> None:
        more = [] if forwarded is None else [str(forwarded)]
        self.process = subprocess.Popen(
            [sys.executable, "-c", FORWARDER, host, str(port), *more],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def cut(self) -> None:
        """Every connection closed and new ones refused, as when a broker goes away."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def forwarder(settings: Settings) -> Iterator[Forwarder]:
    parts = urlsplit(settings.amqp_uri)
    made = Forwarder(parts.hostname or "127.0.0.1", parts.port or 5672)
    yield made
    made.cut()


def through(amqp_uri: str, port: int) -> str:
    parts = urlsplit(amqp_uri)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_staff_calls_and_submissions_answer_503_soon_when_the_broker_is_lost(
    surveys: Any, settings: Settings, forwarder: Forwarder, as_role: dict[str, dict[str, str]]
) -> None:
    app = create_app(replace(settings, amqp_uri=through(settings.amqp_uri, forwarder.port)))
    client, officer = app.test_client(), as_role["engagement-officer"]
    try:
        created = client.post(
            "/api/v1/staff/consultations",
            headers=officer,
            json={
                "title": "Broker lost",
                "summary": "RabbitMQ goes away",
                "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
                "questionnaire": {
                    "questions": [
                        {
                            "id": "pick",
                            "type": "single_choice",
                            "text": "Which one?",
                            "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
                        }
                    ]
                },
            },
        )
        assert created.status_code == 201, created.get_json()
        cid = created.get_json()["id"]
        assert (
            client.post(f"/api/v1/staff/consultations/{cid}/open", headers=officer).status_code
            == 200
        )
        answer = {
            "answers": {"pick": "a"},
            "consent": {"given": True, "version": current_consent()["version"]},
        }
        sent = client.post(f"/api/v1/consultations/{cid}/responses", json=answer)
        assert sent.status_code == 202, sent.get_json()  # through the forwarder, both ways

        forwarder.cut()
        for method, path, body in (
            ("GET", f"/api/v1/staff/consultations/{cid}", None),
            ("POST", f"/api/v1/consultations/{cid}/responses", answer),
        ):
            started = time.monotonic()
            lost = client.open(path, method=method, headers=officer, json=body)
            took = time.monotonic() - started
            assert lost.status_code == 503, (path, lost.status_code, lost.get_json())
            assert int(lost.headers["Retry-After"]) > 0
            assert took < settings.rpc_timeout + 2, (path, took)
    finally:
        app.extensions["engage"].close()


@pytest.mark.parametrize("forwarded", [0, 1], ids=["no connection answered", "only the first"])
def test_a_broker_that_stops_answering_new_connections_gets_a_503_within_the_timeout(
    surveys: Any, settings: Settings, forwarded: int, as_role: dict[str, dict[str, str]]
) -> None:
    """With none answered, the call's reply queue cannot be set up; with the first
    answered, it can, and the connection its request is published on cannot."""
    parts = urlsplit(settings.amqp_uri)
    silent = Forwarder(parts.hostname or "127.0.0.1", parts.port or 5672, forwarded)
    app = create_app(replace(settings, amqp_uri=through(settings.amqp_uri, silent.port)))
    client = app.test_client()
    try:
        started = time.monotonic()
        reply = client.get("/api/v1/staff/consultations", headers=as_role["engagement-officer"])
        took = time.monotonic() - started
        assert reply.status_code == 503, reply.get_json()
        assert int(reply.headers["Retry-After"]) > 0
        assert took < settings.rpc_timeout + 2, took
    finally:
        app.extensions["engage"].close()
        silent.cut()
