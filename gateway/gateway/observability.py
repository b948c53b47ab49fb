"""The gateway's side of observability (``engage_common.observability``): a correlation id
for every request, a JSON log line for every request, and Prometheus metrics at
``/metrics``.

- **Correlation id.** A request's ``X-Request-ID`` (or ``X-Correlation-ID``) when it is a
  safe token, else a new one; the response carries it back as ``X-Request-ID``. Every
  line logged while the request runs carries it, RPC calls pass it in nameko's
  ``context_data`` (``gateway.rpc``), queued submissions in a header
  (``DurablePublisher``).
- **Metrics.** ``engage_http_requests_total`` by method, route template (never the raw
  path: no receipt code or id in a label) and status, and
  ``engage_http_request_duration_seconds``. Under gunicorn each worker is a process:
  with ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus-client's multiprocess mode adds up
  every worker's figures in that folder, which must exist and be empty when gunicorn
  starts (``on_starting`` below; ``./engage up`` too). Without it (one process, tests)
  the process's own registry is served.
- **Not from outside.** ``/metrics`` answers 404 to a request that came through a proxy
  (it carries ``X-Forwarded-For``, which the ingress always sets): Prometheus scrapes
  the pods directly, and the NetworkPolicy lets only the monitoring namespace do so.

Started as ``gunicorn -c python:gateway.observability ...``, this module is also
gunicorn's configuration: its own log lines in the same format (``logconfig_dict``),
the multiprocess folder emptied at start and each dead worker's gauges dropped.
"""

from __future__ import annotations

import logging
import logging.config
import os
import shutil
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from engage_common.logs import logging_config
from engage_common.observability import (
    accept_correlation_id,
    current_correlation_id,
    set_correlation_id,
)
from gateway.http import Blueprint, errors

log = logging.getLogger("gateway.requests")

SERVICE = "gateway"
REQUEST_ID_HEADERS = ("X-Request-ID", "X-Correlation-ID")
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
QUIET = {"/healthz", "/readyz", "/metrics"}  # probes and scrapes: logged at DEBUG
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "engage_http_requests",
    "HTTP requests the gateway answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "engage_http_request_duration_seconds",
    "Time from a request's arrival in the app to its response, by method and route",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

metrics = Blueprint("metrics", __name__, description="Prometheus metrics")


@metrics.route("/metrics", methods=["GET"])
@metrics.doc(
    summary="Prometheus metrics",
    responses={
        "200": {
            "description": "Prometheus' text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
@errors(404)
def serve_metrics() -> Any:
    """Prometheus metrics (not through the ingress: scraped from the pod)"""
    if request.headers.get("X-Forwarded-For"):
        from gateway.errors import ApiError

        raise ApiError("Not found.", status=404)
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def init_app(app: Flask) -> None:
    """Correlation ids, a log line and metrics for every request of ``app``."""
    if not logging.getLogger().handlers:  # gunicorn with this module's config has set it
        logging.config.dictConfig(logging_config(SERVICE))
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_clear)


def _start() -> None:
    sent = next((request.headers[h] for h in REQUEST_ID_HEADERS if request.headers.get(h)), None)
    set_correlation_id(accept_correlation_id(sent))
    g.engage_started = time.perf_counter()


def _finish(response: Response) -> Response:
    value = current_correlation_id()
    if value:
        response.headers["X-Request-ID"] = value
    started = g.get("engage_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    method = request.method if request.method in METHODS else "other"
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    LATENCY.labels(method, route).observe(seconds)
    log.log(
        logging.DEBUG if route in QUIET and response.status_code < 500 else logging.INFO,
        "%s %s %s in %.1f ms",
        method,
        route,
        response.status_code,
        seconds * 1000,
        extra={
            "method": method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
    return response


def _clear(exc: BaseException | None = None) -> None:
    set_correlation_id(None)


# --- gunicorn settings and hooks (gunicorn -c python:gateway.observability) -------------

logconfig_dict = {
    **logging_config(SERVICE),
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        # Requests are logged by the app (with their correlation id and route template).
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
    },
}


def on_starting(server: Any) -> None:
    """Before any worker: the multiprocess folder exists and holds no old figures."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        empty_folder(Path(folder))


def worker_exit(server: Any, worker: Any) -> None:
    """In the worker, as it leaves: close what it opened (``Engage.close``)."""
    app = getattr(worker, "wsgi", None)
    engage = getattr(app, "extensions", {}).get("engage")
    if engage is not None:
        engage.close()


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: drop its live gauges (its counters stay in the sums)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def empty_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
