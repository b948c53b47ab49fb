"""Messaging benchmarks on this machine, against the real RabbitMQ and PostgreSQL.

    .venv/bin/python bench/bench_messaging.py [--calls 2000] [--messages 5000] [--events 5000]

Creates a fresh vhost and database, measures, and removes both. See bench/README.md.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "libs"), str(ROOT / "services/feedback")]

from kombu import Connection, Queue  # noqa: E402
from nameko.amqp.publish import Publisher  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from nameko.standalone.events import get_event_exchange  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from engage_common.db import Pool, drop_database  # noqa: E402
from engage_common.messaging import DurablePublisher, submissions_queue  # noqa: E402
from engage_common.migrate import migrate  # noqa: E402
from engage_common.outbox import pending_count, record_event, relay_batch  # noqa: E402
from engage_common.vhosts import create_vhost, delete_vhost  # noqa: E402
from feedback.service import FeedbackService  # noqa: E402

AMQP_BASE = os.environ.get("BENCH_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672")
PG_BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_rpc(config: dict[str, str], calls: int) -> None:
    """Sequential round trips to a real ``feedback.health`` (which runs ``SELECT 1``)."""
    container = ServiceContainer(FeedbackService, config)
    container.start()
    try:
        with ClusterRpcProxy(config, timeout=10) as cluster:
            for _ in range(50):  # warm up connections and the pool
                cluster.feedback.health()
            timings = []
            started = time.perf_counter()
            for _ in range(calls):
                t0 = time.perf_counter()
                assert cluster.feedback.health()["database"] is True
                timings.append((time.perf_counter() - t0) * 1000)
            elapsed = time.perf_counter() - started
    finally:
        container.stop()
    print(
        f"rpc health round trip: {calls} calls in {elapsed:.2f}s = {calls / elapsed:.0f} calls/s;"
        f" p50 {statistics.median(timings):.2f} ms, p95 {percentile(timings, 0.95):.2f} ms,"
        f" max {max(timings):.2f} ms"
    )


def bench_durable_publish(amqp_uri: str, messages: int) -> None:
    """One confirmed, persistent publish at a time, as the gateway does per submission."""
    publisher = DurablePublisher(amqp_uri)
    owner = "bench"
    publisher.submit(owner, {"warm": True}, message_id="warm-up")
    started = time.perf_counter()
    for i in range(messages):
        submission_id = str(uuid.uuid4())
        publisher.submit(
            owner,
            {
                "submission_id": submission_id,
                "receipt_code": f"B{i:07d}",
                "consultation_id": str(uuid.uuid4()),
                "answers": {"q1": "yes", "q2": 7},
                "equality": None,
                "place": "leeds",
                "consent": {"given": True, "version": "2026-11"},
                "submitted_at": "2025-01-01T00:00:00+00:00",
                "channel": "online",
            },
            message_id=submission_id,
        )
    elapsed = time.perf_counter() - started
    with Connection(amqp_uri) as conn:
        queue = submissions_queue(owner)(conn.default_channel)
        _, depth, _ = queue.queue_declare(passive=True)
    assert depth == messages + 1, f"queue holds {depth}, expected {messages + 1}"
    print(
        f"durable confirmed publish: {messages} submissions in {elapsed:.2f}s ="
        f" {messages / elapsed:.0f} msgs/s (queue depth verified: {depth})"
    )


def bench_outbox(config: dict[str, str], events: int) -> None:
    """Insert events with ``record_event``, then time ``relay_batch`` until none are pending."""
    amqp_uri, url = config["AMQP_URI"], config["DATABASE_URL"]
    sink = Queue(
        "bench.outbox",
        exchange=get_event_exchange("feedback", config),
        routing_key="#",
        durable=True,
    )
    with Connection(amqp_uri) as conn:
        sink(conn.default_channel).declare()  # also declares the feedback.events exchange
    pool = Pool(url, size=2)
    started = time.perf_counter()
    with pool.connection() as conn:
        for i in range(events):
            record_event(conn, "feedback", "bench_event", {"n": i})
    inserted = time.perf_counter() - started
    publisher = Publisher(amqp_uri, use_confirms=True, serializer="json")
    started = time.perf_counter()
    published = 0
    while pending_count(pool):
        published += relay_batch(pool, publisher, config)
    elapsed = time.perf_counter() - started
    with Connection(amqp_uri) as conn:
        _, depth, _ = sink(conn.default_channel).queue_declare(passive=True)
    pool.close()
    assert published == events and depth == events, (published, depth)
    print(
        f"outbox: recorded {events} events in {inserted:.2f}s (one transaction);"
        f" relay_batch published all in {elapsed:.2f}s = {events / elapsed:.0f} events/s"
        f" (queue depth verified: {depth})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()

    run = secrets.token_hex(3)
    vhost = f"engage-bench-{run}"
    url = PG_BASE.rsplit("/", 1)[0] + f"/engage_bench_{run}"
    amqp_uri = create_vhost(vhost, AMQP_BASE)
    try:
        migrate(url, ROOT / "services/feedback/feedback/migrations")
        config = {"AMQP_URI": amqp_uri, "DATABASE_URL": url}
        print(f"vhost {vhost}, database {url.rsplit('/', 1)[1]}")
        bench_rpc(config, args.calls)
        bench_durable_publish(config["AMQP_URI"], args.messages)
        bench_outbox(config, args.events)
    finally:
        delete_vhost(vhost)
        drop_database(url)


if __name__ == "__main__":
    main()
