"""The ``health`` RPC every Engage service answers, and the container healthcheck
that calls it over RabbitMQ.

Services mix in ``healthcheck.HealthCheck`` (it needs a ``db`` dependency). Refer to it
through the module: ``nameko run`` treats every class with entrypoints that it finds in a
service module as a service, so importing the class itself there would break it. The check:
``python -m engage_common.healthcheck SERVICE`` with ``AMQP_URI`` in the environment.
It exits 0 only when the service answered and its database is up, so docker/k8s see
a service that is running but cut off from RabbitMQ or PostgreSQL as unhealthy.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from marshmallow import Schema, fields
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.messaging import rpc

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


class HealthSchema(Schema):
    service = fields.String(required=True)
    database = fields.Boolean(required=True)


class HealthCheck:
    """Mixin for nameko services: ``health()`` proves the service is consuming RPCs
    and its database answers a real query (the gateway's /readyz and the
    docker/k8s healthchecks call it)."""

    name: str
    db: Any

    @rpc
    def health(self) -> dict[str, Any]:
        with self.db.connection() as conn:
            row = conn.execute("SELECT 1 AS ok").fetchone()
        return HealthSchema().dump(
            {"service": self.name, "database": row is not None and row["ok"] == 1}
        )


def check(service: str, amqp_uri: str, timeout: float = 5.0) -> dict[str, Any]:
    """The service's health answer; raises when it is unreachable or unwell."""
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as cluster:
        answer = getattr(cluster, service).health()
    if not (
        isinstance(answer, dict)
        and answer.get("service") == service
        and answer.get("database") is True
    ):
        raise RuntimeError(f"unhealthy answer: {answer!r}")
    return answer


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m engage_common.healthcheck SERVICE", file=sys.stderr)
        return 2
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT", "5"))
    try:
        answer = check(argv[0], os.environ.get("AMQP_URI", DEFAULT_AMQP_URI), timeout)
    except Exception as exc:  # any failure means unhealthy; say why
        print(f"{argv[0]}: unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: healthy {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
