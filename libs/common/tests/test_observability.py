"""Structured logs, correlation ids and Prometheus metrics (engage_common.observability,
engage_common.logs) on real nameko containers, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import io
import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.db import Database
from engage_common.errors import NotFound
from engage_common.logs import EXPECTED, ExpectedOutcomeFilter, formatter
from engage_common.messaging import (
    DurablePublisher,
    consume_batches,
    event_handler,
    submissions_queue,
)
from engage_common.observability import (
    CONTEXT_KEY,
    Observability,
    accept_correlation_id,
    correlation,
    current_correlation_id,
)
from engage_common.outbox import OutboxRelay, record_event
from engage_common.testing import eventually

SEEN: list[tuple[str, Any]] = []  # what the handlers below saw, in order


class Maker:
    name = "maker"
    db = Database()
    relay = OutboxRelay()
    obs = Observability(sample_interval=0.2)

    @rpc(expected_exceptions=EXPECTED)
    def make(self, label: str) -> str:
        if label == "missing":
            raise NotFound("There is no such thing")
        with self.db.connection() as conn:
            return record_event(conn, "maker", "thing_made", {"label": label})

    @rpc(expected_exceptions=KeyError)  # one class, not a tuple
    def pick(self, key: str) -> None:
        raise KeyError(key)

    @consume_batches(submissions_queue("maker"))
    def store(self, bodies: list[Any]) -> None:
        SEEN.append(("store", current_correlation_id()))


class Hearer:
    name = "hearer"
    obs = Observability()

    @event_handler("maker", "thing_made")
    def on_thing_made(self, event: dict[str, Any]) -> None:
        SEEN.append(("heard", current_correlation_id()))
        logging.getLogger("hearer").info("heard %s", event["label"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged, as the shipped configs write it with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("test", "json"))
    handler.addFilter(ExpectedOutcomeFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_json_line_has_time_level_logger_message_service_and_correlation_id(
    json_lines: io.StringIO,
) -> None:
    log = logging.getLogger("engage.check")
    with correlation("req-1"):
        log.info("stored %d responses", 3, extra={"duration_ms": 1.5})
    log.warning("no request")
    try:
        raise NotFound("There is no consultation with id c-1")
    except NotFound:
        log.exception("looking it up")
    first, second, third = parsed(json_lines)
    assert set(first) == {
        "time",
        "level",
        "logger",
        "message",
        "service",
        "correlation_id",
        "duration_ms",
    }
    assert first["time"].endswith("+00:00") and first["level"] == "INFO"
    assert (first["logger"], first["message"]) == ("engage.check", "stored 3 responses")
    assert (first["service"], first["correlation_id"]) == ("test", "req-1")
    assert "correlation_id" not in second and second["level"] == "WARNING"
    # An expected outcome stays one INFO line, without a traceback.
    assert third["level"] == "INFO" and "exc_info" not in third
    assert third["message"] == "looking it up: NotFound: There is no consultation with id c-1"


def test_text_is_for_terminals_and_json_for_everything_else() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    with correlation("req-2"):
        text = formatter("svc", "text").format(record)
        auto = formatter("svc", "auto", stream=io.StringIO()).format(record)
    assert text.endswith("INFO x hello [req-2]")
    assert json.loads(auto)["correlation_id"] == "req-2"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        formatter("svc", "yaml")


def test_a_callers_id_is_kept_only_when_it_is_safe_to_log() -> None:
    assert accept_correlation_id("abc-123") == "abc-123"
    for bad in (None, "", "a b", "x" * 200, "evil\ninjected"):
        made = accept_correlation_id(bad)
        assert made != bad and len(made) == 32


def test_the_id_follows_rpc_queued_messages_and_events_and_metrics_count_calls(
    container_factory: Callable[..., Any],
    make_vhost: Callable[[], str],
    make_database: Callable[[str], str],
    json_lines: io.StringIO,
) -> None:
    SEEN.clear()
    port = free_port()
    amqp_uri = make_vhost()
    maker = container_factory(
        Maker,
        {"AMQP_URI": amqp_uri, "DATABASE_URL": make_database("surveys"), "METRICS_PORT": port},
    )
    maker.start()
    container_factory(Hearer, {"AMQP_URI": amqp_uri}).start()
    rpc_id, queued_id = f"rpc-{uuid.uuid4().hex}", f"queued-{uuid.uuid4().hex}"

    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, context_data={CONTEXT_KEY: rpc_id}) as cluster:
        cluster.maker.make("a thing")
        with pytest.raises(NotFound):
            cluster.maker.make("missing")
        with pytest.raises(RemoteError, match="KeyError"):
            cluster.maker.pick("flavour")
    with correlation(queued_id):
        DurablePublisher(amqp_uri).submit("maker", {"n": 1}, message_id=str(uuid.uuid4()))

    eventually(lambda: len(SEEN) >= 2, 15, "the event and the queued message to be handled")
    assert sorted(SEEN) == [("heard", rpc_id), ("store", queued_id)]
    lines = parsed(json_lines)
    heard = [line for line in lines if line["logger"] == "hearer"]
    assert [line.get("correlation_id") for line in heard] == [rpc_id]
    calls = {
        (line["message"].split(" ")[0], line.get("correlation_id"), line.get("outcome"))
        for line in lines
        if line["logger"] == "engage.entrypoints"
    }
    assert {
        ("maker.make", rpc_id, "ok"),
        ("maker.make", rpc_id, "expected"),
        ("maker.store", queued_id, "ok"),
        ("hearer.on_thing_made", rpc_id, "ok"),
    } <= calls

    def scraped() -> str:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

    def sampled() -> bool:  # a sample taken since every queue was declared
        text = scraped()
        return (
            'engage_queue_messages{queue="rpc-maker",service="maker"}' in text
            and 'engage_queue_messages{queue="maker.submissions",service="maker"}' in text
            and 'engage_outbox_lag_seconds{service="maker"} 0.0' in text
        )

    eventually(sampled, 15, "queue depth and outbox lag to be sampled", interval=0.1)
    text = scraped()
    assert 'engage_entrypoint_calls_total{method="make",outcome="ok",service="maker"} 1.0' in text
    assert (
        'engage_entrypoint_calls_total{method="make",outcome="expected",service="maker"} 1.0'
        in text
    )
    assert 'engage_entrypoint_duration_seconds_count{method="make",service="maker"} 2.0' in text
    assert (
        'engage_entrypoint_calls_total{method="pick",outcome="expected",service="maker"} 1.0'
        in text
    )
    assert 'engage_queue_messages{queue="maker.submissions",service="maker"} 0.0' in text
    assert 'engage_dead_letters_messages{service="maker"}' in text
    assert 'engage_outbox_pending_events{service="maker"} 0.0' in text
    assert "process_resident_memory_bytes" in text
    maker.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


class Pinger:
    name = "pinger"
    obs = Observability()

    @rpc
    def ping(self) -> str:
        return "pong"


def test_a_taken_metrics_port_costs_the_metrics_not_the_service(
    container_factory: Callable[..., Any], make_vhost: Callable[[], str], json_lines: io.StringIO
) -> None:
    config = {"AMQP_URI": make_vhost()}
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        config["METRICS_PORT"] = taken.getsockname()[1]
        container_factory(Pinger, config).start()
        with ClusterRpcProxy({"AMQP_URI": config["AMQP_URI"]}) as cluster:
            assert cluster.pinger.ping() == "pong"
    errors = [line for line in parsed(json_lines) if line["level"] == "ERROR"]
    assert [line["message"].split(":")[0] for line in errors] == ["no metrics"]


def test_a_batch_of_events_works_under_their_id_or_one_of_its_own(json_lines: io.StringIO) -> None:
    """A handler of a batch of events (a list of bodies): their shared id, or, when they
    came from several requests, an id for the batch and one line naming theirs."""
    from types import SimpleNamespace

    obs = Observability()
    obs.service = "reader"

    def worker(*bodies: dict[str, Any]) -> Any:
        entrypoint = SimpleNamespace(method_name="on_things")
        return SimpleNamespace(data={}, args=(list(bodies),), entrypoint=entrypoint)

    same = worker({"correlation_id": "r-1"}, {"correlation_id": "r-1"}, {})
    obs.worker_setup(same)
    assert current_correlation_id() == same.data[CONTEXT_KEY] == "r-1"
    obs.worker_teardown(same)
    assert current_correlation_id() is None
    mixed = worker({"correlation_id": "r-1"}, {"correlation_id": "r-2"})
    obs.worker_setup(mixed)
    batch_id = current_correlation_id()
    assert batch_id and batch_id.startswith("batch-")
    obs.worker_teardown(mixed)
    (line,) = parsed(json_lines)
    assert line["correlation_id"] == batch_id and line["correlation_ids"] == ["r-1", "r-2"]
