"""What an operator sees of a running process: which request a log line belongs to, and
Prometheus metrics.

**Correlation ids.** The gateway takes a request's ``X-Request-ID`` (or
``X-Correlation-ID``) or makes one, and passes it on: in nameko's ``context_data`` on
RPC calls (nameko sends each key as a ``nameko.<key>`` message header), as the same
header on queued submissions (``message_headers``, ``DurablePublisher``) and, through
the transactional outbox, as ``correlation_id`` in each domain event's body
(``outbox.record_event``). ``Observability``, a nameko dependency every service
declares, reads it back when a worker starts (``worker_setup``) and keeps it in a
thread-local, which under eventlet's monkey patching is greenthread-local: the log
formatter (``engage_common.logs``) adds it to every line the worker logs, and
``record_event`` to every event it records.

**Metrics.** With ``METRICS_PORT`` set in a service's nameko config (from the
environment; unset or 0: off, so two instances on one machine never clash),
``Observability`` serves Prometheus' text format on that port: entrypoint calls by
method and outcome and their latency, observed as each worker ends, and, sampled every
``SAMPLE_INTERVAL`` seconds by a background greenthread (never on a request's path),
the depth of the process's own queues, of ``engage.dead-letters``, and the outbox's lag
(age of its oldest unpublished event; a read-only query).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import eventlet
from kombu import Connection
from nameko.extensions import DependencyProvider
from nameko.rpc import RPC_QUEUE_TEMPLATE, Rpc
from nameko.timer import Timer
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

log = logging.getLogger(__name__)
calls_log = logging.getLogger("engage.entrypoints")

CONTEXT_KEY = "correlation_id"  # the nameko context_data key, and the events' body key
HEADER = f"nameko.{CONTEXT_KEY}"  # how nameko carries it in a message's headers
DEAD_LETTER_QUEUE = "engage.dead-letters"  # engage_common.messaging.DEAD_LETTER_QUEUE
SAMPLE_INTERVAL = 5.0  # seconds between samples of queue depths and outbox lag
# What a caller may send as its id: anything else is replaced by one of ours (an id is
# for finding log lines, it never fails a request).
VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")
# Seconds: from a cached read (a few ms) to an RPC's timeout and a batch of 100 stored.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_local = threading.local()  # greenthread-local under eventlet's monkey patching


def current_correlation_id() -> str | None:
    """The correlation id of the request or message this thread is working on."""
    return getattr(_local, "correlation_id", None)


def set_correlation_id(value: str | None) -> None:
    _local.correlation_id = value


@contextmanager
def correlation(value: str | None) -> Iterator[None]:
    """Work under ``value`` as the correlation id, then restore the previous one."""
    previous = current_correlation_id()
    set_correlation_id(value)
    try:
        yield
    finally:
        set_correlation_id(previous)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def accept_correlation_id(value: str | None) -> str:
    """A caller's id when it is one we can log safely, else a new one."""
    if value and VALID_ID.fullmatch(value.strip()):
        return value.strip()
    return new_correlation_id()


def message_headers() -> dict[str, str]:
    """Headers that carry the current correlation id on a message we publish."""
    value = current_correlation_id()
    return {HEADER: value} if value else {}


def batch_context(messages: Iterable[Any]) -> dict[str, Any]:
    """``context_data`` for one worker handling a batch of messages: the messages' id
    when they share one, else a new id for the batch with the messages' ids beside it
    (``Observability`` logs which requests the batch holds)."""
    ids = list(dict.fromkeys(h for m in messages if (h := (m.headers or {}).get(HEADER))))
    if not ids:
        return {}
    if len(ids) == 1:
        return {CONTEXT_KEY: ids[0]}
    return {CONTEXT_KEY: f"batch-{new_correlation_id()}", "correlation_ids": ids}


def _classes(expected: Any) -> tuple[type[BaseException], ...]:
    """An entrypoint's ``expected_exceptions``: one class or a tuple of them."""
    if not expected:
        return ()
    return tuple(expected) if isinstance(expected, (tuple, list)) else (expected,)


def _from_arguments(args: tuple[Any, ...]) -> tuple[str | None, list[str]]:
    """An event handler's correlation id, from the event body's ``correlation_id``; for a
    handler of a batch of events, the events' id when they share one, else a new id for
    the batch and the events' ids beside it."""
    first = args[0] if args else None
    if isinstance(first, dict):
        value = first.get(CONTEXT_KEY)
        return (value if isinstance(value, str) else None), []
    if isinstance(first, list):
        ids = list(
            dict.fromkeys(
                v for b in first if isinstance(b, dict) and isinstance(v := b.get(CONTEXT_KEY), str)
            )
        )
        if len(ids) == 1:
            return ids[0], []
        if ids:
            return f"batch-{new_correlation_id()}", ids
    return None, []


class ServiceMetrics:
    """One process's Prometheus metrics, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        # The process's CPU, memory and open files (process_*), Python's GC and version.
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.calls = Counter(
            "engage_entrypoint_calls",
            "Entrypoint calls (RPC, queued message, event, timer) by outcome: ok, expected"
            " (NotFound, Conflict, ValidationFailed) or error",
            ["service", "method", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "engage_entrypoint_duration_seconds",
            "Time an entrypoint call took, from its worker's start to its result",
            ["service", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "engage_queue_messages",
            "Messages ready in a queue this process consumes (sampled)",
            ["service", "queue"],
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "engage_dead_letters_messages",
            "Messages waiting in engage.dead-letters (sampled)",
            ["service"],
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "engage_outbox_lag_seconds",
            "Age of the oldest domain event not yet published from the outbox; 0 when"
            " none waits (sampled)",
            ["service"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "engage_outbox_pending_events",
            "Domain events recorded but not yet published (sampled)",
            ["service"],
            registry=self.registry,
        )
        self.sample_failures = Counter(
            "engage_metrics_sample_failures",
            "Samples of queue depth or outbox lag that failed (broker or database away)",
            ["service"],
            registry=self.registry,
        )


def metrics_port(config: dict[str, Any]) -> int:
    """``METRICS_PORT`` from the nameko config; 0 (or unset, or empty) means off."""
    value = config.get("METRICS_PORT") or 0
    return int(value)


class Observability(DependencyProvider):
    """Correlation ids for every worker, one log line per entrypoint call, and (with
    ``METRICS_PORT``) Prometheus metrics. Declare it on a service: ``obs = Observability()``.
    """

    def __init__(self, sample_interval: float = SAMPLE_INTERVAL) -> None:
        self.sample_interval = sample_interval
        self.metrics: ServiceMetrics | None = None
        self._server: Any = None
        self._sampler: Any = None
        self._running = False

    def setup(self) -> None:
        self.service = self.container.service_name
        self.port = metrics_port(self.container.config)
        if self.port:
            self.metrics = ServiceMetrics(self.service)

    def start(self) -> None:
        if self.metrics is None:
            return
        try:
            self._server, _ = start_http_server(self.port, registry=self.metrics.registry)
        except OSError as exc:  # the port is taken: serve residents anyway, without metrics
            log.error("no metrics: cannot listen on METRICS_PORT %s: %s", self.port, exc)
            self.metrics = None
            return
        self._running = True
        self._sampler = self.container.spawn_managed_thread(
            self._sample_forever, identifier="metrics-sampler"
        )
        log.info("metrics on port %s", self.port)

    def stop(self) -> None:
        self._running = False
        if self._sampler is not None:
            self._sampler.kill()
            self._sampler = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def kill(self) -> None:
        self.stop()

    # --- workers ----------------------------------------------------------------------

    def worker_setup(self, worker_ctx: Any) -> None:
        data = worker_ctx.data
        value, ids = data.get(CONTEXT_KEY), data.pop("correlation_ids", None)
        if not value:
            value, ids = _from_arguments(worker_ctx.args)
        if value:
            data[CONTEXT_KEY] = value  # RPC calls the worker makes pass it on
        set_correlation_id(value)
        worker_ctx.engage_started = time.perf_counter()
        if ids:
            calls_log.info(
                "%s.%s: a batch of %d requests",
                self.service,
                worker_ctx.entrypoint.method_name,
                len(ids),
                extra={"correlation_ids": ids},
            )

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        from engage_common.logs import EXPECTED

        entrypoint = worker_ctx.entrypoint
        seconds = time.perf_counter() - getattr(worker_ctx, "engage_started", time.perf_counter())
        if exc_info is None:
            outcome = "ok"
        elif isinstance(exc_info[1], (*EXPECTED, *_classes(entrypoint.expected_exceptions))):
            outcome = "expected"
        else:
            outcome = "error"
        method = entrypoint.method_name
        if self.metrics is not None:
            self.metrics.calls.labels(self.service, method, outcome).inc()
            self.metrics.latency.labels(self.service, method).observe(seconds)
        routine = method == "health" or isinstance(entrypoint, Timer)
        calls_log.log(
            logging.DEBUG if routine and outcome == "ok" else logging.INFO,
            "%s.%s %s in %.1f ms",
            self.service,
            method,
            outcome,
            seconds * 1000,
            extra={"method": method, "outcome": outcome, "duration_ms": round(seconds * 1000, 1)},
        )

    def worker_teardown(self, worker_ctx: Any) -> None:
        set_correlation_id(None)

    # --- sampling ---------------------------------------------------------------------

    def queues(self) -> list[str]:
        """The queues this process consumes: its RPC queue and each consumer's queue."""
        names = set()
        for entrypoint in self.container.entrypoints:
            if isinstance(entrypoint, Rpc):
                names.add(RPC_QUEUE_TEMPLATE.format(self.service))
            queue = getattr(entrypoint, "queue", None)
            if queue is not None and queue.name and queue.name != DEAD_LETTER_QUEUE:
                names.add(queue.name)
        return sorted(names)

    def _sample_forever(self) -> None:
        while self._running:
            try:
                self.sample()
            except Exception:
                assert self.metrics is not None
                self.metrics.sample_failures.labels(self.service).inc()
                log.warning("could not sample queue depths or outbox lag", exc_info=True)
            eventlet.sleep(self.sample_interval)

    def sample(self) -> None:
        """Read queue depths (passive declares) and the outbox's lag into the gauges."""
        metrics = self.metrics
        assert metrics is not None
        depths = queue_depths(
            self.container.config["AMQP_URI"], [*self.queues(), DEAD_LETTER_QUEUE]
        )
        for name, depth in depths.items():
            if name != DEAD_LETTER_QUEUE:
                metrics.queue_depth.labels(self.service, name).set(depth)
        # Not declared yet: nothing was ever dead-lettered.
        metrics.dead_letters.labels(self.service).set(depths.get(DEAD_LETTER_QUEUE, 0))
        pool = self._pool()
        if pool is not None:
            lag = outbox_lag(pool)
            if lag is not None:
                pending, seconds = lag
                metrics.outbox_pending.labels(self.service).set(pending)
                metrics.outbox_lag.labels(self.service).set(seconds)

    def _pool(self) -> Any:
        for provider in self.container.dependencies:
            pool = getattr(provider, "pool", None)
            if pool is not None and hasattr(pool, "connection"):
                return pool
        return None


def queue_depths(amqp_uri: str, names: Iterable[str]) -> dict[str, int]:
    """Messages ready in each queue that exists (a passive declare: nothing is created)."""
    depths: dict[str, int] = {}
    with Connection(amqp_uri, connect_timeout=5) as conn:
        for name in names:
            channel = conn.channel()
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except conn.channel_errors:  # not declared (yet): nothing to count
                continue
            finally:
                if channel.is_open:
                    channel.close()
    return depths


def outbox_lag(pool: Any) -> tuple[int, float] | None:
    """(pending events, age in seconds of the oldest), or None without an outbox."""
    with pool.connection() as conn:
        if conn.execute("SELECT to_regclass('outbox') AS t").fetchone()["t"] is None:
            return None
        row = conn.execute(
            "SELECT count(*) AS n,"
            " coalesce(extract(epoch FROM now() - min(created_at)), 0) AS lag"
            " FROM outbox WHERE published_at IS NULL"
        ).fetchone()
    return int(row["n"]), float(row["lag"])
